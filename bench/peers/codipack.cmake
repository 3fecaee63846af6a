# CoDiPack, an optional peer of bench_scalar (included by bench/CMakeLists.txt).
#
# Found only through an option, never as a dependency (GPL-3.0, header-only):
#   -DAD_CODIPACK_DIR=<an extracted CoDiPack tree: include/codi.hpp>, or
#   -DAD_SCALAR_PEERS_ARCHIVES=<a folder holding codipack*.tar.gz> (bench/peer_sources.cmake).
# When found, bench_scalar gets the driver (peers/codipack_scalar.cpp, the only
# file that includes CoDiPack) and AD_BENCH_HAVE_CODIPACK; the library never sees it.
include(${CMAKE_CURRENT_LIST_DIR}/../peer_sources.cmake)
set(AD_CODIPACK_DIR "" CACHE PATH "An extracted CoDiPack source tree for bench_scalar (include/codi.hpp); empty: none")

if(TARGET bench_scalar)
  ad_bench_peer_sources(codipack_tree AD_CODIPACK_DIR "codipack*.tar.gz" include/codi.hpp)
  if(codipack_tree)
    message(STATUS "bench_scalar: measuring against CoDiPack (${codipack_tree})")
    target_sources(bench_scalar PRIVATE ${CMAKE_CURRENT_LIST_DIR}/codipack_scalar.cpp)
    target_include_directories(bench_scalar SYSTEM PRIVATE ${codipack_tree}/include)
    target_compile_definitions(bench_scalar PRIVATE AD_BENCH_HAVE_CODIPACK=1)
  else()
    message(STATUS "bench_scalar: CoDiPack not given (AD_CODIPACK_DIR or AD_SCALAR_PEERS_ARCHIVES); measuring without it")
  endif()
endif()
