// Second derivatives of scalar code: the recorded reverse sweep, hvp,
// hessian, jacobian, vjp and gradgradcheck.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <span>
#include <vector>

#include <autodiff/autodiff.hpp>

namespace {

template <class T>
T rosenbrock(std::span<const T> x) {
  T f = 0.0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    const T a = x[i + 1] - x[i] * x[i];
    const T b = 1.0 - x[i];
    f += 100.0 * a * a + b * b;
  }
  return f;
}

struct UnaryCase {
  const char* name;
  std::function<ad::Var(const ad::Var&)> f;
  std::function<double(double)> second;  // f''(x), written out by hand
  double x;
};

}  // namespace

TEST_CASE("the second derivative of every smooth unary op matches its hand-derived formula") {
  const std::vector<UnaryCase> cases = {
      {"sin", [](const ad::Var& x) { return ad::sin(x); }, [](double x) { return -std::sin(x); }, 0.7},
      {"cos", [](const ad::Var& x) { return ad::cos(x); }, [](double x) { return -std::cos(x); }, 0.7},
      {"tan", [](const ad::Var& x) { return ad::tan(x); },
       [](double x) { return 2 * std::tan(x) / (std::cos(x) * std::cos(x)); }, 0.4},
      {"exp", [](const ad::Var& x) { return ad::exp(x); }, [](double x) { return std::exp(x); }, 0.3},
      {"expm1", [](const ad::Var& x) { return ad::expm1(x); }, [](double x) { return std::exp(x); }, 0.3},
      {"log", [](const ad::Var& x) { return ad::log(x); }, [](double x) { return -1 / (x * x); }, 1.7},
      {"log1p", [](const ad::Var& x) { return ad::log1p(x); }, [](double x) { return -1 / ((1 + x) * (1 + x)); }, 0.7},
      {"sqrt", [](const ad::Var& x) { return ad::sqrt(x); }, [](double x) { return -0.25 * std::pow(x, -1.5); }, 1.3},
      {"cbrt", [](const ad::Var& x) { return ad::cbrt(x); },
       [](double x) { return -2.0 / 9.0 * std::pow(x, -5.0 / 3.0); }, 1.3},
      {"tanh", [](const ad::Var& x) { return ad::tanh(x); },
       [](double x) { return -2 * std::tanh(x) * (1 - std::tanh(x) * std::tanh(x)); }, 0.6},
      {"sinh", [](const ad::Var& x) { return ad::sinh(x); }, [](double x) { return std::sinh(x); }, 0.6},
      {"cosh", [](const ad::Var& x) { return ad::cosh(x); }, [](double x) { return std::cosh(x); }, 0.6},
      {"asin", [](const ad::Var& x) { return ad::asin(x); }, [](double x) { return x / std::pow(1 - x * x, 1.5); }, 0.4},
      {"acos", [](const ad::Var& x) { return ad::acos(x); }, [](double x) { return -x / std::pow(1 - x * x, 1.5); }, 0.4},
      {"atan", [](const ad::Var& x) { return ad::atan(x); }, [](double x) { return -2 * x / ((1 + x * x) * (1 + x * x)); }, 0.4},
      {"erf", [](const ad::Var& x) { return ad::erf(x); },
       [](double x) { return -4 * x / std::sqrt(std::acos(-1.0)) * std::exp(-x * x); }, 0.4},
      {"logistic", [](const ad::Var& x) { return ad::logistic(x); },
       [](double x) {
         const double s = 1 / (1 + std::exp(-x));
         return s * (1 - s) * (1 - 2 * s);
       },
       0.8},
      {"softsign", [](const ad::Var& x) { return ad::softsign(x); },
       [](double x) { return -2 * (x > 0 ? 1.0 : -1.0) / std::pow(1 + std::fabs(x), 3); }, 0.8},
      {"pow 3", [](const ad::Var& x) { return ad::pow(x, 3.0); }, [](double x) { return 6 * x; }, 0.8},
      {"relu (piecewise linear)", [](const ad::Var& x) { return ad::relu(x); }, [](double) { return 0.0; }, 0.8},
      {"softplus", [](const ad::Var& x) { return ad::softplus(x); },
       [](double x) {
         const double s = 1 / (1 + std::exp(-x));
         return s * (1 - s);
       },
       -0.7},
      {"leaky_relu (piecewise linear)", [](const ad::Var& x) { return ad::leaky_relu(x); },
       [](double) { return 0.0; }, -0.8},
      {"elu, negative side", [](const ad::Var& x) { return ad::elu(x); },
       [](double x) { return std::exp(x); }, -0.6},
      {"elu, positive side", [](const ad::Var& x) { return ad::elu(x); }, [](double) { return 0.0; }, 0.6},
      // gelu = x s(v), v = a (x + k x^3), a = 2 sqrt(2/pi):
      // gelu'' = 2 s (1-s) v' + x s (1-s) ((1-2s) v'^2 + v'').
      {"gelu", [](const ad::Var& x) { return ad::gelu(x); },
       [](double x) {
         const double a = 2 * std::sqrt(2 / std::acos(-1.0)), k = 0.044715;
         const double s = 1 / (1 + std::exp(-a * (x + k * x * x * x)));
         const double v1 = a * (1 + 3 * k * x * x), v2 = 6 * a * k * x;
         return 2 * s * (1 - s) * v1 + x * s * (1 - s) * ((1 - 2 * s) * v1 * v1 + v2);
       },
       -0.9},
      {"silu", [](const ad::Var& x) { return ad::silu(x); },
       [](double x) {
         const double s = 1 / (1 + std::exp(-x));
         return s * (1 - s) * (2 + x * (1 - 2 * s));
       },
       0.7},
      {"abs (piecewise linear)", [](const ad::Var& x) { return ad::abs(x); }, [](double) { return 0.0; }, -0.8},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto H = ad::hessian([&](std::span<const ad::Var> x) { return c.f(x[0]); }, {c.x});
    CHECK(H[0][0] == doctest::Approx(c.second(c.x)).epsilon(1e-12));
  }
}

TEST_CASE("the Hessian of Rosenbrock equals the closed form and is symmetric") {
  const std::vector<double> x = {-1.2, 1.0, 0.5, 0.3};
  const auto H = ad::hessian([](std::span<const ad::Var> v) { return rosenbrock(v); }, x);
  const std::size_t n = x.size();
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double expected = 0;
      if (i == j) {
        if (i + 1 < n) expected += 1200 * x[i] * x[i] - 400 * x[i + 1] + 2;
        if (i > 0) expected += 200;
      } else if (j == i + 1 || i == j + 1) {
        expected = -400 * x[std::min(i, j)];
      }
      CHECK(H[i][j] == doctest::Approx(expected).epsilon(1e-12));
      CHECK(H[i][j] == H[j][i]);
    }
}

TEST_CASE("hvp equals the Hessian times the vector") {
  auto f = [](std::span<const ad::Var> x) {
    return ad::sin(x[0]) * ad::exp(x[1]) + ad::hypot(x[0], x[2]) * x[1] + ad::atan2(x[2], x[0]) + ad::max(x[0], x[1]);
  };
  const std::vector<double> x = {0.3, -0.4, 1.1}, v = {0.5, -2.0, 0.25};
  const auto H = ad::hessian(f, x);
  const auto Hv = ad::hvp(f, x, v);
  for (std::size_t i = 0; i < x.size(); ++i) {
    double expected = 0;
    for (std::size_t j = 0; j < x.size(); ++j) expected += H[i][j] * v[j];
    CHECK(Hv[i] == doctest::Approx(expected).epsilon(1e-13));
  }
}

TEST_CASE("gradgradcheck passes Hessian-vector products against differences of gradients") {
  const auto report = ad::gradgradcheck(
      [](std::span<const ad::Var> x) {
        return ad::tanh(x[0] * x[1]) + ad::pow(x[1], x[0]) + ad::log1p(x[0] * x[0]) / ad::cosh(x[1]) +
               ad::logistic(x[0] - x[1]) * ad::erf(x[1]);
      },
      {0.4, 1.3});
  CHECK(report.ok);
  CHECK(report.max_rel_error < 1e-5);
}

TEST_CASE("jacobian and vjp of a vector function") {
  auto F = [](std::span<const ad::Var> x) { return std::vector<ad::Var>{x[0] * x[1], ad::sin(x[0]) + x[1] * x[1]}; };
  const std::vector<double> x = {0.5, 2.0};
  const auto J = ad::jacobian(F, x);
  CHECK(J[0][0] == doctest::Approx(2.0));
  CHECK(J[0][1] == doctest::Approx(0.5));
  CHECK(J[1][0] == doctest::Approx(std::cos(0.5)));
  CHECK(J[1][1] == doctest::Approx(4.0));
  const auto u = ad::vjp(F, x, {3.0, -1.0});
  CHECK(u[0] == doctest::Approx(3 * 2.0 - std::cos(0.5)));
  CHECK(u[1] == doctest::Approx(3 * 0.5 - 4.0));
}

TEST_CASE("a recorded gradient mixes with further scalar code and is swept like any Var") {
  ad::Tape tape;
  const std::vector<ad::Var> x = {1.5, -0.5};
  const ad::Var f = x[0] * x[0] * x[1];
  const std::vector<ad::Var> g = ad::gradient_recorded(f, x);  // (2 x0 x1, x0^2)
  CHECK(g[0].value() == doctest::Approx(2 * 1.5 * -0.5));
  CHECK(g[1].value() == doctest::Approx(1.5 * 1.5));
  const ad::Var gradient_norm2 = g[0] * g[0] + g[1] * g[1];
  const auto d = ad::gradient(gradient_norm2, x);
  // d/dx0 (4 x0^2 x1^2 + x0^4) = 8 x0 x1^2 + 4 x0^3 ; d/dx1 = 8 x0^2 x1
  CHECK(d[0] == doctest::Approx(8 * 1.5 * 0.25 + 4 * 1.5 * 1.5 * 1.5));
  CHECK(d[1] == doctest::Approx(8 * 1.5 * 1.5 * -0.5));
}

TEST_CASE("a user-defined op cannot be differentiated twice and says so") {
  const ad::CustomOp square("my_square", [](double x) { return x * x; }, [](double x, double) { return 2 * x; });
  CHECK_THROWS_WITH_AS(ad::hvp([&](std::span<const ad::Var> x) { return square(x[0]); }, {1.0}, {1.0}),
                       doctest::Contains("my_square"), std::logic_error);
}

TEST_CASE("the recording used for second derivatives is released with its tape") {
  // hvp opens and closes its own tape: the active tape is unchanged afterwards
  ad::Tape outer;
  ad::Var a = 2.0;
  const std::size_t before = outer.size();
  (void)ad::hvp([](std::span<const ad::Var> x) { return x[0] * x[0] * x[0]; }, {1.0}, {1.0});
  CHECK(outer.size() == before);
  CHECK(ad::Tape::active() == &outer);
  CHECK((a * 2.0).value() == 4.0);
}
