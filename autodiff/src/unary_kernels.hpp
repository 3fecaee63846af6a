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
template <class Op>
struct OutputDerivative {
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
  template <class T>
  static TensorT<T> of(const TensorT<T>& y) {
    const auto yv = y.values();
    const TensorT<T> positive = constant_like<T>(y.shape(), [&](std::size_t i) { return yv[i] > 0 ? 1 : 0; });
    return where(positive, TensorT<T>::scalar(1), y + T(1));
  }
};

}  // namespace ad::detail
