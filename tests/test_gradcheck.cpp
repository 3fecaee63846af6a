// Specification of ad::gradcheck (autodiff/gradcheck.hpp) and
// nn::check_gradients: correct derivatives pass; a wrong derivative of a
// user-defined op fails and is located; an all-zero tape gradient of a
// function that varies (vacuous) fails; a stencil straddling a kink is
// reported, not failed; the directional mode; the printed report.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <autodiff/custom_op.hpp>
#include <autodiff/gradcheck.hpp>
#include <autodiff/tape.hpp>
#include <autodiff/tensor.hpp>
#include <autodiff/tensor_ops.hpp>
#include <autodiff/var.hpp>
#include <nn/check_gradients.hpp>
#include <nn/network.hpp>

namespace {

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// The row of the printed report whose first column is `input` ("" if none).
std::string row_of(const std::string& report, const std::string& input) {
  std::istringstream in(report);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string first;
    words >> first;
    if (first == input) return line;
  }
  return {};
}

// The DESIGN.md example: f(x, y) = sin(x) y + exp(x / y) - 3 x^2.
ad::Var design_example(std::span<const ad::Var> v) {
  return ad::sin(v[0]) * v[1] + ad::exp(v[0] / v[1]) - 3.0 * ad::pow(v[0], 2.0);
}

ad::Tensor tanh_layer_loss(const std::vector<ad::Tensor>& p) {
  const ad::Tensor X = ad::Tensor::from({4, 2}, {0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0});
  return ad::mean(ad::square(ad::tanh(ad::matmul(X, p[0].t()) + p[1])));
}

// x^3 whose author got the derivative wrong (2 x^2 instead of 3 x^2).
const ad::CustomOp wrong_cube(
    "wrong_cube", [](double x) { return x * x * x; }, [](double x, double) { return 2 * x * x; });

// Element-wise x^2 whose backward forgets the factor 2 (adds x g instead of 2 x g).
ad::Tensor wrong_square(const ad::Tensor& x) {
  std::vector<double> y(x.values().begin(), x.values().end());
  for (double& v : y) v *= v;
  return ad::custom_op<double>("wrong_square", {x}, x.shape(), std::move(y),
                               [](const ad::CustomGradient<double>& g) {
                                 if (g.grad_inputs[0].empty()) return;
                                 for (std::size_t i = 0; i < g.grad_output.size(); ++i)
                                   g.grad_inputs[0][i] += g.inputs[0][i] * g.grad_output[i];
                               });
}

// Element-wise 3 x whose backward does nothing: its tape gradient is all zero.
ad::Tensor silent_triple(const ad::Tensor& x) {
  std::vector<double> y(x.values().begin(), x.values().end());
  for (double& v : y) v *= 3;
  return ad::custom_op<double>("silent_triple", {x}, x.shape(), std::move(y),
                               [](const ad::CustomGradient<double>&) {});
}

ad::Tensor named(ad::Tensor t, const char* name) { return t.name(name); }

}  // namespace

TEST_CASE("gradcheck passes a correct scalar function and checks every input entry") {
  const ad::GradcheckReport r = ad::gradcheck(design_example, std::vector<double>{0.5, 2.0});
  CHECK(r.ok);
  REQUIRE(r.inputs.size() == 1);
  CHECK(r.inputs[0].name == "x");
  CHECK(r.inputs[0].shape == ad::Shape{2});
  CHECK(r.inputs[0].checked == 2);
  CHECK(r.inputs[0].failures == 0);
  CHECK(r.inputs[0].kinks == 0);
  CHECK_FALSE(r.inputs[0].vacuous);
  CHECK(r.max_abs_error < 1e-8);
}

TEST_CASE("gradcheck passes a correct tensor function and names its inputs") {
  std::mt19937_64 rng(3);
  const ad::Tensor W = named(ad::Tensor::randn({3, 2}, rng), "W");
  const ad::Tensor b = named(ad::Tensor::randn({3}, rng), "b");
  const ad::GradcheckReport r = ad::gradcheck(tanh_layer_loss, {W, b});
  CHECK(r.ok);
  REQUIRE(r.inputs.size() == 2);
  CHECK(r.inputs[0].name == "W");
  CHECK(r.inputs[0].shape == ad::Shape{3, 2});
  CHECK(r.inputs[0].checked == 6);
  CHECK(r.inputs[1].name == "b");
  CHECK(r.inputs[1].checked == 3);
  CHECK(r.max_abs_error < 1e-8);
  // The caller's tensors are left as they were: no gradient, no history.
  CHECK_FALSE(W.requires_grad_enabled());
  CHECK_FALSE(W.has_grad());
}

TEST_CASE("an unnamed tensor input is reported by its position") {
  const ad::Tensor x = ad::Tensor::from({2}, {0.3, -0.7});
  const ad::GradcheckReport r =
      ad::gradcheck([](const std::vector<ad::Tensor>& p) { return ad::sum(ad::sin(p[0])); }, {x});
  CHECK(r.ok);
  REQUIRE(r.inputs.size() == 1);
  CHECK(r.inputs[0].name == "input 0");
}

TEST_CASE("nn::check_gradients passes a float network, one row per named parameter") {
  std::mt19937_64 rng(11);
  const nn::NetworkT<float> net({2, 4, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  const ad::TensorF X = ad::TensorF::from({4, 2}, {0, 0, 0, 1, 1, 0, 1, 1});
  const ad::TensorF Y = ad::TensorF::from({4, 1}, {0, 1, 1, 0});
  const ad::GradcheckReport r = nn::check_gradients(net, X, Y);
  CHECK(r.ok);
  REQUIRE(r.inputs.size() == 4);
  CHECK(r.inputs[0].name == "layer1/W");
  CHECK(r.inputs[1].name == "layer1/b");
  CHECK(r.inputs[2].name == "layer2/W");
  CHECK(r.inputs[3].name == "layer2/b");
  CHECK(r.inputs[0].checked == 8);
  CHECK(r.inputs[3].checked == 1);
  // The tape ran in float; the differences in double: they agree to float precision.
  CHECK(r.max_abs_error > 0.0);
  CHECK(r.max_abs_error < 1e-5);
}

TEST_CASE("gradcheck catches a user-defined scalar op with a wrong derivative and names the entry") {
  auto f = [](std::span<const ad::Var> v) { return v[0] + wrong_cube(v[1]); };
  const ad::GradcheckReport r = ad::gradcheck(f, std::vector<double>{0.3, 1.5});
  CHECK_FALSE(r.ok);
  REQUIRE(r.inputs.size() == 1);
  const ad::GradcheckInput& x = r.inputs[0];
  CHECK_FALSE(x.ok);
  CHECK_FALSE(x.vacuous);
  CHECK(x.failures == 1);
  CHECK(x.worst_index == 1);
  CHECK(x.analytic_at_worst == doctest::Approx(2 * 1.5 * 1.5));
  CHECK(x.numeric_at_worst == doctest::Approx(3 * 1.5 * 1.5).epsilon(1e-6));
  CHECK(x.max_abs_error == doctest::Approx(1.5 * 1.5).epsilon(1e-6));
}

TEST_CASE("gradcheck catches a tensor custom op with a wrong backward and names the input and entry") {
  const ad::Tensor A = named(ad::Tensor::from({2}, {0.4, -1.2}), "A");
  const ad::Tensor B = named(ad::Tensor::from({4}, {0.5, -0.25, 2.0, 1.0}), "B");
  auto f = [](const std::vector<ad::Tensor>& p) {
    return ad::sum(ad::tanh(p[0])) + ad::sum(wrong_square(p[1]));
  };
  const ad::GradcheckReport r = ad::gradcheck(f, {A, B});
  CHECK_FALSE(r.ok);
  REQUIRE(r.inputs.size() == 2);
  CHECK(r.inputs[0].ok);  // A goes through built-in ops only
  const ad::GradcheckInput& b = r.inputs[1];
  CHECK(b.name == "B");
  CHECK_FALSE(b.ok);
  CHECK_FALSE(b.vacuous);
  CHECK(b.failures == 4);
  // The error |2x - x| = |x| is largest where |x| is: entry 2.
  CHECK(b.worst_index == 2);
  CHECK(b.analytic_at_worst == doctest::Approx(2.0));
  CHECK(b.numeric_at_worst == doctest::Approx(4.0).epsilon(1e-6));
}

TEST_CASE("a function whose tape gradient is all zero but which varies is a vacuous failure") {
  const ad::Tensor x = named(ad::Tensor::from({3}, {0.5, -1.0, 2.0}), "x");
  SUBCASE("the input is detached from the tape") {
    auto f = [](const std::vector<ad::Tensor>& p) { return ad::sum(ad::square(p[0].detach())); };
    const ad::GradcheckReport r = ad::gradcheck(f, {x});
    CHECK_FALSE(r.ok);
    REQUIRE(r.inputs.size() == 1);
    CHECK(r.inputs[0].vacuous);
    CHECK_FALSE(r.inputs[0].ok);
    CHECK(contains(r.to_string(), "VACUOUS"));
  }
  SUBCASE("a custom op's backward does nothing") {
    auto f = [](const std::vector<ad::Tensor>& p) { return ad::sum(silent_triple(p[0])); };
    const ad::GradcheckReport r = ad::gradcheck(f, {x});
    CHECK_FALSE(r.ok);
    REQUIRE(r.inputs.size() == 1);
    CHECK(r.inputs[0].vacuous);
  }
  SUBCASE("a scalar custom op's derivative is zero") {
    const ad::CustomOp flat(
        "flat", [](double v) { return 2 * v; }, [](double, double) { return 0.0; });
    const ad::GradcheckReport r =
        ad::gradcheck([&](std::span<const ad::Var> v) { return flat(v[0]); }, std::vector<double>{1.0});
    CHECK_FALSE(r.ok);
    CHECK(r.inputs[0].vacuous);
  }
}

TEST_CASE("an input the function does not depend on has a zero gradient that is not vacuous") {
  const ad::Tensor used = named(ad::Tensor::from({2}, {0.1, 0.2}), "used");
  const ad::Tensor ignored = named(ad::Tensor::from({2}, {3.0, 4.0}), "ignored");
  const ad::GradcheckReport r =
      ad::gradcheck([](const std::vector<ad::Tensor>& p) { return ad::sum(ad::exp(p[0])); }, {used, ignored});
  CHECK(r.ok);
  REQUIRE(r.inputs.size() == 2);
  CHECK_FALSE(r.inputs[1].vacuous);
  CHECK(r.inputs[1].ok);
}

TEST_CASE("a stencil straddling a kink at 0 is reported and does not fail") {
  SUBCASE("scalar relu at 0") {
    auto f = [](std::span<const ad::Var> v) { return ad::relu(v[0]) + v[1] * v[1]; };
    const ad::GradcheckReport r = ad::gradcheck(f, std::vector<double>{0.0, 1.0});
    CHECK(r.ok);
    CHECK(r.inputs[0].kinks == 1);
    CHECK(r.inputs[0].failures == 0);
    CHECK(contains(r.to_string(), "kink"));
  }
  SUBCASE("tensor relu with two entries at 0") {
    const ad::Tensor x = named(ad::Tensor::from({4}, {0.0, 1.5, 0.0, -2.0}), "x");
    const ad::GradcheckReport r =
        ad::gradcheck([](const std::vector<ad::Tensor>& p) { return ad::sum(ad::relu(p[0])); }, {x});
    CHECK(r.ok);
    CHECK(r.inputs[0].kinks == 2);
    CHECK(r.inputs[0].failures == 0);
  }
  SUBCASE("abs at 0: the central difference equals the subgradient 0, nothing to report") {
    auto f = [](std::span<const ad::Var> v) { return ad::abs(v[0]); };
    const ad::GradcheckReport r = ad::gradcheck(f, std::vector<double>{0.0});
    CHECK(r.ok);
    CHECK(r.inputs[0].failures == 0);
  }
}

TEST_CASE("a wrong derivative away from a kink still fails next to one") {
  auto f = [](std::span<const ad::Var> v) { return ad::relu(v[0]) + wrong_cube(v[1]); };
  const ad::GradcheckReport r = ad::gradcheck(f, std::vector<double>{0.0, 2.0});
  CHECK_FALSE(r.ok);
  CHECK(r.inputs[0].kinks == 1);
  CHECK(r.inputs[0].failures == 1);
  CHECK(r.inputs[0].worst_index == 1);
}

TEST_CASE("directional gradcheck passes correct functions and catches wrong derivatives") {
  ad::GradcheckOptions options;
  options.directional = true;
  options.directions = 3;
  options.seed = 5;
  std::mt19937_64 rng(3);
  const ad::Tensor W = named(ad::Tensor::randn({3, 2}, rng), "W");
  const ad::Tensor b = named(ad::Tensor::randn({3}, rng), "b");

  const ad::GradcheckReport good = ad::gradcheck(tanh_layer_loss, {W, b}, options);
  CHECK(good.ok);
  REQUIRE(good.inputs.size() == 3);
  for (std::size_t d = 0; d < 3; ++d) {
    CHECK(good.inputs[d].name == fmt::format("direction {}", d));
    CHECK(good.inputs[d].checked == 1);
  }
  CHECK(good.max_abs_error < 1e-8);

  const ad::Tensor B = named(ad::Tensor::from({4}, {0.5, -0.25, 2.0, 1.0}), "B");
  const ad::GradcheckReport bad = ad::gradcheck(
      [](const std::vector<ad::Tensor>& p) { return ad::sum(wrong_square(p[0])); }, {B}, options);
  CHECK_FALSE(bad.ok);
  for (const auto& direction : bad.inputs) CHECK(direction.failures == 1);

  const ad::GradcheckReport scalar =
      ad::gradcheck([](std::span<const ad::Var> v) { return wrong_cube(v[0]) * v[1]; },
                    std::vector<double>{1.5, 0.5}, options);
  CHECK_FALSE(scalar.ok);

  const ad::GradcheckReport vacuous = ad::gradcheck(
      [](const std::vector<ad::Tensor>& p) { return ad::sum(ad::square(p[0].detach())); }, {B}, options);
  CHECK_FALSE(vacuous.ok);
  CHECK(vacuous.inputs[0].vacuous);
}

TEST_CASE("directional gradcheck is reproducible for a seed") {
  ad::GradcheckOptions options;
  options.directional = true;
  options.seed = 42;
  const ad::Tensor B = named(ad::Tensor::from({4}, {0.5, -0.25, 2.0, 1.0}), "B");
  auto f = [](const std::vector<ad::Tensor>& p) { return ad::sum(wrong_square(p[0])); };
  const ad::GradcheckReport first = ad::gradcheck(f, {B}, options);
  const ad::GradcheckReport second = ad::gradcheck(f, {B}, options);
  REQUIRE(first.inputs.size() == options.directions);
  for (std::size_t d = 0; d < first.inputs.size(); ++d) {
    CHECK(first.inputs[d].analytic_at_worst == second.inputs[d].analytic_at_worst);
    CHECK(first.inputs[d].numeric_at_worst == second.inputs[d].numeric_at_worst);
  }
  CHECK(first.to_string() == second.to_string());
}

TEST_CASE("the printed report names every input and says PASSED or FAILED") {
  const ad::Tensor A = named(ad::Tensor::from({2}, {0.4, -1.2}), "A");
  const ad::Tensor B = named(ad::Tensor::from({4}, {0.5, -0.25, 2.0, 1.0}), "B");
  auto bad = [](const std::vector<ad::Tensor>& p) {
    return ad::sum(ad::tanh(p[0])) + ad::sum(wrong_square(p[1]));
  };
  const std::string failed = fmt::format("{}", ad::gradcheck(bad, {A, B}));
  CHECK(contains(failed, "FAILED"));
  CHECK_FALSE(contains(failed, "PASSED"));
  CHECK(contains(row_of(failed, "A"), "ok"));
  CHECK(contains(row_of(failed, "B"), "MISMATCH"));
  CHECK(contains(row_of(failed, "B"), "[4]"));

  auto good = [](const std::vector<ad::Tensor>& p) {
    return ad::sum(ad::tanh(p[0])) + ad::sum(ad::square(p[1]));
  };
  const std::string passed = fmt::format("{}", ad::gradcheck(good, {A, B}));
  CHECK(contains(passed, "PASSED"));
  CHECK_FALSE(contains(passed, "FAILED"));
  CHECK(contains(row_of(passed, "A"), "ok"));
  CHECK(contains(row_of(passed, "B"), "ok"));
}

// ---- a wrong derivative where the gradient is small ----

namespace {
// x^3 with its derivative off by a factor 20 (a missing factor, as a
// hand-written kernel might have), and the same op written correctly.
const ad::CustomOp cube_wrong(
    "cube_wrong", [](double x) { return x * x * x; }, [](double x, double) { return 3 * x * x / 20; });
const ad::CustomOp cube_right(
    "cube_right", [](double x) { return x * x * x; }, [](double x, double) { return 3 * x * x; });
}  // namespace

TEST_CASE(
    "a derivative 20x off where the gradient is ~1e-7 is inconclusive, not ok, with its true relative "
    "error") {
  // At x = 1.27e-3: analytic 2.42e-7, numeric 4.84e-6; both under the absolute
  // tolerance 1e-5, so PyTorch's rule alone passes them.
  const ad::GradcheckReport r =
      ad::gradcheck([](std::span<const ad::Var> x) { return cube_wrong(x[0]); }, {1.27e-3});
  CAPTURE(r.to_string());
  CHECK_FALSE(r.ok);
  REQUIRE(r.inputs.size() == 1);
  CHECK(r.inputs[0].failures == 0);
  CHECK(r.inputs[0].inconclusive == 1);
  CHECK(r.max_rel_error == doctest::Approx(0.95).epsilon(0.01));
  CHECK(r.to_string().find("INCONCLUSIVE") != std::string::npos);
  CHECK(r.to_string().find("warning: 1 entry passed only by the absolute tolerance") != std::string::npos);
  // The same op written correctly passes at the same point.
  const ad::GradcheckReport right =
      ad::gradcheck([](std::span<const ad::Var> x) { return cube_right(x[0]); }, {1.27e-3});
  CAPTURE(right.to_string());
  CHECK(right.ok);
  CHECK(right.inputs[0].inconclusive == 0);
}

TEST_CASE("options.perturbation checks at a second point, where the wrong derivative is a plain mismatch") {
  ad::GradcheckOptions o;
  o.perturbation = 0.5;
  o.seed = 3;
  const ad::GradcheckReport r = ad::gradcheck(
      [](std::span<const ad::Var> x) { return cube_wrong(x[0]) + cube_wrong(x[1]); }, {1.27e-3, -2e-3}, o);
  CAPTURE(r.to_string());
  CHECK_FALSE(r.ok);
  CHECK(r.perturbed);
  CHECK(r.inputs[0].checked == 2);
  CHECK(r.inputs[0].checked_perturbed == 2);
  CHECK(r.inputs[0].failures >= 1);  // at the perturbed point, |x| ~ 0.5: a 20x error is far above 1e-5
  CHECK(r.to_string().find("at a perturbed one") != std::string::npos);
  // Correct derivatives pass at both points.
  const ad::GradcheckReport right = ad::gradcheck(
      [](std::span<const ad::Var> x) { return cube_right(x[0]) + cube_right(x[1]); }, {1.27e-3, -2e-3}, o);
  CAPTURE(right.to_string());
  CHECK(right.ok);
}

TEST_CASE("nn::check_gradients checks a perturbed point by default; perturbation = 0 turns it off") {
  std::mt19937_64 rng(4);
  nn::Network net({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  const ad::Tensor X = ad::Tensor::randn({5, 2}, rng), Y = ad::Tensor::randn({5, 1}, rng);
  const ad::GradcheckReport r = nn::check_gradients(net, X, Y);
  CAPTURE(r.to_string());
  CHECK(r.ok);
  CHECK(r.perturbed);
  CHECK(r.inputs[0].checked_perturbed == r.inputs[0].checked);
  ad::GradcheckOptions off;
  off.perturbation = 0.0;
  const ad::GradcheckReport plain = nn::check_gradients(net, X, Y, off);
  CHECK(plain.ok);
  CHECK_FALSE(plain.perturbed);
  CHECK(plain.inputs[0].checked_perturbed == 0);
}
