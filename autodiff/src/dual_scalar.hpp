// Internal: the rest of what the op table's derivative formulas
// (scalar_ops.hpp) call, for T = Dual<double>, so that each formula run on
// dual numbers gives a partial and its derivative along a direction: the
// second-order information of the Hessian-vector sweep (hvp_sweep.cpp),
// without a second copy of any formula. Each function is the op table's own
// value and derivative (ops::Sin::value, ops::Sin::derivative, ...).
// Comparisons look at the value: the formulas' branches (abs, relu, pow at
// 0, ...) pick the same side as on doubles, and the chosen side's constant
// has derivative 0, as in the recorded backward.
#pragma once

#include <autodiff/scalar_ops.hpp>

#include "dual.hpp"

namespace ad::detail {

using Dual1 = Dual<double>;

// f(x + eps) = f(x) + f'(x) eps, for the unary op Op of the table.
template <class Op>
Dual1 through(const Dual1& x) {
  const double y = Op::value(x.v);
  return {y, Op::derivative(x.v, y) * x.d};
}

inline Dual1 sin(const Dual1& x) { return through<ops::Sin>(x); }
inline Dual1 cos(const Dual1& x) { return through<ops::Cos>(x); }
inline Dual1 sinh(const Dual1& x) { return through<ops::Sinh>(x); }
inline Dual1 cosh(const Dual1& x) { return through<ops::Cosh>(x); }
inline Dual1 log(const Dual1& x) { return through<ops::Log>(x); }
inline Dual1 sqrt(const Dual1& x) { return through<ops::Sqrt>(x); }
inline Dual1 abs(const Dual1& x) { return through<ops::Abs>(x); }
inline Dual1 logistic(const Dual1& x) { return through<ops::Logistic>(x); }
inline Dual1 digamma(const Dual1& x) { return through<ops::Digamma>(x); }
// Its derivative (psi_2) exists on doubles: what digamma's second derivative
// needs. Trigamma's own derivative formula refuses T = Dual1 (no psi_3).
inline Dual1 trigamma(const Dual1& x) { return through<ops::Trigamma>(x); }

// The binary ops: both operands may move (a constant operand has d = 0; a
// partial in the direction of a constant is not evaluated, so pow's d/db,
// NaN for a < 0, does not reach x^2.5 with a negative x).
template <class Op>
Dual1 through(const Dual1& a, const Dual1& b) {
  const double y = Op::value(a.v, b.v);
  double d = 0.0;
  if (a.d != 0.0) d += Op::d_a(a.v, b.v, y) * a.d;
  if (b.d != 0.0) d += Op::d_b(a.v, b.v, y) * b.d;
  return {y, d};
}

inline Dual1 pow(const Dual1& a, const Dual1& b) { return through<ops::Pow>(a, b); }
inline Dual1 hypot(const Dual1& a, const Dual1& b) { return through<ops::Hypot>(a, b); }

// (c / b)' = -(c / b) b' / b
inline Dual1 operator/(double c, const Dual1& b) {
  const double q = c / b.v;
  return {q, -q * b.d / b.v};
}
inline Dual1 operator/(const Dual1& a, double c) { return {a.v / c, a.d / c}; }

inline bool operator==(const Dual1& a, double c) { return a.v == c; }
inline bool operator<(const Dual1& a, double c) { return a.v < c; }
inline bool operator>(const Dual1& a, double c) { return a.v > c; }
inline bool operator<=(const Dual1& a, double c) { return a.v <= c; }
inline bool operator>=(const Dual1& a, double c) { return a.v >= c; }
inline bool operator==(const Dual1& a, const Dual1& b) { return a.v == b.v; }
inline bool operator<(const Dual1& a, const Dual1& b) { return a.v < b.v; }
inline bool operator>(const Dual1& a, const Dual1& b) { return a.v > b.v; }

}  // namespace ad::detail
