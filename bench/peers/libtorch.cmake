# LibTorch, the optional peer of bench_mlp, bench_fashion, bench_conv and bench_cnn (included by
# bench/CMakeLists.txt).
#
# Found with find_package(Torch) (Debian's libtorch-dev installs its config in
# /usr/lib/<triplet>/cmake/Torch). Its code lives in peers/libtorch_peer.cpp,
# built once into a static library that the two programs link; they get
# AD_BENCH_HAVE_LIBTORCH. LibTorch's headers are SYSTEM includes so that our
# -Wall -Wextra -Wpedantic -Werror does not apply to them. The library itself
# never sees LibTorch. -DAD_BENCH_LIBTORCH=OFF leaves it out.
option(AD_BENCH_LIBTORCH "Measure bench_mlp and bench_fashion against LibTorch when it is installed" ON)

set(ad_libtorch_users)
foreach(program IN ITEMS bench_mlp bench_fashion bench_conv bench_cnn)
  if(TARGET ${program})
    list(APPEND ad_libtorch_users ${program})
  endif()
endforeach()

if(AD_BENCH_LIBTORCH AND ad_libtorch_users)
  find_package(Torch QUIET)
  # The peer calls openblas_set_num_threads itself (BENCHMARKS.md: with 2
  # threads LibTorch is fastest at torch 1 + OpenBLAS 2), so it links the
  # OpenBLAS that LibTorch's libblas.so.3 loads.
  find_library(AD_BENCH_OPENBLAS_LIBRARY NAMES openblas PATH_SUFFIXES openblas-pthread)
  if(Torch_FOUND AND TARGET torch AND AD_BENCH_OPENBLAS_LIBRARY)
    message(STATUS "bench_mlp, bench_fashion: measuring against LibTorch ${Torch_VERSION} (${AD_BENCH_OPENBLAS_LIBRARY})")
    add_library(bench_libtorch_peer STATIC ${CMAKE_CURRENT_LIST_DIR}/libtorch_peer.cpp
                                          ${CMAKE_CURRENT_LIST_DIR}/libtorch_cnn_peer.cpp
                                          ${CMAKE_CURRENT_LIST_DIR}/libtorch_conv.cpp)
    get_target_property(ad_torch_includes torch INTERFACE_INCLUDE_DIRECTORIES)
    if(ad_torch_includes)
      target_include_directories(bench_libtorch_peer SYSTEM PRIVATE ${ad_torch_includes})
    endif()
    target_include_directories(bench_libtorch_peer SYSTEM PRIVATE ${TORCH_INCLUDE_DIRS})
    target_link_libraries(bench_libtorch_peer PUBLIC ${TORCH_LIBRARIES} ${AD_BENCH_OPENBLAS_LIBRARY}
                                              PRIVATE ad_warnings)
    # Peak RSS of ours is measured in a build without LibTorch: merely loading
    # LibTorch's libraries makes about 150 MB resident.
    if(TARGET bench_mlp)
      add_executable(bench_mlp_without_peers ${PROJECT_SOURCE_DIR}/bench/bench_mlp.cpp)
      target_link_libraries(bench_mlp_without_peers PRIVATE ad::autodiff ad::nn ad_warnings)
    endif()
    foreach(program IN LISTS ad_libtorch_users)
      target_link_libraries(${program} PRIVATE bench_libtorch_peer)
      target_compile_definitions(${program} PRIVATE AD_BENCH_HAVE_LIBTORCH=1)
    endforeach()
  elseif(NOT Torch_FOUND)
    message(STATUS "bench_mlp, bench_fashion: LibTorch not found (libtorch-dev); measuring without it")
  else()
    message(STATUS "bench_mlp, bench_fashion: OpenBLAS (libopenblas-dev) not found; measuring without LibTorch")
  endif()
endif()
