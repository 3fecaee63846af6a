// Element-wise tensor ops (implemented in src/tensor_elementwise.cpp): every
// scalar maths function of ad::Var (scalar_ops.hpp) applied to each element,
// with the same derivative formula from the same op table, and the same
// conventions at non-differentiable points. Binary ops broadcast their
// operands by NumPy's rules; the backward sums the gradient over broadcast
// axes.
//
// Every named op takes a trailing std::source_location (defaulted to the
// caller's line), kept on the recorded node so that anomaly detection can
// point at the line that produced a NaN; operators pass none. Instantiated
// for float and double.
#pragma once

#include <source_location>
#include <type_traits>

#include <autodiff/op_code.hpp>
#include <autodiff/scalar_ops.hpp>
#include <autodiff/tensor.hpp>

namespace ad {

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

#define AD_DECLARE_TENSOR_BINARY(name, Struct)                                   \
  template <class T>                                                             \
  TensorT<T> name(const TensorT<T>& a, const TensorT<T>& b,                      \
                  std::source_location where = std::source_location::current()); \
  template <class T>                                                             \
  TensorT<T> name(const TensorT<T>& a, std::type_identity_t<T> b,                \
                  std::source_location where = std::source_location::current()); \
  template <class T>                                                             \
  TensorT<T> name(std::type_identity_t<T> a, const TensorT<T>& b,                \
                  std::source_location where = std::source_location::current());
AD_BINARY_OPS(AD_DECLARE_TENSOR_BINARY)
#undef AD_DECLARE_TENSOR_BINARY

template <class T>
TensorT<T> operator+(const TensorT<T>& a, const TensorT<T>& b) {
  return add(a, b, std::source_location{});
}
template <class T>
TensorT<T> operator-(const TensorT<T>& a, const TensorT<T>& b) {
  return sub(a, b, std::source_location{});
}
template <class T>
TensorT<T> operator*(const TensorT<T>& a, const TensorT<T>& b) {
  return mul(a, b, std::source_location{});
}
template <class T>
TensorT<T> operator/(const TensorT<T>& a, const TensorT<T>& b) {
  return div(a, b, std::source_location{});
}
template <class T>
TensorT<T> operator+(const TensorT<T>& a, std::type_identity_t<T> b) {
  return add(a, b, std::source_location{});
}
template <class T>
TensorT<T> operator-(const TensorT<T>& a, std::type_identity_t<T> b) {
  return sub(a, b, std::source_location{});
}
template <class T>
TensorT<T> operator*(const TensorT<T>& a, std::type_identity_t<T> b) {
  return mul(a, b, std::source_location{});
}
template <class T>
TensorT<T> operator/(const TensorT<T>& a, std::type_identity_t<T> b) {
  return div(a, b, std::source_location{});
}
template <class T>
TensorT<T> operator+(std::type_identity_t<T> a, const TensorT<T>& b) {
  return add(a, b, std::source_location{});
}
template <class T>
TensorT<T> operator-(std::type_identity_t<T> a, const TensorT<T>& b) {
  return sub(a, b, std::source_location{});
}
template <class T>
TensorT<T> operator*(std::type_identity_t<T> a, const TensorT<T>& b) {
  return mul(a, b, std::source_location{});
}
template <class T>
TensorT<T> operator/(std::type_identity_t<T> a, const TensorT<T>& b) {
  return div(a, b, std::source_location{});
}
template <class T>
TensorT<T> operator-(const TensorT<T>& x) {
  return neg(x, std::source_location{});
}

// x^2, one node (cheaper than x * x).
template <class T>
TensorT<T> square(const TensorT<T>& x, std::source_location where = std::source_location::current());
// min(max(x, lo), hi); the gradient passes where lo <= x <= hi, else 0.
template <class T>
TensorT<T> clamp(const TensorT<T>& x, std::type_identity_t<T> lo, std::type_identity_t<T> hi,
                 std::source_location where = std::source_location::current());
// condition != 0 ? a : b, element-wise with broadcasting of a and b; the
// condition must have the broadcast shape (or one element). No gradient
// flows to the condition.
template <class T>
TensorT<T> where(const TensorT<T>& condition, const TensorT<T>& a, const TensorT<T>& b,
                 std::source_location where = std::source_location::current());

}  // namespace ad
