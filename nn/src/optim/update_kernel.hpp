// How the update rules' loops are compiled (private to nn/src/optim).
//
// The update rules touch every weight every step. Their loops are compiled
// for AVX-512 and AVX2 besides the x86-64 baseline, and the loader picks one
// (the library is built without -march=native); nn/CMakeLists.txt compiles
// nn/src/optim with -ffp-contract=off, so every version computes the same bits
// (no fused multiply-add where the baseline has none). Large tensors are split
// over the gemm's threads (Optimizer::for_each_parameter).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
#define NN_UPDATE_KERNEL __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NN_UPDATE_KERNEL
#endif
