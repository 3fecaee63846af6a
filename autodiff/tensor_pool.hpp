// Two-dimensional pooling (implemented in src/tensor_pool.cpp), as PyTorch's
// max_pool2d, avg_pool2d and adaptive_avg_pool2d(x, 1), on x [N, C, H, W]
// (or [C, H, W]); output sizes floor((H + 2 p - k) / s) + 1 (no ceil mode).
//
// - max_pool2d: the largest element of each window, padding read as -inf;
//   among equal maxima the first in row-major order wins, a NaN wins over
//   any number (as PyTorch). The positions of the maxima are kept for the
//   backward, which sends dy to them.
// - avg_pool2d: the window's sum divided by kH kW, padding counted as zeros
//   in the divisor (PyTorch's default count_include_pad = true).
// - adaptive_avg_pool2d: the mean of each channel, [N, C, H, W] -> [N, C, 1, 1].
//
// All have recorded backwards (gradients of gradients). Bad arguments throw
// std::invalid_argument naming the op and the shapes: a rank other than 3 or
// 4, a zero kernel or stride, padding above half the kernel (PyTorch's rule),
// a window that does not fit the padded input. Instantiated for float and double.
#pragma once

#include <array>
#include <cstddef>
#include <source_location>

#include <autodiff/tensor.hpp>

namespace ad {

struct Pool2dOptions {
  std::array<std::size_t, 2> kernel{2, 2};
  std::array<std::size_t, 2> stride{0, 0};  // 0: the kernel's extent (non-overlapping windows)
  std::array<std::size_t, 2> padding{0, 0};
};

template <class T>
TensorT<T> max_pool2d(const TensorT<T>& x, const Pool2dOptions& options = {},
                      std::source_location where = std::source_location::current());
template <class T>
TensorT<T> avg_pool2d(const TensorT<T>& x, const Pool2dOptions& options = {},
                      std::source_location where = std::source_location::current());
template <class T>
TensorT<T> adaptive_avg_pool2d(const TensorT<T>& x,
                               std::source_location where = std::source_location::current());

}  // namespace ad
