// Specification: nn::Perceptron, the single neuron y = H(w . x + b), its
// decision hyperplane and the classical perceptron learning rule.
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

const std::vector<std::vector<double>> corners = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};

void check_classifies(const nn::Perceptron& p, const std::vector<double>& targets) {
  for (std::size_t s = 0; s < corners.size(); ++s) {
    INFO("sample (" << corners[s][0] << ", " << corners[s][1] << "), hyperplane " << p.hyperplane());
    CHECK(p(corners[s]) == targets[s]);
  }
}

}  // namespace

TEST_CASE("theta = (1, 0, 1, -1) maps the input (0, 1, 1) to 1") {
  // H(1*0 + 0*1 + 1*1 - 1) = H(0) = 1.
  const nn::Perceptron p({1.0, 0.0, 1.0}, -1.0, nn::Activation::heaviside);
  CHECK(p({0.0, 1.0, 1.0}) == 1.0);
}

TEST_CASE("theta = (1, 0.5, -1, 0) maps the input (0, 1, 1) to 0") {
  // H(0 + 0.5 - 1 + 0) = H(-0.5) = 0.
  const nn::Perceptron p({1.0, 0.5, -1.0}, 0.0, nn::Activation::heaviside);
  CHECK(p({0.0, 1.0, 1.0}) == 0.0);
}

TEST_CASE("the hyperplane is printed as the equation w . x + b = 0") {
  CHECK(nn::Perceptron({1.0, 0.0, 1.0}, -1.0).hyperplane() == "1 x1 + 0 x2 + 1 x3 - 1 = 0");
  CHECK(nn::Perceptron({1.0, 0.5, -1.0}, 0.0).hyperplane() == "1 x1 + 0.5 x2 - 1 x3 + 0 = 0");
  CHECK(nn::Perceptron({-2.0}, 3.5).hyperplane() == "-2 x1 + 3.5 = 0");
}

TEST_CASE("the perceptron keeps its parameters and activation") {
  const nn::Perceptron p({1.0, 0.5, -1.0}, 0.25, nn::Activation::heaviside);
  CHECK(p.weights() == std::vector<double>{1.0, 0.5, -1.0});
  CHECK(p.bias() == 0.25);
  CHECK(p.activation() == nn::Activation::heaviside);
}

TEST_CASE("a perceptron rejects an input of the wrong length and an empty weight vector") {
  const nn::Perceptron p({1.0, 0.0, 1.0}, -1.0);
  CHECK_THROWS_AS(p({1.0, 2.0}), std::invalid_argument);
  CHECK_THROWS_AS(nn::Perceptron({}, 0.0), std::invalid_argument);
}

TEST_CASE("the perceptron on ad::Var records w . x + b through the activation") {
  ad::Tape tape;
  const nn::Perceptron p({0.0}, 0.0, nn::Activation::tanh);  // only psi is used
  std::vector<ad::Var> x = {ad::Var(0.5), ad::Var(-1.0)};
  std::vector<ad::Var> w = {ad::Var(2.0), ad::Var(0.25)};
  ad::Var b = 0.1;
  const ad::Var y = p(x, w, b);
  const double a = 2.0 * 0.5 + 0.25 * -1.0 + 0.1;
  CHECK(y.value() == doctest::Approx(std::tanh(a)).epsilon(1e-15));
  const std::vector<double> g = ad::gradient(y, {w[0], w[1], b});
  const double dpsi = 1.0 - std::tanh(a) * std::tanh(a);
  CHECK(g[0] == doctest::Approx(dpsi * 0.5).epsilon(1e-14));
  CHECK(g[1] == doctest::Approx(dpsi * -1.0).epsilon(1e-14));
  CHECK(g[2] == doctest::Approx(dpsi).epsilon(1e-14));
}

TEST_CASE("the perceptron rule learns AND and the result classifies all four points") {
  nn::Perceptron p({0.0, 0.0}, 0.0);
  const std::vector<double> targets = {0, 0, 0, 1};
  const nn::PerceptronTraining result = p.train(corners, targets, 1.0, 100);
  INFO(result.verdict);
  CHECK(result.converged);
  CHECK(result.misclassified == 0);
  CHECK(result.epochs < 100);
  CHECK(result.verdict.find("separated") != std::string::npos);
  CHECK(result.verdict.find(p.hyperplane()) != std::string::npos);
  check_classifies(p, targets);
}

TEST_CASE("the perceptron rule learns OR and the result classifies all four points") {
  nn::Perceptron p({0.0, 0.0}, 0.0);
  const std::vector<double> targets = {0, 1, 1, 1};
  const nn::PerceptronTraining result = p.train(corners, targets, 1.0, 100);
  INFO(result.verdict);
  CHECK(result.converged);
  CHECK(result.misclassified == 0);
  check_classifies(p, targets);
}

TEST_CASE("the perceptron rule reports XOR as not separable after the epoch limit, in bounded time") {
  nn::Perceptron p({0.0, 0.0}, 0.0);
  const std::vector<double> targets = {0, 1, 1, 0};
  const auto start = std::chrono::steady_clock::now();
  const nn::PerceptronTraining result = p.train(corners, targets, 1.0, 1000);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(result.verdict);
  CHECK_FALSE(result.converged);
  CHECK(result.epochs == 1000);
  CHECK(result.misclassified > 0);
  CHECK(result.verdict.find("not separable") != std::string::npos);
  CHECK(seconds < 5.0);
  // No line separates XOR, so at least one corner stays misclassified.
  std::size_t wrong = 0;
  for (std::size_t s = 0; s < corners.size(); ++s) wrong += p(corners[s]) != targets[s];
  CHECK(wrong > 0);
}

TEST_CASE("perceptron training rejects mismatched data and a non-positive learning rate") {
  nn::Perceptron p({0.0, 0.0}, 0.0);
  CHECK_THROWS_AS(p.train(corners, {0, 1}), std::invalid_argument);
  CHECK_THROWS_AS(p.train({}, {}), std::invalid_argument);
  CHECK_THROWS_AS(p.train(corners, {0, 0, 0, 1}, 0.0), std::invalid_argument);
  CHECK_THROWS_AS(p.train(corners, {0, 0, 0, 1}, -1.0), std::invalid_argument);
}
