// Element-wise tensor ops. The maths functions come from the scalar op table
// (scalar_ops.hpp): the same value and the same derivative as ad::Var, applied
// to every element, so scalar and tensor code agree by construction. The one
// exception is the forward of exp, tanh and logistic, which runs whole arrays
// through vectorised kernels (vector_math.hpp, within 1 ulp of the table's
// std:: values, so possibly a last bit apart from ad::Var's; their
// derivatives still come from the table).
#include <array>
#include <stdexcept>
#include <type_traits>

#include <autodiff/parallel.hpp>
#include <autodiff/scalar_ops.hpp>
#include <autodiff/tensor_elementwise.hpp>
#include <autodiff/tensor_ops.hpp>

#include "broadcast.hpp"
#include "tensor_record.hpp"
#include "unary_kernels.hpp"

namespace ad {
namespace {

using detail::grad_of;
using detail::Gradients;
using detail::TensorImpl;
using detail::wants_grad;

// ---- derivatives as tensors, for the recorded backward ----
// By default the op table's formulas, instantiated with T = TensorT: the same
// expressions the scalar sweep evaluates on doubles (scalar_ops.hpp).
template <class Op>
struct TensorDerivative {
  template <class T>
  static TensorT<T> d(const TensorT<T>& x, const TensorT<T>& y) {
    return Op::template derivative<TensorT<T>>(x, y);
  }
  template <class T>
  static TensorT<T> d_a(const TensorT<T>& a, const TensorT<T>& b, const TensorT<T>& y) {
    return Op::template d_a<TensorT<T>>(a, b, y);
  }
  template <class T>
  static TensorT<T> d_b(const TensorT<T>& a, const TensorT<T>& b, const TensorT<T>& y) {
    return Op::template d_b<TensorT<T>>(a, b, y);
  }
};

// The formulas that branch on a value (x > 0, b == 0) cannot run on a whole
// tensor. Where the branches are constants (abs, relu, heaviside, min, max), the
// derivative is locally constant: evaluate the table's formula element by
// element and use it as a constant (its own derivative is 0, as it is for
// ad::Var, whose recorded sweep does the same).
template <class Op>
struct PiecewiseConstantDerivative {
  template <class T>
  static TensorT<T> d(const TensorT<T>& x, const TensorT<T>& y) {
    const auto xv = x.values();
    const auto yv = y.values();
    return detail::constant_like<T>(
        y.shape(), [&](std::size_t i) { return Op::derivative(double(xv[i]), double(yv[i])); });
  }
  template <class T, class Partial>
  static TensorT<T> partial(const TensorT<T>& a, const TensorT<T>& b, const TensorT<T>& y, Partial p) {
    std::vector<T> v(y.numel());
    const auto av = a.values();
    const auto bv = b.values();
    const auto yv = y.values();
    detail::for_each_broadcast(y.shape(), a.shape(), b.shape(),
                               [&](std::size_t i, std::size_t j, std::size_t k) {
                                 v[i] = static_cast<T>(p(double(av[j]), double(bv[k]), double(yv[i])));
                               });
    return TensorT<T>::from(y.shape(), std::move(v));
  }
  template <class T>
  static TensorT<T> d_a(const TensorT<T>& a, const TensorT<T>& b, const TensorT<T>& y) {
    return partial(a, b, y, [](double p, double q, double r) { return Op::d_a(p, q, r); });
  }
  template <class T>
  static TensorT<T> d_b(const TensorT<T>& a, const TensorT<T>& b, const TensorT<T>& y) {
    return partial(a, b, y, [](double p, double q, double r) { return Op::d_b(p, q, r); });
  }
};
template <>
struct TensorDerivative<ops::Abs> : PiecewiseConstantDerivative<ops::Abs> {};
template <>
struct TensorDerivative<ops::Relu> : PiecewiseConstantDerivative<ops::Relu> {};
template <>
struct TensorDerivative<ops::Heaviside> : PiecewiseConstantDerivative<ops::Heaviside> {};
template <>
struct TensorDerivative<ops::LeakyRelu> : PiecewiseConstantDerivative<ops::LeakyRelu> {};
template <>
struct TensorDerivative<ops::Min> : PiecewiseConstantDerivative<ops::Min> {};
template <>
struct TensorDerivative<ops::Max> : PiecewiseConstantDerivative<ops::Max> {};

// elu branches on a value too, between a constant and a smooth formula; its
// derivative is a function of the output (unary_kernels.hpp).
template <>
struct TensorDerivative<ops::Elu> {
  template <class T>
  static TensorT<T> d(const TensorT<T>&, const TensorT<T>& y) {
    return detail::OutputDerivative<ops::Elu>::of(y);
  }
};

// 1 where pred(a_j, b_k, y_i) holds over the broadcast shape, else 0.
template <class T, class Pred>
TensorT<T> mask(const TensorT<T>& a, const TensorT<T>& b, const TensorT<T>& y, Pred pred) {
  return PiecewiseConstantDerivative<ops::Add>::partial(
      a, b, y, [&](double p, double q, double r) { return pred(p, q, r) ? 1.0 : 0.0; });
}

// pow, atan2 and hypot branch between a smooth formula and a convention (a
// constant): the same formulas as the op table's, selected element-wise with
// where(); the unused branch is fed a harmless operand (no 0/0, no log of 0),
// so that anomaly mode stays quiet and no NaN leaks through a product.
template <>
struct TensorDerivative<ops::Pow> {
  template <class T>
  static TensorT<T> d_a(const TensorT<T>& a, const TensorT<T>& b, const TensorT<T>& y) {
    // b a^(b-1), and 0 where b == 0
    const TensorT<T> use = mask(a, b, y, [](double, double q, double) { return q != 0.0; });
    return where(use, b * pow(a, b - T(1)), TensorT<T>::scalar(0));
  }
  template <class T>
  static TensorT<T> d_b(const TensorT<T>& a, const TensorT<T>& b, const TensorT<T>& y) {
    // y log(a) for a > 0; the table's constant (0 or NaN) elsewhere
    const TensorT<T> positive = mask(a, b, y, [](double p, double, double) { return p > 0.0; });
    const auto av = a.values();
    const TensorT<T> a_positive =
        detail::constant_like<T>(a.shape(), [&](std::size_t i) { return av[i] > 0 ? 1 : 0; });
    const TensorT<T> safe_a = where(a_positive, a, TensorT<T>::scalar(1));
    const TensorT<T> otherwise = PiecewiseConstantDerivative<ops::Pow>::partial(
        a, b, y, [](double p, double q, double r) { return p > 0.0 ? 0.0 : ops::Pow::d_b(p, q, r); });
    return where(positive, y * log(safe_a), otherwise);
  }
};

template <>
struct TensorDerivative<ops::Atan2> {
  // b / r^2 and -a / r^2 with r = hypot(a, b); 0 at the origin
  template <class T>
  static TensorT<T> over_r2(const TensorT<T>& numerator, const TensorT<T>& a, const TensorT<T>& b,
                            const TensorT<T>& y) {
    const TensorT<T> r = hypot(a, b);
    const TensorT<T> origin =
        mask(a, b, y, [](double p, double q, double) { return std::hypot(p, q) == 0.0; });
    const TensorT<T> safe_r = r + origin;
    return where(origin, TensorT<T>::scalar(0), numerator / safe_r / safe_r);
  }
  template <class T>
  static TensorT<T> d_a(const TensorT<T>& a, const TensorT<T>& b, const TensorT<T>& y) {
    return over_r2(b, a, b, y);
  }
  template <class T>
  static TensorT<T> d_b(const TensorT<T>& a, const TensorT<T>& b, const TensorT<T>& y) {
    return over_r2(-a, a, b, y);
  }
};

template <>
struct TensorDerivative<ops::Hypot> {
  // a / y and b / y; 0 at the origin
  template <class T>
  static TensorT<T> over_y(const TensorT<T>& numerator, const TensorT<T>& a, const TensorT<T>& b,
                           const TensorT<T>& y) {
    const TensorT<T> origin = mask(a, b, y, [](double, double, double r) { return r == 0.0; });
    return where(origin, TensorT<T>::scalar(0), numerator / (y + origin));
  }
  template <class T>
  static TensorT<T> d_a(const TensorT<T>& a, const TensorT<T>& b, const TensorT<T>& y) {
    return over_y(a, a, b, y);
  }
  template <class T>
  static TensorT<T> d_b(const TensorT<T>& a, const TensorT<T>& b, const TensorT<T>& y) {
    return over_y(b, a, b, y);
  }
};

// Sums and differences pass the gradient on unchanged (no product by 1).
template <>
struct TensorDerivative<ops::Add> {
  static constexpr bool passes_through = true;
  static constexpr double sign_b = 1.0;
};
template <>
struct TensorDerivative<ops::Sub> {
  static constexpr bool passes_through = true;
  static constexpr double sign_b = -1.0;
};
template <class D>
concept PassesThrough = D::passes_through;

// Whether an op's backward reads its input's values (SavedVersion): not for
// the ops whose derivative is a constant or a function of the output alone
// (exp' = y, tanh' = 1 - y^2, ...); any op not listed here does.
template <class Op>
constexpr bool ReadsInput =
    !(std::is_same_v<Op, ops::Neg> || std::is_same_v<Op, ops::Tan> || std::is_same_v<Op, ops::Tanh> ||
      std::is_same_v<Op, ops::Exp> || std::is_same_v<Op, ops::Expm1> || std::is_same_v<Op, ops::Sqrt> ||
      std::is_same_v<Op, ops::Cbrt> || std::is_same_v<Op, ops::Logistic>);

// The operands a binary op's backward reads: none for a sum or difference,
// the other operand for each factor of a product that wants a gradient, the
// divisor for a quotient (d/da = 1/b, d/db = -y/b), both otherwise.
template <class Op, class T>
std::array<const TensorT<T>*, 2> reads(const TensorT<T>& a, const TensorT<T>& b) {
  if constexpr (PassesThrough<TensorDerivative<Op>>)
    return {nullptr, nullptr};
  else if constexpr (std::is_same_v<Op, ops::Mul>)
    return {detail::read_for(b, a), detail::read_for(a, b)};
  else if constexpr (std::is_same_v<Op, ops::Div>)
    return {&b, nullptr};
  else
    return {&a, &b};
}

// y = Op(x); dx += dy * Op'(x, y)
template <class Op, class T>
TensorT<T> unary(const char* op, const TensorT<T>& x, std::source_location where) {
  detail::check_input(x, op);
  TensorImpl<T>& in = detail::impl_of(x);
  std::vector<T> y = detail::take_buffer<T>(in.values.size(), false);
  // Large arrays (a layer's activations) are split over the gemm's threads;
  // every element is computed the same way whatever the split.
  const T* px_values = in.values.data();
  T* py = y.data();
  parallel_for(y.size(), parallel_grain, [&](std::size_t begin, std::size_t end) {
    detail::forward_values<Op>(px_values + begin, py + begin, end - begin);
  });
  return detail::record(
      where, op, in.shape, std::move(y), {&x}, {ReadsInput<Op> ? &x : nullptr},
      [px = &in](TensorImpl<T>& out) {
        T* gx_all = grad_of(*px);
        if (gx_all == nullptr) return;
        parallel_for(out.values.size(), parallel_grain, [&](std::size_t begin, std::size_t end) {
          // Distinct buffers, said so: the loop then vectorises.
          T* __restrict gx = gx_all + begin;
          const T* __restrict dy = out.grad.data() + begin;
          const T* __restrict x = px->values.data() + begin;
          const T* __restrict y = out.values.data() + begin;
          const std::size_t n = end - begin;
          if constexpr (std::is_same_v<Op, ops::Relu>) {
            // The same derivative (1 where x > 0, 0 where x <= 0, NaN at NaN)
            // as a factor in T, so that it vectorises without a branch per
            // element (the signs of activations are unpredictable); dy * 0
            // keeps the table's NaN behaviour for an infinite dy.
            for (std::size_t i = 0; i < n; ++i)
              gx[i] += dy[i] * (x[i] > T(0) ? T(1) : (x[i] <= T(0) ? T(0) : x[i]));
          } else {
            for (std::size_t i = 0; i < n; ++i) gx[i] += dy[i] * static_cast<T>(Op::derivative(x[i], y[i]));
          }
        });
      },
      [](const TensorT<T>& y, const TensorT<T>& g, const Gradients<T>& in) -> Gradients<T> {
        // tanh, logistic, softplus: g * Op'(y) as one recorded op.
        if constexpr (ops::DerivativeOfOutput<Op> && detail::OutputDerivative<Op>::smooth)
          return {detail::times_output_derivative<Op>(g, y)};
        else
          return {g * TensorDerivative<Op>::d(in[0], y)};
      });
}

// y = Op(a, b) with broadcasting; da += dy * dOp/da, db += dy * dOp/db, each
// summed over the axes its operand was broadcast along.
template <class Op, class T>
TensorT<T> binary(const char* op, const TensorT<T>& a, const TensorT<T>& b, std::source_location where) {
  detail::check_input(a, op);
  detail::check_input(b, op);
  TensorImpl<T>& ia = detail::impl_of(a);
  TensorImpl<T>& ib = detail::impl_of(b);
  const Shape shape = broadcast_shapes(ia.shape, ib.shape, op);
  std::vector<T> y = detail::take_buffer<T>(shape.numel(), false);
  detail::for_each_broadcast(shape, ia.shape, ib.shape, [&](std::size_t i, std::size_t j, std::size_t k) {
    y[i] = static_cast<T>(Op::value(ia.values[j], ib.values[k]));
  });
  const std::array<const TensorT<T>*, 2> inputs{&a, &b};
  return detail::record_with_inputs<T>(
      where, op, shape, std::move(y), inputs, reads<Op>(a, b),
      [pa = &ia, pb = &ib](TensorImpl<T>& out) {
        T* ga = grad_of(*pa);
        T* gb = grad_of(*pb);
        const T* va = pa->values.data();
        const T* vb = pb->values.data();
        if (pa->shape == out.shape && pb->shape == out.shape) {
          // No broadcasting (the common case): one loop per input over
          // distinct buffers, which vectorises.
          const T* __restrict dy = out.grad.data();
          const T* __restrict y = out.values.data();
          const std::size_t n = out.values.size();
          if (T* __restrict g = ga)
            for (std::size_t i = 0; i < n; ++i) g[i] += dy[i] * static_cast<T>(Op::d_a(va[i], vb[i], y[i]));
          if (T* __restrict g = gb)
            for (std::size_t i = 0; i < n; ++i) g[i] += dy[i] * static_cast<T>(Op::d_b(va[i], vb[i], y[i]));
          return;
        }
        detail::for_each_broadcast(out.shape, pa->shape, pb->shape,
                                   [&](std::size_t i, std::size_t j, std::size_t k) {
                                     const T g = out.grad[i];
                                     if (ga != nullptr)
                                       ga[j] += g * static_cast<T>(Op::d_a(va[j], vb[k], out.values[i]));
                                     if (gb != nullptr)
                                       gb[k] += g * static_cast<T>(Op::d_b(va[j], vb[k], out.values[i]));
                                   });
      },
      [](const TensorT<T>& y, const TensorT<T>& g, const Gradients<T>& in) -> Gradients<T> {
        using D = TensorDerivative<Op>;
        Gradients<T> r(2);
        if constexpr (PassesThrough<D>) {
          if (wants_grad(in[0])) r[0] = detail::sum_to(g, in[0].shape());
          if (wants_grad(in[1])) r[1] = detail::sum_to(D::sign_b > 0 ? g : -g, in[1].shape());
        } else {
          if (wants_grad(in[0])) r[0] = detail::sum_to(g * D::d_a(in[0], in[1], y), in[0].shape());
          if (wants_grad(in[1])) r[1] = detail::sum_to(g * D::d_b(in[0], in[1], y), in[1].shape());
        }
        return r;
      });
}

}  // namespace

#define AD_DEFINE_TENSOR_UNARY(name, Struct)                                 \
  template <class T>                                                         \
  TensorT<T> name(const TensorT<T>& x, std::source_location where) {         \
    return unary<ops::Struct>(#name, x, where);                              \
  }                                                                          \
  template TensorT<float> name(const TensorT<float>&, std::source_location); \
  template TensorT<double> name(const TensorT<double>&, std::source_location);
AD_UNARY_OPS(AD_DEFINE_TENSOR_UNARY)
#undef AD_DEFINE_TENSOR_UNARY

template <class T>
TensorT<T> apply_unary(OpCode code, const TensorT<T>& x, std::source_location where) {
  switch (code) {
#define AD_APPLY_TENSOR_UNARY(name, Struct) \
  case OpCode::name: return unary<ops::Struct>(#name, x, where);
    AD_UNARY_OPS(AD_APPLY_TENSOR_UNARY)
#undef AD_APPLY_TENSOR_UNARY
    default: break;
  }
  throw std::invalid_argument(
      fmt::format("ad::apply_unary: '{}' (op code {}) is not a unary op of the op table", op_info(code).name,
                  static_cast<int>(code)));
}
template TensorT<float> apply_unary(OpCode, const TensorT<float>&, std::source_location);
template TensorT<double> apply_unary(OpCode, const TensorT<double>&, std::source_location);

// A scalar operand is a one-element constant tensor: it broadcasts and takes
// no gradient.
#define AD_DEFINE_TENSOR_BINARY(name, Struct)                                                          \
  template <class T>                                                                                   \
  TensorT<T> name(const TensorT<T>& a, const TensorT<T>& b, std::source_location where) {              \
    return binary<ops::Struct>(#name, a, b, where);                                                    \
  }                                                                                                    \
  template <class T>                                                                                   \
  TensorT<T> name(const TensorT<T>& a, std::type_identity_t<T> b, std::source_location where) {        \
    return binary<ops::Struct>(#name, a, TensorT<T>::scalar(b), where);                                \
  }                                                                                                    \
  template <class T>                                                                                   \
  TensorT<T> name(std::type_identity_t<T> a, const TensorT<T>& b, std::source_location where) {        \
    return binary<ops::Struct>(#name, TensorT<T>::scalar(a), b, where);                                \
  }                                                                                                    \
  template TensorT<float> name(const TensorT<float>&, const TensorT<float>&, std::source_location);    \
  template TensorT<double> name(const TensorT<double>&, const TensorT<double>&, std::source_location); \
  template TensorT<float> name(const TensorT<float>&, float, std::source_location);                    \
  template TensorT<double> name(const TensorT<double>&, double, std::source_location);                 \
  template TensorT<float> name(float, const TensorT<float>&, std::source_location);                    \
  template TensorT<double> name(double, const TensorT<double>&, std::source_location);
AD_BINARY_OPS(AD_DEFINE_TENSOR_BINARY)
#undef AD_DEFINE_TENSOR_BINARY

// y = x^2; dx += dy * 2x
template <class T>
TensorT<T> square(const TensorT<T>& x, std::source_location where) {
  detail::check_input(x, "square");
  TensorImpl<T>& in = detail::impl_of(x);
  std::vector<T> y = detail::take_buffer<T>(in.values.size(), false);
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = in.values[i] * in.values[i];
  return detail::record(
      where, "square", in.shape, std::move(y), {&x}, {&x},
      [px = &in](TensorImpl<T>& out) {
        if (T* gx = grad_of(*px))
          for (std::size_t i = 0; i < out.values.size(); ++i) gx[i] += out.grad[i] * T(2) * px->values[i];
      },
      [](const TensorT<T>&, const TensorT<T>& g, const Gradients<T>& in) -> Gradients<T> {
        return {g * (in[0] * T(2))};
      });
}

// y = min(max(x, lo), hi); dx += dy where lo <= x <= hi (the gradient passes
// at the bounds themselves, as in PyTorch); clamp(NaN) = NaN, with derivative
// NaN (the scalar table's rule for ops that select)
template <class T>
TensorT<T> clamp(const TensorT<T>& x, std::type_identity_t<T> lo, std::type_identity_t<T> hi,
                 std::source_location where) {
  detail::check_input(x, "clamp");
  if (!(lo <= hi))
    throw std::invalid_argument(fmt::format("ad::clamp: lower bound {} exceeds upper bound {}", lo, hi));
  TensorImpl<T>& in = detail::impl_of(x);
  std::vector<T> y = detail::take_buffer<T>(in.values.size(), false);
  for (std::size_t i = 0; i < y.size(); ++i)
    y[i] = in.values[i] < lo ? lo : (in.values[i] > hi ? hi : in.values[i]);
  return detail::record(
      where, "clamp", in.shape, std::move(y), {&x}, {&x},
      [px = &in, lo, hi](TensorImpl<T>& out) {
        if (T* gx = grad_of(*px))
          for (std::size_t i = 0; i < out.values.size(); ++i) {
            const T x = px->values[i];
            if (x >= lo && x <= hi)
              gx[i] += out.grad[i];
            else if (x != x)
              gx[i] += x;
          }
      },
      [lo, hi](const TensorT<T>&, const TensorT<T>& g, const Gradients<T>& in) -> Gradients<T> {
        const auto x = in[0].values();
        return {g * detail::constant_like<T>(in[0].shape(), [&](std::size_t i) {
                  return x[i] >= lo && x[i] <= hi ? T(1) : (x[i] != x[i] ? x[i] : T(0));
                })};
      });
}

// y = c ? a : b; da += dy where c, db += dy where not c
template <class T>
TensorT<T> where(const TensorT<T>& condition, const TensorT<T>& a, const TensorT<T>& b,
                 std::source_location where) {
  detail::check_input(condition, "where");
  detail::check_input(a, "where");
  detail::check_input(b, "where");
  TensorImpl<T>& ic = detail::impl_of(condition);
  TensorImpl<T>& ia = detail::impl_of(a);
  TensorImpl<T>& ib = detail::impl_of(b);
  const Shape shape = broadcast_shapes(ia.shape, ib.shape, "where");
  if (!(ic.shape == shape) && ic.values.size() != 1)
    throw std::invalid_argument(
        fmt::format("ad::where: the condition has shape {} but a and b broadcast to {}", ic.shape.to_string(),
                    shape.to_string()));
  const bool scalar_condition = ic.values.size() == 1;
  std::vector<T> y = detail::take_buffer<T>(shape.numel(), false);
  detail::for_each_broadcast(shape, ia.shape, ib.shape, [&](std::size_t i, std::size_t j, std::size_t k) {
    y[i] = ic.values[scalar_condition ? 0 : i] != T(0) ? ia.values[j] : ib.values[k];
  });
  return detail::record(
      where, "where", shape, std::move(y), {&a, &b}, {&condition},
      [pc = detail::impl_ptr_of(condition), pa = &ia, pb = &ib, scalar_condition](TensorImpl<T>& out) {
        T* ga = grad_of(*pa);
        T* gb = grad_of(*pb);
        detail::for_each_broadcast(out.shape, pa->shape, pb->shape,
                                   [&](std::size_t i, std::size_t j, std::size_t k) {
                                     const bool take_a = pc->values[scalar_condition ? 0 : i] != T(0);
                                     if (take_a && ga != nullptr) ga[j] += out.grad[i];
                                     if (!take_a && gb != nullptr) gb[k] += out.grad[i];
                                   });
      },
      [pc = detail::impl_ptr_of(condition)](const TensorT<T>&, const TensorT<T>& g,
                                  const Gradients<T>& in) -> Gradients<T> {
        const TensorT<T> condition = detail::tensor_of(pc);
        const TensorT<T> zero = TensorT<T>::scalar(0);
        Gradients<T> r(2);
        if (wants_grad(in[0])) r[0] = detail::sum_to(ad::where(condition, g, zero), in[0].shape());
        if (wants_grad(in[1])) r[1] = detail::sum_to(ad::where(condition, zero, g), in[1].shape());
        return r;
      });
}

template TensorT<float> square(const TensorT<float>&, std::source_location);
template TensorT<double> square(const TensorT<double>&, std::source_location);
template TensorT<float> clamp(const TensorT<float>&, float, float, std::source_location);
template TensorT<double> clamp(const TensorT<double>&, double, double, std::source_location);
template TensorT<float> where(const TensorT<float>&, const TensorT<float>&, const TensorT<float>&,
                              std::source_location);
template TensorT<double> where(const TensorT<double>&, const TensorT<double>&, const TensorT<double>&,
                               std::source_location);

}  // namespace ad
