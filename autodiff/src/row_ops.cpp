// See row_ops.hpp. Only copies and additions: every version computes the
// same bits, in the same order.
#include "row_ops.hpp"

namespace ad::detail {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
#define AD_ROW_KERNEL __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define AD_ROW_KERNEL
#endif

#define AD_DEFINE_ROW_OPS(T)                                                                     \
  AD_ROW_KERNEL void broadcast_row(const T* __restrict row, T* __restrict dst, std::size_t rows, \
                                   std::size_t cols) noexcept {                                  \
    for (std::size_t r = 0; r < rows; ++r, dst += cols)                                          \
      for (std::size_t c = 0; c < cols; ++c) dst[c] = row[c];                                    \
  }                                                                                              \
  AD_ROW_KERNEL void add_rows(const T* __restrict src, T* __restrict sum, std::size_t rows,      \
                              std::size_t cols) noexcept {                                       \
    for (std::size_t r = 0; r < rows; ++r, src += cols)                                          \
      for (std::size_t c = 0; c < cols; ++c) sum[c] += src[c];                                   \
  }
AD_DEFINE_ROW_OPS(float)
AD_DEFINE_ROW_OPS(double)
#undef AD_DEFINE_ROW_OPS
#undef AD_ROW_KERNEL

}  // namespace ad::detail
