// The element-wise forms of the unary op table that more than one tensor op
// needs: the forward over a whole array (ad::tanh and ad::linear_activation
// compute the same values), and, for the ops whose derivative is a function of
// the output (ops::DerivativeOfOutput), that derivative as a tensor, for the
// recorded backward of ops that keep only the output.
#pragma once

#include <cstddef>
#include <type_traits>

#include <autodiff/scalar_ops.hpp>
#include <autodiff/tensor_ops.hpp>

#include "dual.hpp"
#include "tensor_record.hpp"
#include "vector_math.hpp"

namespace ad::detail {

// y[i] = Op(x[i]): whole-array kernels where there is one (the activations
// that dominate training), the op table's value element by element otherwise.
// x and y may be the same array.
template <class Op, class T>
void forward_values(const T* x, T* y, std::size_t n) {
  if constexpr (std::is_same_v<Op, ops::Exp>)
    exp_array(x, y, n);
  else if constexpr (std::is_same_v<Op, ops::Tanh>)
    tanh_array(x, y, n);
  else if constexpr (std::is_same_v<Op, ops::Logistic>)
    logistic_array(x, y, n);
  else
    for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<T>(Op::value(x[i]));
}

// Op'(y) as a recorded tensor: by default the op table's formula instantiated
// with T = TensorT (the expression the scalar sweep evaluates on doubles).
// `smooth`: the formula is arithmetic all through, so it also runs on dual
// numbers (its derivative, Op'', is then available too).
template <class Op>
struct OutputDerivative {
  static constexpr bool smooth = true;
  template <class T>
  static TensorT<T> of(const TensorT<T>& y) {
    return Op::template derivative_of_output<TensorT<T>>(y);
  }
};

// Formulas that branch on a value cannot run on a whole tensor. Where both
// branches are constants (relu, leaky_relu) the derivative is locally
// constant: the table's formula element by element, used as a constant (its
// own derivative is 0, as for ad::Var).
template <class Op>
struct PiecewiseConstantOutputDerivative {
  static constexpr bool smooth = false;
  template <class T>
  static TensorT<T> of(const TensorT<T>& y) {
    const auto yv = y.values();
    return constant_like<T>(y.shape(),
                            [&](std::size_t i) { return Op::derivative_of_output(double(yv[i])); });
  }
};
template <>
struct OutputDerivative<ops::Relu> : PiecewiseConstantOutputDerivative<ops::Relu> {};
template <>
struct OutputDerivative<ops::LeakyRelu> : PiecewiseConstantOutputDerivative<ops::LeakyRelu> {};

// elu' = 1 where y > 0, y + 1 elsewhere (the table's two branches, chosen
// element-wise; the second one recorded, so that elu'' = e^x there).
template <>
struct OutputDerivative<ops::Elu> {
  static constexpr bool smooth = false;
  template <class T>
  static TensorT<T> of(const TensorT<T>& y) {
    const auto yv = y.values();
    const TensorT<T> positive = constant_like<T>(y.shape(), [&](std::size_t i) { return yv[i] > 0 ? 1 : 0; });
    return where(positive, TensorT<T>::scalar(1), y + T(1));
  }
};

// The name of the op that times_output_derivative records ("tanh_backward",
// as PyTorch calls it).
template <class Op>
constexpr const char* output_derivative_op_name() {
#define AD_BACKWARD_NAME(name, Struct)           \
  if constexpr (std::is_same_v<Op, ops::Struct>) \
    return #name "_backward";                    \
  else
  AD_UNARY_OPS(AD_BACKWARD_NAME)
#undef AD_BACKWARD_NAME
  return "output_derivative_backward";
}

// g * Op'(y): the gradient through an activation, given its output y, as a
// recorded tensor. For a smooth formula it is one op (tanh_backward, ...)
// rather than the formula's few (g * (1 - y * y): a square, a difference and a
// product, each recorded and each swept back through again by a
// Hessian-vector product); its derivatives are
//   d/dg = Op'(y),   d/dy = g Op''(y),
// Op'' from the same formula run on a dual number (dual.hpp). The values are
// those of the first-order backward, to the bit.
template <class Op, class T>
TensorT<T> times_output_derivative(const TensorT<T>& g, const TensorT<T>& y) {
  if constexpr (!OutputDerivative<Op>::smooth) {
    return g * OutputDerivative<Op>::of(y);
  } else {
    const char* const op = output_derivative_op_name<Op>();
    check_input(g, op);
    check_input(y, op);
    TensorImpl<T>& ig = impl_of(g);
    TensorImpl<T>& iy = impl_of(y);
    if (!(ig.shape == iy.shape))
      throw std::logic_error(fmt::format("ad::{}: the gradient has shape {} for an output of shape {}", op,
                                         ig.shape.to_string(), iy.shape.to_string()));
    std::vector<T> r = take_buffer<T>(iy.values.size(), false);
    {
      const T* __restrict gv = ig.values.data();
      const T* __restrict yv = iy.values.data();
      T* __restrict rv = r.data();
      for (std::size_t i = 0; i < r.size(); ++i)
        rv[i] = gv[i] * static_cast<T>(Op::derivative_of_output(yv[i]));
    }
    // g is read only for y's gradient; y for both.
    return record(
        std::source_location{}, op, iy.shape, std::move(r), {&g, &y}, {read_for(g, y), &y},
        [pg = &ig, py = &iy](TensorImpl<T>& out) {
          const T* __restrict dr = out.grad.data();
          const T* __restrict yv = py->values.data();
          const std::size_t n = out.values.size();
          if (T* __restrict dg = grad_of(*pg))
            for (std::size_t i = 0; i < n; ++i)
              dg[i] += dr[i] * static_cast<T>(Op::derivative_of_output(yv[i]));
          if (T* __restrict dy = grad_of(*py)) {
            const T* __restrict gv = pg->values.data();
            for (std::size_t i = 0; i < n; ++i) {
              const double second = Op::derivative_of_output(Dual<double>{double(yv[i]), 1.0}).d;
              dy[i] += dr[i] * gv[i] * static_cast<T>(second);
            }
          }
        },
        [](const TensorT<T>&, const TensorT<T>& dr, const Gradients<T>& in) -> Gradients<T> {
          Gradients<T> grads(2);
          if (wants_grad(in[0])) grads[0] = times_output_derivative<Op>(dr, in[1]);
          if (wants_grad(in[1])) {
            const Dual<TensorT<T>> y{in[1], TensorT<T>::scalar(T(1))};
            grads[1] = dr * in[0] * Op::derivative_of_output(y).d;
          }
          return grads;
        });
  }
}

}  // namespace ad::detail
