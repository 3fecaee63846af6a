// Internal: the convolution's three products on plain arrays (forward, the
// gradient with respect to the input, the gradient with respect to the
// filters), shared by the recorded ops of src/tensor_conv.cpp. Each is im2col
// + ad::linalg::gemm per image and group; images are split over the gemm's
// threads (docs/decisions/0015-conv2d.md).
#pragma once

#include <cstddef>

namespace ad::detail {

// A convolution's extents, checked by the op that makes it (tensor_conv.cpp).
struct ConvGeometry {
  std::size_t n = 0, c_in = 0, h = 0, w = 0;  // x [n, c_in, h, w]
  std::size_t c_out = 0, kh = 0, kw = 0;      // weight [c_out, c_in / groups, kh, kw]
  std::size_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  std::size_t ho = 0, wo = 0;  // y [n, c_out, ho, wo]

  std::size_t group_in() const { return c_in / groups; }
  std::size_t group_out() const { return c_out / groups; }
  // Rows of a group's column matrix: one per filter tap.
  std::size_t taps() const { return group_in() * kh * kw; }
  std::size_t plane_in() const { return h * w; }
  std::size_t plane_out() const { return ho * wo; }
  std::size_t image_in() const { return c_in * h * w; }
  std::size_t image_out() const { return c_out * ho * wo; }
  // A 1x1 filter with stride 1 and no padding reads each image as it is:
  // the column matrix is the image itself.
  bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

// y = conv(x, w) + bias (bias may be null), or y += conv(x, w) when accumulate.
template <class T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y, bool accumulate);
// dx += conv^T(dy, w): the transposed convolution (dx must hold zeros or a gradient).
template <class T>
void conv_input_grad(const ConvGeometry& g, const T* dy, const T* w, T* dx);
// dw = (or += when accumulate) the correlation of x with dy, summed over the images.
template <class T>
void conv_weight_grad(const ConvGeometry& g, const T* x, const T* dy, T* dw, bool accumulate);
// db += dy summed over images and positions.
template <class T>
void conv_bias_grad(const ConvGeometry& g, const T* dy, T* db);

}  // namespace ad::detail
