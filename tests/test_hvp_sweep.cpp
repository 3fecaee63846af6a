// ad::hvp sweeps forward over reverse on the recorded tape (hvp_sweep.cpp):
// each op's second-order term comes from its derivative formula run on dual
// numbers. Checked here against the recorded backward (gradient_recorded,
// then the gradient of its inner product with v), which builds the same
// numbers from recorded nodes, op by op over the whole table.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>

namespace {

using Function = std::function<ad::Var(std::span<const ad::Var>)>;

// H v by differentiating the recorded gradient: the reference.
std::vector<double> recorded_hvp(const Function& f, const std::vector<double>& x,
                                 const std::vector<double>& v) {
  ad::Tape tape;
  const std::vector<ad::Var> xs(x.begin(), x.end());
  const ad::Var y = f(xs);
  const std::vector<ad::Var> g = ad::gradient_recorded(y, xs);
  ad::Var g_dot_v = 0.0;
  for (std::size_t i = 0; i < g.size(); ++i) g_dot_v = g_dot_v + g[i] * v[i];
  if (g_dot_v.is_constant()) return std::vector<double>(x.size(), 0.0);
  return ad::gradient(g_dot_v, xs);
}

void check_against_recorded(const Function& f, const std::vector<double>& x, const std::vector<double>& v) {
  const std::vector<double> expected = recorded_hvp(f, x, v);
  const std::vector<double> hv = ad::hvp(f, x, v);
  REQUIRE(hv.size() == expected.size());
  for (std::size_t i = 0; i < hv.size(); ++i) {
    CAPTURE(i);
    CHECK(hv[i] == doctest::Approx(expected[i]).epsilon(1e-12).scale(1e-12));
  }
}

const std::vector<double> point = {0.35, -0.8, 1.2};
const std::vector<double> direction = {0.5, -1.25, 0.75};

}  // namespace

TEST_CASE("every unary op: hvp equals the recorded backward's H v") {
  for (int c = 0; c < ad::op_code_count; ++c) {
    const auto code = static_cast<ad::OpCode>(c);
    if (ad::op_info(code).operands != ad::OperandKinds::var || code == ad::OpCode::custom_unary) continue;
    if (code == ad::OpCode::trigamma) continue;  // no second derivative (next test case)
    CAPTURE(std::string(ad::op_info(code).name));
    // u in (0.1, 0.5): inside every op's domain (asin, log, lgamma, ...), away from kinks.
    const Function f = [code](std::span<const ad::Var> x) {
      const ad::Var u = 0.3 + 0.2 * ad::sin(x[0] * x[1] + x[2]);
      const ad::Var y = ad::apply_unary(code, u);
      return y * y * x[2] + y * x[0];
    };
    check_against_recorded(f, point, direction);
  }
}

TEST_CASE("every binary op, with two Vars and with a constant on either side") {
  struct Binary {
    const char* name;
    std::function<ad::Var(const ad::Var&, const ad::Var&)> var_var;
    std::function<ad::Var(const ad::Var&, double)> var_constant;
    std::function<ad::Var(double, const ad::Var&)> constant_var;
  };
#define AD_TEST_BINARY(label, expression)                                 \
  Binary {                                                                \
    label, [](const ad::Var& a, const ad::Var& b) { return expression; }, \
        [](const ad::Var& a, double b) { return expression; },            \
        [](double a, const ad::Var& b) { return expression; }             \
  }
  const std::vector<Binary> ops = {
      AD_TEST_BINARY("add", a + b),
      AD_TEST_BINARY("sub", a - b),
      AD_TEST_BINARY("mul", a * b),
      AD_TEST_BINARY("div", a / b),
      AD_TEST_BINARY("pow", ad::pow(a, b)),
      AD_TEST_BINARY("atan2", ad::atan2(a, b)),
      AD_TEST_BINARY("hypot", ad::hypot(a, b)),
      AD_TEST_BINARY("min", ad::min(a, b)),
      AD_TEST_BINARY("max", ad::max(a, b)),
  };
#undef AD_TEST_BINARY
  for (const Binary& op : ops) {
    CAPTURE(std::string(op.name));
    const Function f = [&op](std::span<const ad::Var> x) {
      const ad::Var a = 0.6 + 0.3 * ad::sin(x[0] * x[2]);
      const ad::Var b = 1.1 + 0.2 * ad::cos(x[1] + x[0]);
      const ad::Var both = op.var_var(a, b);
      const ad::Var right = op.var_constant(a, 1.3);
      const ad::Var left = op.constant_var(0.7, b);
      return both * both * x[1] + right * right * x[0] + left * left * x[2] + both * left;
    };
    check_against_recorded(f, point, direction);
  }
}

TEST_CASE("reductions in both layouts, literals and inputs the output does not depend on") {
  const Function f = [](std::span<const ad::Var> x) {
    std::vector<ad::Var> u, w;
    for (std::size_t i = 0; i < 4; ++i) u.push_back(ad::sin(x[i % 3] * double(i + 1)));  // a run
    for (std::size_t i = 0; i < 4; ++i) w.push_back(x[(i + 1) % 3] * x[i % 3]);          // a run
    const std::vector<ad::Var> listed = {u[2], x[0], w[1], u[0]};                        // a list
    const ad::Var literal = 2.5;  // a leaf that is not an input
    return ad::dot(u, w) * ad::sum(listed) + ad::squared_norm(u) * literal + ad::logsumexp(w) * ad::sum(w) +
           ad::logsumexp(listed) * ad::squared_norm(listed) +
           ad::dot(std::span<const ad::Var>(listed),
                   std::span<const double>(std::vector<double>{1, -2, 3, 0.5})) *
               x[1];
  };
  check_against_recorded(f, point, direction);
  // an input the output ignores gets 0; a constant output gives zeros
  const std::vector<double> x = {0.2, 0.3}, v = {1.0, 1.0};
  CHECK(ad::hvp([](std::span<const ad::Var> xs) { return xs[0] * xs[0] * xs[0]; }, x, v) ==
        std::vector<double>{6 * 0.2, 0.0});
  CHECK(ad::hvp([](std::span<const ad::Var>) { return ad::Var::constant(1.0); }, x, v) ==
        std::vector<double>{0.0, 0.0});
}

TEST_CASE("hvp is linear in the direction and symmetric: u . H v = v . H u") {
  const Function f = [](std::span<const ad::Var> x) {
    return ad::exp(x[0] * x[1]) / (1.0 + x[2] * x[2]) + ad::log1p(ad::tanh(x[1]) * ad::tanh(x[1])) * x[0];
  };
  const std::vector<double> u = {1.0, 0.5, -0.25};
  const std::vector<double> hu = ad::hvp(f, point, u), hv = ad::hvp(f, point, direction);
  double u_h_v = 0, v_h_u = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    u_h_v += u[i] * hv[i];
    v_h_u += direction[i] * hu[i];
  }
  CHECK(u_h_v == doctest::Approx(v_h_u).epsilon(1e-13));
  std::vector<double> twice = direction;
  for (double& e : twice) e *= 2.0;
  const std::vector<double> h2v = ad::hvp(f, point, twice);
  for (std::size_t i = 0; i < 3; ++i) CHECK(h2v[i] == doctest::Approx(2.0 * hv[i]).epsilon(1e-14));
}

TEST_CASE("what has no second derivative throws, naming it") {
  const ad::CustomOp cube(
      "my_cube", [](double x) { return x * x * x; }, [](double x, double) { return 3 * x * x; });
  CHECK_THROWS_WITH_AS(
      ad::hvp([&](std::span<const ad::Var> x) { return cube(x[0]) * x[1]; }, {1.0, 2.0}, {1.0, 0.0}),
      doctest::Contains("ad::hvp: node 2 is the user-defined op 'my_cube'"), std::logic_error);
  CHECK_THROWS_WITH_AS(ad::hvp([](std::span<const ad::Var> x) { return ad::trigamma(x[0]); }, {0.7}, {1.0}),
                       doctest::Contains("the derivative of trigamma (polygamma(2, x))"), std::logic_error);
  CHECK_THROWS_WITH_AS(ad::hvp([](std::span<const ad::Var> x) { return x[0]; }, {1.0, 2.0}, {1.0}),
                       doctest::Contains("direction has 1 entries for 2 inputs"), std::invalid_argument);
}
