# Adept 2, an optional peer of bench_scalar (included by bench/CMakeLists.txt).
#
# Found only through an option, never as a dependency (Apache-2.0):
#   -DAD_ADEPT_DIR=<an extracted Adept 2 tree: include/adept.h, adept/*.cpp>, or
#   -DAD_SCALAR_PEERS_ARCHIVES=<a folder holding adept*.tar.gz> (bench/peer_sources.cmake).
# Its library sources are compiled here into a static library with the
# build's flags (its own warnings silenced: they are not ours to fix); when
# found, bench_scalar gets the driver (peers/adept_scalar.cpp, the only file
# that includes Adept) and AD_BENCH_HAVE_ADEPT, and bench_statement_floor is
# built (../statement_floor.cpp); the library never sees it.
include(${CMAKE_CURRENT_LIST_DIR}/../peer_sources.cmake)
set(AD_ADEPT_DIR "" CACHE PATH "An extracted Adept 2 source tree for bench_scalar (include/adept.h); empty: none")

if(TARGET bench_scalar)
  ad_bench_peer_sources(adept_tree AD_ADEPT_DIR "adept*.tar.gz" include/adept.h)
  if(adept_tree)
    file(GLOB adept_sources ${adept_tree}/adept/*.cpp)
    if(NOT adept_sources)
      message(FATAL_ERROR "Adept tree ${adept_tree} has no library sources (adept/*.cpp)")
    endif()
    message(STATUS "bench_scalar: measuring against Adept 2 (${adept_tree})")
    add_library(ad_bench_adept STATIC EXCLUDE_FROM_ALL ${adept_sources})
    target_include_directories(ad_bench_adept SYSTEM PUBLIC ${adept_tree}/include)
    target_compile_options(ad_bench_adept PRIVATE -w)
    target_sources(bench_scalar PRIVATE ${CMAKE_CURRENT_LIST_DIR}/adept_scalar.cpp)
    target_link_libraries(bench_scalar PRIVATE ad_bench_adept)
    target_compile_definitions(bench_scalar PRIVATE AD_BENCH_HAVE_ADEPT=1)
    # The floor of a statement-level tape, timed beside Adept (decision 0022).
    add_executable(bench_statement_floor ${CMAKE_CURRENT_LIST_DIR}/../statement_floor.cpp
                                         ${CMAKE_CURRENT_LIST_DIR}/adept_scalar.cpp)
    target_link_libraries(bench_statement_floor PRIVATE ad_bench_adept ad_warnings fmt::fmt)
  else()
    message(STATUS "bench_scalar: Adept 2 not given (AD_ADEPT_DIR or AD_SCALAR_PEERS_ARCHIVES); measuring without it")
  endif()
endif()
