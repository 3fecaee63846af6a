// Internal: forward-mode dual numbers v + d eps (eps^2 = 0), enough of them
// to run an op table formula of one variable (ops::Tanh::derivative_of_output,
// ...) and get its derivative as well: f(y + eps) = f(y) + f'(y) eps. With
// S = double they give numbers; with S = TensorT they give recorded tensors.
// Used for the second derivative of an activation from its first
// (unary_kernels.hpp), so that no formula is written twice.
#pragma once

#include <cmath>

namespace ad::detail {

template <class S>
struct Dual {
  S v;  // the value
  S d;  // its derivative along the seed

  // A constant: what ops::constant<T> makes (the op table's constant partials).
  static Dual constant(double c) { return {S(c), S(0.0)}; }
};

template <class S>
Dual<S> operator+(const Dual<S>& a, const Dual<S>& b) {
  return {a.v + b.v, a.d + b.d};
}
template <class S>
Dual<S> operator-(const Dual<S>& a, const Dual<S>& b) {
  return {a.v - b.v, a.d - b.d};
}
template <class S>
Dual<S> operator-(const Dual<S>& a) {
  return {-a.v, -a.d};
}
// (a b)' = a' b + a b'
template <class S>
Dual<S> operator*(const Dual<S>& a, const Dual<S>& b) {
  return {a.v * b.v, a.d * b.v + a.v * b.d};
}
// (a / b)' = (a' - (a / b) b') / b
template <class S>
Dual<S> operator/(const Dual<S>& a, const Dual<S>& b) {
  const S q = a.v / b.v;
  return {q, (a.d - q * b.d) / b.v};
}

// A constant c on either side (the formulas' literals are doubles).
template <class S>
Dual<S> operator+(const Dual<S>& a, double c) {
  return {a.v + c, a.d};
}
template <class S>
Dual<S> operator+(double c, const Dual<S>& a) {
  return {c + a.v, a.d};
}
template <class S>
Dual<S> operator-(const Dual<S>& a, double c) {
  return {a.v - c, a.d};
}
template <class S>
Dual<S> operator-(double c, const Dual<S>& a) {
  return {c - a.v, -a.d};
}
template <class S>
Dual<S> operator*(const Dual<S>& a, double c) {
  return {a.v * c, a.d * c};
}
template <class S>
Dual<S> operator*(double c, const Dual<S>& a) {
  return {c * a.v, c * a.d};
}

// exp' = exp, expm1' = exp.
template <class S>
Dual<S> exp(const Dual<S>& a) {
  using std::exp;
  const S e = exp(a.v);
  return {e, e * a.d};
}
template <class S>
Dual<S> expm1(const Dual<S>& a) {
  using std::exp;
  using std::expm1;
  return {expm1(a.v), exp(a.v) * a.d};
}

}  // namespace ad::detail
