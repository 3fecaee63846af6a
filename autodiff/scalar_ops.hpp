// The table of scalar operations: each op's forward value and its local
// derivatives, side by side, in one place.
//
// This file is the single place to look up what an op computes and how it is
// differentiated. The tape, the recording functions and the reverse sweep are
// generated from the lists at the bottom (AD_UNARY_OPS / AD_BINARY_OPS) and
// never special-case an op.
//
// Conventions:
// - `value` runs on plain doubles during recording.
// - The derivatives are templates over the scalar type `T` and receive the
//   inputs and the op's own output `y` (often the cheapest way to write them:
//   exp' = y, tanh' = 1 - y^2). The sweep instantiates them with T = double;
//   the recorded backward (gradients of gradients) instantiates them with
//   T = ad::Var, and the tensor ops' recorded backward with T = ad::TensorT,
//   which is why they call maths functions unqualified. (Formulas that branch
//   on a value, `x > 0`, cannot run on a whole tensor: tensor_elementwise.cpp
//   gives those ops element-wise forms of the same formulas.)
// - Points where an op is not differentiable have a documented convention,
//   pinned by tests/test_scalar_conventions.cpp and listed in docs/conventions.md.
// - NaN is never absorbed: an op with a NaN operand gives NaN, and so do the
//   derivatives that select by a comparison (abs, relu, heaviside, min, max),
//   as in IEEE arithmetic and PyTorch (tests/test_nan_propagation.cpp). A
//   comparison with NaN is false, so each branch below is written such that
//   NaN falls through to a NaN result.
#pragma once

#include <cmath>
#include <limits>
#include <numbers>
#include <type_traits>

#include <autodiff/detail/special_functions.hpp>

namespace ad::ops {

// A constant of the scalar type T. For ad::Var it records nothing (a
// recorded sweep's constant partials then cost no tape nodes); for float and
// double it is the number.
template <class T>
T constant(double v) {
  if constexpr (std::is_arithmetic_v<T>)
    return static_cast<T>(v);
  else
    return T::constant(v);
}

// A number in T's own arithmetic: float formulas stay in float (a double
// literal would widen each element to double and back, which halves the
// width of the vectorised loops that evaluate them); for ad::Var and tensors
// it stays a double, a constant operand as before.
template <class T>
auto literal(double v) {
  if constexpr (std::is_floating_point_v<T>)
    return static_cast<T>(v);
  else
    return v;
}

using std::abs;
using std::cos;
using std::cosh;
using std::exp;
using std::expm1;
using std::hypot;
using std::log;
using std::pow;
using std::sin;
using std::sinh;
using std::sqrt;

// The derivative the selecting ops give at a NaN operand.
inline constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();

// ---- unary ops: y = value(x), dy/dx = derivative(x, y) --------------------

struct Neg {
  static double value(double x) { return -x; }
  template <class T> static T derivative(const T&, const T&) { return constant<T>(-1.0); }
};

struct Sin {
  static double value(double x) { return std::sin(x); }
  template <class T> static T derivative(const T& x, const T&) { return cos(x); }
};

struct Cos {
  static double value(double x) { return std::cos(x); }
  template <class T> static T derivative(const T& x, const T&) { return -sin(x); }
};

struct Tan {
  static double value(double x) { return std::tan(x); }
  // tan' = 1 + tan^2
  template <class T> static T derivative(const T&, const T& y) { return 1.0 + y * y; }
};

struct Asin {
  static double value(double x) { return std::asin(x); }
  template <class T> static T derivative(const T& x, const T&) { return 1.0 / sqrt(1.0 - x * x); }
};

struct Acos {
  static double value(double x) { return std::acos(x); }
  template <class T> static T derivative(const T& x, const T&) { return -1.0 / sqrt(1.0 - x * x); }
};

struct Atan {
  static double value(double x) { return std::atan(x); }
  template <class T> static T derivative(const T& x, const T&) { return 1.0 / (1.0 + x * x); }
};

struct Sinh {
  static double value(double x) { return std::sinh(x); }
  template <class T> static T derivative(const T& x, const T&) { return cosh(x); }
};

struct Cosh {
  static double value(double x) { return std::cosh(x); }
  template <class T> static T derivative(const T& x, const T&) { return sinh(x); }
};

struct Tanh {
  static double value(double x) { return std::tanh(x); }
  // tanh' = 1 - tanh^2
  template <class T> static T derivative_of_output(const T& y) { return literal<T>(1.0) - y * y; }
  template <class T> static T derivative(const T&, const T& y) { return derivative_of_output(y); }
};

struct Exp {
  static double value(double x) { return std::exp(x); }
  template <class T> static T derivative(const T&, const T& y) { return y; }
};

struct Expm1 {
  static double value(double x) { return std::expm1(x); }
  template <class T> static T derivative(const T&, const T& y) { return y + 1.0; }
};

struct Log {
  static double value(double x) { return std::log(x); }
  template <class T> static T derivative(const T& x, const T&) { return 1.0 / x; }
};

struct Log1p {
  static double value(double x) { return std::log1p(x); }
  template <class T> static T derivative(const T& x, const T&) { return 1.0 / (1.0 + x); }
};

struct Sqrt {
  static double value(double x) { return std::sqrt(x); }
  // At x = 0 the derivative is +inf (the one-sided limit), as in PyTorch and JAX.
  template <class T> static T derivative(const T&, const T& y) { return 0.5 / y; }
};

struct Cbrt {
  static double value(double x) { return std::cbrt(x); }
  // d/dx x^(1/3) = 1 / (3 y^2); +inf at x = 0.
  template <class T> static T derivative(const T&, const T& y) { return 1.0 / (3.0 * y * y); }
};

struct Abs {
  static double value(double x) { return std::fabs(x); }
  // sign(x), with abs'(0) = 0 (the subgradient PyTorch and JAX use); NaN at NaN.
  template <class T> static T derivative(const T& x, const T&) {
    return constant<T>(x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : (x == 0.0 ? 0.0 : not_a_number)));
  }
};

struct Erf {
  static double value(double x) { return std::erf(x); }
  // erf'(x) = 2/sqrt(pi) exp(-x^2)
  template <class T> static T derivative(const T& x, const T&) {
    return (2.0 * std::numbers::inv_sqrtpi) * exp(-(x * x));
  }
};

struct Erfc {
  // 1 - erf(x), without the cancellation for large x (erfc(10) = 2e-45).
  static double value(double x) { return std::erfc(x); }
  // erfc'(x) = -2/sqrt(pi) exp(-x^2)
  template <class T> static T derivative(const T& x, const T&) {
    return (-2.0 * std::numbers::inv_sqrtpi) * exp(-(x * x));
  }
};

// ---- the gamma family: lgamma' = digamma, digamma' = trigamma ----------------
// psi_n = d^(n+1)/dx^(n+1) log Gamma (detail/special_functions.hpp); the
// values at the poles 0, -1, -2, ... are in docs/conventions.md. On doubles
// and in the first-order sweep every derivative exists; a recorded sweep
// (T = ad::Var or a tensor: second derivatives and up) records each
// derivative as the next op of the family, and the family ends at trigamma:
// its derivative psi_2 is computed on doubles only, so a recorded sweep
// through trigamma throws std::logic_error rather than record psi_2 as a
// constant (which would make the next derivative silently 0). Recorded
// derivatives: lgamma to the 3rd order, digamma to the 2nd, trigamma to the 1st.

inline double digamma(double x) { return detail::polygamma(0, x); }
inline double trigamma(double x) { return detail::polygamma(1, x); }

struct Lgamma {
  // log |Gamma(x)|; +inf at the poles.
  static double value(double x) { return detail::log_gamma(x); }
  template <class T> static T derivative(const T& x, const T&) { return digamma(x); }
};

struct Digamma {
  static double value(double x) { return detail::polygamma(0, x); }
  template <class T> static T derivative(const T& x, const T&) { return trigamma(x); }
};

struct Trigamma {
  static double value(double x) { return detail::polygamma(1, x); }
  template <class T> static T derivative(const T& x, const T&) {
    if constexpr (std::is_arithmetic_v<T>)
      return static_cast<T>(detail::polygamma(2, x));
    else
      detail::throw_no_recorded_derivative("trigamma", "polygamma(2, x)");
  }
};

struct Logistic {
  // 1 / (1 + e^-x), evaluated without overflow for large |x|.
  static double value(double x) {
    if (x >= 0.0) return 1.0 / (1.0 + std::exp(-x));
    const double e = std::exp(x);
    return e / (1.0 + e);
  }
  // sigma' = sigma (1 - sigma)
  template <class T> static T derivative_of_output(const T& y) { return y * (literal<T>(1.0) - y); }
  template <class T> static T derivative(const T&, const T& y) { return derivative_of_output(y); }
};

// sigma(x) on doubles, under the name ad::logistic has for Var and Tensor, so
// that the formulas below can call logistic(x) for every T.
inline double logistic(double x) { return Logistic::value(x); }

struct Softsign {
  // The limit +-1 at +-inf (x / (1 + |x|) would be inf / inf = NaN there).
  static double value(double x) { return std::isinf(x) ? std::copysign(1.0, x) : x / (1.0 + std::fabs(x)); }
  // d/dx x / (1 + |x|) = 1 / (1 + |x|)^2
  template <class T> static T derivative(const T& x, const T&) {
    const T d = 1.0 + abs(x);
    return 1.0 / (d * d);
  }
};

struct Heaviside {
  // H(x) = 1 for x >= 0, else 0 (the perceptron's step; H(0) = 1); H(NaN) = NaN.
  static double value(double x) { return x >= 0.0 ? 1.0 : (x < 0.0 ? 0.0 : x); }
  // Zero everywhere (the jump at 0 has no derivative; nn offers surrogate
  // gradients for training through a step), NaN at NaN.
  template <class T> static T derivative(const T& x, const T&) {
    return constant<T>(x >= 0.0 || x < 0.0 ? 0.0 : not_a_number);
  }
};

struct Relu {
  // !(x <= 0) lets NaN through (relu(NaN) = NaN, as in PyTorch) with one
  // comparison, so the tensor loops still vectorise; relu(-0) = +0.
  static double value(double x) { return !(x <= 0.0) ? x : 0.0; }
  // relu'(0) = 0, as in PyTorch and JAX; NaN at NaN. The output is > 0 exactly
  // where the input is (and NaN where it is), so the derivative is a function
  // of the output.
  template <class T> static T derivative_of_output(const T& y) {
    return constant<T>(y > 0.0 ? 1.0 : (y <= 0.0 ? 0.0 : not_a_number));
  }
  template <class T> static T derivative(const T&, const T& y) { return derivative_of_output(y); }
};

// ---- the activations of deep learning, as PyTorch defines them ----------------
// Parameterless: the slope of leaky_relu and the alpha of elu are PyTorch's
// defaults, fixed (the op table holds ops of one or two tensor operands).

struct Softplus {
  // log(1 + e^x), as max(x, 0) + log1p(e^-|x|): no overflow for large x, full
  // precision for very negative x (where it is e^x).
  static double value(double x) { return x > 0.0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
  // softplus' = sigma(x) = 1 - e^-y (e^-y = 1 / (1 + e^x)), accurate as -expm1(-y) where y is tiny.
  template <class T> static T derivative_of_output(const T& y) { return -expm1(-y); }
  template <class T> static T derivative(const T&, const T& y) { return derivative_of_output(y); }
};

struct LeakyRelu {
  static constexpr double negative_slope = 0.01;  // PyTorch's default
  static double value(double x) { return x > 0.0 ? x : negative_slope * x; }
  // 1 for x > 0, else the slope (at 0 too, as in PyTorch); the output has the input's sign.
  template <class T> static T derivative_of_output(const T& y) {
    return constant<T>(y > 0.0 ? 1.0 : negative_slope);
  }
  template <class T> static T derivative(const T&, const T& y) { return derivative_of_output(y); }
};

struct Elu {
  // x for x > 0, alpha (e^x - 1) otherwise, with alpha = 1 (PyTorch's default).
  static double value(double x) { return x > 0.0 ? x : std::expm1(x); }
  // 1 for x > 0, e^x = y + 1 otherwise (also 1 at 0: elu is C^1 with alpha = 1).
  template <class T> static T derivative_of_output(const T& y) {
    return y > 0.0 ? constant<T>(1.0) : y + literal<T>(1.0);
  }
  template <class T> static T derivative(const T&, const T& y) { return derivative_of_output(y); }
};

struct Gelu {
  // PyTorch's gelu(approximate='tanh'): x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3),
  // computed as x sigma(2u) (the same function: 1 + tanh(u) = 2 sigma(2u)) without the
  // cancellation of 1 + tanh(u) for negative x. Its limits at +-inf.
  static constexpr double sqrt_2_over_pi = std::numbers::sqrt2 * std::numbers::inv_sqrtpi;
  static constexpr double cubic = 0.044715;
  static double value(double x) {
    if (std::isinf(x)) return x > 0.0 ? x : 0.0;
    return x * Logistic::value(2.0 * sqrt_2_over_pi * (x + cubic * x * x * x));
  }
  // d/dx x s(2u) = s + x s (1 - s) 2u', u' = sqrt(2/pi) (1 + 3 0.044715 x^2), s = sigma(2u).
  template <class T> static T derivative(const T& x, const T&) {
    if constexpr (std::is_arithmetic_v<T>)
      if (std::isinf(x)) return constant<T>(x > 0 ? 1.0 : 0.0);  // the limits (x s (1 - s) u' is inf * 0)
    const T x2 = x * x;
    const T s = logistic((2.0 * sqrt_2_over_pi) * (x + cubic * x2 * x));
    return s + x * s * (1.0 - s) * ((2.0 * sqrt_2_over_pi) * (1.0 + (3.0 * cubic) * x2));
  }
};

struct Silu {
  // x sigma(x) (also called swish); its limits at +-inf.
  static double value(double x) {
    if (std::isinf(x)) return x > 0.0 ? x : 0.0;
    return x * Logistic::value(x);
  }
  // silu' = sigma(x) (1 + x (1 - sigma(x)))
  template <class T> static T derivative(const T& x, const T&) {
    if constexpr (std::is_arithmetic_v<T>)
      if (std::isinf(x)) return constant<T>(x > 0 ? 1.0 : 0.0);  // the limits (x (1 - sigma) is inf * 0)
    const T s = logistic(x);
    return s * (1.0 + x * (1.0 - s));
  }
};

// The ops whose derivative is a function of their output alone (tanh' = 1 - y^2):
// a fused op that keeps only the output (ad::linear_activation) can differentiate them.
template <class Op>
concept DerivativeOfOutput = requires(double y) { Op::derivative_of_output(y); };

// ---- binary ops: y = value(a, b), dy/da = d_a(a, b, y), dy/db = d_b(a, b, y)

struct Add {
  static double value(double a, double b) { return a + b; }
  template <class T> static T d_a(const T&, const T&, const T&) { return constant<T>(1.0); }
  template <class T> static T d_b(const T&, const T&, const T&) { return constant<T>(1.0); }
};

struct Sub {
  static double value(double a, double b) { return a - b; }
  template <class T> static T d_a(const T&, const T&, const T&) { return constant<T>(1.0); }
  template <class T> static T d_b(const T&, const T&, const T&) { return constant<T>(-1.0); }
};

struct Mul {
  static double value(double a, double b) { return a * b; }
  template <class T> static T d_a(const T&, const T& b, const T&) { return b; }
  template <class T> static T d_b(const T& a, const T&, const T&) { return a; }
};

struct Div {
  static double value(double a, double b) { return a / b; }
  template <class T> static T d_a(const T&, const T& b, const T&) { return 1.0 / b; }
  // d/db a/b = -a/b^2 = -y/b
  template <class T> static T d_b(const T&, const T& b, const T& y) { return -y / b; }
};

struct Pow {
  static double value(double a, double b) { return std::pow(a, b); }
  // b a^(b-1); taken as 0 when b == 0 (a^0 is constant), which avoids 0 * inf at a = 0.
  template <class T> static T d_a(const T& a, const T& b, const T&) {
    if (b == 0.0) return constant<T>(0.0);
    return b * pow(a, b - 1.0);
  }
  // a^b log(a) for a > 0. At a = 0 with b >= 0 it is 0 (the limit from the
  // right); for a < 0 (where a^b is real only at integer b) it is NaN, as in
  // PyTorch: no derivative in b exists there.
  template <class T> static T d_b(const T& a, const T& b, const T& y) {
    if (a > 0.0) return y * log(a);
    if (a == 0.0 && b >= 0.0) return constant<T>(0.0);
    return constant<T>(std::numeric_limits<double>::quiet_NaN());
  }
};

struct Atan2 {
  // atan2(a, b): the angle of the point (b, a).
  static double value(double a, double b) { return std::atan2(a, b); }
  // d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2); taken as 0 at the origin.
  // Divided twice by r = hypot(a, b): a^2 + b^2 itself underflows to 0 for
  // |a|, |b| < 1e-154, which would wrongly hit the origin's convention.
  template <class T> static T d_a(const T& a, const T& b, const T&) {
    const T r = hypot(a, b);
    return r == 0.0 ? constant<T>(0.0) : b / r / r;
  }
  template <class T> static T d_b(const T& a, const T& b, const T&) {
    const T r = hypot(a, b);
    return r == 0.0 ? constant<T>(0.0) : -a / r / r;
  }
};

struct Hypot {
  static double value(double a, double b) { return std::hypot(a, b); }
  // d/da sqrt(a^2 + b^2) = a / y; taken as 0 at the origin (a subgradient).
  template <class T> static T d_a(const T& a, const T&, const T& y) {
    return y == 0.0 ? constant<T>(0.0) : a / y;
  }
  template <class T> static T d_b(const T&, const T& b, const T& y) {
    return y == 0.0 ? constant<T>(0.0) : b / y;
  }
};

struct Min {
  // NaN from either side (a NaN a falls through to a; b != b catches a NaN b).
  static double value(double a, double b) { return b < a || b != b ? b : a; }
  // The smaller input gets the whole adjoint; a tie splits it evenly (as JAX
  // does); NaN to both when either is NaN (the comparisons are all false).
  template <class T> static T d_a(const T& a, const T& b, const T&) {
    return constant<T>(a < b ? 1.0 : (a == b ? 0.5 : (a > b ? 0.0 : not_a_number)));
  }
  template <class T> static T d_b(const T& a, const T& b, const T&) {
    return constant<T>(b < a ? 1.0 : (a == b ? 0.5 : (b > a ? 0.0 : not_a_number)));
  }
};

struct Max {
  // NaN from either side (a NaN a falls through to a; b != b catches a NaN b).
  static double value(double a, double b) { return a < b || b != b ? b : a; }
  // The larger input gets the whole adjoint; a tie splits it evenly; NaN to
  // both when either is NaN.
  template <class T> static T d_a(const T& a, const T& b, const T&) {
    return constant<T>(a > b ? 1.0 : (a == b ? 0.5 : (a < b ? 0.0 : not_a_number)));
  }
  template <class T> static T d_b(const T& a, const T& b, const T&) {
    return constant<T>(b > a ? 1.0 : (a == b ? 0.5 : (b < a ? 0.0 : not_a_number)));
  }
};

}  // namespace ad::ops

// The op lists: X(name, Struct). Adding an op is one struct above and one line
// here; the op codes, names, recording functions and the sweep follow.
#define AD_UNARY_OPS(X)                                                                      \
  X(neg, Neg) X(sin, Sin) X(cos, Cos) X(tan, Tan) X(asin, Asin) X(acos, Acos) X(atan, Atan) \
  X(sinh, Sinh) X(cosh, Cosh) X(tanh, Tanh) X(exp, Exp) X(expm1, Expm1) X(log, Log)          \
  X(log1p, Log1p) X(sqrt, Sqrt) X(cbrt, Cbrt) X(abs, Abs) X(erf, Erf) X(erfc, Erfc)          \
  X(lgamma, Lgamma) X(digamma, Digamma) X(trigamma, Trigamma) X(logistic, Logistic)           \
  X(softsign, Softsign) X(heaviside, Heaviside) X(relu, Relu) X(softplus, Softplus)           \
  X(leaky_relu, LeakyRelu) X(elu, Elu) X(gelu, Gelu) X(silu, Silu)

#define AD_BINARY_OPS(X)                                                                 \
  X(add, Add) X(sub, Sub) X(mul, Mul) X(div, Div) X(pow, Pow) X(atan2, Atan2) X(hypot, Hypot) \
  X(min, Min) X(max, Max)
