// Private to the gemm implementation (gemm.cpp, gemm_portable.cpp,
// gemm_threads.cpp): the problem record handed between them.
#pragma once

#include <cstddef>
#include <string_view>

namespace ad::linalg::detail {

// One product C = alpha * op(A) * op(B) + beta * C, row-major; see gemm.hpp.
// Callers have already handled m, n or k == 0 and alpha == 0.
template <class T>
struct GemmProblem {
  bool trans_a, trans_b;
  std::size_t m, n, k;
  T alpha;
  const T* a;
  std::size_t lda;
  const T* b;
  std::size_t ldb;
  T beta;
  T* c;
  std::size_t ldc;

  // Rows [i0, i0 + rows) and columns [j0, j0 + cols) of C, as a product of
  // its own: the slices of op(A) and op(B) it needs, same k.
  GemmProblem block(std::size_t i0, std::size_t rows, std::size_t j0, std::size_t cols) const noexcept {
    GemmProblem sub = *this;
    sub.m = rows;
    sub.n = cols;
    sub.a = trans_a ? a + i0 : a + i0 * lda;
    sub.b = trans_b ? b + j0 * ldb : b + j0;
    sub.c = c + i0 * ldc + j0;
    return sub;
  }
};

// Products with m * n * k at or below this take the direct kernel (register
// tiles read straight from A and B, no packing, one thread) in the automatic
// and portable backends. Measured (docs/decisions/0002-matmul-path.md): it
// beats our packed kernel up to about 100^3 and is level with OpenBLAS there.
inline constexpr std::size_t direct_product_limit = 96 * 96 * 96;

// Above direct_product_limit a product may be split over threads, each part
// at least this many multiply-adds: waking a worker costs microseconds.
inline constexpr std::size_t parallel_part_limit = 64 * 64 * 64;

// A product split over threads packs the operand all its slabs share once,
// into one buffer, when that buffer takes at most this many bytes (T2's
// largest is 400 KB in float), and is then cut into this many slabs per thread.
inline constexpr std::size_t shared_pack_limit = std::size_t{8} << 20;
inline constexpr std::size_t slabs_per_thread = 4;

// The instruction set the portable kernels run on (the best this CPU has,
// unless restricted).
const char* portable_isa() noexcept;
// Restricts the portable kernels to "avx512", "avx2" or "baseline" ("" or
// "best": the best this CPU has); false when the CPU lacks it.
bool select_portable_isa(std::string_view isa) noexcept;

// The portable kernel for any size: the direct kernel (register tiles read
// straight from A and B) up to direct_product_limit and for skinny products,
// the packed kernel above, split over up to `threads` threads in parts of at
// least parallel_part_limit.
template <class T>
void gemm_portable(const GemmProblem<T>& p, int threads);

// Runs task(context, part) for part = 0 .. parts - 1 on the calling thread
// and up to threads - 1 pooled workers, each claiming the next part until
// none is left; returns when all are done. When the pool is busy (gemm called
// from several threads at once) the parts all run on the caller instead.
void run_parts(int threads, int parts, void (*task)(void* context, int part), void* context);

// A per-thread scratch buffer of at least `bytes`, 64-byte aligned, reused
// across calls (slot 0: packed A; slot 1: packed B, or the direct kernel's
// copy of B; slot 2: the shared operand of a product split over threads,
// which the caller's buffer holds while the workers read it).
void* scratch(int slot, std::size_t bytes);

}  // namespace ad::linalg::detail
