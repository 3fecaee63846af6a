// Operations on tensors. Each is defined, with its derivative beside it, in
// one of src/tensor_*.cpp, and instantiated there for float and double.
//
// Every named op takes a trailing std::source_location (defaulted to the
// caller's line), kept on the recorded node so that anomaly detection can
// point at the line that produced a NaN; operators pass none.
//
// Element-wise ops broadcast their operands by NumPy's rules; the backward
// sums the gradient over broadcast axes. Every scalar maths function of
// ad::Var (scalar_ops.hpp) also applies element-wise, with the same
// derivative and the same conventions at non-differentiable points.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <source_location>
#include <type_traits>
#include <vector>

#include <autodiff/op_code.hpp>
#include <autodiff/scalar_ops.hpp>
#include <autodiff/tensor.hpp>

namespace ad {

// ---- element-wise ------------------------------------------------------------
#define AD_DECLARE_TENSOR_UNARY(name, Struct) \
  template <class T>                          \
  TensorT<T> name(const TensorT<T>& x, std::source_location where = std::source_location::current());
AD_UNARY_OPS(AD_DECLARE_TENSOR_UNARY)
// The unary op `code` of the op table, for code that picks the op at run
// time (nn's activations); the same node as calling the function by name.
// Throws std::invalid_argument for a code that is not a unary op.
template <class T>
TensorT<T> apply_unary(OpCode code, const TensorT<T>& x,
                       std::source_location where = std::source_location::current());
#undef AD_DECLARE_TENSOR_UNARY

#define AD_DECLARE_TENSOR_BINARY(name, Struct)           \
  template <class T>                                     \
  TensorT<T> name(const TensorT<T>& a, const TensorT<T>& b, std::source_location where = std::source_location::current()); \
  template <class T>                                     \
  TensorT<T> name(const TensorT<T>& a, std::type_identity_t<T> b, std::source_location where = std::source_location::current()); \
  template <class T>                                     \
  TensorT<T> name(std::type_identity_t<T> a, const TensorT<T>& b, std::source_location where = std::source_location::current());
AD_BINARY_OPS(AD_DECLARE_TENSOR_BINARY)
#undef AD_DECLARE_TENSOR_BINARY

template <class T> TensorT<T> operator+(const TensorT<T>& a, const TensorT<T>& b) { return add(a, b, std::source_location{}); }
template <class T> TensorT<T> operator-(const TensorT<T>& a, const TensorT<T>& b) { return sub(a, b, std::source_location{}); }
template <class T> TensorT<T> operator*(const TensorT<T>& a, const TensorT<T>& b) { return mul(a, b, std::source_location{}); }
template <class T> TensorT<T> operator/(const TensorT<T>& a, const TensorT<T>& b) { return div(a, b, std::source_location{}); }
template <class T> TensorT<T> operator+(const TensorT<T>& a, std::type_identity_t<T> b) { return add(a, b, std::source_location{}); }
template <class T> TensorT<T> operator-(const TensorT<T>& a, std::type_identity_t<T> b) { return sub(a, b, std::source_location{}); }
template <class T> TensorT<T> operator*(const TensorT<T>& a, std::type_identity_t<T> b) { return mul(a, b, std::source_location{}); }
template <class T> TensorT<T> operator/(const TensorT<T>& a, std::type_identity_t<T> b) { return div(a, b, std::source_location{}); }
template <class T> TensorT<T> operator+(std::type_identity_t<T> a, const TensorT<T>& b) { return add(a, b, std::source_location{}); }
template <class T> TensorT<T> operator-(std::type_identity_t<T> a, const TensorT<T>& b) { return sub(a, b, std::source_location{}); }
template <class T> TensorT<T> operator*(std::type_identity_t<T> a, const TensorT<T>& b) { return mul(a, b, std::source_location{}); }
template <class T> TensorT<T> operator/(std::type_identity_t<T> a, const TensorT<T>& b) { return div(a, b, std::source_location{}); }
template <class T> TensorT<T> operator-(const TensorT<T>& x) { return neg(x, std::source_location{}); }

// x^2, one node (cheaper than x * x).
template <class T> TensorT<T> square(const TensorT<T>& x, std::source_location where = std::source_location::current());
// min(max(x, lo), hi); the gradient passes where lo <= x <= hi, else 0.
template <class T> TensorT<T> clamp(const TensorT<T>& x, std::type_identity_t<T> lo, std::type_identity_t<T> hi, std::source_location where = std::source_location::current());
// condition != 0 ? a : b, element-wise with broadcasting of a and b; the
// condition must have the broadcast shape (or one element). No gradient
// flows to the condition.
template <class T> TensorT<T> where(const TensorT<T>& condition, const TensorT<T>& a, const TensorT<T>& b, std::source_location where = std::source_location::current());

// ---- reductions ----------------------------------------------------------------
// Over all elements (a rank-0 result) or over the given axes (negative axes
// count from the end); keepdim keeps reduced axes with extent 1.
template <class T> TensorT<T> sum(const TensorT<T>& x, std::source_location where = std::source_location::current());
template <class T> TensorT<T> sum(const TensorT<T>& x, const std::vector<std::int64_t>& axes, bool keepdim = false, std::source_location where = std::source_location::current());
template <class T> TensorT<T> mean(const TensorT<T>& x, std::source_location where = std::source_location::current());
template <class T> TensorT<T> mean(const TensorT<T>& x, const std::vector<std::int64_t>& axes, bool keepdim = false, std::source_location where = std::source_location::current());
// The maximum; its gradient goes to the first maximal element of each group.
template <class T> TensorT<T> max(const TensorT<T>& x, std::source_location where = std::source_location::current());
template <class T> TensorT<T> max(const TensorT<T>& x, const std::vector<std::int64_t>& axes, bool keepdim = false, std::source_location where = std::source_location::current());
// Braced axis lists (`ad::sum(x, {0})`, of int or int64_t) pick these
// overloads: without them `{1}` would convert to the scalar of the
// element-wise max(x, 1.0).
template <class T> TensorT<T> sum(const TensorT<T>& x, std::initializer_list<int> axes, bool keepdim = false, std::source_location where = std::source_location::current()) {
  return sum(x, std::vector<std::int64_t>(axes.begin(), axes.end()), keepdim, where);
}
template <class T> TensorT<T> sum(const TensorT<T>& x, std::initializer_list<std::int64_t> axes, bool keepdim = false, std::source_location where = std::source_location::current()) {
  return sum(x, std::vector<std::int64_t>(axes), keepdim, where);
}
template <class T> TensorT<T> mean(const TensorT<T>& x, std::initializer_list<int> axes, bool keepdim = false, std::source_location where = std::source_location::current()) {
  return mean(x, std::vector<std::int64_t>(axes.begin(), axes.end()), keepdim, where);
}
template <class T> TensorT<T> mean(const TensorT<T>& x, std::initializer_list<std::int64_t> axes, bool keepdim = false, std::source_location where = std::source_location::current()) {
  return mean(x, std::vector<std::int64_t>(axes), keepdim, where);
}
template <class T> TensorT<T> max(const TensorT<T>& x, std::initializer_list<int> axes, bool keepdim = false, std::source_location where = std::source_location::current()) {
  return max(x, std::vector<std::int64_t>(axes.begin(), axes.end()), keepdim, where);
}
template <class T> TensorT<T> max(const TensorT<T>& x, std::initializer_list<std::int64_t> axes, bool keepdim = false, std::source_location where = std::source_location::current()) {
  return max(x, std::vector<std::int64_t>(axes), keepdim, where);
}
// scale * sum((a - b)^2) over all elements of two tensors of the same shape,
// as one node (a rank-0 result): the squared-error loss without the three
// intermediate tensors of sum(square(a - b)) * scale. The gradient is
// 2 scale (a - b) to a and its negative to b.
template <class T>
TensorT<T> sum_squared_difference(const TensorT<T>& a, const TensorT<T>& b,
                                  std::type_identity_t<T> scale = T(1),
                                  std::source_location where = std::source_location::current());
// log(sum(exp(x))) along one axis, computed without overflow.
template <class T> TensorT<T> logsumexp(const TensorT<T>& x, std::int64_t axis = -1, bool keepdim = false, std::source_location where = std::source_location::current());
template <class T> TensorT<T> softmax(const TensorT<T>& x, std::int64_t axis = -1, std::source_location where = std::source_location::current());
template <class T> TensorT<T> log_softmax(const TensorT<T>& x, std::int64_t axis = -1, std::source_location where = std::source_location::current());

// ---- shape -----------------------------------------------------------------------
template <class T> TensorT<T> reshape(const TensorT<T>& x, const Shape& shape, std::source_location where = std::source_location::current());
template <class T> TensorT<T> transpose(const TensorT<T>& x, std::int64_t axis0 = -2, std::int64_t axis1 = -1, std::source_location where = std::source_location::current());
// Rows (entries along axis 0) at the given indices, in that order (a gather;
// repeated indices accumulate their gradients).
template <class T> TensorT<T> rows(const TensorT<T>& x, const std::vector<std::size_t>& indices, std::source_location where = std::source_location::current());
// Rows begin .. end-1.
template <class T> TensorT<T> slice_rows(const TensorT<T>& x, std::size_t begin, std::size_t end, std::source_location where = std::source_location::current());
// Joins tensors along an existing axis (concat) or a new one (stack).
template <class T> TensorT<T> concat(const std::vector<TensorT<T>>& xs, std::int64_t axis = 0, std::source_location where = std::source_location::current());
template <class T> TensorT<T> stack(const std::vector<TensorT<T>>& xs, std::int64_t axis = 0, std::source_location where = std::source_location::current());

// ---- linear algebra ----------------------------------------------------------------
// [m, k] x [k, n] -> [m, n]; with more axes, a batch of products over the
// leading axes (which must match, or one operand be 2-d and shared).
template <class T> TensorT<T> matmul(const TensorT<T>& a, const TensorT<T>& b, std::source_location where = std::source_location::current());
// x W^T + b for x [batch, in], W [out, in], b [out] (b may be empty): a
// fully connected layer's pre-activation as one op (PyTorch's F.linear): one
// product reading W in place (no transposed copy) with the bias added in the
// same pass; backward: dx = dy W, dW = dy^T x, db = column sums of dy.
template <class T> TensorT<T> linear(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias, std::source_location where = std::source_location::current());
// act(x W^T + b) as one node, for act a unary op whose derivative is a
// function of its output (ops::DerivativeOfOutput in scalar_ops.hpp: tanh,
// logistic, relu, softplus, leaky_relu, elu; linear_activation_supports()
// says which; others throw std::invalid_argument): a dense layer when its
// pre-activation is not wanted as a tensor of its own. The same values and
// gradients as linear() followed by the activation, one recorded op instead
// of two (it keeps only the output, z, so the derivative must be one of z:
// 1 - z^2, z (1 - z), z > 0, ...). nn's layers use it when called without
// forward_trace.
template <class T>
TensorT<T> linear_activation(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias,
                             OpCode activation, std::source_location where = std::source_location::current());
// Whether linear_activation takes `activation`.
bool linear_activation_supports(OpCode activation) noexcept;
// The inner product of two 1-d tensors of equal length.
template <class T> TensorT<T> dot(const TensorT<T>& a, const TensorT<T>& b, std::source_location where = std::source_location::current());

}  // namespace ad
