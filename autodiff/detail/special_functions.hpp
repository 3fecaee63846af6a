// The gamma-family functions on doubles behind the op table's lgamma, digamma
// and trigamma (scalar_ops.hpp), and the polygamma function psi_n that their
// derivatives need. Implemented in src/special_functions.cpp.
//
// Conventions at the poles x = 0, -1, -2, ... (docs/conventions.md), the
// one-sided or two-sided limits where they exist, NaN where the two sides
// disagree, as in C++'s gamma functions, SciPy and PyTorch:
//   log_gamma(x)     = +inf at every pole (std::lgamma);
//   polygamma(n, x)  = +inf at every pole for odd n (psi_n ~ n! / (x + k)^(n+1));
//                      for even n (digamma is n = 0) -inf at +0, +inf at -0
//                      (the side the zero's sign names), NaN at -1, -2, ...
// and at -inf NaN, at +inf the limits (+inf for n = 0, 0 otherwise).
#pragma once

namespace ad::detail {

// log |Gamma(x)|: std::lgamma without its write to the global `signgam`, so
// that threads may call it at once.
double log_gamma(double x) noexcept;

// psi_n(x) = d^(n+1)/dx^(n+1) log Gamma(x) for the order 0 <= n <= max_polygamma_order:
// psi_0 is digamma, psi_1 trigamma, psi_2 tetragamma. Relative error below
// 1e-13 away from the zeros of psi_0 (tests/test_special_functions.cpp);
// throws std::invalid_argument for an order outside that range.
inline constexpr int max_polygamma_order = 16;
double polygamma(int n, double x);

// Thrown by the op table where a derivative exists on doubles only and a
// recorded sweep (T = ad::Var or a tensor) asks for it as a recorded op:
// std::logic_error naming the op and the derivative it lacks.
[[noreturn]] void throw_no_recorded_derivative(const char* op, const char* derivative);

}  // namespace ad::detail
