# Build settings of the matrix-multiply backend (autodiff/gemm.hpp), included
# from autodiff/CMakeLists.txt once the autodiff target exists.
#
#   -DAD_BLAS=AUTO  link a system CBLAS (OpenBLAS preferred) when one is found (default)
#   -DAD_BLAS=ON    require one
#   -DAD_BLAS=OFF   our portable kernel only
#
# A CBLAS found here is linked PRIVATE by full path, so a static
# libad_autodiff exports it as a plain link-only dependency and the installed
# package needs no find_dependency of its own (docs/decisions/0002-matmul-path.md).

set(AD_BLAS AUTO CACHE STRING "Use a system CBLAS for matrix products: AUTO (when found), ON or OFF")
set_property(CACHE AD_BLAS PROPERTY STRINGS AUTO ON OFF)

string(TOUPPER "${AD_BLAS}" ad_blas_mode)
if(ad_blas_mode MATCHES "^(ON|YES|TRUE|Y|1)$")
  set(ad_blas_mode ON)
elseif(ad_blas_mode MATCHES "^(OFF|NO|FALSE|N|0)$")
  set(ad_blas_mode OFF)
elseif(NOT ad_blas_mode STREQUAL "AUTO")
  message(FATAL_ERROR "AD_BLAS must be AUTO, ON or OFF (got '${AD_BLAS}')")
endif()

# The portable kernel splits large products over std::thread workers.
find_package(Threads REQUIRED)
if(CMAKE_THREAD_LIBS_INIT)
  target_link_libraries(autodiff PRIVATE ${CMAKE_THREAD_LIBS_INIT})
endif()

# Whether a CBLAS whose cblas.h compiles and whose cblas_sgemm and
# cblas_dgemm link is given by `libraries` and `includes`; on success sets
# ad_cblas_found, ad_cblas_libraries, ad_cblas_includes, ad_cblas_is_openblas.
# Results are cached per candidate `name`.
function(ad_try_cblas name libraries includes)
  cmake_push_check_state(RESET)
  set(CMAKE_REQUIRED_QUIET ON)
  set(CMAKE_REQUIRED_LIBRARIES ${libraries})
  set(CMAKE_REQUIRED_INCLUDES ${includes})
  check_cxx_source_compiles([[
    #include <cblas.h>
    int main() {
      float fa = 1, fb = 2, fc = 0;
      double da = 1, db = 2, dc = 0;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 1, 1, 1, 1.0f, &fa, 1, &fb, 1, 0.0f, &fc, 1);
      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 1, 1, 1, 1.0, &da, 1, &db, 1, 0.0, &dc, 1);
      return fc == 2 && dc == 2 ? 0 : 1;
    }]] AD_CBLAS_WORKS_${name})
  if(AD_CBLAS_WORKS_${name})
    check_cxx_source_compiles([[
      #include <cblas.h>
      int main() {
        openblas_set_num_threads(1);
        return openblas_get_config() != nullptr && openblas_get_corename() != nullptr ? 0 : 1;
      }]] AD_CBLAS_IS_OPENBLAS_${name})
  endif()
  cmake_pop_check_state()
  if(AD_CBLAS_WORKS_${name})
    set(ad_cblas_found TRUE PARENT_SCOPE)
    set(ad_cblas_libraries "${libraries}" PARENT_SCOPE)
    set(ad_cblas_includes "${includes}" PARENT_SCOPE)
    set(ad_cblas_is_openblas ${AD_CBLAS_IS_OPENBLAS_${name}} PARENT_SCOPE)
  endif()
endfunction()

set(ad_cblas_found FALSE)
if(NOT ad_blas_mode STREQUAL "OFF")
  include(CheckCXXSourceCompiles)
  include(CMakePushCheckState)

  # Best first: pkg-config's openblas, then its cblas, then whatever FindBLAS
  # finds (with a separate libcblas where the BLAS lacks the C interface).
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    foreach(module IN ITEMS openblas cblas)
      if(NOT ad_cblas_found)
        pkg_check_modules(AD_PC_${module} QUIET ${module})
        if(AD_PC_${module}_FOUND AND AD_PC_${module}_LINK_LIBRARIES)
          ad_try_cblas(pkgconfig_${module} "${AD_PC_${module}_LINK_LIBRARIES}" "${AD_PC_${module}_INCLUDE_DIRS}")
        endif()
      endif()
    endforeach()
  endif()
  if(NOT ad_cblas_found)
    find_package(BLAS QUIET)
    if(BLAS_FOUND)
      find_path(AD_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas)
      set(ad_findblas_includes "")
      if(AD_CBLAS_INCLUDE_DIR)
        set(ad_findblas_includes ${AD_CBLAS_INCLUDE_DIR})
      endif()
      ad_try_cblas(findblas "${BLAS_LIBRARIES}" "${ad_findblas_includes}")
      if(NOT ad_cblas_found)
        find_library(AD_CBLAS_LIBRARY cblas)
        if(AD_CBLAS_LIBRARY)
          ad_try_cblas(findblas_cblas "${AD_CBLAS_LIBRARY};${BLAS_LIBRARIES}" "${ad_findblas_includes}")
        endif()
      endif()
    endif()
  endif()

  if(NOT ad_cblas_found AND ad_blas_mode STREQUAL "ON")
    message(FATAL_ERROR "AD_BLAS=ON but no working CBLAS was found (on Debian: apt install libopenblas-dev), "
                        "or configure with -DAD_BLAS=OFF to use the portable kernel only")
  endif()
endif()

# Which implementation GemmBackend::automatic (the default) uses when a CBLAS
# was found: our portable kernel (default; measured level with OpenBLAS on the
# project's shapes and steadier on a shared machine) or the CBLAS.
set(AD_GEMM_DEFAULT portable CACHE STRING "Default matrix-multiply backend when a CBLAS is found: portable or cblas")
set_property(CACHE AD_GEMM_DEFAULT PROPERTY STRINGS portable cblas)
if(NOT AD_GEMM_DEFAULT MATCHES "^(portable|cblas)$")
  message(FATAL_ERROR "AD_GEMM_DEFAULT must be portable or cblas (got '${AD_GEMM_DEFAULT}')")
endif()

if(ad_cblas_found)
  target_compile_definitions(autodiff PRIVATE AD_HAVE_CBLAS)
  if(AD_GEMM_DEFAULT STREQUAL "cblas")
    target_compile_definitions(autodiff PRIVATE AD_GEMM_DEFAULT_CBLAS)
  endif()
  if(ad_cblas_is_openblas)
    target_compile_definitions(autodiff PRIVATE AD_HAVE_OPENBLAS)
  endif()
  target_include_directories(autodiff PRIVATE ${ad_cblas_includes})
  target_link_libraries(autodiff PRIVATE ${ad_cblas_libraries})
  message(STATUS "ad: CBLAS found in ${ad_cblas_libraries} (AD_BLAS=${AD_BLAS}); default backend: ${AD_GEMM_DEFAULT}")
else()
  message(STATUS "ad: matrix products use the portable kernel only (AD_BLAS=${AD_BLAS})")
endif()
