// The ADBench-style Gaussian-mixture objective of bench_gmm
// (bench/gmm_objective.hpp): its value against the mixture density written
// out with dense matrices, and its ad::Var gradient against finite
// differences and, for the log-weights alpha, against the hand-derived form.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>

#include "../bench/gmm_objective.hpp"

namespace {

using bench::gmm::Problem;

// The small instance of the brief: d = 3, K = 2, n = 5.
Problem small_problem() { return bench::gmm::make_problem(3, 2, 5, 7); }

double objective_at(const Problem& p, const std::vector<double>& theta) {
  return bench::gmm::objective<double>(p, std::span<const double>(theta));
}

std::vector<double> tape_gradient(const Problem& p, double* value = nullptr) {
  ad::Tape tape;
  std::vector<ad::Var> theta(p.parameters.begin(), p.parameters.end());
  const ad::Var f = bench::gmm::objective<ad::Var>(p, std::span<const ad::Var>(theta));
  if (value != nullptr) *value = f.value();
  return ad::gradient(f, theta);
}

// log p written independently of the benchmark's loops: Q_k as a dense
// matrix, log N(x | mu, Sigma) = -d/2 log(2 pi) + log det Q - 1/2 (x-mu)' Q'Q (x-mu),
// weights softmax(alpha), the density summed in plain exp/log (the small
// instance does not underflow), and the Wishart term from its definition.
double dense_reference(const Problem& p) {
  const std::size_t d = p.layout.d, k = p.layout.k;
  const std::vector<double>& th = p.parameters;
  auto alpha = [&](std::size_t c) { return th[c]; };
  auto mu = [&](std::size_t c, std::size_t j) { return th[k + c * d + j]; };
  auto q = [&](std::size_t c, std::size_t j) { return th[k + k * d + c * d + j]; };
  std::vector<std::vector<double>> Q(k, std::vector<double>(d * d, 0.0));
  for (std::size_t c = 0; c < k; ++c) {
    std::size_t e = k + 2 * k * d + c * (d * (d - 1) / 2);
    for (std::size_t col = 0; col < d; ++col) {
      Q[c][col * d + col] = std::exp(q(c, col));
      for (std::size_t row = col + 1; row < d; ++row) Q[c][row * d + col] = th[e++];
    }
  }
  double weight_sum = 0.0;
  for (std::size_t c = 0; c < k; ++c) weight_sum += std::exp(alpha(c));

  double log_p = 0.0;
  for (std::size_t i = 0; i < p.n; ++i) {
    double density = 0.0;
    for (std::size_t c = 0; c < k; ++c) {
      double log_det = 0.0, quadratic = 0.0;
      for (std::size_t j = 0; j < d; ++j) log_det += q(c, j);
      for (std::size_t row = 0; row < d; ++row) {
        double y = 0.0;
        for (std::size_t col = 0; col < d; ++col) y += Q[c][row * d + col] * (p.x[i * d + col] - mu(c, col));
        quadratic += y * y;
      }
      const double log_normal =
          -0.5 * double(d) * std::log(2.0 * std::numbers::pi) + log_det - 0.5 * quadratic;
      density += std::exp(alpha(c)) / weight_sum * std::exp(log_normal);
    }
    log_p += std::log(density);
  }
  // Wishart term (gamma, m as in the problem): 1/2 gamma^2 ||Q||_F^2 - m log det Q - C
  for (std::size_t c = 0; c < k; ++c) {
    double frobenius = 0.0, log_det = 0.0;
    for (double v : Q[c]) frobenius += v * v;
    for (std::size_t j = 0; j < d; ++j) log_det += q(c, j);
    log_p += 0.5 * p.wishart.gamma * p.wishart.gamma * frobenius - double(p.wishart.m) * log_det;
  }
  return log_p - double(k) * bench::gmm::wishart_constant(d, p.wishart);
}

double relative_difference(double a, double b) {
  return std::fabs(a - b) / std::max(std::fabs(a), std::fabs(b));
}

}  // namespace

TEST_CASE("the objective equals the mixture density written with dense matrices") {
  Problem p = small_problem();
  CHECK(relative_difference(objective_at(p, p.parameters), dense_reference(p)) < 1e-12);
  p.wishart = {.gamma = 0.7, .m = 2};  // the prior's other terms take part too
  CHECK(relative_difference(objective_at(p, p.parameters), dense_reference(p)) < 1e-12);
}

TEST_CASE("the Wishart constant is the multivariate-gamma normaliser") {
  // d = 1, m = 0, gamma = 1: n_w = 2, C = 2 (0 - 1/2 log 2) - lgamma(1) = -log 2
  CHECK(bench::gmm::wishart_constant(1, {}) == doctest::Approx(-std::log(2.0)).epsilon(1e-15));
  // d = 2, m = 1, gamma = 2: n_w = 4, C = 8 (log 2 - 1/2 log 2) - (1/2 log pi + lgamma(2) + lgamma(3/2))
  const double expected = 4.0 * std::log(2.0) - (0.5 * std::log(std::numbers::pi) + std::lgamma(1.5));
  CHECK(bench::gmm::wishart_constant(2, {.gamma = 2.0, .m = 1}) == doctest::Approx(expected).epsilon(1e-15));
}

TEST_CASE("the objective on ad::Var has the value it has on double, to rounding") {
  // ad::Var sums each row of Q (x - mu) in one ad::dot, double column by column.
  const Problem p = small_problem();
  double on_tape = 0.0;
  tape_gradient(p, &on_tape);
  CHECK(relative_difference(on_tape, objective_at(p, p.parameters)) < 1e-13);
}

TEST_CASE("the ad::Var gradient matches central finite differences to 1e-6 relative") {
  const Problem p = small_problem();
  const std::vector<double> g = tape_gradient(p);
  REQUIRE(g.size() == 2 * (1 + 2 * 3 + 3));
  // Fourth-order central differences, h = 1e-3: truncation ~ h^4 f^(5) and
  // rounding ~ 1e-16 |f| / h, both far below the tolerance.
  const double h = 1e-3;
  double largest = 0.0;
  for (double gi : g) largest = std::max(largest, std::fabs(gi));
  REQUIRE(largest > 1.0);
  for (std::size_t i = 0; i < g.size(); ++i) {
    auto at = [&](double step) {
      std::vector<double> theta = p.parameters;
      theta[i] += step;
      return objective_at(p, theta);
    };
    const double numeric = (8.0 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12.0 * h);
    INFO("parameter ", i, ": tape ", g[i], ", finite differences ", numeric);
    // relative to the entry, with a floor at 1e-3 of the largest entry for
    // entries near zero
    CHECK(std::fabs(g[i] - numeric) <= 1e-6 * std::max(std::fabs(numeric), 1e-3 * largest));
  }
}

TEST_CASE("the ad::Var gradient with respect to alpha matches the closed form to 1e-10") {
  const Problem p = small_problem();
  const std::vector<double> g = tape_gradient(p);
  const std::vector<double> exact = bench::gmm::alpha_gradient(p);
  REQUIRE(exact.size() == p.layout.k);
  for (std::size_t c = 0; c < exact.size(); ++c) {
    INFO("alpha_", c, ": tape ", g[c], ", closed form ", exact[c]);
    CHECK(std::fabs(g[c] - exact[c]) <= 1e-10 * std::max(1.0, std::fabs(exact[c])));
  }
  // The gradient over alpha sums to zero: adding a constant to every alpha
  // leaves the weights softmax(alpha), and so log p, unchanged.
  double total = 0.0;
  for (double v : exact) total += v;
  CHECK(std::fabs(total) < 1e-12);
}

TEST_CASE("a gradient re-recorded on a reused tape gives the same bits") {
  const Problem p = bench::gmm::make_problem(4, 3, 20);
  ad::Tape tape;
  std::vector<ad::Var> theta(p.parameters.size());
  std::vector<double> first(theta.size()), again(theta.size());
  for (std::vector<double>* out : {&first, &again}) {
    tape.clear();
    for (std::size_t i = 0; i < theta.size(); ++i) theta[i] = ad::Var(p.parameters[i]);
    const ad::Var f = bench::gmm::objective<ad::Var>(p, std::span<const ad::Var>(theta));
    ad::gradient(f, theta, *out);
  }
  CHECK(first == again);
  CHECK(first == tape_gradient(p));
}

TEST_CASE("the same seed gives the same problem and another seed a different one") {
  const Problem a = bench::gmm::make_problem(3, 2, 5, 11), b = bench::gmm::make_problem(3, 2, 5, 11);
  const Problem c = bench::gmm::make_problem(3, 2, 5, 12);
  CHECK(a.x == b.x);
  CHECK(a.parameters == b.parameters);
  CHECK(a.x != c.x);
  CHECK(a.parameters != c.parameters);
}

TEST_CASE("a wrong parameter count or an empty size throws std::invalid_argument naming the function") {
  const Problem p = small_problem();
  const std::vector<double> short_theta(p.parameters.begin(), p.parameters.end() - 1);
  CHECK_THROWS_WITH_AS(
      objective_at(p, short_theta),
      "bench::gmm::objective: 19 parameters given; d = 3, K = 2 needs K (1 + 2 d + d(d-1)/2) = 20",
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      bench::gmm::make_problem(0, 5, 10),
      "bench::gmm::make_problem: the problem has d = 0, K = 5, n = 10; each must be at least 1",
      std::invalid_argument);
  Problem truncated = p;
  truncated.x.pop_back();
  CHECK_THROWS_WITH_AS(bench::gmm::alpha_gradient(truncated),
                       "bench::gmm::alpha_gradient: 14 data values for n = 5 points of d = 3",
                       std::invalid_argument);
}
