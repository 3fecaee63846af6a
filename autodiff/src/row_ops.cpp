// See row_ops.hpp. Only copies and additions: every version computes the
// same bits, in the same order.
#include "row_ops.hpp"

#include <autodiff/cpu_dispatch.hpp>

namespace ad::detail {

#define AD_DEFINE_ROW_OPS(T)                                                                     \
  AD_CPU_CLONES void broadcast_row(const T* __restrict row, T* __restrict dst, std::size_t rows, \
                                   std::size_t cols) noexcept {                                  \
    for (std::size_t r = 0; r < rows; ++r, dst += cols)                                          \
      for (std::size_t c = 0; c < cols; ++c) dst[c] = row[c];                                    \
  }                                                                                              \
  AD_CPU_CLONES void add_rows(const T* __restrict src, T* __restrict sum, std::size_t rows,      \
                              std::size_t cols) noexcept {                                       \
    for (std::size_t r = 0; r < rows; ++r, src += cols)                                          \
      for (std::size_t c = 0; c < cols; ++c) sum[c] += src[c];                                   \
  }
AD_DEFINE_ROW_OPS(float)
AD_DEFINE_ROW_OPS(double)
#undef AD_DEFINE_ROW_OPS

}  // namespace ad::detail
