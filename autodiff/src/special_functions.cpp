// The polygamma functions psi_n(x) = d^(n+1)/dx^(n+1) log Gamma(x) on doubles:
// upward recurrence into the asymptotic expansion for x > 0, the reflection
// formula for x < 0 (Abramowitz & Stegun 6.3.5, 6.3.18, 6.4.6, 6.4.7, 6.4.11).
#include <array>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>

#include <fmt/format.h>

#include <autodiff/detail/special_functions.hpp>

#if defined(__GLIBC__)
#include <math.h>  // lgamma_r
#endif

namespace ad::detail {

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double nan = std::numeric_limits<double>::quiet_NaN();

// B_2, B_4, ..., B_20: the Bernoulli numbers of the asymptotic expansion.
constexpr std::array<double, 10> bernoulli_even = {1.0 / 6,       -1.0 / 30,      1.0 / 42, -1.0 / 30,
                                                   5.0 / 66,      -691.0 / 2730,  7.0 / 6,  -3617.0 / 510,
                                                   43867.0 / 798, -174611.0 / 330};

double factorial(int n) {
  double f = 1;
  for (int i = 2; i <= n; ++i) f *= i;
  return f;
}

// u^k by repeated multiplication (k is small): underflows gracefully where
// 1 / x^k would overflow first.
double power(double u, int k) {
  double p = 1;
  for (int i = 0; i < k; ++i) p *= u;
  return p;
}

// psi_n(x) for x >= 10 + n: (A&S 6.3.18, 6.4.11)
//   psi_0(x) ~ ln x - 1/(2x) - sum_k B_2k / (2k x^2k)
//   psi_n(x) ~ (-1)^(n+1) [(n-1)!/x^n + n!/(2 x^(n+1)) + sum_k B_2k (2k+n-1)!/((2k)! x^(2k+n))]
// Ten terms: the first omitted one is below 1e-16 of the sum from x = 10 + n
// on (its size is about 2 (2k+n-1)! / (2 pi x)^2k).
double asymptotic(int n, double x) {
  const double t = 1 / x;
  const double t2 = t * t;
  // r_k = (2k+n-1)! / (2k)!, built up from r_1 = (n+1)! / 2
  std::array<double, bernoulli_even.size()> r{};
  r[0] = factorial(n + 1) / 2;
  for (std::size_t k = 1; k < r.size(); ++k) {
    const double two_k = 2.0 * double(k);  // 2k for the previous term's k
    r[k] = r[k - 1] * (two_k + n) * (two_k + n + 1) / ((two_k + 1) * (two_k + 2));
  }
  double series = 0;  // sum_k B_2k r_k t^2k, smallest terms first
  for (std::size_t k = r.size(); k-- > 0;) series = (series + bernoulli_even[k] * r[k]) * t2;
  if (n == 0) return std::log(x) - t / 2 - series;
  const double bracket = factorial(n - 1) + factorial(n) / 2 * t + series;
  return (n % 2 == 1 ? 1.0 : -1.0) * power(t, n) * bracket;
}

// The coefficients of P_n with d^n/dz^n cot(z) = P_n(cot z): P_0(c) = c,
// P_{k+1}(c) = -(1 + c^2) P_k'(c) (since cot' = -(1 + cot^2)).
double cot_derivative(int n, double c) {
  std::array<double, max_polygamma_order + 2> a{};  // degree n + 1
  a[1] = 1;
  for (int k = 0; k < n; ++k) {
    std::array<double, max_polygamma_order + 2> next{};
    for (int m = 0; m <= k + 2; ++m) {
      const double from_above = m + 1 <= k + 1 ? (m + 1) * a[m + 1] : 0.0;
      const double from_below = m >= 1 ? (m - 1) * a[m - 1] : 0.0;
      next[m] = -(from_above + from_below);
    }
    a = next;
  }
  double p = 0;
  for (int m = n + 1; m >= 0; --m) p = p * c + a[m];
  return p;
}

}  // namespace

double log_gamma(double x) noexcept {
#if defined(__GLIBC__)
  int sign = 0;
  return ::lgamma_r(x, &sign);
#else
  return std::lgamma(x);
#endif
}

double polygamma(int n, double x) {
  if (n < 0 || n > max_polygamma_order)
    throw std::invalid_argument(fmt::format(
        "ad::detail::polygamma: the order must be an integer in 0..{}, got {}", max_polygamma_order, n));
  if (std::isnan(x)) return x;
  const bool odd = n % 2 == 1;
  if (x == inf) return n == 0 ? inf : (odd ? 0.0 : -0.0);
  if (x == -inf) return nan;
  if (x <= 0 && x == std::floor(x)) {  // a pole
    if (odd) return inf;
    return x == 0 ? std::copysign(inf, -x) : nan;
  }
  if (x < 0) {
    // Reflection (A&S 6.4.7): psi_n(1 - x) + (-1)^(n+1) psi_n(x) = (-1)^n pi d^n/dx^n cot(pi x), so
    // psi_n(x) = (-1)^n psi_n(1 - x) - pi^(n+1) P_n(cot(pi x)). cot has period pi: take the
    // fraction of x in [-1/2, 1/2] (exact), so that pi r is small where x is near a pole; near
    // r = +-1/2, where cot crosses 0, cot(pi r) = +-tan(pi (1/2 -+ r)), again of a small argument
    // (1 / tan(pi / 2) would give 6e-17, not 0).
    double whole = 0;
    double r = std::modf(x, &whole);  // r in (-1, 0)
    if (r < -0.5) r += 1;
    const double c = r > 0.25    ? std::tan(std::numbers::pi * (0.5 - r))
                     : r < -0.25 ? -std::tan(std::numbers::pi * (0.5 + r))
                                 : 1 / std::tan(std::numbers::pi * r);
    const double reflected = polygamma(n, 1 - x);
    return (odd ? -reflected : reflected) - power(std::numbers::pi, n + 1) * cot_derivative(n, c);
  }
  // Recurrence (A&S 6.4.6): psi_n(x + 1) = psi_n(x) + (-1)^n n! / x^(n+1), upwards until the
  // expansion is accurate: psi_n(x) = psi_n(x + m) - (-1)^n n! sum_{j<m} 1/(x + j)^(n+1).
  const double start = 10.0 + n;
  double shifted = 0;
  while (x < start) {
    shifted += power(1 / x, n + 1);
    x += 1;
  }
  const double steps = (odd ? -1.0 : 1.0) * factorial(n) * shifted;
  return asymptotic(n, x) - steps;
}

void throw_no_recorded_derivative(const char* op, const char* derivative) {
  throw std::logic_error(fmt::format(
      "ad::gradient_recorded: the derivative of {} ({}) is computed on doubles only and cannot be recorded, "
      "so {} has a first derivative but no second (the orders available: lgamma 3, digamma 2, trigamma 1)",
      op, derivative, op));
}

}  // namespace ad::detail
