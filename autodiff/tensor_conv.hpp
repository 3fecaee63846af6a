// Two-dimensional convolution (implemented in src/tensor_conv.cpp), as
// PyTorch's torch.nn.functional.conv2d: cross-correlation of an NCHW batch
// with a filter bank, with stride, zero padding, dilation and groups.
//
//   x      [N, C_in, H, W]                 (or [C_in, H, W]: one image, no batch axis)
//   weight [C_out, C_in / groups, kH, kW]
//   bias   [C_out], or an undefined tensor for none
//   y      [N, C_out, H_out, W_out],  H_out = floor((H + 2 p - d (kH - 1) - 1) / s) + 1
//
//   y[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] x[n, g C_in/groups + c, s i - p + d u, s j - p + d v]
//
// with g = o / (C_out / groups) and x read as 0 outside the image. Its
// derivatives are two more convolutions: dx is the "transposed" convolution
// of dy with w, dw the correlation of x with dy, db the sum of dy over n, i,
// j. All three are recorded ops (gradients of gradients work; the conv is
// bilinear, so they close over each other). Computed as im2col + one matrix
// product per image and group, images split over the gemm's threads
// (docs/decisions/0015-conv2d.md). Instantiated for float and double; bad
// arguments throw std::invalid_argument naming the op and the shapes.
#pragma once

#include <array>
#include <cstddef>
#include <source_location>

#include <autodiff/op_code.hpp>
#include <autodiff/tensor.hpp>

namespace ad {

struct Conv2dOptions {
  std::array<std::size_t, 2> stride{1, 1};    // rows, columns; each >= 1
  std::array<std::size_t, 2> padding{0, 0};   // zeros added on each side
  std::array<std::size_t, 2> dilation{1, 1};  // spacing of the filter taps; each >= 1
  std::size_t groups = 1;                     // must divide C_in and C_out
};

template <class T>
TensorT<T> conv2d(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias,
                  const Conv2dOptions& options = {},
                  std::source_location where = std::source_location::current());
// Without a bias.
template <class T>
TensorT<T> conv2d(const TensorT<T>& x, const TensorT<T>& weight, const Conv2dOptions& options = {},
                  std::source_location where = std::source_location::current());
// act(conv2d(x, weight, bias)) as one node, as linear_activation is for a
// dense layer: the activation is applied in place to the convolution's output
// and the backward multiplies by its derivative on the way in, so the
// pre-activation never exists as a tensor (no buffer, no gradient buffer, no
// pass of its own: for the Fashion-MNIST CNN's first layer 11 MB fewer each
// way per step). `activation` is one that linear_activation_supports() (relu,
// tanh, logistic, ...); others throw std::invalid_argument. The same values
// and gradients (to rounding) as conv2d followed by the activation; gradients
// of gradients are recorded.
template <class T>
TensorT<T> conv2d_activation(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias,
                             OpCode activation, const Conv2dOptions& options = {},
                             std::source_location where = std::source_location::current());

}  // namespace ad
