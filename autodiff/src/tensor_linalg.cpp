// matmul and dot. Products go through ad::linalg::gemm (our packed kernel or
// the system CBLAS; docs/decisions/0002-matmul-path.md).
#include <algorithm>
#include <array>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>

#include <autodiff/gemm.hpp>
#include <autodiff/parallel.hpp>
#include <autodiff/scalar_ops.hpp>
#include <autodiff/tensor_linalg.hpp>
#include <autodiff/tensor_ops.hpp>
#include <autodiff/var.hpp>

#include "row_ops.hpp"
#include "tensor_matmul_transposed.hpp"
#include "tensor_record.hpp"
#include "unary_kernels.hpp"

namespace ad {
namespace {

using detail::grad_for_product;
using detail::grad_of;
using detail::Gradients;
using detail::TensorImpl;
using detail::wants_grad;

// How a (batched) product lays out: `batch` products of [m, k] x [k, n];
// an operand with stride 0 is shared by every product of the batch.
struct MatmulPlan {
  Shape out;
  std::size_t batch = 1, m = 0, k = 0, n = 0;
  std::size_t stride_a = 0, stride_b = 0;
};

MatmulPlan plan_matmul(const Shape& a, const Shape& b) {
  if (a.rank() < 2 || b.rank() < 2)
    throw std::invalid_argument(
        fmt::format("ad::matmul: needs operands with at least 2 axes, got {} and {} (use dot() for two "
                    "vectors, or reshape "
                    "a vector to [1, n] or [n, 1])",
                    a.to_string(), b.to_string()));
  MatmulPlan p;
  p.m = a[a.rank() - 2];
  p.k = a[a.rank() - 1];
  p.n = b[b.rank() - 1];
  if (b[b.rank() - 2] != p.k)
    throw std::invalid_argument(
        fmt::format("ad::matmul: inner extents differ: {} x {} (the last axis of the first operand must "
                    "equal the second-to-last "
                    "of the second)",
                    a.to_string(), b.to_string()));
  const Shape& batched = a.rank() >= b.rank() ? a : b;
  const bool batch_match = a.rank() == 2 || b.rank() == 2 || a.rank() == b.rank();
  bool same_batch = batch_match;
  if (batch_match && a.rank() == b.rank())
    for (std::size_t axis = 0; axis + 2 < a.rank(); ++axis) same_batch = same_batch && a[axis] == b[axis];
  if (!same_batch)
    throw std::invalid_argument(fmt::format(
        "ad::matmul: batch axes of {} and {} differ (they must be equal, or one operand 2-d and shared)",
        a.to_string(), b.to_string()));
  std::array<std::size_t, Shape::max_rank> dims{};
  for (std::size_t axis = 0; axis + 2 < batched.rank(); ++axis) {
    dims[axis] = batched[axis];
    p.batch *= batched[axis];
  }
  dims[batched.rank() - 2] = p.m;
  dims[batched.rank() - 1] = p.n;
  try {  // [.., m, k] x [.., k, n] may hold far more elements than either operand
    p.out = Shape(std::span<const std::size_t>(dims.data(), batched.rank()), "matmul");
  } catch (const std::length_error& e) {
    throw std::length_error(
        fmt::format("{} (the product of {} and {})", e.what(), a.to_string(), b.to_string()));
  }
  p.stride_a = a.rank() == 2 && b.rank() > 2 ? 0 : p.m * p.k;
  p.stride_b = b.rank() == 2 && a.rank() > 2 ? 0 : p.k * p.n;
  return p;
}

}  // namespace

// C = A B;  dA += dC B^T,  dB += A^T dC  (summed over the batch where shared)
template <class T>
TensorT<T> matmul(const TensorT<T>& a, const TensorT<T>& b, std::source_location where) {
  detail::check_input(a, "matmul");
  detail::check_input(b, "matmul");
  TensorImpl<T>& ia = detail::impl_of(a);
  TensorImpl<T>& ib = detail::impl_of(b);
  const MatmulPlan p = plan_matmul(ia.shape, ib.shape);
  std::vector<T> c = detail::take_buffer<T>(p.out.numel(), false);
  // An empty result (m or n of 0) has nothing to compute, however many
  // products the batch axes count (the loop would run through all of them).
  for (std::size_t s = 0; s < (c.empty() ? 0 : p.batch); ++s)
    linalg::gemm<T>(false, false, p.m, p.n, p.k, T(1), ia.values.data() + s * p.stride_a, p.k,
                    ib.values.data() + s * p.stride_b, p.n, T(0), c.data() + s * p.m * p.n, p.n);
  return detail::record(
      where, "matmul", p.out, std::move(c), {&a, &b}, {detail::read_for(b, a), detail::read_for(a, b)},
      [pa = &ia, pb = &ib, p](TensorImpl<T>& out) {
        // A gradient not allocated yet is written (beta = 0) by the first
        // product into each of its regions, a shared operand's by the first of
        // the batch (grad_for_product); matmul(a, a) sends both products to one
        // buffer, which therefore starts from zeros.
        T *ga = nullptr, *gb = nullptr;
        T beta_a = T(1), beta_b = T(1);
        if (p.batch == 0 || out.grad.empty()) {  // no product runs: the operands' gradients are zeros
          grad_of(*pa);
          grad_of(*pb);
          return;
        }
        if (pa == pb) {
          ga = gb = grad_of(*pa);
        } else {
          std::tie(ga, beta_a) = grad_for_product(*pa);
          std::tie(gb, beta_b) = grad_for_product(*pb);
        }
        for (std::size_t s = 0; s < p.batch; ++s) {
          const T* dc = out.grad.data() + s * p.m * p.n;
          if (ga != nullptr)
            linalg::gemm<T>(false, true, p.m, p.k, p.n, T(1), dc, p.n, pb->values.data() + s * p.stride_b,
                            p.n, p.stride_a != 0 || s == 0 ? beta_a : T(1), ga + s * p.stride_a, p.k);
          if (gb != nullptr)
            linalg::gemm<T>(true, false, p.k, p.n, p.m, T(1), pa->values.data() + s * p.stride_a, p.k, dc,
                            p.n, p.stride_b != 0 || s == 0 ? beta_b : T(1), gb + s * p.stride_b, p.n);
        }
      },
      [](const TensorT<T>&, const TensorT<T>& g, const Gradients<T>& in) -> Gradients<T> {
        // The same products as tensors; sum_to sums a shared (2-d) operand's
        // gradient over the batch. Two 2-d operands are read transposed by
        // the product itself: no transpose copy is recorded (and swept back).
        Gradients<T> r(2);
        const bool plain = in[0].rank() == 2 && in[1].rank() == 2;
        if (wants_grad(in[0]))
          r[0] = plain ? detail::matmul_transposed(g, in[1], false, true)
                       : detail::sum_to(matmul(g, transpose(in[1], -2, -1)), in[0].shape());
        if (wants_grad(in[1]))
          r[1] = plain ? detail::matmul_transposed(in[0], g, true, false)
                       : detail::sum_to(matmul(transpose(in[0], -2, -1), g), in[1].shape());
        return r;
      });
}

// y = sum_i a_i b_i;  da += dy b,  db += dy a
template <class T>
TensorT<T> dot(const TensorT<T>& a, const TensorT<T>& b, std::source_location where) {
  detail::check_input(a, "dot");
  detail::check_input(b, "dot");
  TensorImpl<T>& ia = detail::impl_of(a);
  TensorImpl<T>& ib = detail::impl_of(b);
  if (ia.shape.rank() != 1 || !(ia.shape == ib.shape))
    throw std::invalid_argument(fmt::format("ad::dot: needs two 1-d tensors of equal length, got {} and {}",
                                            ia.shape.to_string(), ib.shape.to_string()));
  T y = T(0);
  for (std::size_t i = 0; i < ia.values.size(); ++i) y += ia.values[i] * ib.values[i];
  return detail::record(
      where, "dot", Shape{}, std::vector<T>{y}, {&a, &b}, {detail::read_for(b, a), detail::read_for(a, b)},
      [pa = &ia, pb = &ib](TensorImpl<T>& out) {
        const T g = out.grad[0];
        if (T* ga = grad_of(*pa))
          for (std::size_t i = 0; i < pa->values.size(); ++i) ga[i] += g * pb->values[i];
        if (T* gb = grad_of(*pb))
          for (std::size_t i = 0; i < pb->values.size(); ++i) gb[i] += g * pa->values[i];
      },
      [](const TensorT<T>&, const TensorT<T>& g, const Gradients<T>& in) -> Gradients<T> {
        Gradients<T> r(2);
        if (wants_grad(in[0])) r[0] = g * in[1];
        if (wants_grad(in[1])) r[1] = g * in[0];
        return r;
      });
}

namespace {

// The shapes of linear's operands, checked: x [batch, in], W [out, in], b [out] or none.
struct LinearShape {
  std::size_t batch, in, out;
};

// `result` receives the result's shape [batch, out], checked (it may hold far
// more elements than the operands) before any buffer is sized by it.
template <class T>
LinearShape check_linear(const char* op, const TensorT<T>& x, const TensorT<T>& weight,
                         const TensorT<T>& bias, Shape& result) {
  detail::check_input(x, op);
  detail::check_input(weight, op);
  const bool has_bias = bias.defined();
  if (has_bias) detail::check_input(bias, op);
  const Shape& sx = x.shape();
  const Shape& sw = weight.shape();
  if (sx.rank() != 2 || sw.rank() != 2 || sx[1] != sw[1] ||
      (has_bias && (bias.rank() != 1 || bias.shape()[0] != sw[0])))
    throw std::invalid_argument(fmt::format(
        "ad::{}: needs x [batch, in], weight [out, in] and bias [out]; got x {}, weight {}, bias {}", op,
        sx.to_string(), sw.to_string(), has_bias ? bias.shape().to_string() : std::string("none")));
  const std::size_t dims[] = {sx[0], sw[0]};
  try {
    result = Shape(dims, op);
    return {sx[0], sx[1], sw[0]};
  } catch (const std::length_error& e) {
    throw std::length_error(fmt::format("{} (x {}, weight {})", e.what(), sx.to_string(), sw.to_string()));
  }
}

// y = x W^T + b: the bias broadcast over the rows, then one product adding to it.
template <class T>
std::vector<T> linear_values(const LinearShape& s, const TensorImpl<T>& ix, const TensorImpl<T>& iw,
                             const TensorImpl<T>* ib) {
  std::vector<T> y = detail::take_buffer<T>(s.batch * s.out, false);  // checked by check_linear
  if (ib != nullptr) detail::broadcast_row(ib->values.data(), y.data(), s.batch, s.out);
  linalg::gemm<T>(false, true, s.batch, s.out, s.in, T(1), ix.values.data(), s.in, iw.values.data(), s.in,
                  ib != nullptr ? T(1) : T(0), y.data(), s.out);
  return y;
}

// Given dy = d(root)/d(x W^T + b): dx += dy W, dW += dy^T x, db += column sums of dy.
template <class T>
void linear_backward(const LinearShape& s, const T* dy, TensorImpl<T>& ix, TensorImpl<T>& iw,
                     TensorImpl<T>* ib) {
  // [batch, out] x [out, in] (x and W distinct or not: each product writes or adds to its own buffer)
  if (const auto [gx, beta] = grad_for_product(ix); gx != nullptr)
    linalg::gemm<T>(false, false, s.batch, s.in, s.out, T(1), dy, s.out, iw.values.data(), s.in, beta, gx,
                    s.in);
  // [out, batch] x [batch, in]
  if (const auto [gw, beta] = grad_for_product(iw); gw != nullptr)
    linalg::gemm<T>(true, false, s.out, s.in, s.batch, T(1), dy, s.out, ix.values.data(), s.in, beta, gw,
                    s.in);
  if (ib != nullptr)
    if (T* gb = grad_of(*ib)) detail::add_rows(dy, gb, s.batch, s.out);
}

// The same as tensors, for the recorded sweep.
template <class T>
Gradients<T> linear_gradients(const TensorT<T>& g, const Gradients<T>& in) {
  Gradients<T> r(in.size());
  if (wants_grad(in[0])) r[0] = matmul(g, in[1]);                                        // dx = dy W
  if (wants_grad(in[1])) r[1] = detail::matmul_transposed(g, in[0], true, false);         // dW = dy^T x
  if (in.size() == 3 && wants_grad(in[2])) r[2] = sum(g, std::vector<std::int64_t>{0});  // db
  return r;
}

}  // namespace

template <class T>
TensorT<T> linear(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias,
                  std::source_location where) {
  Shape result;
  const LinearShape s = check_linear("linear", x, weight, bias, result);
  TensorImpl<T>& ix = detail::impl_of(x);
  TensorImpl<T>& iw = detail::impl_of(weight);
  TensorImpl<T>* ib = bias.defined() ? &detail::impl_of(bias) : nullptr;
  // The inputs on the stack (no allocation per call): x, W and the bias if any.
  const std::array<const TensorT<T>*, 3> input_array{&x, &weight, &bias};
  const std::span<const TensorT<T>* const> inputs(input_array.data(), ib != nullptr ? 3 : 2);
  const std::array<const TensorT<T>*, 2> reads{detail::read_for(weight, x), detail::read_for(x, weight)};
  return detail::record_with_inputs<T>(
      where, "linear", result, linear_values(s, ix, iw, ib), inputs, reads,
      [s, px = &ix, pw = &iw, ib](TensorImpl<T>& o) { linear_backward(s, o.grad.data(), *px, *pw, ib); },
      [](const TensorT<T>&, const TensorT<T>& g, const Gradients<T>& in) { return linear_gradients(g, in); });
}

namespace {

// z = Op(x W^T + b); da = dz Op'(a), written as a function of z (the op
// table's derivative_of_output), then linear's backward with da.
template <class Op, class T>
TensorT<T> fused_linear(const char* op, const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias,
                        std::source_location where) {
  Shape result;
  const LinearShape s = check_linear(op, x, weight, bias, result);
  TensorImpl<T>& ix = detail::impl_of(x);
  TensorImpl<T>& iw = detail::impl_of(weight);
  TensorImpl<T>* ib = bias.defined() ? &detail::impl_of(bias) : nullptr;
  std::vector<T> z = linear_values(s, ix, iw, ib);
  // In place, by the same kernels as the element-wise op (the same values),
  // split over the gemm's threads like it.
  T* const values = z.data();
  parallel_for(z.size(), parallel_grain, [values](std::size_t begin, std::size_t end) {
    detail::forward_values<Op>(values + begin, values + begin, end - begin);
  });
  const std::array<const TensorT<T>*, 3> input_array{&x, &weight, &bias};
  const std::span<const TensorT<T>* const> inputs(input_array.data(), ib != nullptr ? 3 : 2);
  // dx reads W, dW reads x; the activation's derivative reads the output.
  const std::array<const TensorT<T>*, 2> reads{detail::read_for(weight, x), detail::read_for(x, weight)};
  return detail::record_with_inputs<T>(
      where, op, result, std::move(z), inputs, reads,
      [s, px = &ix, pw = &iw, ib](TensorImpl<T>& o) {
        std::vector<T> da = detail::take_buffer<T>(o.values.size(), false);
        parallel_for(da.size(), parallel_grain, [&](std::size_t begin, std::size_t end) {
          const T* __restrict dz = o.grad.data() + begin;
          const T* __restrict z = o.values.data() + begin;
          T* __restrict d = da.data() + begin;
          const std::size_t n = end - begin;
          for (std::size_t i = 0; i < n; ++i) d[i] = dz[i] * static_cast<T>(Op::derivative_of_output(z[i]));
        });
        linear_backward(s, da.data(), *px, *pw, ib);
        detail::recycle_buffer(da);
      },
      [](const TensorT<T>& z, const TensorT<T>& g, const Gradients<T>& in) {
        return linear_gradients(detail::times_output_derivative<Op>(g, z), in);
      });
}

// "tanh, logistic, relu, ...": the ops linear_activation takes, for its error message.
std::string fusable_names() {
  std::string names;
#define AD_FUSABLE_NAME(name, Struct) \
  if constexpr (ops::DerivativeOfOutput<ops::Struct>) names += names.empty() ? #name : ", " #name;
  AD_UNARY_OPS(AD_FUSABLE_NAME)
#undef AD_FUSABLE_NAME
  return names;
}

}  // namespace

bool linear_activation_supports(OpCode activation) noexcept {
  switch (activation) {
#define AD_FUSABLE_CASE(name, Struct) \
  case OpCode::name: return ops::DerivativeOfOutput<ops::Struct>;
    AD_UNARY_OPS(AD_FUSABLE_CASE)
#undef AD_FUSABLE_CASE
    default: return false;
  }
}

template <class T>
TensorT<T> linear_activation(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias,
                             OpCode activation, std::source_location where) {
  switch (activation) {
#define AD_FUSED_CASE(name, Struct)                                                        \
  case OpCode::name:                                                                       \
    if constexpr (ops::DerivativeOfOutput<ops::Struct>)                                    \
      return fused_linear<ops::Struct>("linear_" #name, x, weight, bias, where);           \
    break;
    AD_UNARY_OPS(AD_FUSED_CASE)
#undef AD_FUSED_CASE
    default: break;
  }
  throw std::invalid_argument(
      fmt::format("ad::linear_activation: the activation must be an op whose derivative is a function of its "
                  "output ({}), got {} ({})",
                  fusable_names(), op_info(activation).name, detail::source_text(where)));
}

template TensorT<float> linear(const TensorT<float>&, const TensorT<float>&, const TensorT<float>&,
                               std::source_location);
template TensorT<float> linear_activation(const TensorT<float>&, const TensorT<float>&, const TensorT<float>&,
                                          OpCode, std::source_location);
template TensorT<double> linear_activation(const TensorT<double>&, const TensorT<double>&,
                                           const TensorT<double>&, OpCode, std::source_location);
template TensorT<double> linear(const TensorT<double>&, const TensorT<double>&, const TensorT<double>&,
                                std::source_location);
template TensorT<float> matmul(const TensorT<float>&, const TensorT<float>&, std::source_location);
template TensorT<double> matmul(const TensorT<double>&, const TensorT<double>&, std::source_location);
template TensorT<float> dot(const TensorT<float>&, const TensorT<float>&, std::source_location);
template TensorT<double> dot(const TensorT<double>&, const TensorT<double>&, std::source_location);

}  // namespace ad
