// Every scalar op of the Var contract, checked as a table: its value against
// <cmath>, its derivative against the analytic formula (written out here, not
// taken from ad::ops) and against central finite differences, at 24
// deterministic points of its domain. Binary ops are checked in all three
// forms (Var-Var, Var-double, double-Var) and for both partials.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <autodiff/autodiff.hpp>

namespace {

constexpr int points_per_op = 24;
// The analytic formulas here and in scalar_ops.hpp may be written differently
// (tan' = 1/cos^2 here, 1 + tan^2 there): they agree to a few ulps.
constexpr double analytic_tolerance = 1e-12;
// Central differences with h ~ 1e-5 have truncation error ~ h^2 f''' / 6.
constexpr double difference_tolerance = 1e-6;

// Points drawn from a fixed-seed std::mt19937_64, whose output sequence the
// standard specifies, mapped to [lo, hi) through 53 bits: the same points on
// every platform.
class PointSource {
 public:
  explicit PointSource(std::uint64_t seed) : engine_(seed) {}
  double uniform(double lo, double hi) {
    const double u = static_cast<double>(engine_() >> 11) * 0x1.0p-53;
    return lo + (hi - lo) * u;
  }

 private:
  std::mt19937_64 engine_;
};

// (f(x + h) - f(x - h)) / (2h), dividing by the step actually taken.
template <class F>
double central_difference(F f, double x) {
  const double h = 1e-5 * std::max(1.0, std::fabs(x));
  const double above = x + h, below = x - h;
  return (f(above) - f(below)) / (above - below);
}

bool near(double x, double point, double margin) { return std::fabs(x - point) < margin; }

// ---- unary ops ----------------------------------------------------------------

struct UnaryCase {
  std::string_view name;  // the op's name on the tape
  ad::Var (*on_var)(const ad::Var&);
  double (*reference)(double);   // the value, from <cmath>
  double (*derivative)(double);  // the analytic derivative
  double lo, hi;                 // the sampled part of the domain
  bool has_kink;                 // points within 0.01 of 0 are not sampled
};

const UnaryCase unary_cases[] = {
    {"neg", [](const ad::Var& x) { return -x; }, [](double x) { return -x; }, [](double) { return -1.0; },
     -5.0, 5.0, false},
    {"sin", [](const ad::Var& x) { return ad::sin(x); }, [](double x) { return std::sin(x); },
     [](double x) { return std::cos(x); }, -6.0, 6.0, false},
    {"cos", [](const ad::Var& x) { return ad::cos(x); }, [](double x) { return std::cos(x); },
     [](double x) { return -std::sin(x); }, -6.0, 6.0, false},
    {"tan", [](const ad::Var& x) { return ad::tan(x); }, [](double x) { return std::tan(x); },
     [](double x) { return 1.0 / (std::cos(x) * std::cos(x)); }, -1.4, 1.4, false},
    {"asin", [](const ad::Var& x) { return ad::asin(x); }, [](double x) { return std::asin(x); },
     [](double x) { return 1.0 / std::sqrt(1.0 - x * x); }, -0.95, 0.95, false},
    {"acos", [](const ad::Var& x) { return ad::acos(x); }, [](double x) { return std::acos(x); },
     [](double x) { return -1.0 / std::sqrt(1.0 - x * x); }, -0.95, 0.95, false},
    {"atan", [](const ad::Var& x) { return ad::atan(x); }, [](double x) { return std::atan(x); },
     [](double x) { return 1.0 / (1.0 + x * x); }, -5.0, 5.0, false},
    {"sinh", [](const ad::Var& x) { return ad::sinh(x); }, [](double x) { return std::sinh(x); },
     [](double x) { return std::cosh(x); }, -4.0, 4.0, false},
    {"cosh", [](const ad::Var& x) { return ad::cosh(x); }, [](double x) { return std::cosh(x); },
     [](double x) { return std::sinh(x); }, -4.0, 4.0, false},
    {"tanh", [](const ad::Var& x) { return ad::tanh(x); }, [](double x) { return std::tanh(x); },
     [](double x) { return 1.0 / (std::cosh(x) * std::cosh(x)); }, -4.0, 4.0, false},
    {"exp", [](const ad::Var& x) { return ad::exp(x); }, [](double x) { return std::exp(x); },
     [](double x) { return std::exp(x); }, -5.0, 5.0, false},
    {"expm1", [](const ad::Var& x) { return ad::expm1(x); }, [](double x) { return std::expm1(x); },
     [](double x) { return std::exp(x); }, -4.0, 4.0, false},
    {"log", [](const ad::Var& x) { return ad::log(x); }, [](double x) { return std::log(x); },
     [](double x) { return 1.0 / x; }, 0.05, 10.0, false},
    {"log1p", [](const ad::Var& x) { return ad::log1p(x); }, [](double x) { return std::log1p(x); },
     [](double x) { return 1.0 / (1.0 + x); }, -0.95, 10.0, false},
    {"sqrt", [](const ad::Var& x) { return ad::sqrt(x); }, [](double x) { return std::sqrt(x); },
     [](double x) { return 0.5 / std::sqrt(x); }, 0.01, 9.0, false},
    // d/dx x^(1/3) = (1/3) |x|^(-2/3) on both sides of 0 (infinite at 0).
    {"cbrt", [](const ad::Var& x) { return ad::cbrt(x); }, [](double x) { return std::cbrt(x); },
     [](double x) { return std::pow(std::fabs(x), -2.0 / 3.0) / 3.0; }, -3.0, 3.0, true},
    {"abs", [](const ad::Var& x) { return ad::abs(x); }, [](double x) { return std::fabs(x); },
     [](double x) { return x > 0.0 ? 1.0 : -1.0; }, -3.0, 3.0, true},
    {"erf", [](const ad::Var& x) { return ad::erf(x); }, [](double x) { return std::erf(x); },
     [](double x) { return 2.0 / std::sqrt(std::numbers::pi) * std::exp(-x * x); }, -3.0, 3.0, false},
    // sigma(x) = 1 / (1 + e^-x), sigma'(x) = e^-x / (1 + e^-x)^2.
    {"logistic", [](const ad::Var& x) { return ad::logistic(x); },
     [](double x) { return 1.0 / (1.0 + std::exp(-x)); },
     [](double x) { return std::exp(-x) / ((1.0 + std::exp(-x)) * (1.0 + std::exp(-x))); }, -8.0, 8.0,
     false},
    // softsign' is continuous, but softsign'' jumps at 0, which spoils the
    // central difference there.
    {"softsign", [](const ad::Var& x) { return ad::softsign(x); },
     [](double x) { return x / (1.0 + std::fabs(x)); },
     [](double x) { return 1.0 / ((1.0 + std::fabs(x)) * (1.0 + std::fabs(x))); }, -5.0, 5.0, true},
    {"heaviside", [](const ad::Var& x) { return ad::heaviside(x); },
     [](double x) { return x >= 0.0 ? 1.0 : 0.0; }, [](double) { return 0.0; }, -3.0, 3.0, true},
    {"relu", [](const ad::Var& x) { return ad::relu(x); }, [](double x) { return x > 0.0 ? x : 0.0; },
     [](double x) { return x > 0.0 ? 1.0 : 0.0; }, -3.0, 3.0, true},
    // log(1 + e^x), written with log1p so that the reference keeps its digits for x < 0.
    {"softplus", [](const ad::Var& x) { return ad::softplus(x); },
     [](double x) { return std::log1p(std::exp(x)); }, [](double x) { return 1.0 / (1.0 + std::exp(-x)); },
     -8.0, 8.0, false},
    {"leaky_relu", [](const ad::Var& x) { return ad::leaky_relu(x); },
     [](double x) { return x > 0.0 ? x : 0.01 * x; }, [](double x) { return x > 0.0 ? 1.0 : 0.01; }, -3.0,
     3.0, true},
    // elu' is continuous at 0 (alpha = 1), elu'' is not.
    {"elu", [](const ad::Var& x) { return ad::elu(x); }, [](double x) { return x > 0.0 ? x : std::expm1(x); },
     [](double x) { return x > 0.0 ? 1.0 : std::exp(x); }, -3.0, 3.0, true},
    // x/2 (1 + tanh(u)) = x / (1 + e^-2u), u = sqrt(2/pi) (x + 0.044715 x^3): the second form as
    // the value (the first loses digits to cancellation for x < 0), the first in the derivative.
    {"gelu", [](const ad::Var& x) { return ad::gelu(x); },
     [](double x) {
       const double u = std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x);
       return x / (1.0 + std::exp(-2.0 * u));
     },
     [](double x) {
       const double t = std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x));
       return 0.5 * (1.0 + t) +
              0.5 * x * (1.0 - t * t) * std::sqrt(2.0 / std::numbers::pi) * (1.0 + 3.0 * 0.044715 * x * x);
     },
     -3.0, 3.0, false},
    {"silu", [](const ad::Var& x) { return ad::silu(x); }, [](double x) { return x / (1.0 + std::exp(-x)); },
     [](double x) {
       const double s = 1.0 / (1.0 + std::exp(-x));
       return s * (1.0 + x * (1.0 - s));
     },
     -8.0, 8.0, false},
};

std::vector<double> sample(const UnaryCase& c, std::uint64_t seed) {
  PointSource source(seed);
  std::vector<double> xs;
  while (static_cast<int>(xs.size()) < points_per_op) {
    const double x = source.uniform(c.lo, c.hi);
    if (c.has_kink && near(x, 0.0, 0.01)) continue;
    xs.push_back(x);
  }
  return xs;
}

// dy/dx recorded and swept on `tape` (cleared first).
double tape_derivative(ad::Tape& tape, const UnaryCase& c, double x0) {
  tape.clear();
  const ad::Var x = x0;
  const ad::Var y = c.on_var(x);
  return ad::gradient(y, {x})[0];
}

TEST_CASE("every unary function records one node of its own op and leaves the value of <cmath>") {
  ad::Tape tape;
  std::uint64_t seed = 1;
  for (const UnaryCase& c : unary_cases) {
    for (const double x0 : sample(c, seed++)) {
      INFO(c.name, "(", x0, ")");
      tape.clear();
      const ad::Var x = x0;
      const ad::Var y = c.on_var(x);
      CHECK(tape.size() == 2);
      CHECK(ad::op_info(tape.node(y.id()).op).name == c.name);
      CHECK(y.value() == doctest::Approx(c.reference(x0)).epsilon(1e-15));
    }
  }
}

TEST_CASE("every unary function's derivative equals its analytic formula at 24 points") {
  ad::Tape tape;
  std::uint64_t seed = 1;
  for (const UnaryCase& c : unary_cases) {
    for (const double x0 : sample(c, seed++)) {
      INFO(c.name, "'(", x0, ")");
      CHECK(tape_derivative(tape, c, x0) == doctest::Approx(c.derivative(x0)).epsilon(analytic_tolerance));
    }
  }
}

TEST_CASE("every unary function's derivative agrees with central differences away from kinks") {
  ad::Tape tape;
  std::uint64_t seed = 1;
  for (const UnaryCase& c : unary_cases) {
    for (const double x0 : sample(c, seed++)) {
      INFO(c.name, "'(", x0, ")");
      const double difference = central_difference(c.reference, x0);
      CHECK(tape_derivative(tape, c, x0) == doctest::Approx(difference).epsilon(difference_tolerance));
    }
  }
}

// ---- binary ops -----------------------------------------------------------------

struct BinaryCase {
  std::string_view name;  // the op's name on the tape
  ad::Var (*var_var)(const ad::Var&, const ad::Var&);
  ad::Var (*var_double)(const ad::Var&, double);
  ad::Var (*double_var)(double, const ad::Var&);
  double (*reference)(double, double);
  double (*d_a)(double, double);  // analytic partials
  double (*d_b)(double, double);
  double a_lo, a_hi, b_lo, b_hi;
  bool (*excluded)(double, double);  // kinks, poles and branch cuts: not sampled
};

bool nothing_excluded(double, double) { return false; }

const BinaryCase binary_cases[] = {
    {"add", [](const ad::Var& a, const ad::Var& b) { return a + b; },
     [](const ad::Var& a, double b) { return a + b; }, [](double a, const ad::Var& b) { return a + b; },
     [](double a, double b) { return a + b; }, [](double, double) { return 1.0; },
     [](double, double) { return 1.0; }, -5.0, 5.0, -5.0, 5.0, nothing_excluded},
    {"sub", [](const ad::Var& a, const ad::Var& b) { return a - b; },
     [](const ad::Var& a, double b) { return a - b; }, [](double a, const ad::Var& b) { return a - b; },
     [](double a, double b) { return a - b; }, [](double, double) { return 1.0; },
     [](double, double) { return -1.0; }, -5.0, 5.0, -5.0, 5.0, nothing_excluded},
    {"mul", [](const ad::Var& a, const ad::Var& b) { return a * b; },
     [](const ad::Var& a, double b) { return a * b; }, [](double a, const ad::Var& b) { return a * b; },
     [](double a, double b) { return a * b; }, [](double, double b) { return b; },
     [](double a, double) { return a; }, -5.0, 5.0, -5.0, 5.0, nothing_excluded},
    {"div", [](const ad::Var& a, const ad::Var& b) { return a / b; },
     [](const ad::Var& a, double b) { return a / b; }, [](double a, const ad::Var& b) { return a / b; },
     [](double a, double b) { return a / b; }, [](double, double b) { return 1.0 / b; },
     [](double a, double b) { return -a / (b * b); }, -5.0, 5.0, -3.0, 3.0,
     [](double, double b) { return near(b, 0.0, 0.3); }},
    // d/da a^b = b a^(b-1), d/db a^b = a^b ln a (a > 0 here).
    {"pow", [](const ad::Var& a, const ad::Var& b) { return ad::pow(a, b); },
     [](const ad::Var& a, double b) { return ad::pow(a, b); },
     [](double a, const ad::Var& b) { return ad::pow(a, b); }, [](double a, double b) { return std::pow(a, b); },
     [](double a, double b) { return b * std::pow(a, b - 1.0); },
     [](double a, double b) { return std::pow(a, b) * std::log(a); }, 0.1, 3.0, -2.5, 2.5, nothing_excluded},
    // atan2(a, b) is the angle of (b, a): d/da = b / r^2, d/db = -a / r^2. The
    // value jumps by 2 pi across the negative b axis, so points near it are
    // not sampled (the derivative is continuous there, the difference is not).
    {"atan2", [](const ad::Var& a, const ad::Var& b) { return ad::atan2(a, b); },
     [](const ad::Var& a, double b) { return ad::atan2(a, b); },
     [](double a, const ad::Var& b) { return ad::atan2(a, b); },
     [](double a, double b) { return std::atan2(a, b); }, [](double a, double b) { return b / (a * a + b * b); },
     [](double a, double b) { return -a / (a * a + b * b); }, -3.0, 3.0, -3.0, 3.0,
     [](double a, double b) { return std::hypot(a, b) < 0.1 || (b < 0.0 && near(a, 0.0, 0.05)); }},
    {"hypot", [](const ad::Var& a, const ad::Var& b) { return ad::hypot(a, b); },
     [](const ad::Var& a, double b) { return ad::hypot(a, b); },
     [](double a, const ad::Var& b) { return ad::hypot(a, b); },
     [](double a, double b) { return std::sqrt(a * a + b * b); },
     [](double a, double b) { return a / std::sqrt(a * a + b * b); },
     [](double a, double b) { return b / std::sqrt(a * a + b * b); }, -3.0, 3.0, -3.0, 3.0,
     [](double a, double b) { return std::hypot(a, b) < 0.1; }},
    {"min", [](const ad::Var& a, const ad::Var& b) { return ad::min(a, b); },
     [](const ad::Var& a, double b) { return ad::min(a, b); },
     [](double a, const ad::Var& b) { return ad::min(a, b); }, [](double a, double b) { return std::min(a, b); },
     [](double a, double b) { return a < b ? 1.0 : 0.0; }, [](double a, double b) { return b < a ? 1.0 : 0.0; },
     -3.0, 3.0, -3.0, 3.0, [](double a, double b) { return near(a, b, 0.01); }},
    {"max", [](const ad::Var& a, const ad::Var& b) { return ad::max(a, b); },
     [](const ad::Var& a, double b) { return ad::max(a, b); },
     [](double a, const ad::Var& b) { return ad::max(a, b); }, [](double a, double b) { return std::max(a, b); },
     [](double a, double b) { return a > b ? 1.0 : 0.0; }, [](double a, double b) { return b > a ? 1.0 : 0.0; },
     -3.0, 3.0, -3.0, 3.0, [](double a, double b) { return near(a, b, 0.01); }},
};

struct Point2 {
  double a, b;
};

std::vector<Point2> sample(const BinaryCase& c, std::uint64_t seed) {
  PointSource source(seed);
  std::vector<Point2> points;
  while (static_cast<int>(points.size()) < points_per_op) {
    const double a = source.uniform(c.a_lo, c.a_hi);
    const double b = source.uniform(c.b_lo, c.b_hi);
    if (c.excluded(a, b)) continue;
    points.push_back({a, b});
  }
  return points;
}

// The three recorded forms of one binary op at one point: {d/da, d/db} from the
// Var-Var form, d/da from Var-double, d/db from double-Var; each checked for
// value and op name on the way.
struct Partials {
  double var_var_a, var_var_b, var_double_a, double_var_b;
};

Partials tape_partials(ad::Tape& tape, const BinaryCase& c, Point2 p) {
  Partials out{};
  const double expected_value = c.reference(p.a, p.b);
  {
    tape.clear();
    const ad::Var a = p.a, b = p.b;
    const ad::Var y = c.var_var(a, b);
    CHECK(y.value() == doctest::Approx(expected_value).epsilon(1e-15));
    CHECK(tape.size() == 3);
    const ad::NodeView node = tape.node(y.id());
    CHECK(ad::op_info(node.op).name == c.name);
    CHECK(node.input_count == 2);
    const std::vector<double> g = ad::gradient(y, {a, b});
    out.var_var_a = g[0];
    out.var_var_b = g[1];
  }
  {
    tape.clear();
    const ad::Var a = p.a;
    const ad::Var y = c.var_double(a, p.b);
    CHECK(y.value() == doctest::Approx(expected_value).epsilon(1e-15));
    const ad::NodeView node = tape.node(y.id());
    CHECK(ad::op_info(node.op).name == c.name);
    CHECK(node.has_constant);
    CHECK_FALSE(node.constant_is_left);
    CHECK(node.constant == p.b);
    out.var_double_a = ad::gradient(y, {a})[0];
  }
  {
    tape.clear();
    const ad::Var b = p.b;
    const ad::Var y = c.double_var(p.a, b);
    CHECK(y.value() == doctest::Approx(expected_value).epsilon(1e-15));
    const ad::NodeView node = tape.node(y.id());
    CHECK(ad::op_info(node.op).name == c.name);
    CHECK(node.has_constant);
    CHECK(node.constant_is_left);
    CHECK(node.constant == p.a);
    out.double_var_b = ad::gradient(y, {b})[0];
  }
  return out;
}

TEST_CASE("every binary op's partials equal the analytic formulas in all three forms at 24 points") {
  ad::Tape tape;
  std::uint64_t seed = 100;
  for (const BinaryCase& c : binary_cases) {
    for (const Point2 p : sample(c, seed++)) {
      INFO(c.name, "(", p.a, ", ", p.b, ")");
      const Partials d = tape_partials(tape, c, p);
      const double d_a = c.d_a(p.a, p.b), d_b = c.d_b(p.a, p.b);
      CHECK(d.var_var_a == doctest::Approx(d_a).epsilon(analytic_tolerance));
      CHECK(d.var_var_b == doctest::Approx(d_b).epsilon(analytic_tolerance));
      CHECK(d.var_double_a == doctest::Approx(d_a).epsilon(analytic_tolerance));
      CHECK(d.double_var_b == doctest::Approx(d_b).epsilon(analytic_tolerance));
    }
  }
}

TEST_CASE("every binary op's partials agree with central differences in all three forms") {
  ad::Tape tape;
  std::uint64_t seed = 100;
  for (const BinaryCase& c : binary_cases) {
    for (const Point2 p : sample(c, seed++)) {
      INFO(c.name, "(", p.a, ", ", p.b, ")");
      const Partials d = tape_partials(tape, c, p);
      const double d_a = central_difference([&](double a) { return c.reference(a, p.b); }, p.a);
      const double d_b = central_difference([&](double b) { return c.reference(p.a, b); }, p.b);
      CHECK(d.var_var_a == doctest::Approx(d_a).epsilon(difference_tolerance));
      CHECK(d.var_var_b == doctest::Approx(d_b).epsilon(difference_tolerance));
      CHECK(d.var_double_a == doctest::Approx(d_a).epsilon(difference_tolerance));
      CHECK(d.double_var_b == doctest::Approx(d_b).epsilon(difference_tolerance));
    }
  }
}

TEST_CASE("pow with an integer exponent differentiates in its base at negative bases") {
  ad::Tape tape;
  PointSource source(7);
  for (const double exponent : {-2.0, -1.0, 2.0, 3.0, 5.0}) {
    for (int i = 0; i < points_per_op; ++i) {
      const double a0 = source.uniform(-3.0, -0.2);
      INFO("pow(", a0, ", ", exponent, ")");
      tape.clear();
      const ad::Var a = a0;
      const ad::Var y = ad::pow(a, exponent);
      CHECK(y.value() == doctest::Approx(std::pow(a0, exponent)).epsilon(1e-15));
      const double d = ad::gradient(y, {a})[0];
      CHECK(d == doctest::Approx(exponent * std::pow(a0, exponent - 1.0)).epsilon(analytic_tolerance));
      CHECK(d == doctest::Approx(central_difference([&](double x) { return std::pow(x, exponent); }, a0))
                     .epsilon(difference_tolerance));
    }
  }
}

// ---- compound assignment ----------------------------------------------------------

struct CompoundCase {
  std::string_view name;
  void (*with_var)(ad::Var&, const ad::Var&);
  void (*with_double)(ad::Var&, double);
  double (*reference)(double, double);
  double (*d_a)(double, double);
  double (*d_b)(double, double);
};

const CompoundCase compound_cases[] = {
    {"+=", [](ad::Var& a, const ad::Var& b) { a += b; }, [](ad::Var& a, double b) { a += b; },
     [](double a, double b) { return a + b; }, [](double, double) { return 1.0; },
     [](double, double) { return 1.0; }},
    {"-=", [](ad::Var& a, const ad::Var& b) { a -= b; }, [](ad::Var& a, double b) { a -= b; },
     [](double a, double b) { return a - b; }, [](double, double) { return 1.0; },
     [](double, double) { return -1.0; }},
    {"*=", [](ad::Var& a, const ad::Var& b) { a *= b; }, [](ad::Var& a, double b) { a *= b; },
     [](double a, double b) { return a * b; }, [](double, double b) { return b; },
     [](double a, double) { return a; }},
    {"/=", [](ad::Var& a, const ad::Var& b) { a /= b; }, [](ad::Var& a, double b) { a /= b; },
     [](double a, double b) { return a / b; }, [](double, double b) { return 1.0 / b; },
     [](double a, double b) { return -a / (b * b); }},
};

TEST_CASE("compound assignment with a Var or a double differentiates like the binary operator") {
  ad::Tape tape;
  PointSource source(11);
  for (const CompoundCase& c : compound_cases) {
    for (int i = 0; i < points_per_op; ++i) {
      const double a0 = source.uniform(-4.0, 4.0);
      const double sign = source.uniform(0.0, 1.0) < 0.5 ? -1.0 : 1.0;
      const double b0 = sign * source.uniform(0.3, 4.0);  // away from 0 for /=
      INFO("a ", c.name, " b at a = ", a0, ", b = ", b0);
      const double fd_a = central_difference([&](double a) { return c.reference(a, b0); }, a0);
      const double fd_b = central_difference([&](double b) { return c.reference(a0, b); }, b0);

      tape.clear();
      const ad::Var a_in = a0, b = b0;
      ad::Var a = a_in;
      c.with_var(a, b);
      CHECK(a.value() == doctest::Approx(c.reference(a0, b0)).epsilon(1e-15));
      const std::vector<double> g = ad::gradient(a, {a_in, b});
      CHECK(g[0] == doctest::Approx(c.d_a(a0, b0)).epsilon(analytic_tolerance));
      CHECK(g[1] == doctest::Approx(c.d_b(a0, b0)).epsilon(analytic_tolerance));
      CHECK(g[0] == doctest::Approx(fd_a).epsilon(difference_tolerance));
      CHECK(g[1] == doctest::Approx(fd_b).epsilon(difference_tolerance));

      tape.clear();
      const ad::Var a_alone = a0;
      ad::Var a2 = a_alone;
      c.with_double(a2, b0);
      CHECK(a2.value() == doctest::Approx(c.reference(a0, b0)).epsilon(1e-15));
      const double g_alone = ad::gradient(a2, {a_alone})[0];
      CHECK(g_alone == doctest::Approx(c.d_a(a0, b0)).epsilon(analytic_tolerance));
      CHECK(g_alone == doctest::Approx(fd_a).epsilon(difference_tolerance));
    }
  }
}

TEST_CASE("compound assignment returns a reference to the assigned Var") {
  ad::Tape tape;
  ad::Var a = 1.0;
  const ad::Var b = 2.0;
  CHECK(&(a += b) == &a);
  CHECK(&(a -= b) == &a);
  CHECK(&(a *= b) == &a);
  CHECK(&(a /= b) == &a);
  CHECK(&(a += 1.0) == &a);
  CHECK(&(a -= 1.0) == &a);
  CHECK(&(a *= 3.0) == &a);
  CHECK(&(a /= 3.0) == &a);
  CHECK(a.value() == doctest::Approx(1.0));
}

TEST_CASE("unary plus returns the same node and records nothing") {
  ad::Tape tape;
  const ad::Var x = 1.5;
  const ad::Var y = +x;
  CHECK(tape.size() == 1);
  CHECK(y.id() == x.id());
  CHECK(ad::gradient(y, {x})[0] == 1.0);
}

}  // namespace
