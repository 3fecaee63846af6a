// Every tensor op's gradient against central differences (double), at random
// points inside the op's domain, on random shapes that include broadcasting,
// size-1 axes and an empty leading batch; plus the forward values against
// independent references.
#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <autodiff/autodiff.hpp>

#include "tensor_gradcheck.hpp"

namespace {

using ad::Shape;
using ad::Tensor;
using adtest::away_from_zero;
using adtest::uniform;

constexpr double tolerance = 1e-6;

std::string shapes_of(const std::vector<Tensor>& xs) {
  std::string s;
  for (const Tensor& x : xs) s += (s.empty() ? "" : " and ") + x.shape().to_string();
  return s;
}

// Checks d sum(w * op(xs)) / d xs against finite differences.
void expect_gradients(const std::string& what, const adtest::TensorFn& op, const std::vector<Tensor>& xs,
                      std::mt19937_64& rng) {
  const adtest::GradCheckReport r = adtest::gradcheck_op(op, xs, rng);
  const std::string where = fmt::format("{} on {}: worst {} (max abs {:.3g}, max rel {:.3g})", what, shapes_of(xs),
                                        r.worst, r.max_abs, r.max_rel);
  INFO(where);
  CHECK(r.ok(tolerance));
}

// The flat index into `in` of the element that broadcasts to flat index
// `flat` of an output of shape `out` (NumPy's rule, written out directly).
std::size_t broadcast_source(const Shape& out, const Shape& in, std::size_t flat) {
  std::size_t index = 0, in_stride = 1;
  for (std::size_t k = 0; k < out.rank(); ++k) {
    const std::size_t axis = out.rank() - 1 - k;  // from the right
    const std::size_t coordinate = flat % out[axis];
    flat /= out[axis];
    if (k < in.rank()) {
      const std::size_t extent = in[in.rank() - 1 - k];
      if (extent != 1) index += coordinate * in_stride;
      in_stride *= extent;
    }
  }
  return index;
}

const std::vector<Shape> unary_shapes = {Shape{}, Shape{5}, Shape{2, 3}, Shape{3, 1, 2}, Shape{1, 1}, Shape{0, 3}};

struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> reference;
  std::function<Tensor(const Shape&, std::mt19937_64&)> sample;
};

auto in_range(double lo, double hi) {
  return [lo, hi](const Shape& s, std::mt19937_64& rng) { return uniform(s, lo, hi, rng); };
}
auto off_zero(double lo, double hi) {
  return [lo, hi](const Shape& s, std::mt19937_64& rng) { return away_from_zero(s, lo, hi, rng); };
}

std::vector<UnaryCase> unary_cases() {
  return {
      {"neg", [](const Tensor& x) { return ad::neg(x); }, [](double x) { return -x; }, in_range(-2, 2)},
      {"unary minus", [](const Tensor& x) { return -x; }, [](double x) { return -x; }, in_range(-2, 2)},
      {"sin", [](const Tensor& x) { return ad::sin(x); }, [](double x) { return std::sin(x); }, in_range(-3, 3)},
      {"cos", [](const Tensor& x) { return ad::cos(x); }, [](double x) { return std::cos(x); }, in_range(-3, 3)},
      {"tan", [](const Tensor& x) { return ad::tan(x); }, [](double x) { return std::tan(x); }, in_range(-1.2, 1.2)},
      {"asin", [](const Tensor& x) { return ad::asin(x); }, [](double x) { return std::asin(x); }, in_range(-0.9, 0.9)},
      {"acos", [](const Tensor& x) { return ad::acos(x); }, [](double x) { return std::acos(x); }, in_range(-0.9, 0.9)},
      {"atan", [](const Tensor& x) { return ad::atan(x); }, [](double x) { return std::atan(x); }, in_range(-3, 3)},
      {"sinh", [](const Tensor& x) { return ad::sinh(x); }, [](double x) { return std::sinh(x); }, in_range(-2, 2)},
      {"cosh", [](const Tensor& x) { return ad::cosh(x); }, [](double x) { return std::cosh(x); }, in_range(-2, 2)},
      {"tanh", [](const Tensor& x) { return ad::tanh(x); }, [](double x) { return std::tanh(x); }, in_range(-2, 2)},
      {"exp", [](const Tensor& x) { return ad::exp(x); }, [](double x) { return std::exp(x); }, in_range(-2, 2)},
      {"expm1", [](const Tensor& x) { return ad::expm1(x); }, [](double x) { return std::expm1(x); }, in_range(-2, 2)},
      {"log", [](const Tensor& x) { return ad::log(x); }, [](double x) { return std::log(x); }, in_range(0.2, 3)},
      {"log1p", [](const Tensor& x) { return ad::log1p(x); }, [](double x) { return std::log1p(x); },
       in_range(-0.6, 2)},
      {"sqrt", [](const Tensor& x) { return ad::sqrt(x); }, [](double x) { return std::sqrt(x); }, in_range(0.2, 3)},
      {"cbrt", [](const Tensor& x) { return ad::cbrt(x); }, [](double x) { return std::cbrt(x); }, off_zero(0.2, 2)},
      {"abs", [](const Tensor& x) { return ad::abs(x); }, [](double x) { return std::fabs(x); }, off_zero(0.1, 2)},
      {"erf", [](const Tensor& x) { return ad::erf(x); }, [](double x) { return std::erf(x); }, in_range(-2, 2)},
      {"logistic", [](const Tensor& x) { return ad::logistic(x); },
       [](double x) { return 1.0 / (1.0 + std::exp(-x)); }, in_range(-4, 4)},
      {"softsign", [](const Tensor& x) { return ad::softsign(x); },
       [](double x) { return x / (1.0 + std::fabs(x)); }, off_zero(0.05, 3)},
      {"heaviside", [](const Tensor& x) { return ad::heaviside(x); }, [](double x) { return x >= 0 ? 1.0 : 0.0; },
       off_zero(0.1, 2)},
      {"relu", [](const Tensor& x) { return ad::relu(x); }, [](double x) { return x > 0 ? x : 0.0; },
       off_zero(0.1, 2)},
      {"softplus", [](const Tensor& x) { return ad::softplus(x); },
       [](double x) { return std::log1p(std::exp(x)); }, in_range(-4, 4)},
      {"leaky_relu", [](const Tensor& x) { return ad::leaky_relu(x); },
       [](double x) { return x > 0 ? x : 0.01 * x; }, off_zero(0.1, 2)},
      {"elu", [](const Tensor& x) { return ad::elu(x); }, [](double x) { return x > 0 ? x : std::expm1(x); },
       off_zero(0.1, 2)},
      {"gelu", [](const Tensor& x) { return ad::gelu(x); },
       // x/2 (1 + tanh(u)) written as x / (1 + e^-2u): the same function, without cancellation for x < 0
       [](double x) {
         const double u = std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x);
         return x / (1.0 + std::exp(-2.0 * u));
       },
       in_range(-3, 3)},
      {"silu", [](const Tensor& x) { return ad::silu(x); }, [](double x) { return x / (1.0 + std::exp(-x)); },
       in_range(-4, 4)},
      {"square", [](const Tensor& x) { return ad::square(x); }, [](double x) { return x * x; }, in_range(-2, 2)},
  };
}

struct BinaryCase {
  const char* name;
  std::function<Tensor(const Tensor&, const Tensor&)> tensor_tensor;
  std::function<Tensor(const Tensor&, double)> tensor_scalar;
  std::function<Tensor(double, const Tensor&)> scalar_tensor;
  std::function<double(double, double)> reference;
  std::function<Tensor(const Shape&, std::mt19937_64&)> sample_a, sample_b;
};

#define AD_TEST_BINARY(fn)                                          \
  [](const Tensor& a, const Tensor& b) { return ad::fn(a, b); },   \
      [](const Tensor& a, double b) { return ad::fn(a, b); },      \
      [](double a, const Tensor& b) { return ad::fn(a, b); }
#define AD_TEST_OPERATOR(sym)                                    \
  [](const Tensor& a, const Tensor& b) { return a sym b; },      \
      [](const Tensor& a, double b) { return a sym b; },         \
      [](double a, const Tensor& b) { return a sym b; }

std::vector<BinaryCase> binary_cases() {
  return {
      {"add", AD_TEST_BINARY(add), [](double a, double b) { return a + b; }, in_range(-2, 2), in_range(-2, 2)},
      {"sub", AD_TEST_BINARY(sub), [](double a, double b) { return a - b; }, in_range(-2, 2), in_range(-2, 2)},
      {"mul", AD_TEST_BINARY(mul), [](double a, double b) { return a * b; }, in_range(-2, 2), in_range(-2, 2)},
      {"div", AD_TEST_BINARY(div), [](double a, double b) { return a / b; }, in_range(-2, 2), off_zero(0.5, 2)},
      {"operator+", AD_TEST_OPERATOR(+), [](double a, double b) { return a + b; }, in_range(-2, 2), in_range(-2, 2)},
      {"operator-", AD_TEST_OPERATOR(-), [](double a, double b) { return a - b; }, in_range(-2, 2), in_range(-2, 2)},
      {"operator*", AD_TEST_OPERATOR(*), [](double a, double b) { return a * b; }, in_range(-2, 2), in_range(-2, 2)},
      {"operator/", AD_TEST_OPERATOR(/), [](double a, double b) { return a / b; }, in_range(-2, 2),
       off_zero(0.5, 2)},
      {"pow", AD_TEST_BINARY(pow), [](double a, double b) { return std::pow(a, b); }, in_range(0.3, 2),
       in_range(-2, 2)},
      // atan2 jumps across a = 0 for b < 0: keep a away from it.
      {"atan2", AD_TEST_BINARY(atan2), [](double a, double b) { return std::atan2(a, b); }, off_zero(0.1, 2),
       in_range(-2, 2)},
      {"hypot", AD_TEST_BINARY(hypot), [](double a, double b) { return std::hypot(a, b); }, off_zero(0.1, 2),
       off_zero(0.1, 2)},
      {"min", AD_TEST_BINARY(min), [](double a, double b) { return a < b ? a : b; }, in_range(-2, 2),
       in_range(-2, 2)},
      {"max", AD_TEST_BINARY(max), [](double a, double b) { return a < b ? b : a; }, in_range(-2, 2),
       in_range(-2, 2)},
  };
}

#undef AD_TEST_BINARY
#undef AD_TEST_OPERATOR

// Operand shape pairs: equal, both sides broadcasting, a trailing vector, a
// rank-0 scalar on either side, size-1 axes, and an empty leading batch.
const std::vector<std::pair<Shape, Shape>> binary_shapes = {
    {Shape{2, 3}, Shape{2, 3}},     {Shape{3, 1}, Shape{1, 4}},       {Shape{2, 3, 4}, Shape{4}},
    {Shape{4}, Shape{2, 3, 4}},     {Shape{}, Shape{2, 3}},           {Shape{2, 3}, Shape{}},
    {Shape{}, Shape{}},             {Shape{1}, Shape{3}},             {Shape{2, 1, 3}, Shape{4, 1}},
    {Shape{1, 1}, Shape{1, 1}},     {Shape{2, 1, 4}, Shape{2, 3, 1}}, {Shape{2, 3, 4}, Shape{1, 3, 1}},
    {Shape{0, 3}, Shape{3}},        {Shape{0, 3}, Shape{1, 3}},       {Shape{3}, Shape{0, 1}},
};

}  // namespace

TEST_CASE("the gradient checker itself flags a wrong gradient") {
  // x.detach() cuts one of the two paths of x * x: the tape sees x, finite
  // differences see 2x.
  std::mt19937_64 rng(99);
  const Tensor x = uniform({3}, 1, 2, rng);
  const adtest::GradCheckReport wrong =
      adtest::gradcheck([](const std::vector<Tensor>& in) { return ad::sum(in[0].detach() * in[0]); }, {x});
  CHECK_FALSE(wrong.ok(1e-3));
  CHECK(wrong.entries == 3);
  const adtest::GradCheckReport right =
      adtest::gradcheck([](const std::vector<Tensor>& in) { return ad::sum(in[0] * in[0]); }, {x});
  CHECK(right.ok(tolerance));
  adtest::worst_seen() = adtest::GradCheckReport{};  // the deliberate failure is not part of the summary
}

TEST_CASE("every element-wise unary op has the reference value and a gradient matching finite differences") {
  std::mt19937_64 rng(101);
  for (const UnaryCase& c : unary_cases()) {
    for (const Shape& shape : unary_shapes) {
      const Tensor x = c.sample(shape, rng);
      const Tensor y = c.op(x);
      REQUIRE(y.shape() == shape);
      for (std::size_t i = 0; i < x.numel(); ++i) {
        INFO(c.name, " at ", x.values()[i]);
        CHECK(y.values()[i] == doctest::Approx(c.reference(x.values()[i])).epsilon(1e-14));
      }
      expect_gradients(c.name, [&](const std::vector<Tensor>& in) { return c.op(in[0]); }, {x}, rng);
    }
  }
}

TEST_CASE("every element-wise binary op broadcasts, has the reference value and matching gradients") {
  std::mt19937_64 rng(202);
  for (const BinaryCase& c : binary_cases()) {
    for (const auto& [shape_a, shape_b] : binary_shapes) {
      const Tensor a = c.sample_a(shape_a, rng);
      const Tensor b = c.sample_b(shape_b, rng);
      const Tensor y = c.tensor_tensor(a, b);
      const Shape out = ad::broadcast_shapes(shape_a, shape_b, "test");
      REQUIRE(y.shape() == out);
      for (std::size_t i = 0; i < out.numel(); ++i) {
        const double va = a.values()[broadcast_source(out, shape_a, i)];
        const double vb = b.values()[broadcast_source(out, shape_b, i)];
        INFO(c.name, "(", va, ", ", vb, ") at output ", i, " of ", out.to_string());
        CHECK(y.values()[i] == doctest::Approx(c.reference(va, vb)).epsilon(1e-14));
      }
      expect_gradients(fmt::format("{} tensor-tensor", c.name),
                       [&](const std::vector<Tensor>& in) { return c.tensor_tensor(in[0], in[1]); }, {a, b}, rng);
    }
  }
}

TEST_CASE("every element-wise binary op takes a plain number on either side, as a constant") {
  std::mt19937_64 rng(303);
  for (const BinaryCase& c : binary_cases()) {
    for (const Shape& shape : unary_shapes) {
      const Tensor a = c.sample_a(shape, rng);
      const Tensor b = c.sample_b(shape, rng);
      const double ka = c.sample_a(Shape{}, rng).item();
      const double kb = c.sample_b(Shape{}, rng).item();
      const Tensor ys = c.tensor_scalar(a, kb);
      const Tensor sy = c.scalar_tensor(ka, b);
      REQUIRE(ys.shape() == shape);
      REQUIRE(sy.shape() == shape);
      for (std::size_t i = 0; i < shape.numel(); ++i) {
        INFO(c.name, " element ", i);
        CHECK(ys.values()[i] == doctest::Approx(c.reference(a.values()[i], kb)).epsilon(1e-14));
        CHECK(sy.values()[i] == doctest::Approx(c.reference(ka, b.values()[i])).epsilon(1e-14));
      }
      expect_gradients(fmt::format("{} tensor-scalar {}", c.name, kb),
                       [&](const std::vector<Tensor>& in) { return c.tensor_scalar(in[0], kb); }, {a}, rng);
      expect_gradients(fmt::format("{} scalar-tensor {}", c.name, ka),
                       [&](const std::vector<Tensor>& in) { return c.scalar_tensor(ka, in[0]); }, {b}, rng);
    }
  }
}

TEST_CASE("clamp passes the gradient inside its bounds and blocks it outside") {
  std::mt19937_64 rng(404);
  const double lo = -0.7, hi = 0.9;
  for (const Shape& shape : unary_shapes) {
    // Entries at least 1e-3 from either bound, so a finite-difference step
    // never crosses one.
    Tensor x = uniform(shape, -2, 2, rng);
    for (double& v : x.mutable_values())
      if (std::fabs(v - lo) < 1e-3 || std::fabs(v - hi) < 1e-3) v += 0.01;
    const Tensor y = ad::clamp(x, lo, hi);
    for (std::size_t i = 0; i < x.numel(); ++i) CHECK(y.values()[i] == std::min(std::max(x.values()[i], lo), hi));
    expect_gradients("clamp", [&](const std::vector<Tensor>& in) { return ad::clamp(in[0], lo, hi); }, {x}, rng);
  }
  // At the bounds themselves the gradient passes (PyTorch's convention).
  Tensor at_bounds = Tensor::from({4}, {lo, hi, lo - 1, hi + 1}).requires_grad(true);
  ad::sum(ad::clamp(at_bounds, lo, hi)).backward();
  const Tensor grad = at_bounds.grad();
  const auto g = grad.values();
  CHECK(g[0] == 1.0);
  CHECK(g[1] == 1.0);
  CHECK(g[2] == 0.0);
  CHECK(g[3] == 0.0);
}

TEST_CASE("where selects by the condition, broadcasting a and b, and routes each gradient to its side") {
  std::mt19937_64 rng(505);
  std::bernoulli_distribution coin(0.5);
  struct Case {
    Shape condition, a, b;
  };
  const std::vector<Case> cases = {{Shape{2, 3}, Shape{2, 3}, Shape{2, 3}},
                                   {Shape{3, 4}, Shape{3, 1}, Shape{1, 4}},
                                   {Shape{2, 3, 4}, Shape{2, 3, 4}, Shape{4}},
                                   {Shape{}, Shape{2, 3}, Shape{2, 3}},
                                   {Shape{1}, Shape{3}, Shape{}},
                                   {Shape{0, 3}, Shape{0, 3}, Shape{3}}};
  for (const Case& k : cases) {
    std::vector<double> bits(k.condition.numel());
    for (double& v : bits) v = coin(rng) ? 1.0 : 0.0;
    const Tensor condition = Tensor::from(k.condition, bits);
    const Tensor a = uniform(k.a, -2, 2, rng);
    const Tensor b = uniform(k.b, -2, 2, rng);
    const Tensor y = ad::where(condition, a, b);
    const Shape out = ad::broadcast_shapes(k.a, k.b, "test");
    REQUIRE(y.shape() == out);
    for (std::size_t i = 0; i < out.numel(); ++i) {
      const bool take_a = bits[bits.size() == 1 ? 0 : i] != 0.0;
      const double expected =
          take_a ? a.values()[broadcast_source(out, k.a, i)] : b.values()[broadcast_source(out, k.b, i)];
      CHECK(y.values()[i] == expected);
    }
    expect_gradients("where", [&](const std::vector<Tensor>& in) { return ad::where(condition, in[0], in[1]); },
                     {a, b}, rng);
  }
}

TEST_CASE("sum, mean and max over all elements and over axes, with and without keepdim") {
  std::mt19937_64 rng(606);
  const std::vector<Shape> shapes = {Shape{2, 3, 4}, Shape{3, 1, 2}, Shape{5}, Shape{}};
  for (const Shape& shape : shapes) {
    const Tensor x = uniform(shape, -2, 2, rng);
    const auto v = x.values();
    CHECK(ad::sum(x).item() == doctest::Approx(std::accumulate(v.begin(), v.end(), 0.0)));
    CHECK(ad::mean(x).item() == doctest::Approx(std::accumulate(v.begin(), v.end(), 0.0) / double(v.size())));
    CHECK(ad::max(x).item() == *std::max_element(v.begin(), v.end()));
    CHECK(ad::sum(x).rank() == 0);
    expect_gradients("sum", [](const std::vector<Tensor>& in) { return ad::sum(in[0]); }, {x}, rng);
    expect_gradients("mean", [](const std::vector<Tensor>& in) { return ad::mean(in[0]); }, {x}, rng);
    expect_gradients("max", [](const std::vector<Tensor>& in) { return ad::max(in[0]); }, {x}, rng);
  }

  const Tensor x = uniform({2, 3, 4}, -2, 2, rng);
  const std::vector<std::vector<std::int64_t>> axis_sets = {{0}, {1}, {2}, {-1}, {0, 2}, {-3, -2}, {0, 1, 2}, {}};
  for (const auto& axes : axis_sets) {
    for (const bool keepdim : {false, true}) {
      const std::string label = fmt::format("axes [{}] keepdim {}", fmt::join(axes, ", "), keepdim);
      INFO(label);
      const Tensor s = ad::sum(x, axes, keepdim);
      // The expected shape: reduced axes dropped or kept as 1.
      std::vector<std::size_t> dims;
      for (std::size_t axis = 0; axis < 3; ++axis) {
        bool reduced = false;
        for (std::int64_t a : axes) reduced = reduced || (a < 0 ? a + 3 : a) == static_cast<std::int64_t>(axis);
        if (!reduced) dims.push_back(x.shape()[axis]);
        else if (keepdim) dims.push_back(1);
      }
      CHECK(s.shape() == Shape(std::span<const std::size_t>(dims)));
      expect_gradients("sum " + label,
                       [&](const std::vector<Tensor>& in) { return ad::sum(in[0], axes, keepdim); }, {x}, rng);
      expect_gradients("mean " + label,
                       [&](const std::vector<Tensor>& in) { return ad::mean(in[0], axes, keepdim); }, {x}, rng);
      expect_gradients("max " + label,
                       [&](const std::vector<Tensor>& in) { return ad::max(in[0], axes, keepdim); }, {x}, rng);
    }
  }
  // Values along one axis, by hand.
  const Tensor m = Tensor::from({2, 3}, {1, 5, 3, 4, 2, 6});
  CHECK(ad::sum(m, {0}).values()[1] == 7.0);
  CHECK(ad::mean(m, {1}).values()[1] == 4.0);
  CHECK(ad::max(m, {1}, true).shape() == Shape{2, 1});
  CHECK(ad::max(m, {1}, false).values()[0] == 5.0);
  CHECK(ad::max(m, {0}, false).values()[2] == 6.0);
  // A size-1 axis and an empty leading batch.
  const Tensor one = uniform({3, 1, 2}, -2, 2, rng);
  expect_gradients("sum over a size-1 axis", [](const std::vector<Tensor>& in) { return ad::sum(in[0], {1}); },
                   {one}, rng);
  expect_gradients("max over a size-1 axis", [](const std::vector<Tensor>& in) { return ad::max(in[0], {1}, false); },
                   {one}, rng);
  const Tensor empty = Tensor::zeros({0, 3});
  CHECK(ad::sum(empty).item() == 0.0);
  CHECK(ad::sum(empty, {0}).shape() == Shape{3});
  CHECK(ad::mean(empty, {1}).shape() == Shape{0});
  CHECK(ad::max(empty, {1}, false).shape() == Shape{0});
  expect_gradients("sum of an empty batch", [](const std::vector<Tensor>& in) { return ad::sum(in[0], {0}); },
                   {empty}, rng);
  expect_gradients("mean of an empty batch", [](const std::vector<Tensor>& in) { return ad::mean(in[0], {1}); },
                   {empty}, rng);
  expect_gradients("max of an empty batch", [](const std::vector<Tensor>& in) { return ad::max(in[0], {-1}, false); },
                   {empty}, rng);
}

TEST_CASE("max sends the gradient to the first maximal element") {
  Tensor x = Tensor::from({2, 3}, {1, 4, 4, 2, 2, 0}).requires_grad(true);
  ad::sum(ad::max(x, {1}, false)).backward();
  const Tensor grad = x.grad();
  const auto g = grad.values();
  const std::vector<double> expected = {0, 1, 0, 1, 0, 0};
  CHECK(std::vector<double>(g.begin(), g.end()) == expected);
}

TEST_CASE("sum_squared_difference is scale * sum((a - b)^2) as one node, with both gradients") {
  std::mt19937_64 rng(41);
  for (const Shape& shape : {Shape{}, Shape{5}, Shape{3, 4}, Shape{2, 1, 3}, Shape{0, 3}}) {
    const Tensor a = uniform(shape, -2.0, 2.0, rng), b = uniform(shape, -2.0, 2.0, rng);
    double expected = 0;
    for (std::size_t i = 0; i < a.numel(); ++i) {
      const double d = a.values()[i] - b.values()[i];
      expected += d * d;
    }
    const Tensor y = ad::sum_squared_difference(a, b, 0.3);
    CHECK(y.rank() == 0);
    CHECK(y.item() == doctest::Approx(0.3 * expected).epsilon(1e-14));
    expect_gradients(
        "sum_squared_difference",
        [](const std::vector<Tensor>& x) { return ad::sum_squared_difference(x[0], x[1], 0.3); }, {a, b},
        rng);
  }
  // One recorded op; the same value and gradient as the composite it replaces.
  Tensor a = Tensor::from({2, 2}, {1.0, -2.0, 0.5, 3.0}).requires_grad(true);
  const Tensor b = Tensor::from({2, 2}, {0.0, 1.0, 0.5, -1.0});
  Tensor fused = ad::sum_squared_difference(a, b, 0.25);
  CHECK(ad::graph(fused).nodes.size() == 3);  // a, b and the op
  fused.backward();
  const Tensor fused_grad_tensor = a.grad();
  const std::vector<double> fused_grad(fused_grad_tensor.values().begin(), fused_grad_tensor.values().end());
  a.zero_grad();
  Tensor composite = ad::sum(ad::square(a - b)) * 0.25;
  composite.backward();
  CHECK(fused.item() == doctest::Approx(composite.item()).epsilon(1e-15));
  for (std::size_t i = 0; i < 4; ++i)
    CHECK(fused_grad[i] == doctest::Approx(a.grad().values()[i]).epsilon(1e-15));
  // float, and shapes that differ (no broadcasting: a loss compares like with like)
  const ad::TensorF af = ad::TensorF::from({3}, {1.0f, 2.0f, 3.0f}),
                    bf = ad::TensorF::from({3}, {0.0f, 0.0f, 1.0f});
  CHECK(ad::sum_squared_difference(af, bf).item() == doctest::Approx(9.0));
  CHECK_THROWS_WITH_AS(
      (void)ad::sum_squared_difference(a, Tensor::zeros({4})),
      doctest::Contains("ad::sum_squared_difference: a [2, 2] and b [4] need the same shape"),
      std::invalid_argument);
}

TEST_CASE("logsumexp, softmax and log_softmax on several axes") {
  std::mt19937_64 rng(707);
  const Tensor x = uniform({2, 3, 4}, -2, 2, rng);
  for (const std::int64_t axis : {0, 1, 2, -1, -2}) {
    const std::string label = fmt::format("axis {}", axis);
    INFO(label);
    for (const bool keepdim : {false, true})
      expect_gradients(fmt::format("logsumexp {} keepdim {}", label, keepdim),
                       [&](const std::vector<Tensor>& in) { return ad::logsumexp(in[0], axis, keepdim); }, {x}, rng);
    expect_gradients("softmax " + label, [&](const std::vector<Tensor>& in) { return ad::softmax(in[0], axis); },
                     {x}, rng);
    expect_gradients("log_softmax " + label,
                     [&](const std::vector<Tensor>& in) { return ad::log_softmax(in[0], axis); }, {x}, rng);
    // softmax sums to 1 along the axis; log_softmax is its logarithm;
    // logsumexp is log(sum(exp)).
    const Tensor p = ad::softmax(x, axis);
    const Tensor totals = ad::sum(p, {axis});
    for (double s : totals.values()) CHECK(s == doctest::Approx(1.0).epsilon(1e-14));
    const Tensor lp = ad::log_softmax(x, axis);
    for (std::size_t i = 0; i < x.numel(); ++i) CHECK(lp.values()[i] == doctest::Approx(std::log(p.values()[i])));
    const Tensor lse = ad::logsumexp(x, axis);
    const Tensor direct = ad::log(ad::sum(ad::exp(x), {axis}));
    for (std::size_t i = 0; i < lse.numel(); ++i) CHECK(lse.values()[i] == doctest::Approx(direct.values()[i]));
  }
  const std::vector<std::pair<Shape, std::int64_t>> more = {
      {Shape{3, 1}, -1}, {Shape{3, 1}, 0}, {Shape{5}, 0}, {Shape{1}, 0}, {Shape{0, 3}, 1}};
  for (const auto& [shape, axis] : more) {
    const Tensor y = uniform(shape, -3, 3, rng);
    const std::string label = fmt::format("axis {}", axis);
    expect_gradients("logsumexp " + label,
                     [&](const std::vector<Tensor>& in) { return ad::logsumexp(in[0], axis); }, {y}, rng);
    expect_gradients("softmax " + label, [&](const std::vector<Tensor>& in) { return ad::softmax(in[0], axis); },
                     {y}, rng);
    expect_gradients("log_softmax " + label,
                     [&](const std::vector<Tensor>& in) { return ad::log_softmax(in[0], axis); }, {y}, rng);
  }
  // No overflow for large inputs.
  const Tensor big = Tensor::from({2}, {1000.0, 1000.0});
  CHECK(ad::logsumexp(big, 0).item() == doctest::Approx(1000.0 + std::log(2.0)));
  CHECK(ad::softmax(big, 0).values()[0] == doctest::Approx(0.5));
  CHECK(ad::log_softmax(big, 0).values()[1] == doctest::Approx(-std::log(2.0)));
}

TEST_CASE("reshape, transpose and t move elements and route their gradients back") {
  std::mt19937_64 rng(808);
  const Tensor x = uniform({2, 3, 4}, -2, 2, rng);
  for (const Shape& to : {Shape{4, 6}, Shape{24}, Shape{2, 12, 1}, Shape{1, 2, 3, 4}}) {
    const Tensor y = ad::reshape(x, to);
    CHECK(y.shape() == to);
    CHECK(std::equal(y.values().begin(), y.values().end(), x.values().begin()));
    expect_gradients("reshape to " + to.to_string(),
                     [&](const std::vector<Tensor>& in) { return ad::reshape(in[0], to); }, {x}, rng);
  }
  const Tensor empty = Tensor::zeros({0, 3});
  CHECK(ad::reshape(empty, {3, 0}).shape() == Shape{3, 0});
  expect_gradients("reshape of an empty batch", [](const std::vector<Tensor>& in) { return ad::reshape(in[0], {3, 0}); },
                   {empty}, rng);

  for (const auto& [a0, a1] : std::vector<std::pair<std::int64_t, std::int64_t>>{{0, 2}, {-2, -1}, {0, 1}, {1, 1}}) {
    const Tensor y = ad::transpose(x, a0, a1);
    const std::size_t n0 = static_cast<std::size_t>(a0 < 0 ? a0 + 3 : a0);
    const std::size_t n1 = static_cast<std::size_t>(a1 < 0 ? a1 + 3 : a1);
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t j = 0; j < 3; ++j)
        for (std::size_t k = 0; k < 4; ++k) {
          std::array<std::size_t, 3> idx = {i, j, k};
          std::swap(idx[n0], idx[n1]);
          CHECK(y.at({idx[0], idx[1], idx[2]}) == x.at({i, j, k}));
        }
    expect_gradients(fmt::format("transpose({}, {})", a0, a1),
                     [&](const std::vector<Tensor>& in) { return ad::transpose(in[0], a0, a1); }, {x}, rng);
  }
  const Tensor m = uniform({3, 5}, -2, 2, rng);
  const Tensor mt = m.t();
  CHECK(mt.shape() == Shape{5, 3});
  CHECK(mt.at({4, 1}) == m.at({1, 4}));
  expect_gradients("t", [](const std::vector<Tensor>& in) { return in[0].t(); }, {m}, rng);
  expect_gradients("t of a [0, 3]", [](const std::vector<Tensor>& in) { return in[0].t(); }, {Tensor::zeros({0, 3})},
                   rng);
}

TEST_CASE("rows and slice_rows gather along axis 0; repeated rows accumulate their gradients") {
  std::mt19937_64 rng(909);
  const Tensor x = uniform({5, 2}, -2, 2, rng);
  const std::vector<std::size_t> picks = {4, 0, 4, 2};
  const Tensor r = ad::rows(x, picks);
  CHECK(r.shape() == Shape{4, 2});
  for (std::size_t i = 0; i < picks.size(); ++i)
    for (std::size_t j = 0; j < 2; ++j) CHECK(r.at({i, j}) == x.at({picks[i], j}));
  expect_gradients("rows", [&](const std::vector<Tensor>& in) { return ad::rows(in[0], picks); }, {x}, rng);
  expect_gradients("rows of a 1-d tensor", [&](const std::vector<Tensor>& in) { return ad::rows(in[0], picks); },
                   {uniform({5}, -2, 2, rng)}, rng);
  expect_gradients("rows of a [5, 1, 3]", [&](const std::vector<Tensor>& in) { return ad::rows(in[0], picks); },
                   {uniform({5, 1, 3}, -2, 2, rng)}, rng);
  expect_gradients("no rows", [](const std::vector<Tensor>& in) { return ad::rows(in[0], {}); }, {x}, rng);
  CHECK(ad::rows(x, {}).shape() == Shape{0, 2});

  // Repeated row 4 gets the sum of both gradients.
  Tensor leaf = x.detach().requires_grad(true);
  ad::sum(ad::rows(leaf, picks)).backward();
  CHECK(leaf.grad().at({4, 1}) == 2.0);
  CHECK(leaf.grad().at({1, 0}) == 0.0);

  const Tensor s = ad::slice_rows(x, 1, 4);
  CHECK(s.shape() == Shape{3, 2});
  CHECK(s.at({0, 1}) == x.at({1, 1}));
  expect_gradients("slice_rows", [](const std::vector<Tensor>& in) { return ad::slice_rows(in[0], 1, 4); }, {x},
                   rng);
  expect_gradients("empty slice_rows", [](const std::vector<Tensor>& in) { return ad::slice_rows(in[0], 2, 2); },
                   {x}, rng);
  expect_gradients("slice_rows of everything",
                   [](const std::vector<Tensor>& in) { return ad::slice_rows(in[0], 0, 5); }, {x}, rng);
}

TEST_CASE("concat and stack join along any axis and split the gradient back") {
  std::mt19937_64 rng(1010);
  const Tensor a = uniform({2, 3}, -2, 2, rng);
  const Tensor b = uniform({1, 3}, -2, 2, rng);
  const Tensor c = uniform({2, 1}, -2, 2, rng);
  const Tensor d = uniform({2, 3}, -2, 2, rng);

  const Tensor ab = ad::concat<double>({a, b}, 0);
  CHECK(ab.shape() == Shape{3, 3});
  CHECK(ab.at({2, 1}) == b.at({0, 1}));
  CHECK(ab.at({1, 2}) == a.at({1, 2}));
  expect_gradients("concat axis 0", [](const std::vector<Tensor>& in) { return ad::concat(in, 0); }, {a, b, a}, rng);
  const Tensor ac = ad::concat<double>({a, c, d}, -1);
  CHECK(ac.shape() == Shape{2, 7});
  CHECK(ac.at({1, 3}) == c.at({1, 0}));
  CHECK(ac.at({1, 6}) == d.at({1, 2}));
  expect_gradients("concat axis -1", [](const std::vector<Tensor>& in) { return ad::concat(in, -1); }, {a, c, d},
                   rng);
  expect_gradients("concat axis 1 of 3-d",
                   [](const std::vector<Tensor>& in) { return ad::concat(in, 1); },
                   {uniform({2, 1, 2}, -2, 2, rng), uniform({2, 3, 2}, -2, 2, rng)}, rng);
  expect_gradients("concat of an empty batch", [](const std::vector<Tensor>& in) { return ad::concat(in, 0); },
                   {Tensor::zeros({0, 3}), a}, rng);
  expect_gradients("concat of one tensor", [](const std::vector<Tensor>& in) { return ad::concat(in, 0); }, {a},
                   rng);

  for (const std::int64_t axis : {0, 1, 2, -1}) {
    const Tensor s = ad::stack<double>({a, d}, axis);
    const std::size_t n = static_cast<std::size_t>(axis < 0 ? axis + 3 : axis);
    std::vector<std::size_t> dims = {2, 3};
    dims.insert(dims.begin() + static_cast<std::ptrdiff_t>(n), 2);
    CHECK(s.shape() == Shape(std::span<const std::size_t>(dims)));
    expect_gradients(fmt::format("stack axis {}", axis),
                     [&](const std::vector<Tensor>& in) { return ad::stack(in, axis); }, {a, d, a}, rng);
  }
  const Tensor s0 = ad::stack<double>({a, d}, 0);
  CHECK(s0.at({1, 0, 2}) == d.at({0, 2}));
  const Tensor s2 = ad::stack<double>({a, d}, 2);
  CHECK(s2.at({1, 2, 0}) == a.at({1, 2}));
  expect_gradients("stack of scalars", [](const std::vector<Tensor>& in) { return ad::stack(in, 0); },
                   {Tensor::scalar(1.5), Tensor::scalar(-0.5)}, rng);
}

TEST_CASE("matmul of 2-d, batched and shared operands, and dot, match naive products and finite differences") {
  std::mt19937_64 rng(1111);
  struct Case {
    Shape a, b, out;
  };
  const std::vector<Case> cases = {
      {Shape{3, 4}, Shape{4, 5}, Shape{3, 5}},
      {Shape{1, 1}, Shape{1, 1}, Shape{1, 1}},
      {Shape{1, 4}, Shape{4, 1}, Shape{1, 1}},
      {Shape{2, 3, 4}, Shape{2, 4, 5}, Shape{2, 3, 5}},
      {Shape{2, 3, 4}, Shape{4, 5}, Shape{2, 3, 5}},  // shared second operand
      {Shape{3, 4}, Shape{2, 4, 5}, Shape{2, 3, 5}},  // shared first operand
      {Shape{2, 2, 3, 2}, Shape{2, 2, 2, 3}, Shape{2, 2, 3, 3}},
      {Shape{0, 3, 4}, Shape{4, 2}, Shape{0, 3, 2}},  // empty leading batch
      {Shape{0, 3}, Shape{3, 2}, Shape{0, 2}},
      {Shape{3, 0}, Shape{0, 2}, Shape{3, 2}},  // empty inner extent: zeros
  };
  for (const Case& k : cases) {
    const Tensor a = uniform(k.a, -2, 2, rng);
    const Tensor b = uniform(k.b, -2, 2, rng);
    const Tensor c = ad::matmul(a, b);
    REQUIRE(c.shape() == k.out);
    // Naive reference: every product of the batch, operand blocks shared
    // when 2-d.
    const std::size_t r = k.out.rank();
    const std::size_t m = k.out[r - 2], n = k.out[r - 1], inner = k.a[k.a.rank() - 1];
    const std::size_t batch = k.out.numel() / (m * n == 0 ? 1 : m * n);
    const std::size_t stride_a = k.a.rank() == 2 && r > 2 ? 0 : m * inner;
    const std::size_t stride_b = k.b.rank() == 2 && r > 2 ? 0 : inner * n;
    if (m * n > 0)
      for (std::size_t s = 0; s < batch; ++s)
        for (std::size_t i = 0; i < m; ++i)
          for (std::size_t j = 0; j < n; ++j) {
            double expected = 0.0;
            for (std::size_t l = 0; l < inner; ++l)
              expected += a.values()[s * stride_a + i * inner + l] * b.values()[s * stride_b + l * n + j];
            CHECK(c.values()[s * m * n + i * n + j] == doctest::Approx(expected).epsilon(1e-13));
          }
    expect_gradients("matmul", [](const std::vector<Tensor>& in) { return ad::matmul(in[0], in[1]); }, {a, b}, rng);
  }
  // The same operand on both sides: both gradients add up.
  const Tensor sq = uniform({3, 3}, -2, 2, rng);
  expect_gradients("matmul(x, x)", [](const std::vector<Tensor>& in) { return ad::matmul(in[0], in[0]); }, {sq},
                   rng);
  expect_gradients("matmul(x, x.t())", [](const std::vector<Tensor>& in) { return ad::matmul(in[0], in[0].t()); },
                   {uniform({3, 4}, -2, 2, rng)}, rng);

  for (const std::size_t len : {std::size_t{5}, std::size_t{1}, std::size_t{0}}) {
    const Tensor u = uniform({len}, -2, 2, rng);
    const Tensor v = uniform({len}, -2, 2, rng);
    double expected = 0.0;
    for (std::size_t i = 0; i < len; ++i) expected += u.values()[i] * v.values()[i];
    const Tensor uv = ad::dot(u, v);
    CHECK(uv.rank() == 0);
    CHECK(uv.item() == doctest::Approx(expected).epsilon(1e-14));
    expect_gradients("dot", [](const std::vector<Tensor>& in) { return ad::dot(in[0], in[1]); }, {u, v}, rng);
  }
}

TEST_CASE("a composite of many ops has the finite-difference gradient") {
  std::mt19937_64 rng(1212);
  const Tensor X = uniform({4, 3}, -1, 1, rng);
  const Tensor W = uniform({5, 3}, -1, 1, rng);
  const Tensor b = uniform({5}, -1, 1, rng);
  const Tensor V = uniform({2, 5}, -1, 1, rng);
  expect_gradients(
      "tanh MLP with log_softmax",
      [&](const std::vector<Tensor>& in) {
        const Tensor h = ad::tanh(ad::matmul(in[0], in[1].t()) + in[2]);
        const Tensor z = ad::matmul(h, in[3].t());
        return ad::mean(ad::log_softmax(z, -1), {0}) + ad::sum(ad::square(h)) * 0.1;
      },
      {X, W, b, V}, rng);
}

// Runs last (doctest orders test cases by file and line): reports the worst
// gradient error of all checks above.
TEST_CASE("the worst gradient error over all finite-difference checks is within tolerance") {
  const adtest::GradCheckReport& seen = adtest::worst_seen();
  MESSAGE(fmt::format("{} gradient entries checked; max abs error {:.3g}, max rel error {:.3g}, max scaled error {:.3g} ({})",
                      seen.entries, seen.max_abs, seen.max_rel, seen.max_scaled, seen.worst));
  CHECK(seen.max_scaled <= tolerance);
}
