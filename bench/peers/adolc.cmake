# ADOL-C, the optional peer of bench_scalar (included by bench/CMakeLists.txt).
#
# Found with pkg-config, but linked as the bare libadolc.so: Debian's adolc.pc
# also asks for -lboost_system, which libadolc-dev does not install and
# libadolc.so.2 does not need. When found, bench_scalar gets the ADOL-C driver
# (peers/adolc_scalar.cpp) and AD_BENCH_HAVE_ADOLC; the library never sees it.
option(AD_BENCH_ADOLC "Measure bench_scalar against ADOL-C when it is installed" ON)

if(AD_BENCH_ADOLC AND TARGET bench_scalar)
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(AD_PC_ADOLC QUIET adolc)
  endif()
  find_library(AD_ADOLC_LIBRARY NAMES adolc HINTS ${AD_PC_ADOLC_LIBDIR} ${AD_PC_ADOLC_LIBRARY_DIRS})
  find_path(AD_ADOLC_INCLUDE_DIR NAMES adolc/adolc.h HINTS ${AD_PC_ADOLC_INCLUDEDIR} ${AD_PC_ADOLC_INCLUDE_DIRS})
  if(AD_ADOLC_LIBRARY AND AD_ADOLC_INCLUDE_DIR)
    message(STATUS "bench_scalar: measuring against ADOL-C ${AD_PC_ADOLC_VERSION} (${AD_ADOLC_LIBRARY})")
    target_sources(bench_scalar PRIVATE ${CMAKE_CURRENT_LIST_DIR}/adolc_scalar.cpp)
    target_include_directories(bench_scalar SYSTEM PRIVATE ${AD_ADOLC_INCLUDE_DIR})
    target_link_libraries(bench_scalar PRIVATE ${AD_ADOLC_LIBRARY})
    target_compile_definitions(bench_scalar PRIVATE AD_BENCH_HAVE_ADOLC=1)
  else()
    message(STATUS "bench_scalar: ADOL-C not found (libadolc-dev); measuring without it")
  endif()
endif()
