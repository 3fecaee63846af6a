#include <doctest/doctest.h>

#include <cmath>

#include <autodiff/autodiff.hpp>

TEST_CASE("the README's scalar example differentiates to the hand-derived gradient") {
  ad::Tape tape;
  ad::Var x = 0.5, y = 2.0;
  ad::Var f = ad::sin(x) * y + ad::exp(x / y) - 3.0 * ad::pow(x, 2.0);
  const std::vector<double> g = ad::gradient(f, {x, y});
  const double xv = 0.5, yv = 2.0;
  CHECK(f.value() == doctest::Approx(std::sin(xv) * yv + std::exp(xv / yv) - 3.0 * xv * xv));
  CHECK(g[0] == doctest::Approx(std::cos(xv) * yv + std::exp(xv / yv) / yv - 6.0 * xv).epsilon(1e-14));
  CHECK(g[1] == doctest::Approx(std::sin(xv) - std::exp(xv / yv) * xv / (yv * yv)).epsilon(1e-14));
}
