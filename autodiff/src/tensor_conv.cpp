// conv2d and the two products of its backward, each a recorded op. The
// convolution is bilinear in (x, w), so its derivatives close over three ops:
//
//   y  = conv(x, w) + b            dx = conv_input_grad(dy, w)     dw = conv_weight_grad(x, dy)
//                                  db = sum of dy over n, i, j
//   dx = conv_input_grad(dy, w):   d(dy) = conv(G, w)              d(w) = conv_weight_grad(G, dy)
//   dw = conv_weight_grad(x, dy):  d(x) = conv_input_grad(dy, G)   d(dy) = conv(x, G)
//
// (G: the gradient reaching the op's output). The plain-array backwards call
// the kernels of conv_kernels.cpp; the graph lambdas the same three ops, so
// gradients of gradients of any order are recorded.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <autodiff/parallel.hpp>
#include <autodiff/scalar_ops.hpp>
#include <autodiff/tensor_conv.hpp>
#include <autodiff/tensor_linalg.hpp>
#include <autodiff/tensor_ops.hpp>
#include <autodiff/var.hpp>

#include "conv_kernels.hpp"
#include "tensor_record.hpp"
#include "unary_kernels.hpp"

namespace ad {
namespace {

using detail::ConvGeometry;
using detail::grad_for_product;
using detail::grad_of;
using detail::Gradients;
using detail::TensorImpl;
using detail::wants_grad;

template <class T>
std::string shape_or_none(const TensorT<T>& t) {
  return t.defined() ? t.shape().to_string() : std::string("none");
}

// The geometry of conv2d(x, w, bias) with x already [N, C, H, W]; `shown_x`
// is x's shape as the caller passed it, for the messages.
template <class T>
ConvGeometry plan_conv(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>& bias,
                       const Conv2dOptions& o, const std::string& shown_x) {
  const Shape& sx = x.shape();
  const Shape& sw = w.shape();
  const auto fail = [&](const std::string& why) {
    throw std::invalid_argument(fmt::format(
        "ad::conv2d: {} (x {}, weight {}, bias {}; stride {}x{}, padding {}x{}, dilation {}x{}, groups {})",
        why, shown_x, sw.to_string(), shape_or_none(bias), o.stride[0], o.stride[1], o.padding[0],
        o.padding[1], o.dilation[0], o.dilation[1], o.groups));
  };
  if (sx.rank() != 4) fail("x must be [N, C_in, H, W] or [C_in, H, W]");
  if (sw.rank() != 4) fail("the weight must be [C_out, C_in / groups, kH, kW]");
  if (o.groups == 0) fail("groups must be at least 1");
  if (o.stride[0] == 0 || o.stride[1] == 0) fail("the stride must be at least 1 along both axes");
  if (o.dilation[0] == 0 || o.dilation[1] == 0) fail("the dilation must be at least 1 along both axes");
  if (sw[2] == 0 || sw[3] == 0) fail("the kernel must be at least 1x1");
  if (sx[1] % o.groups != 0) fail(fmt::format("groups ({}) must divide C_in ({})", o.groups, sx[1]));
  if (sw[0] % o.groups != 0) fail(fmt::format("groups ({}) must divide C_out ({})", o.groups, sw[0]));
  if (sx[1] != sw[1] * o.groups)
    fail(fmt::format("x has {} channels, the weight expects {} * groups ({}) = {}", sx[1], sw[1], o.groups,
                     sw[1] * o.groups));
  if (bias.defined() && (bias.rank() != 1 || bias.shape()[0] != sw[0]))
    fail(fmt::format("the bias must be [C_out] = [{}]", sw[0]));
  ConvGeometry g;
  g.n = sx[0], g.c_in = sx[1], g.h = sx[2], g.w = sx[3];
  g.c_out = sw[0], g.kh = sw[2], g.kw = sw[3];
  g.sh = o.stride[0], g.sw = o.stride[1], g.ph = o.padding[0], g.pw = o.padding[1];
  g.dh = o.dilation[0], g.dw = o.dilation[1], g.groups = o.groups;
  // floor((H + 2p - d (k - 1) - 1) / s) + 1, at least 1 or an error
  const auto extent = [&](std::size_t in, std::size_t k, std::size_t p, std::size_t d, std::size_t s) {
    const std::size_t span = d * (k - 1) + 1;
    if (in + 2 * p < span)
      fail(fmt::format("the {}x{} kernel (dilated to {}x{}) is larger than the padded input {}x{}", g.kh,
                       g.kw, g.dh * (g.kh - 1) + 1, g.dw * (g.kw - 1) + 1, g.h + 2 * g.ph, g.w + 2 * g.pw));
    return (in + 2 * p - span) / s + 1;
  };
  g.ho = extent(g.h, g.kh, g.ph, g.dh, g.sh);
  g.wo = extent(g.w, g.kw, g.pw, g.dw, g.sw);
  return g;
}

template <class T>
TensorT<T> convolve(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>& bias, const ConvGeometry& g,
                    std::source_location where);
template <class T>
TensorT<T> conv_input_grad(const TensorT<T>& dy, const TensorT<T>& w, const ConvGeometry& g);
template <class T>
TensorT<T> conv_weight_grad(const TensorT<T>& x, const TensorT<T>& dy, const ConvGeometry& g);

// y = conv(x, w) + b;  dx += conv_input_grad(dy, w),  dw += conv_weight_grad(x, dy),  db += sum dy
template <class T>
TensorT<T> convolve(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>& bias, const ConvGeometry& g,
                    std::source_location where) {
  TensorImpl<T>& ix = detail::impl_of(x);
  TensorImpl<T>& iw = detail::impl_of(w);
  TensorImpl<T>* ib = bias.defined() ? &detail::impl_of(bias) : nullptr;
  const Shape shape{g.n, g.c_out, g.ho, g.wo};
  std::vector<T> y = detail::take_buffer<T>(shape.numel(), false);  // every element written
  detail::conv_forward(g, ix.values.data(), iw.values.data(), ib != nullptr ? ib->values.data() : nullptr,
                       y.data(), false);
  const std::array<const TensorT<T>*, 3> input_array{&x, &w, &bias};
  const std::span<const TensorT<T>* const> inputs(input_array.data(), ib != nullptr ? 3 : 2);
  const std::array<const TensorT<T>*, 2> reads{detail::read_for(w, x), detail::read_for(x, w)};
  return detail::record_with_inputs<T>(
      where, "conv2d", shape, std::move(y), inputs, reads,
      [g, px = &ix, pw = &iw, ib](TensorImpl<T>& out) {
        const T* dy = out.grad.data();
        if (T* gx = grad_of(*px)) detail::conv_input_grad(g, dy, pw->values.data(), gx);
        if (const auto [gw, beta] = grad_for_product(*pw); gw != nullptr)
          detail::conv_weight_grad(g, px->values.data(), dy, gw, beta != T(0));
        if (ib != nullptr)
          if (T* gb = grad_of(*ib)) detail::conv_bias_grad(g, dy, gb);
      },
      [g](const TensorT<T>&, const TensorT<T>& dy, const Gradients<T>& in) {
        Gradients<T> r(in.size());
        if (wants_grad(in[0])) r[0] = conv_input_grad(dy, in[1], g);
        if (wants_grad(in[1])) r[1] = conv_weight_grad(in[0], dy, g);
        if (in.size() == 3 && wants_grad(in[2]))
          r[2] = sum(dy, std::vector<std::int64_t>{0, 2, 3}, false, std::source_location{});
        return r;
      });
}

// z = act(conv(x, w) + b), act's derivative a function of z (relu: z > 0):
// da = dz act'(z), then the convolution's three backwards on da.
template <class Op, class T>
TensorT<T> convolve_activation(const char* op, const TensorT<T>& x, const TensorT<T>& w,
                               const TensorT<T>& bias, const ConvGeometry& g, std::source_location where) {
  TensorImpl<T>& ix = detail::impl_of(x);
  TensorImpl<T>& iw = detail::impl_of(w);
  TensorImpl<T>* ib = bias.defined() ? &detail::impl_of(bias) : nullptr;
  const Shape shape{g.n, g.c_out, g.ho, g.wo};
  std::vector<T> z = detail::take_buffer<T>(shape.numel(), false);  // every element written
  detail::conv_forward(g, ix.values.data(), iw.values.data(), ib != nullptr ? ib->values.data() : nullptr,
                       z.data(), false);
  // In place, by the element-wise op's own kernels (the same values).
  T* const values = z.data();
  parallel_for(z.size(), parallel_grain, [values](std::size_t begin, std::size_t end) {
    detail::forward_values<Op>(values + begin, values + begin, end - begin);
  });
  const std::array<const TensorT<T>*, 3> input_array{&x, &w, &bias};
  const std::span<const TensorT<T>* const> inputs(input_array.data(), ib != nullptr ? 3 : 2);
  const std::array<const TensorT<T>*, 2> reads{detail::read_for(w, x), detail::read_for(x, w)};
  return detail::record_with_inputs<T>(
      where, op, shape, std::move(z), inputs, reads,
      [g, px = &ix, pw = &iw, ib](TensorImpl<T>& out) {
        std::vector<T> da = detail::take_buffer<T>(out.values.size(), false);
        parallel_for(da.size(), parallel_grain, [&](std::size_t begin, std::size_t end) {
          const T* __restrict dz = out.grad.data() + begin;
          const T* __restrict zv = out.values.data() + begin;
          T* __restrict d = da.data() + begin;
          const std::size_t n = end - begin;
          for (std::size_t i = 0; i < n; ++i) d[i] = dz[i] * static_cast<T>(Op::derivative_of_output(zv[i]));
        });
        if (T* gx = grad_of(*px)) detail::conv_input_grad(g, da.data(), pw->values.data(), gx);
        if (const auto [gw, beta] = grad_for_product(*pw); gw != nullptr)
          detail::conv_weight_grad(g, px->values.data(), da.data(), gw, beta != T(0));
        if (ib != nullptr)
          if (T* gb = grad_of(*ib)) detail::conv_bias_grad(g, da.data(), gb);
        detail::recycle_buffer(da);
      },
      [g](const TensorT<T>& z, const TensorT<T>& dz, const Gradients<T>& in) {
        const TensorT<T> da = detail::times_output_derivative<Op>(dz, z);
        Gradients<T> r(in.size());
        if (wants_grad(in[0])) r[0] = conv_input_grad(da, in[1], g);
        if (wants_grad(in[1])) r[1] = conv_weight_grad(in[0], da, g);
        if (in.size() == 3 && wants_grad(in[2]))
          r[2] = sum(da, std::vector<std::int64_t>{0, 2, 3}, false, std::source_location{});
        return r;
      });
}

// dx = conv^T(dy, w), linear in each operand; G the gradient reaching dx:
// d(dy) = conv(G, w), d(w) = conv_weight_grad(G, dy)
template <class T>
TensorT<T> conv_input_grad(const TensorT<T>& dy, const TensorT<T>& w, const ConvGeometry& g) {
  TensorImpl<T>& idy = detail::impl_of(dy);
  TensorImpl<T>& iw = detail::impl_of(w);
  const Shape shape{g.n, g.c_in, g.h, g.w};
  std::vector<T> dx = detail::take_buffer<T>(shape.numel(), true);  // the kernel adds into it
  detail::conv_input_grad(g, idy.values.data(), iw.values.data(), dx.data());
  return detail::record(
      std::source_location{}, "conv2d_input_grad", shape, std::move(dx), {&dy, &w},
      {detail::read_for(w, dy), detail::read_for(dy, w)},
      [g, pdy = &idy, pw = &iw](TensorImpl<T>& out) {
        const T* G = out.grad.data();
        if (const auto [gdy, beta] = grad_for_product(*pdy); gdy != nullptr)
          detail::conv_forward(g, G, pw->values.data(), static_cast<const T*>(nullptr), gdy, beta != T(0));
        if (const auto [gw, beta] = grad_for_product(*pw); gw != nullptr)
          detail::conv_weight_grad(g, G, pdy->values.data(), gw, beta != T(0));
      },
      [g](const TensorT<T>&, const TensorT<T>& G, const Gradients<T>& in) {
        Gradients<T> r(2);
        if (wants_grad(in[0])) r[0] = convolve(G, in[1], TensorT<T>(), g, std::source_location{});
        if (wants_grad(in[1])) r[1] = conv_weight_grad(G, in[0], g);
        return r;
      });
}

// dw = sum_n dy[n] cols(x[n])^T, linear in each operand; G the gradient
// reaching dw: d(x) = conv_input_grad(dy, G), d(dy) = conv(x, G)
template <class T>
TensorT<T> conv_weight_grad(const TensorT<T>& x, const TensorT<T>& dy, const ConvGeometry& g) {
  TensorImpl<T>& ix = detail::impl_of(x);
  TensorImpl<T>& idy = detail::impl_of(dy);
  const Shape shape{g.c_out, g.group_in(), g.kh, g.kw};
  std::vector<T> dw = detail::take_buffer<T>(shape.numel(), false);  // written, not added to
  detail::conv_weight_grad(g, ix.values.data(), idy.values.data(), dw.data(), false);
  return detail::record(
      std::source_location{}, "conv2d_weight_grad", shape, std::move(dw), {&x, &dy},
      {detail::read_for(dy, x), detail::read_for(x, dy)},
      [g, px = &ix, pdy = &idy](TensorImpl<T>& out) {
        const T* G = out.grad.data();
        if (T* gx = grad_of(*px)) detail::conv_input_grad(g, pdy->values.data(), G, gx);
        if (const auto [gdy, beta] = grad_for_product(*pdy); gdy != nullptr)
          detail::conv_forward(g, px->values.data(), G, static_cast<const T*>(nullptr), gdy, beta != T(0));
      },
      [g](const TensorT<T>&, const TensorT<T>& G, const Gradients<T>& in) {
        Gradients<T> r(2);
        if (wants_grad(in[0])) r[0] = conv_input_grad(in[1], G, g);
        if (wants_grad(in[1])) r[1] = convolve(in[0], G, TensorT<T>(), g, std::source_location{});
        return r;
      });
}

}  // namespace

template <class T>
TensorT<T> conv2d(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias,
                  const Conv2dOptions& options, std::source_location where) {
  detail::check_input(x, "conv2d");
  detail::check_input(weight, "conv2d");
  if (bias.defined()) detail::check_input(bias, "conv2d");
  const std::string shown_x = x.shape().to_string();
  if (x.rank() == 3) {  // one image: [C, H, W] as a batch of one
    const Shape& s = x.shape();
    const TensorT<T> batch = reshape(x, Shape{1, s[0], s[1], s[2]}, where);
    const ConvGeometry g = plan_conv(batch, weight, bias, options, shown_x);
    return reshape(convolve(batch, weight, bias, g, where), Shape{g.c_out, g.ho, g.wo}, where);
  }
  return convolve(x, weight, bias, plan_conv(x, weight, bias, options, shown_x), where);
}

template <class T>
TensorT<T> conv2d(const TensorT<T>& x, const TensorT<T>& weight, const Conv2dOptions& options,
                  std::source_location where) {
  return conv2d(x, weight, TensorT<T>(), options, where);
}

template <class T>
TensorT<T> conv2d_activation(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias,
                             OpCode activation, const Conv2dOptions& options, std::source_location where) {
  if (!linear_activation_supports(activation))
    throw std::invalid_argument(fmt::format(
        "ad::conv2d_activation: the activation must be an op whose derivative is a function of its "
        "output (relu, tanh, logistic, ...), got {} ({})",
        op_info(activation).name, detail::source_text(where)));
  detail::check_input(x, "conv2d_activation");
  detail::check_input(weight, "conv2d_activation");
  if (bias.defined()) detail::check_input(bias, "conv2d_activation");
  const std::string shown_x = x.shape().to_string();
  const bool one_image = x.rank() == 3;  // [C, H, W] as a batch of one
  const TensorT<T> batch =
      one_image ? reshape(x, Shape{1, x.shape()[0], x.shape()[1], x.shape()[2]}, where) : x;
  const ConvGeometry g = plan_conv(batch, weight, bias, options, shown_x);
  TensorT<T> z;
  switch (activation) {
#define AD_FUSED_CONV_CASE(name, Struct)                                                    \
  case OpCode::name:                                                                        \
    if constexpr (ops::DerivativeOfOutput<ops::Struct>)                                     \
      z = convolve_activation<ops::Struct>("conv2d_" #name, batch, weight, bias, g, where); \
    break;
    AD_UNARY_OPS(AD_FUSED_CONV_CASE)
#undef AD_FUSED_CONV_CASE
    default:
      break;
  }
  return one_image ? reshape(z, Shape{g.c_out, g.ho, g.wo}, where) : z;
}

#define AD_CONV2D(T)                                                                                        \
  template TensorT<T> conv2d(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&, const Conv2dOptions&, \
                             std::source_location);                                                         \
  template TensorT<T> conv2d(const TensorT<T>&, const TensorT<T>&, const Conv2dOptions&,                    \
                             std::source_location);                                                         \
  template TensorT<T> conv2d_activation(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&, OpCode,    \
                                        const Conv2dOptions&, std::source_location);
AD_CONV2D(float)
AD_CONV2D(double)
#undef AD_CONV2D

}  // namespace ad
