// ad::jacobian and ad::gradient overloads that reuse the caller's tape and
// output buffers (higher_order.hpp; issue 18, item 2): the same numbers as the
// allocating forms, no growth after the first call, and a defined treatment
// of the tape they are given (cleared first; it must be the recording one).
#include <doctest/doctest.h>

#include <cmath>
#include <span>
#include <stdexcept>
#include <vector>

#include <autodiff/autodiff.hpp>

namespace {

std::vector<ad::Var> F(std::span<const ad::Var> x) {
  return {x[0] * ad::cos(x[1]) * x[2], x[0] * ad::sin(x[1]) + x[2] * x[2], ad::exp(x[0] * 0.1) - x[1] * x[2]};
}

ad::Var f(std::span<const ad::Var> x) {
  ad::Var s = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i)
    s += ad::lgamma(x[i]) * double(i + 1) + x[i] * x[(i + 1) % x.size()];
  return s;
}

std::vector<double> point(std::size_t n, double shift) {
  std::vector<double> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = 0.5 + 0.25 * double(i) + shift;
  return x;
}

}  // namespace

TEST_CASE("the reusing jacobian and gradient give the same numbers as the allocating forms") {
  ad::Tape tape;
  std::vector<std::vector<double>> J;
  for (double shift : {0.0, 0.3, -0.2}) {
    const std::vector<double> x = point(3, shift);
    ad::jacobian(F, x, tape, J);
    CHECK(J == ad::jacobian(F, x));
  }
  for (std::size_t n : {1u, 3u, 16u, 17u, 40u}) {  // leaves on the stack up to 16, in a vector beyond
    CAPTURE(n);
    const std::vector<double> x = point(n, 0.1);
    std::vector<double> g(n);
    const double value = ad::gradient(f, x, tape, g);
    ad::Tape fresh;
    const std::vector<ad::Var> xs(x.begin(), x.end());
    const ad::Var y = f(xs);
    CHECK(value == y.value());
    CHECK(g == ad::gradient(y, xs));
  }
}

TEST_CASE("after the first call the reusing overloads grow neither the tape nor the outputs") {
  ad::Tape tape;
  std::vector<std::vector<double>> J;
  std::vector<double> g(3);
  ad::jacobian(F, point(3, 0.0), tape, J);
  (void)ad::gradient(f, point(3, 0.0), tape, g);
  const std::size_t tape_capacity = tape.capacity();
  const double* rows = J[0].data();
  const std::vector<std::size_t> row_capacities{J[0].capacity(), J[1].capacity(), J[2].capacity()};
  const std::vector<const double*> row_data{J[0].data(), J[1].data(), J[2].data()};
  const std::size_t J_capacity = J.capacity();
  const double* g_data = g.data();
  for (int call = 1; call <= 200; ++call) {
    const std::vector<double> x = point(3, 0.001 * call);
    ad::jacobian(F, x, tape, J);
    (void)ad::gradient(f, x, tape, g);
    REQUIRE(J.size() == 3);
    CHECK(J.capacity() == J_capacity);
    for (std::size_t r = 0; r < 3; ++r) {
      CHECK(J[r].capacity() == row_capacities[r]);
      CHECK(J[r].data() == row_data[r]);
    }
    CHECK(tape.capacity() == tape_capacity);
    CHECK(g.data() == g_data);
  }
  CHECK(J[0].data() == rows);
}

TEST_CASE("the reusing overloads clear the tape they are given: its earlier Vars are stale afterwards") {
  ad::Tape tape;
  const ad::Var earlier = 2.0;
  const ad::Var product = earlier * earlier;
  std::vector<std::vector<double>> J;
  ad::jacobian(F, point(3, 0.0), tape, J);
  CHECK_THROWS_AS((void)(product + 1.0), std::logic_error);
  CHECK_THROWS_AS((void)ad::gradient(product, {earlier}), std::logic_error);
  // the recording of F stays on the tape until the next clear: 3 leaves and F's nodes
  const std::size_t nodes = tape.size();
  CHECK(nodes > 3);
  ad::jacobian(F, point(3, 0.5), tape, J);
  CHECK(tape.size() == nodes);  // cleared, then the same recording again
  // the tape records on as usual afterwards
  const ad::Var z = 3.0;
  CHECK(ad::gradient(z * z, {z})[0] == 6.0);
}

TEST_CASE("the reusing overloads refuse a tape that is not the one recording on this thread") {
  ad::Tape outer;
  std::vector<std::vector<double>> J;
  std::vector<double> g(3);
  {
    ad::Tape inner;
    CHECK_THROWS_WITH_AS(
        ad::jacobian(F, point(3, 0.0), outer, J),
        doctest::Contains("ad::jacobian: the tape given must be the one recording on this thread"),
        std::logic_error);
    CHECK(outer.size() == 0);  // left as it was
  }
  {
    const ad::NoGrad off;
    CHECK_THROWS_WITH_AS((void)ad::gradient(f, point(3, 0.0), outer, g),
                         doctest::Contains("ad::gradient: the tape given must be the one recording"),
                         std::logic_error);
  }
  CHECK_NOTHROW(ad::jacobian(F, point(3, 0.0), outer, J));
}

TEST_CASE("the reusing gradient checks the size of its output span") {
  ad::Tape tape;
  std::vector<double> g(2);
  CHECK_THROWS_WITH_AS((void)ad::gradient(f, point(3, 0.0), tape, g),
                       "ad::gradient: the gradient span holds 2 values for 3 inputs", std::invalid_argument);
}

TEST_CASE("a constant output row of the reusing jacobian is 0") {
  ad::Tape tape;
  std::vector<std::vector<double>> J{{7.0, 7.0}};  // old contents are overwritten
  ad::jacobian(
      [](std::span<const ad::Var> x) {
        return std::vector<ad::Var>{ad::Var::constant(1.0), x[0] * x[1]};
      },
      std::vector<double>{2.0, 3.0}, tape, J);
  CHECK(J == std::vector<std::vector<double>>{{0.0, 0.0}, {3.0, 2.0}});
}
