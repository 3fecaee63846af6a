// The special functions of the op table (issue 18, item 2): erfc, lgamma,
// digamma and trigamma for ad::Var, doubles and tensors, their derivatives to
// the orders the op table records (scalar_ops.hpp), their conventions at the
// poles (docs/conventions.md), and fmax / fmin as C's names for max / min.
// The polygamma values are checked against references derived from exact
// identities (psi(1) = -gamma, psi_1(1) = pi^2/6, psi_2(1) = -2 zeta(3), their
// half-integer forms and the recurrence) and against 20-digit values from
// mpmath 1.3.0 (mp.dps = 30; log|Gamma|, digamma, polygamma(1|2, x) at the
// exact doubles listed). log1p and expm1 were already ops of the table.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double qnan = std::numeric_limits<double>::quiet_NaN();
constexpr double euler_gamma = 0.57721566490153286060651209;
constexpr double zeta3 = 1.20205690315959428539973816;
constexpr double pi = std::numbers::pi;

double psi2(double x) { return ad::detail::polygamma(2, x); }

// d f / dx at x0 from one sweep.
template <class F>
double derivative(F f, double x0) {
  ad::Tape tape;
  const ad::Var x = x0;
  return ad::gradient(f(x), {x})[0];
}

// d^2 f / dx^2 at x0 from ad::hessian (one recorded gradient, one sweep).
template <class F>
double second_derivative(F f, double x0) {
  return ad::hessian([&](std::span<const ad::Var> x) { return f(x[0]); }, std::vector<double>{x0})[0][0];
}

// (f(x + h) - f(x - h)) / 2h
template <class F>
double central_difference(F f, double x, double h = 1e-6) {
  return (f(x + h) - f(x - h)) / (2 * h);
}

struct Reference {
  double x, lgamma, digamma, trigamma, tetragamma;
};
// mpmath 1.3.0 at 30 digits, at the exact doubles x.
const std::vector<Reference> references = {
    {0.001, 6.9071788853838536617, -1000.5755719318102797, 1000001.6425331958273, -2000000002.3976321648},
    {0.3, 1.0957979948180755606, -3.5025242222001331249, 12.245364546107731301, -75.272536588726038917},
    {2.5, 0.28468287047291915963, 0.70315664064524318723, 0.49035775610023486497, -0.236204051641727403},
    {7.25, 7.0521854507385394449, 1.9104535268837360284, 0.14787923315893216965, -0.021828952295197739222},
    {33.5, 83.302425502950053443, 3.496545816722825239, 0.030300712174923452982, -0.00091806295173033497894},
    {1e6, 12815504.56914761166, 13.815510057964190771, 1.0000005000001666667e-6, -1.0000010000005e-12},
    {-0.5, 1.2655121234846453965, 0.036489973978576520559, 8.9348022005446793094, -0.8287966442343199956},
    {-2.7, -0.071407085315645687684, -1.1153471291406896119, 14.769375845132315018, -68.932939023263798761},
    {-10.3, -14.457515440024208334, 4.6624034935820870175, 14.98688706572263782, 68.828988611036967985},
};

}  // namespace

TEST_CASE("digamma, trigamma and psi_2 equal the values the identities give at 1 and 1/2") {
  CHECK(ad::digamma(1.0) == doctest::Approx(-euler_gamma).epsilon(1e-15));
  CHECK(ad::digamma(0.5) == doctest::Approx(-euler_gamma - 2 * std::numbers::ln2).epsilon(1e-15));
  CHECK(ad::trigamma(1.0) == doctest::Approx(pi * pi / 6).epsilon(1e-15));
  CHECK(ad::trigamma(0.5) == doctest::Approx(pi * pi / 2).epsilon(1e-15));
  CHECK(psi2(1.0) == doctest::Approx(-2 * zeta3).epsilon(1e-15));
  CHECK(psi2(0.5) == doctest::Approx(-14 * zeta3).epsilon(1e-15));
  // psi(n) = -gamma + H_(n-1), psi_1(n) = pi^2/6 - sum_(k<n) 1/k^2: the recurrence from 1
  double harmonic = 0, squares = 0;
  for (int n = 1; n <= 40; ++n) {
    CAPTURE(n);
    CHECK(ad::digamma(double(n)) == doctest::Approx(-euler_gamma + harmonic).epsilon(1e-14));
    CHECK(ad::trigamma(double(n)) == doctest::Approx(pi * pi / 6 - squares).epsilon(1e-13));
    harmonic += 1.0 / n;
    squares += 1.0 / (double(n) * n);
  }
}

TEST_CASE("lgamma, digamma, trigamma and psi_2 equal 20-digit reference values to 1e-13") {
  for (const Reference& r : references) {
    CAPTURE(r.x);
    CHECK(ad::lgamma(r.x) == doctest::Approx(r.lgamma).epsilon(1e-13));
    CHECK(ad::digamma(r.x) == doctest::Approx(r.digamma).epsilon(1e-13));
    CHECK(ad::trigamma(r.x) == doctest::Approx(r.trigamma).epsilon(1e-13));
    CHECK(psi2(r.x) == doctest::Approx(r.tetragamma).epsilon(1e-13));
  }
}

TEST_CASE("psi_n satisfies the recurrence psi_n(x + 1) = psi_n(x) + (-1)^n n! / x^(n+1) on both sides of 0") {
  std::mt19937_64 rng(18);
  std::uniform_real_distribution<double> uniform(-20.0, 40.0);
  for (int i = 0; i < 200; ++i) {
    const double x = uniform(rng);
    CAPTURE(x);
    for (int n = 0; n <= 3; ++n) {
      CAPTURE(n);
      const double factorial = n == 3 ? 6.0 : (n == 2 ? 2.0 : 1.0);
      const double step = (n % 2 == 0 ? 1.0 : -1.0) * factorial / std::pow(x, n + 1);
      const double lhs = ad::detail::polygamma(n, x + 1);
      const double rhs = ad::detail::polygamma(n, x) + step;
      // the terms may cancel (digamma near its zeros): compare on the scale of the largest term
      const double scale = std::max({std::fabs(lhs), std::fabs(step), 1.0});
      CHECK(std::fabs(lhs - rhs) <= 1e-13 * scale);
    }
  }
  CHECK_THROWS_AS(ad::detail::polygamma(-1, 1.0), std::invalid_argument);
  CHECK_THROWS_AS(ad::detail::polygamma(ad::detail::max_polygamma_order + 1, 1.0), std::invalid_argument);
}

TEST_CASE("erfc and lgamma give the std:: values, for Var and double") {
  for (double x : {-30.0, -3.5, -1.0, -0.25, 0.0, 0.3, 1.0, 4.0, 12.0, 27.0}) {
    CAPTURE(x);
    CHECK(ad::erfc(x) == std::erfc(x));
    ad::Tape tape;
    CHECK(ad::erfc(ad::Var(x)).value() == std::erfc(x));
    if (x != std::floor(x) || x > 0) CHECK(ad::lgamma(ad::Var(x)).value() == std::lgamma(x));
  }
  CHECK(ad::erfc(10.0) > 0);  // 2e-45: no cancellation (1 - erf(10) is 0)
}

TEST_CASE("the first derivatives equal the closed forms and central differences") {
  for (double x : {-2.7, -0.5, 0.3, 1.0, 2.5, 7.25, 40.0}) {
    CAPTURE(x);
    CHECK(derivative([](const ad::Var& v) { return ad::lgamma(v); }, x) == ad::digamma(x));
    CHECK(derivative([](const ad::Var& v) { return ad::digamma(v); }, x) == ad::trigamma(x));
    CHECK(derivative([](const ad::Var& v) { return ad::trigamma(v); }, x) == psi2(x));
    CHECK(derivative([](const ad::Var& v) { return ad::erfc(v); }, x) ==
          doctest::Approx(-2 / std::sqrt(pi) * std::exp(-x * x)).epsilon(1e-15));
    // and numerically, each against the function it differentiates
    const auto lgamma = [](double v) { return std::lgamma(v); };
    const auto digamma = [](double v) { return ad::digamma(v); };
    const auto trigamma = [](double v) { return ad::trigamma(v); };
    const auto erfc = [](double v) { return std::erfc(v); };
    CHECK(ad::digamma(x) == doctest::Approx(central_difference(lgamma, x)).epsilon(1e-7));
    CHECK(ad::trigamma(x) == doctest::Approx(central_difference(digamma, x)).epsilon(1e-7));
    CHECK(psi2(x) == doctest::Approx(central_difference(trigamma, x)).epsilon(1e-6));
    CHECK(derivative([](const ad::Var& v) { return ad::erfc(v); }, x) ==
          doctest::Approx(central_difference(erfc, x)).epsilon(1e-7).scale(1e-10));
  }
}

TEST_CASE("the recorded second derivatives are trigamma, psi_2 and erfc''") {
  for (double x : {-2.7, -0.5, 0.3, 1.0, 2.5, 7.25}) {
    CAPTURE(x);
    CHECK(second_derivative([](const ad::Var& v) { return ad::lgamma(v); }, x) == ad::trigamma(x));
    CHECK(second_derivative([](const ad::Var& v) { return ad::digamma(v); }, x) == psi2(x));
    CHECK(second_derivative([](const ad::Var& v) { return ad::erfc(v); }, x) ==
          doctest::Approx(4 / std::sqrt(pi) * x * std::exp(-x * x)).epsilon(1e-14).scale(1e-300));
    // in a coupled function: d^2/dxdy of lgamma(x y) = digamma(xy) + xy trigamma(xy)
    const double y = 1.3;
    const auto H = ad::hessian([](std::span<const ad::Var> v) { return ad::lgamma(v[0] * v[1]); },
                               std::vector<double>{x, y});
    CHECK(H[0][1] == doctest::Approx(ad::digamma(x * y) + x * y * ad::trigamma(x * y)).epsilon(1e-13));
    CHECK(H[0][1] == doctest::Approx(H[1][0]).epsilon(1e-14));
    // hvp agrees with the Hessian
    const auto Hv = ad::hvp([](std::span<const ad::Var> v) { return ad::lgamma(v[0] * v[1]); },
                            std::vector<double>{x, y}, std::vector<double>{1.0, -2.0});
    CHECK(Hv[0] == doctest::Approx(H[0][0] - 2 * H[0][1]).epsilon(1e-13));
  }
}

TEST_CASE("lgamma has recorded derivatives to the third order: d^3/dx^3 lgamma = psi_2") {
  ad::Tape tape;
  const std::vector<ad::Var> x{ad::Var(2.5)};
  const std::vector<ad::Var> g = ad::gradient_recorded(ad::lgamma(x[0]), x);  // digamma, recorded
  const std::vector<ad::Var> g2 = ad::gradient_recorded(g[0], x);             // trigamma, recorded
  CHECK(g[0].value() == ad::digamma(2.5));
  CHECK(g2[0].value() == ad::trigamma(2.5));
  CHECK(ad::gradient(g2[0], x)[0] == psi2(2.5));
}

TEST_CASE("a derivative beyond the recorded orders throws instead of being silently 0") {
  // trigamma's derivative psi_2 exists on doubles only: a recorded sweep through
  // trigamma (its second derivative, digamma's third, lgamma's fourth) throws.
  const auto message_contains = doctest::Contains("the derivative of trigamma (polygamma(2, x))");
  CHECK_THROWS_WITH_AS(second_derivative([](const ad::Var& v) { return ad::trigamma(v); }, 0.7),
                       message_contains, std::logic_error);
  {
    ad::Tape tape;
    const std::vector<ad::Var> x{ad::Var(2.5)};
    const std::vector<ad::Var> g = ad::gradient_recorded(ad::digamma(x[0]), x);  // trigamma, recorded
    CHECK_THROWS_WITH_AS(ad::gradient_recorded(g[0], x), message_contains, std::logic_error);
  }
  // the tensor op alike
  const auto f = [](const ad::Tensor& x) { return ad::sum(ad::trigamma(x)); };
  CHECK_THROWS_WITH_AS(ad::hessian(f, ad::Tensor::from({2}, {0.5, 1.5})), message_contains, std::logic_error);
}

TEST_CASE("at the poles 0, -1, -2, ... lgamma is +inf and its derivatives are the limits or NaN") {
  // lgamma: +inf at every pole (std::lgamma); lgamma' = digamma
  for (double x : {0.0, -0.0, -1.0, -2.0, -7.0}) {
    CAPTURE(x);
    CHECK(ad::lgamma(x) == inf);
    CHECK(ad::trigamma(x) == inf);  // psi_1 ~ 1/(x + k)^2 from both sides
  }
  // digamma ~ -1/x: -inf from the right, +inf from the left; the sign of a zero names the side,
  // and at -1, -2, ... no side is named: NaN. psi_2 ~ -2/x^3 alike.
  CHECK(ad::digamma(0.0) == -inf);
  CHECK(ad::digamma(-0.0) == inf);
  CHECK(std::isnan(ad::digamma(-1.0)));
  CHECK(std::isnan(ad::digamma(-3.0)));
  CHECK(psi2(0.0) == -inf);
  CHECK(psi2(-0.0) == inf);
  CHECK(std::isnan(psi2(-2.0)));
  // the same through the sweep: lgamma'(0) = digamma(0), trigamma'(0) = psi_2(0)
  CHECK(derivative([](const ad::Var& v) { return ad::lgamma(v); }, 0.0) == -inf);
  CHECK(derivative([](const ad::Var& v) { return ad::lgamma(v); }, -0.0) == inf);
  CHECK(std::isnan(derivative([](const ad::Var& v) { return ad::lgamma(v); }, -2.0)));
  CHECK(derivative([](const ad::Var& v) { return ad::digamma(v); }, -2.0) == inf);
  CHECK(std::isnan(derivative([](const ad::Var& v) { return ad::trigamma(v); }, -2.0)));
  // at infinity: the limits, and NaN at -inf (no limit: a pole at every integer)
  CHECK(ad::lgamma(inf) == inf);
  CHECK(ad::lgamma(-inf) == inf);
  CHECK(ad::digamma(inf) == inf);
  CHECK(ad::trigamma(inf) == 0);
  CHECK(std::isnan(ad::digamma(-inf)));
  CHECK(std::isnan(ad::trigamma(-inf)));
  CHECK(ad::erfc(inf) == 0);
  CHECK(ad::erfc(-inf) == 2);
  // NaN stays NaN
  CHECK(std::isnan(ad::digamma(qnan)));
  CHECK(std::isnan(ad::trigamma(qnan)));
  CHECK(std::isnan(ad::lgamma(qnan)));
}

TEST_CASE("fmax and fmin record the same nodes as max and min and propagate NaN, unlike std::fmax") {
  ad::Tape tape;
  const ad::Var a = 1.5, b = -2.0;
  for (const ad::Var& y : {ad::fmax(a, b), ad::fmax(a, 0.5), ad::fmax(3.0, b), ad::fmin(a, b),
                           ad::fmin(a, 0.5), ad::fmin(3.0, b)}) {
    const std::string name(ad::op_info(tape.node(y.id()).op).name);
    CHECK((name == "max" || name == "min"));
  }
  CHECK(ad::fmax(a, b).value() == 1.5);
  CHECK(ad::fmin(a, b).value() == -2.0);
  CHECK(ad::gradient(ad::fmax(a, b), {a, b}) == std::vector<double>{1.0, 0.0});
  CHECK(ad::gradient(ad::fmin(a, b), {a, b}) == std::vector<double>{0.0, 1.0});
  CHECK(ad::gradient(ad::fmax(a, a), {a}) == std::vector<double>{1.0});  // the tie rule of max
  CHECK(ad::fmax(2.0, -1.0) == 2.0);
  CHECK(ad::fmin(2.0, -1.0) == -1.0);
  // std::fmax(1, NaN) == 1; ours is NaN in every form, so generic code agrees for double and Var
  CHECK(std::fmax(1.0, qnan) == 1.0);
  CHECK(std::isnan(ad::fmax(1.0, qnan)));
  CHECK(std::isnan(ad::fmin(qnan, 1.0)));
  const ad::Var n = qnan;
  CHECK(std::isnan(ad::fmax(a, n).value()));
  CHECK(std::isnan(ad::fmax(n, 1.0).value()));
  CHECK(std::isnan(ad::fmin(1.0, n).value()));
  CHECK(std::isnan(ad::gradient(ad::fmax(a, n), {a})[0]));
}

TEST_CASE_TEMPLATE("the tensor forms give the scalar ops' values and derivatives, element by element", T,
                   float, double) {
  const std::vector<double> points{-2.7, -0.5, 0.3, 1.0, 2.5, 7.25};
  std::vector<T> values;
  for (double p : points) values.push_back(static_cast<T>(p));
  const double tolerance = std::is_same_v<T, float> ? 1e-5 : 1e-14;
  auto check = [&](const char* name, auto tensor_op, auto scalar_value, auto scalar_derivative) {
    CAPTURE(name);
    ad::TensorT<T> x = ad::TensorT<T>::from({points.size()}, values).requires_grad(true);
    const ad::TensorT<T> y = tensor_op(x);
    ad::sum(y).backward();
    for (std::size_t i = 0; i < points.size(); ++i) {
      const double p = double(values[i]);
      CAPTURE(p);
      CHECK(double(y.values()[i]) == doctest::Approx(scalar_value(p)).epsilon(tolerance));
      CHECK(double(x.grad().values()[i]) == doctest::Approx(scalar_derivative(p)).epsilon(tolerance));
    }
  };
  check(
      "erfc", [](const auto& x) { return ad::erfc(x); }, [](double p) { return std::erfc(p); },
      [](double p) { return -2 / std::sqrt(pi) * std::exp(-p * p); });
  check(
      "lgamma", [](const auto& x) { return ad::lgamma(x); }, [](double p) { return std::lgamma(p); },
      [](double p) { return ad::digamma(p); });
  check(
      "digamma", [](const auto& x) { return ad::digamma(x); }, [](double p) { return ad::digamma(p); },
      [](double p) { return ad::trigamma(p); });
  check(
      "trigamma", [](const auto& x) { return ad::trigamma(x); }, [](double p) { return ad::trigamma(p); },
      [](double p) { return psi2(p); });
}

TEST_CASE("the new ops carry their names on the tape and are refused as fused activations") {
  ad::Tape tape;
  const ad::Var x = 0.7;
  for (const auto& [y, name] :
       {std::pair{ad::erfc(x), "erfc"}, std::pair{ad::lgamma(x), "lgamma"},
        std::pair{ad::digamma(x), "digamma"}, std::pair{ad::trigamma(x), "trigamma"}}) {
    CHECK(ad::op_info(tape.node(y.id()).op).name == name);
    CHECK(ad::describe(y).find(name) != std::string::npos);
  }
  // their derivatives need the input, not only the output: linear_activation and
  // conv2d_activation do not take them
  for (ad::OpCode op : {ad::OpCode::erfc, ad::OpCode::lgamma, ad::OpCode::digamma, ad::OpCode::trigamma}) {
    CHECK_FALSE(ad::linear_activation_supports(op));
    CHECK_THROWS_AS(
        ad::linear_activation(ad::Tensor::ones({1, 2}), ad::Tensor::ones({1, 2}), ad::Tensor::ones({1}), op),
        std::invalid_argument);
  }
  CHECK(ad::unary_derivative(ad::OpCode::lgamma, 2.5, ad::lgamma(2.5)) == ad::digamma(2.5));
}
