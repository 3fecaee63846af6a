// Specification: the optimisers' update rules, step by step against values
// computed by hand from a known gradient.
//
// The gradient is made known by differentiating a linear function: for
// C = sum_i c_i theta_i, dC/dtheta = c exactly.
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

ad::Tensor parameter(std::vector<double> values) {
  const std::size_t n = values.size();
  ad::Tensor p = ad::Tensor::from(ad::Shape{n}, std::move(values));
  p.requires_grad(true);
  return p;
}

// Sets p's gradient to exactly c (after zeroing it): one backward of sum(c * p).
void set_gradient(nn::Optimizer<double>& opt, const ad::Tensor& p, const std::vector<double>& c) {
  opt.zero_grad();
  ad::sum(p * ad::Tensor::from(ad::Shape{c.size()}, c)).backward();
}

std::vector<double> values_of(const ad::Tensor& t) { return {t.values().begin(), t.values().end()}; }

template <class Make>
void check_rejects_rate(Make make, const std::string& optimiser) {
  for (double rate : {-0.1, 0.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    INFO(optimiser << " with learning rate " << rate);
    try {
      make(rate);
      FAIL("no exception");
    } catch (const std::invalid_argument& e) {
      const std::string message = e.what();
      INFO(message);
      CHECK(message.find(optimiser) != std::string::npos);
      CHECK(message.find("learning rate") != std::string::npos);
    }
  }
}

}  // namespace

TEST_CASE("gradient descent steps theta <- theta - eta g") {
  ad::Tensor p = parameter({1.0, 2.0, 3.0});
  nn::GradientDescent<double> opt({p}, 0.5);
  set_gradient(opt, p, {2.0, -4.0, 0.25});
  opt.step();
  // (1, 2, 3) - 0.5 (2, -4, 0.25), exactly representable.
  CHECK(values_of(p) == std::vector<double>{0.0, 4.0, 2.875});
  set_gradient(opt, p, {1.0, 1.0, -1.0});
  opt.step();
  CHECK(values_of(p) == std::vector<double>{-0.5, 3.5, 3.375});
  CHECK(opt.learning_rate() == 0.5);
}

TEST_CASE("classical momentum accumulates v <- mu v + g and steps theta <- theta - eta v") {
  ad::Tensor p = parameter({1.0, -1.0});
  const double eta = 0.1, mu = 0.9;
  nn::SGD<double> opt({p}, eta, mu, /*nesterov=*/false);
  const std::vector<double> g1 = {0.5, -2.0}, g2 = {1.5, 0.25};
  std::vector<double> theta = {1.0, -1.0}, v = {0.0, 0.0};

  set_gradient(opt, p, g1);
  opt.step();
  for (std::size_t i = 0; i < 2; ++i) {
    v[i] = g1[i];  // mu * 0 + g1
    theta[i] -= eta * v[i];
  }
  CHECK(p.values()[0] == doctest::Approx(theta[0]).epsilon(1e-15));
  CHECK(p.values()[1] == doctest::Approx(theta[1]).epsilon(1e-15));

  set_gradient(opt, p, g2);
  opt.step();
  for (std::size_t i = 0; i < 2; ++i) {
    v[i] = mu * v[i] + g2[i];
    theta[i] -= eta * v[i];
  }
  // By hand: v2 = (0.9 * 0.5 + 1.5, 0.9 * -2 + 0.25) = (1.95, -1.55);
  // theta2 = (1 - 0.05 - 0.195, -1 + 0.2 + 0.155) = (0.755, -0.645).
  CHECK(theta[0] == doctest::Approx(0.755).epsilon(1e-14));
  CHECK(theta[1] == doctest::Approx(-0.645).epsilon(1e-14));
  CHECK(p.values()[0] == doctest::Approx(theta[0]).epsilon(1e-15));
  CHECK(p.values()[1] == doctest::Approx(theta[1]).epsilon(1e-15));
}

TEST_CASE("Nesterov momentum steps theta <- theta - eta (g + mu v) with the updated velocity") {
  ad::Tensor p = parameter({1.0, -1.0});
  const double eta = 0.1, mu = 0.9;
  nn::SGD<double> opt({p}, eta, mu, /*nesterov=*/true);
  const std::vector<double> g1 = {0.5, -2.0}, g2 = {1.5, 0.25};

  set_gradient(opt, p, g1);
  opt.step();
  // v1 = g1 = (0.5, -2); theta1 = theta0 - 0.1 (g1 + 0.9 v1) = theta0 - 0.19 g1
  //    = (1 - 0.095, -1 + 0.38) = (0.905, -0.62).
  CHECK(p.values()[0] == doctest::Approx(0.905).epsilon(1e-14));
  CHECK(p.values()[1] == doctest::Approx(-0.62).epsilon(1e-14));

  set_gradient(opt, p, g2);
  opt.step();
  // v2 = 0.9 v1 + g2 = (1.95, -1.55);
  // theta2 = theta1 - 0.1 (g2 + 0.9 v2) = (0.905 - 0.1 (1.5 + 1.755), -0.62 - 0.1 (0.25 - 1.395))
  //        = (0.5795, -0.5055).
  CHECK(p.values()[0] == doctest::Approx(0.5795).epsilon(1e-14));
  CHECK(p.values()[1] == doctest::Approx(-0.5055).epsilon(1e-14));
}

TEST_CASE("SGD without momentum is gradient descent") {
  ad::Tensor p = parameter({3.0, 4.0});
  nn::SGD<double> opt({p}, 0.25);
  set_gradient(opt, p, {4.0, -8.0});
  opt.step();
  CHECK(values_of(p) == std::vector<double>{2.0, 6.0});
}

TEST_CASE("Adam takes two bias-corrected steps as computed by hand") {
  ad::Tensor p = parameter({1.0, -0.5, 2.0});
  const double eta = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  nn::Adam<double> opt({p}, eta, b1, b2, eps);
  const std::vector<double> g1 = {0.3, -1.2, 0.0}, g2 = {-0.6, -0.4, 2.0};
  std::vector<double> theta = {1.0, -0.5, 2.0}, m(3, 0.0), v(3, 0.0);

  set_gradient(opt, p, g1);
  opt.step();
  CHECK(opt.steps_taken() == 1);
  for (std::size_t i = 0; i < 3; ++i) {
    m[i] = (1 - b1) * g1[i];
    v[i] = (1 - b2) * g1[i] * g1[i];
    const double m_hat = m[i] / (1 - b1), v_hat = v[i] / (1 - b2);  // = g1, g1^2
    theta[i] -= eta * m_hat / (std::sqrt(v_hat) + eps);
  }
  // The first Adam step moves each coordinate by about eta sign(g) (0 where g = 0).
  CHECK(theta[0] == doctest::Approx(1.0 - 0.01).epsilon(1e-9));
  CHECK(theta[1] == doctest::Approx(-0.5 + 0.01).epsilon(1e-9));
  CHECK(theta[2] == 2.0);
  for (std::size_t i = 0; i < 3; ++i) CHECK(p.values()[i] == doctest::Approx(theta[i]).epsilon(1e-14));

  set_gradient(opt, p, g2);
  opt.step();
  CHECK(opt.steps_taken() == 2);
  for (std::size_t i = 0; i < 3; ++i) {
    m[i] = b1 * m[i] + (1 - b1) * g2[i];
    v[i] = b2 * v[i] + (1 - b2) * g2[i] * g2[i];
    const double m_hat = m[i] / (1 - b1 * b1), v_hat = v[i] / (1 - b2 * b2);
    theta[i] -= eta * m_hat / (std::sqrt(v_hat) + eps);
  }
  for (std::size_t i = 0; i < 3; ++i) CHECK(p.values()[i] == doctest::Approx(theta[i]).epsilon(1e-14));
}

TEST_CASE("zero_grad sets every parameter's gradient to zero, and without it gradients accumulate") {
  ad::Tensor p = parameter({1.0, 2.0});
  ad::Tensor q = parameter({3.0});
  nn::GradientDescent<double> opt({p, q}, 0.1);
  const auto loss = [&] { return ad::sum(p * 3.0) + ad::sum(q * q); };
  loss().backward();
  loss().backward();
  CHECK(values_of(p.grad()) == std::vector<double>{6.0, 6.0});
  CHECK(values_of(q.grad()) == std::vector<double>{12.0});
  opt.zero_grad();
  CHECK(values_of(p.grad()) == std::vector<double>{0.0, 0.0});
  CHECK(values_of(q.grad()) == std::vector<double>{0.0});
  // A step with zero gradients changes nothing.
  opt.step();
  CHECK(values_of(p) == std::vector<double>{1.0, 2.0});
  CHECK(values_of(q) == std::vector<double>{3.0});
}

TEST_CASE("a parameter that received no gradient is left unchanged by every optimiser") {
  ad::Tensor used = parameter({1.0});
  ad::Tensor unused = parameter({5.0});
  nn::GradientDescent<double> gd({used, unused}, 0.5);
  nn::SGD<double> sgd({used, unused}, 0.5, 0.5);
  nn::Adam<double> adam({used, unused}, 0.5);
  for (nn::Optimizer<double>* opt : std::vector<nn::Optimizer<double>*>{&gd, &sgd, &adam}) {
    opt->zero_grad();
    ad::sum(used * 2.0).backward();
    opt->step();
    CHECK(unused.values()[0] == 5.0);
  }
  CHECK(used.values()[0] < 1.0);
}

TEST_CASE("optimisers hold handles that share the network's parameters") {
  std::mt19937_64 rng(1);
  nn::Network net({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::GradientDescent<double> opt(net.parameters(), 0.1);
  REQUIRE(opt.parameters().size() == 4);
  for (std::size_t k = 0; k < 4; ++k)
    CHECK(opt.parameters()[k].values().data() == net.parameters()[k].values().data());
  const auto before = net.flat_parameters();
  nn::mse_loss(net(ad::Tensor::from({1, 2}, {0.5, -0.5})), ad::Tensor::from({1, 1}, {1.0})).backward();
  opt.step();
  CHECK(net.flat_parameters() != before);
}

TEST_CASE("invalid learning rates are rejected with a message naming the optimiser") {
  ad::Tensor p = parameter({1.0});
  check_rejects_rate([&](double rate) { nn::GradientDescent<double> opt({p}, rate); }, "GradientDescent");
  check_rejects_rate([&](double rate) { nn::SGD<double> opt({p}, rate); }, "SGD");
  check_rejects_rate([&](double rate) { nn::Adam<double> opt({p}, rate); }, "Adam");
  nn::GradientDescent<double> opt({p}, 0.1);
  check_rejects_rate([&](double rate) { opt.set_learning_rate(rate); }, "set_learning_rate");
  CHECK(opt.learning_rate() == 0.1);
  opt.set_learning_rate(0.25);
  CHECK(opt.learning_rate() == 0.25);
}

TEST_CASE("invalid momentum, betas and epsilon are rejected") {
  ad::Tensor p = parameter({1.0});
  CHECK_THROWS_AS(nn::SGD<double>({p}, 0.1, -0.1), std::invalid_argument);
  CHECK_THROWS_AS(nn::SGD<double>({p}, 0.1, 1.0), std::invalid_argument);
  CHECK_THROWS_AS(nn::Adam<double>({p}, 0.1, 1.0), std::invalid_argument);
  CHECK_THROWS_AS(nn::Adam<double>({p}, 0.1, 0.9, -0.5), std::invalid_argument);
  CHECK_THROWS_AS(nn::Adam<double>({p}, 0.1, 0.9, 0.999, 0.0), std::invalid_argument);
}

TEST_CASE("an optimiser refuses a parameter that is not a leaf") {
  ad::Tensor p = parameter({1.0, 2.0});
  const ad::Tensor derived = p * 2.0;
  CHECK_THROWS_AS(nn::GradientDescent<double>({derived}, 0.1), std::invalid_argument);
  CHECK_THROWS_AS(nn::GradientDescent<double>({ad::Tensor()}, 0.1), std::invalid_argument);
}

TEST_CASE("float optimisers apply the same rules") {
  ad::TensorF p = ad::TensorF::from(ad::Shape{2}, {1.0f, 2.0f});
  p.requires_grad(true);
  nn::GradientDescent<float> opt({p}, 0.5f);
  ad::sum(p * ad::TensorF::from(ad::Shape{2}, {2.0f, -1.0f})).backward();
  opt.step();
  CHECK(p.values()[0] == 0.0f);
  CHECK(p.values()[1] == 2.5f);
}

TEST_CASE("a state that does not fit is refused by load_state and leaves the optimiser as it was") {
  std::mt19937_64 rng(3);
  nn::Network net({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  const ad::Tensor X = ad::Tensor::from({1, 2}, {0.5, -0.5}), Y = ad::Tensor::from({1, 1}, {1.0});
  nn::SGD<double> sgd(net.parameters(), 0.1, 0.9);
  nn::Adam<double> adam(net.parameters(), 0.01);
  for (int step = 0; step < 2; ++step) {
    sgd.zero_grad();
    nn::mse_loss(net(X), Y).backward();
    sgd.step();
    adam.step();
  }
  auto same = [](const nn::OptimizerState& a, const nn::OptimizerState& b) {
    return a.kind == b.kind && a.learning_rate == b.learning_rate && a.steps == b.steps &&
           a.buffers == b.buffers;
  };
  for (nn::Optimizer<double>* opt :
       {static_cast<nn::Optimizer<double>*>(&sgd), static_cast<nn::Optimizer<double>*>(&adam)}) {
    const nn::OptimizerState before = opt->state();
    CAPTURE(before.kind);
    nn::OptimizerState crafted = before;
    crafted.learning_rate = 0.5;
    crafted.steps += 7;
    for (auto& buffer : crafted.buffers)
      for (double& v : buffer) v = 42.0;
    crafted.buffers.back().push_back(1.0);  // the last buffer one value too long
    CHECK_THROWS_AS(opt->load_state(crafted), std::invalid_argument);
    CHECK(same(opt->state(), before));
    crafted.buffers.back().pop_back();  // now it fits, and is taken whole
    opt->load_state(crafted);
    const nn::OptimizerState after = opt->state();
    CHECK(after.learning_rate == 0.5);
    CHECK(after.buffers == crafted.buffers);
    CHECK(after.steps == (before.kind == "Adam" ? crafted.steps : 0));  // SGD keeps no step count
  }
}
