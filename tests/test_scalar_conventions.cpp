// The documented values and derivatives at points where an op is not
// differentiable (scalar_ops.hpp; the table is docs/conventions.md). Each
// convention is checked in every recorded form the op has.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include <autodiff/autodiff.hpp>

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

// d f(x) / dx at x0, from one sweep on a fresh tape.
template <class F>
double derivative_at(double x0, F f) {
  ad::Tape tape;
  const ad::Var x = x0;
  return ad::gradient(f(x), {x})[0];
}

// {d/da, d/db} of f(a, b) at (a0, b0) in the Var-Var form, and the same two
// partials from the Var-double and double-Var forms.
struct AllForms {
  double var_var_a, var_var_b, var_double_a, double_var_b;
};

template <class F>
AllForms partials_at(double a0, double b0, F f) {
  AllForms out{};
  ad::Tape tape;
  {
    const ad::Var a = a0, b = b0;
    const std::vector<double> g = ad::gradient(f(a, b), {a, b});
    out.var_var_a = g[0];
    out.var_var_b = g[1];
  }
  {
    const ad::Var a = a0;
    out.var_double_a = ad::gradient(f(a, b0), {a})[0];
  }
  {
    const ad::Var b = b0;
    out.double_var_b = ad::gradient(f(a0, b), {b})[0];
  }
  return out;
}

}  // namespace

TEST_CASE("abs has derivative 0 at 0, of either sign") {
  CHECK(derivative_at(0.0, [](const ad::Var& x) { return ad::abs(x); }) == 0.0);
  CHECK(derivative_at(-0.0, [](const ad::Var& x) { return ad::abs(x); }) == 0.0);
  CHECK(derivative_at(1e-300, [](const ad::Var& x) { return ad::abs(x); }) == 1.0);
  CHECK(derivative_at(-1e-300, [](const ad::Var& x) { return ad::abs(x); }) == -1.0);
}

TEST_CASE("relu is 0 with derivative 0 at 0") {
  ad::Tape tape;
  const ad::Var x = 0.0;
  const ad::Var y = ad::relu(x);
  CHECK(y.value() == 0.0);
  CHECK(ad::gradient(y, {x})[0] == 0.0);
  CHECK(derivative_at(1e-300, [](const ad::Var& v) { return ad::relu(v); }) == 1.0);
  CHECK(derivative_at(-1e-300, [](const ad::Var& v) { return ad::relu(v); }) == 0.0);
}

TEST_CASE("leaky_relu is 0 with derivative 0.01 at 0, as PyTorch's") {
  ad::Tape tape;
  const ad::Var x = 0.0;
  const ad::Var y = ad::leaky_relu(x);
  CHECK(y.value() == 0.0);
  CHECK(ad::gradient(y, {x})[0] == 0.01);
  CHECK(derivative_at(1e-300, [](const ad::Var& v) { return ad::leaky_relu(v); }) == 1.0);
  CHECK(derivative_at(-1e-300, [](const ad::Var& v) { return ad::leaky_relu(v); }) == 0.01);
  const ad::Tensor t = ad::Tensor::from({1}, {0.0}).requires_grad(true);
  ad::sum(ad::leaky_relu(t)).backward();
  CHECK(t.grad().values()[0] == 0.01);
}

TEST_CASE("elu is 0 with derivative 1 at 0, where both sides meet") {
  ad::Tape tape;
  const ad::Var x = 0.0;
  const ad::Var y = ad::elu(x);
  CHECK(y.value() == 0.0);
  CHECK(ad::gradient(y, {x})[0] == 1.0);
  CHECK(derivative_at(-1e-300, [](const ad::Var& v) { return ad::elu(v); }) == 1.0);
  const ad::Tensor t = ad::Tensor::from({1}, {0.0}).requires_grad(true);
  ad::sum(ad::elu(t)).backward();
  CHECK(t.grad().values()[0] == 1.0);
}

TEST_CASE("heaviside is 1 at 0 and 0 just below it") {
  ad::Tape tape;
  CHECK(ad::heaviside(ad::Var(0.0)).value() == 1.0);
  CHECK(ad::heaviside(ad::Var(-0.0)).value() == 1.0);
  CHECK(ad::heaviside(ad::Var(-1e-300)).value() == 0.0);
  CHECK(ad::heaviside(ad::Var(1e-300)).value() == 1.0);
  CHECK(ad::heaviside(0.0) == 1.0);  // the double overload agrees
}

TEST_CASE("heaviside has derivative 0 everywhere, the jump at 0 included") {
  for (const double x0 : {-1e9, -2.0, -1e-300, -0.0, 0.0, 1e-300, 0.5, 3.0, 1e9})
    CHECK(derivative_at(x0, [](const ad::Var& x) { return ad::heaviside(x); }) == 0.0);
}

TEST_CASE("min at a tie gives half the adjoint to each input in every form") {
  const AllForms d = partials_at(1.5, 1.5, [](const auto& a, const auto& b) { return ad::min(a, b); });
  CHECK(d.var_var_a == 0.5);
  CHECK(d.var_var_b == 0.5);
  CHECK(d.var_double_a == 0.5);
  CHECK(d.double_var_b == 0.5);
}

TEST_CASE("max at a tie gives half the adjoint to each input in every form") {
  const AllForms d = partials_at(-2.0, -2.0, [](const auto& a, const auto& b) { return ad::max(a, b); });
  CHECK(d.var_var_a == 0.5);
  CHECK(d.var_var_b == 0.5);
  CHECK(d.var_double_a == 0.5);
  CHECK(d.double_var_b == 0.5);
}

TEST_CASE("min and max of a Var with itself have derivative 1 (two halves)") {
  CHECK(derivative_at(0.7, [](const ad::Var& x) { return ad::min(x, x); }) == 1.0);
  CHECK(derivative_at(0.7, [](const ad::Var& x) { return ad::max(x, x); }) == 1.0);
}

TEST_CASE("sqrt and cbrt have derivative +inf at 0") {
  CHECK(derivative_at(0.0, [](const ad::Var& x) { return ad::sqrt(x); }) == inf);
  CHECK(derivative_at(0.0, [](const ad::Var& x) { return ad::cbrt(x); }) == inf);
}

TEST_CASE("a branch with adjoint 0 contributes 0, not NaN, through an infinite partial") {
  // y = 0 * sqrt(x) at x = 0: the sqrt node's adjoint is 0, and 0 * inf would
  // be NaN; the sweep skips nodes whose adjoint is 0.
  CHECK(derivative_at(0.0, [](const ad::Var& x) { return 0.0 * ad::sqrt(x) + x; }) == 1.0);
}

TEST_CASE("pow with exponent 0 has derivative 0 in its base, even at base 0") {
  for (const double a : {0.0, -0.0, -3.0, 2.5}) {
    INFO("pow(", a, ", 0)");
    const AllForms d = partials_at(a, 0.0, [](const auto& x, const auto& y) { return ad::pow(x, y); });
    CHECK(d.var_var_a == 0.0);
    CHECK(d.var_double_a == 0.0);
  }
}

TEST_CASE("pow at base 0 with a non-negative exponent has derivative 0 in its exponent") {
  for (const double b : {0.0, 0.5, 1.0, 2.0, 3.5}) {
    INFO("pow(0, ", b, ")");
    const AllForms d = partials_at(0.0, b, [](const auto& x, const auto& y) { return ad::pow(x, y); });
    CHECK(d.var_var_b == 0.0);
    CHECK(d.double_var_b == 0.0);
  }
}

TEST_CASE("pow at a negative base has a NaN derivative in its exponent") {
  for (const double b : {-2.0, 0.0, 1.0, 2.0, 3.0}) {
    INFO("pow(-2, ", b, ")");
    const AllForms d = partials_at(-2.0, b, [](const auto& x, const auto& y) { return ad::pow(x, y); });
    CHECK(std::isnan(d.var_var_b));
    CHECK(std::isnan(d.double_var_b));
    if (b != 0.0) {
      // The base derivative is still b a^(b-1) at integer exponents.
      CHECK(d.var_var_a == doctest::Approx(b * std::pow(-2.0, b - 1.0)));
      CHECK(d.var_double_a == doctest::Approx(b * std::pow(-2.0, b - 1.0)));
    }
  }
}

TEST_CASE("hypot at the origin is 0 with partials 0 in every form") {
  ad::Tape tape;
  CHECK(ad::hypot(ad::Var(0.0), ad::Var(0.0)).value() == 0.0);
  const AllForms d = partials_at(0.0, 0.0, [](const auto& a, const auto& b) { return ad::hypot(a, b); });
  CHECK(d.var_var_a == 0.0);
  CHECK(d.var_var_b == 0.0);
  CHECK(d.var_double_a == 0.0);
  CHECK(d.double_var_b == 0.0);
}

TEST_CASE("atan2 at the origin is 0 with partials 0 in every form") {
  ad::Tape tape;
  CHECK(ad::atan2(ad::Var(0.0), ad::Var(0.0)).value() == 0.0);
  const AllForms d = partials_at(0.0, 0.0, [](const auto& a, const auto& b) { return ad::atan2(a, b); });
  CHECK(d.var_var_a == 0.0);
  CHECK(d.var_var_b == 0.0);
  CHECK(d.var_double_a == 0.0);
  CHECK(d.double_var_b == 0.0);
}

TEST_CASE("atan2's zero-at-the-origin convention applies only at the origin, however small the point") {
  // At (t, t): d/da = t / (2 t^2) = 1 / (2t), d/db = -1 / (2t). For t = 1e-200,
  // a^2 + b^2 underflows to 0, yet the point is not the origin.
  for (const double t : {1e-200, 1e-160, 1e-100, 1e100, 1e200}) {
    INFO("atan2 at (", t, ", ", t, ")");
    const AllForms d = partials_at(t, t, [](const auto& a, const auto& b) { return ad::atan2(a, b); });
    const double expected = 0.5 / t;
    CHECK(d.var_var_a == doctest::Approx(expected).epsilon(1e-14));
    CHECK(d.var_var_b == doctest::Approx(-expected).epsilon(1e-14));
    CHECK(d.var_double_a == doctest::Approx(expected).epsilon(1e-14));
    CHECK(d.double_var_b == doctest::Approx(-expected).epsilon(1e-14));
  }
}

TEST_CASE("hypot's zero-at-the-origin convention applies only at the origin, however small the point") {
  for (const double t : {1e-300, 1e-200, 1e200}) {
    INFO("hypot at (", t, ", ", -t, ")");
    const AllForms d = partials_at(t, -t, [](const auto& a, const auto& b) { return ad::hypot(a, b); });
    CHECK(d.var_var_a == doctest::Approx(std::sqrt(0.5)));
    CHECK(d.var_var_b == doctest::Approx(-std::sqrt(0.5)));
    CHECK(d.var_double_a == doctest::Approx(std::sqrt(0.5)));
    CHECK(d.double_var_b == doctest::Approx(-std::sqrt(0.5)));
  }
}
