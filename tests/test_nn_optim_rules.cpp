// Specification: the update rules added with issue 15 (SGD's weight decay and
// dampening, AdamW, Adam's L2 decay and AMSGrad, RMSprop), parameter groups,
// optimiser state and input checks, step by step against values computed by
// hand. test_nn_optim_torch.cpp checks the same rules against LibTorch where
// it is installed.
//
// Gradients are made known by differentiating a linear function: for
// C = sum_i c_i theta_i, dC/dtheta = c exactly.
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

template <class T = double>
ad::TensorT<T> parameter(std::vector<T> values) {
  const std::size_t n = values.size();
  ad::TensorT<T> p = ad::TensorT<T>::from(ad::Shape{n}, std::move(values));
  p.requires_grad(true);
  return p;
}

// Zeroes every gradient, then sets p's to exactly c.
template <class T>
void set_gradient(nn::Optimizer<T>& opt, const ad::TensorT<T>& p, const std::vector<T>& c) {
  opt.zero_grad();
  ad::sum(p * ad::TensorT<T>::from(ad::Shape{c.size()}, c)).backward();
}

template <class T>
std::vector<T> values_of(const ad::TensorT<T>& t) {
  return {t.values().begin(), t.values().end()};
}

void check_close(const ad::Tensor& p, const std::vector<double>& expected, double epsilon = 1e-14) {
  REQUIRE(p.numel() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CHECK(p.values()[i] == doctest::Approx(expected[i]).epsilon(epsilon));
  }
}

// Runs `make` and checks it throws std::invalid_argument whose message holds
// every one of `words`.
template <class Make>
void check_rejected(Make make, const std::vector<std::string>& words) {
  try {
    make();
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    INFO(message);
    for (const auto& word : words) CHECK(message.find(word) != std::string::npos);
  }
}

}  // namespace

// ---- SGD ----------------------------------------------------------------------

TEST_CASE("SGD adds the L2 weight decay to the gradient and starts the velocity undamped") {
  ad::Tensor p = parameter({1.0, -2.0});
  nn::SGD opt(std::vector<ad::Tensor>{p},
              {.learning_rate = 0.1, .momentum = 0.5, .dampening = 0.5, .weight_decay = 0.25});
  set_gradient(opt, p, {0.5, 1.0});
  opt.step();
  // d = g + 0.25 theta = (0.75, 0.5); first step v = d; theta = (1, -2) - 0.1 v.
  check_close(p, {0.925, -2.05});
  set_gradient(opt, p, {1.0, -1.0});
  opt.step();
  // d = (1 + 0.23125, -1 - 0.5125); v = 0.5 v + 0.5 d = (0.990625, -0.50625).
  check_close(p, {0.925 - 0.0990625, -2.05 + 0.050625});
}

TEST_CASE("SGD with weight decay and Nesterov momentum steps theta <- theta - eta (d + mu v)") {
  ad::Tensor p = parameter({1.0, -2.0});
  nn::SGD opt(std::vector<ad::Tensor>{p},
              {.learning_rate = 0.1, .momentum = 0.5, .weight_decay = 0.25, .nesterov = true});
  set_gradient(opt, p, {0.5, 1.0});
  opt.step();
  // d = v = (0.75, 0.5); theta -= 0.1 * 1.5 d.
  check_close(p, {0.8875, -2.075});
  set_gradient(opt, p, {1.0, -1.0});
  opt.step();
  // d = (1.221875, -1.51875); v = 0.5 (0.75, 0.5) + d; theta -= 0.1 (d + 0.5 v).
  check_close(p, {0.68546875, -1.8596875});
}

TEST_CASE("SGD with weight decay and no momentum shrinks a parameter without gradient geometrically") {
  ad::Tensor p = parameter({2.0});
  nn::SGD opt(std::vector<ad::Tensor>{p}, {.learning_rate = 0.5, .weight_decay = 0.5});
  for (int t = 1; t <= 3; ++t) {
    set_gradient(opt, p, {0.0});
    opt.step();
    CHECK(p.values()[0] == 2.0 * std::pow(0.75, t));  // theta (1 - eta lambda)^t, exact here
  }
}

TEST_CASE("SGD's positional and options constructors give the same steps") {
  ad::Tensor p = parameter({1.0, -1.0}), q = parameter({1.0, -1.0});
  nn::SGD positional(std::vector<ad::Tensor>{p}, 0.1, 0.9, true);
  nn::SGD options(std::vector<ad::Tensor>{q}, {.learning_rate = 0.1, .momentum = 0.9, .nesterov = true});
  for (int t = 0; t < 3; ++t) {
    set_gradient(positional, p, {0.5 + t, -2.0});
    set_gradient(options, q, {0.5 + t, -2.0});
    positional.step();
    options.step();
  }
  CHECK(values_of(p) == values_of(q));
}

// ---- Adam and AdamW -----------------------------------------------------------

TEST_CASE("AdamW decays the weights by (1 - eta lambda) before Adam's step") {
  ad::Tensor p = parameter({1.0, -0.5, 2.0});
  const double eta = 0.1, lambda = 0.5, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  nn::AdamW opt(std::vector<ad::Tensor>{p}, {.learning_rate = eta, .weight_decay = lambda});
  const std::vector<double> g1 = {0.3, -1.2, 0.0}, g2 = {-0.6, -0.4, 2.0};
  std::vector<double> theta = {1.0, -0.5, 2.0}, m(3, 0.0), v(3, 0.0);

  set_gradient(opt, p, g1);
  opt.step();
  // m_hat = g, v_hat = g^2: theta (1 - 0.05) - 0.1 sign(g) (0 where g = 0).
  check_close(p, {0.95 - 0.1, -0.475 + 0.1, 1.9}, 1e-8);
  for (std::size_t i = 0; i < 3; ++i) {
    theta[i] *= 1 - eta * lambda;
    m[i] = (1 - b1) * g1[i];
    v[i] = (1 - b2) * g1[i] * g1[i];
    theta[i] -= eta * (m[i] / (1 - b1)) / (std::sqrt(v[i] / (1 - b2)) + eps);
  }
  check_close(p, theta);

  set_gradient(opt, p, g2);
  opt.step();
  for (std::size_t i = 0; i < 3; ++i) {
    theta[i] *= 1 - eta * lambda;
    m[i] = b1 * m[i] + (1 - b1) * g2[i];
    v[i] = b2 * v[i] + (1 - b2) * g2[i] * g2[i];
    theta[i] -= eta * (m[i] / (1 - b1 * b1)) / (std::sqrt(v[i] / (1 - b2 * b2)) + eps);
  }
  check_close(p, theta);
}

TEST_CASE(
    "AdamW shrinks a weight without gradient by (1 - eta lambda) per step; Adam's L2 decay moves it by "
    "~eta") {
  ad::Tensor p = parameter({2.0}), q = parameter({2.0});
  nn::AdamW adamw(std::vector<ad::Tensor>{p}, {.learning_rate = 0.1, .weight_decay = 0.5});
  nn::Adam adam(std::vector<ad::Tensor>{q}, nn::AdamOptions{.learning_rate = 0.1, .weight_decay = 0.5});
  for (int t = 1; t <= 3; ++t) {
    set_gradient(adamw, p, {0.0});
    set_gradient(adam, q, {0.0});
    adamw.step();
    adam.step();
    CHECK(p.values()[0] == doctest::Approx(2.0 * std::pow(0.95, t)).epsilon(1e-15));
    // Adam with L2 sees g = 0.5 theta > 0: its first step is eta sign(g), the
    // next ones about as much (g changes little).
    if (t == 1) CHECK(q.values()[0] == doctest::Approx(2.0 - 0.1).epsilon(1e-8));
  }
  CHECK(q.values()[0] == doctest::Approx(2.0 - 3 * 0.1).epsilon(1e-3));
}

TEST_CASE("AdamW without weight decay is Adam, bit for bit, in float and double") {
  ad::Tensor p = parameter({1.0, -0.5}), q = parameter({1.0, -0.5});
  ad::TensorF pf = parameter<float>({1.0f, -0.5f}), qf = parameter<float>({1.0f, -0.5f});
  nn::AdamW adamw(std::vector<ad::Tensor>{p}, {.learning_rate = 0.01, .weight_decay = 0.0});
  nn::Adam adam(std::vector<ad::Tensor>{q}, 0.01);
  nn::AdamW adamw_f(std::vector<ad::TensorF>{pf}, {.learning_rate = 0.01, .weight_decay = 0.0});
  nn::Adam adam_f(std::vector<ad::TensorF>{qf}, 0.01f);
  for (int t = 0; t < 4; ++t) {
    set_gradient(adamw, p, {0.3 * t - 0.2, 1.0});
    set_gradient(adam, q, {0.3 * t - 0.2, 1.0});
    set_gradient(adamw_f, pf, {0.3f * float(t) - 0.2f, 1.0f});
    set_gradient(adam_f, qf, {0.3f * float(t) - 0.2f, 1.0f});
    adamw.step();
    adam.step();
    adamw_f.step();
    adam_f.step();
  }
  CHECK(values_of(p) == values_of(q));
  CHECK(values_of(pf) == values_of(qf));
  CHECK(adamw.kind() == std::string("AdamW"));
}

TEST_CASE("AMSGrad divides by the running maximum of v, not by v") {
  // beta1 = 0 (m = g, c1 = 1), beta2 = 0.5: v1 = 0.5 g1^2 = 0.5; with g2 = 0.5,
  // v2 = 0.25 + 0.125 = 0.375 < v_max = 0.5, and c2 = 0.75.
  for (bool amsgrad : {false, true}) {
    CAPTURE(amsgrad);
    ad::Tensor p = parameter({0.0});
    nn::Adam opt(std::vector<ad::Tensor>{p},
                 nn::AdamOptions{.learning_rate = 0.1, .beta1 = 0.0, .beta2 = 0.5, .amsgrad = amsgrad});
    set_gradient(opt, p, {1.0});
    opt.step();
    const double first = -0.1 / (1.0 + 1e-8);  // v_hat = 0.5 / 0.5 = 1
    check_close(p, {first});
    set_gradient(opt, p, {0.5});
    opt.step();
    const double v_hat = (amsgrad ? 0.5 : 0.375) / 0.75;
    check_close(p, {first - 0.1 * 0.5 / (std::sqrt(v_hat) + 1e-8)});
  }
}

// ---- RMSprop ------------------------------------------------------------------

TEST_CASE("RMSprop divides the gradient by the root of its running mean square") {
  ad::Tensor p = parameter({1.0, -1.0});
  const double eta = 0.01, alpha = 0.75, eps = 1e-8;
  nn::RMSprop opt(std::vector<ad::Tensor>{p}, {.learning_rate = eta, .alpha = alpha});
  set_gradient(opt, p, {2.0, -0.5});
  opt.step();
  // s = 0.25 g^2, sqrt(s) = |g| / 2: each coordinate moves by about 2 eta.
  check_close(p, {1.0 - eta * 2.0 / (1.0 + eps), -1.0 + eta * 0.5 / (0.25 + eps)});
  std::vector<double> theta = values_of(p), s = {0.25 * 4.0, 0.25 * 0.25};
  const std::vector<double> g2 = {1.0, 3.0};
  set_gradient(opt, p, g2);
  opt.step();
  for (std::size_t i = 0; i < 2; ++i) {
    s[i] = alpha * s[i] + (1 - alpha) * g2[i] * g2[i];
    theta[i] -= eta * g2[i] / (std::sqrt(s[i]) + eps);
  }
  check_close(p, theta);
}

TEST_CASE("centered RMSprop with momentum and weight decay follows torch.optim.RMSprop's rule") {
  ad::Tensor p = parameter({1.0, -1.0});
  const double eta = 0.01, alpha = 0.5, eps = 1e-8, mu = 0.5, lambda = 0.1;
  nn::RMSprop opt(
      std::vector<ad::Tensor>{p},
      {.learning_rate = eta, .alpha = alpha, .weight_decay = lambda, .momentum = mu, .centered = true});
  std::vector<double> theta = {1.0, -1.0}, s(2, 0.0), a(2, 0.0), b(2, 0.0);
  const std::vector<std::vector<double>> gradients = {{2.0, -0.5}, {1.0, 3.0}, {-1.0, 0.25}};
  for (const auto& g : gradients) {
    set_gradient(opt, p, g);
    opt.step();
    for (std::size_t i = 0; i < 2; ++i) {
      const double d = g[i] + lambda * theta[i];
      s[i] = alpha * s[i] + (1 - alpha) * d * d;
      a[i] = alpha * a[i] + (1 - alpha) * d;
      b[i] = mu * b[i] + d / (std::sqrt(s[i] - a[i] * a[i]) + eps);
      theta[i] -= eta * b[i];
    }
    check_close(p, theta);
  }
  // The first step by hand: d = (2.1, -0.6), s - a^2 = 0.25 d^2, so b = 2 sign(d).
  CHECK(theta[0] < 1.0);
}

// ---- parameter groups ---------------------------------------------------------

TEST_CASE("a parameter group steps with its own learning rate and weight decay") {
  ad::Tensor p = parameter({1.0}), q = parameter({1.0}), r = parameter({1.0});
  nn::SGD opt(std::vector<ad::Tensor>{p}, {.learning_rate = 0.5, .weight_decay = 0.5});
  opt.add_param_group({q}, {.learning_rate = 0.25});  // weight decay: the constructor's
  opt.add_param_group({r}, {.learning_rate = 0.125, .weight_decay = 0.0});
  REQUIRE(opt.group_count() == 3);
  CHECK(opt.parameters().size() == 3);
  opt.zero_grad();
  ad::sum(p + q + r).backward();  // g = 1 for each
  opt.step();
  CHECK(p.values()[0] == 1.0 - 0.5 * 1.5);
  CHECK(q.values()[0] == 1.0 - 0.25 * 1.5);
  CHECK(r.values()[0] == 1.0 - 0.125);
  CHECK(opt.param_groups()[1].weight_decay == 0.5);
  CHECK(opt.learning_rate() == 0.5);
  CHECK(opt.learning_rate(2) == 0.125);
}

TEST_CASE("set_learning_rate(eta) sets every group's rate, set_learning_rate(g, eta) one group's") {
  ad::Tensor p = parameter({1.0}), q = parameter({1.0});
  nn::GradientDescent opt(std::vector<ad::Tensor>{p}, 0.5);
  opt.add_param_group({q}, {.learning_rate = 0.25});
  opt.set_learning_rate(1, 0.125);
  CHECK(opt.learning_rate(1) == 0.125);
  CHECK(opt.learning_rate() == 0.5);
  opt.set_learning_rate(0.75);
  CHECK(opt.learning_rate(0) == 0.75);
  CHECK(opt.learning_rate(1) == 0.75);
  CHECK_THROWS_AS(opt.learning_rate(2), std::out_of_range);
  CHECK_THROWS_AS(opt.set_learning_rate(2, 0.1), std::out_of_range);
  check_rejected([&] { opt.set_learning_rate(1, 0.0); }, {"set_learning_rate", "learning rate", "0"});
  CHECK(opt.learning_rate(1) == 0.75);
}

TEST_CASE("add_param_group refuses a parameter already optimised, a bad rate or a decay the rule lacks") {
  ad::Tensor p = parameter({1.0}), q = parameter({1.0});
  nn::SGD sgd(std::vector<ad::Tensor>{p}, {.learning_rate = 0.1});
  check_rejected([&] { sgd.add_param_group({q, p}); }, {"SGD::add_param_group", "parameter 1", "already"});
  check_rejected([&] { sgd.add_param_group({q, q}); }, {"SGD::add_param_group", "same tensor"});
  check_rejected([&] { sgd.add_param_group({q}, {.learning_rate = -1.0}); }, {"learning rate", "-1"});
  check_rejected([&] { sgd.add_param_group({q}, {.weight_decay = -0.5}); }, {"weight decay", "-0.5"});
  check_rejected([&] { sgd.add_param_group({q * 2.0}); }, {"not a leaf"});
  nn::GradientDescent gd(std::vector<ad::Tensor>{p}, 0.1);
  check_rejected([&] { gd.add_param_group({q}, {.weight_decay = 0.1}); },
                 {"GradientDescent", "no weight decay"});
  CHECK(sgd.group_count() == 1);  // nothing was added
  CHECK(sgd.parameters().size() == 1);
  CHECK(gd.group_count() == 1);
}

TEST_CASE("a group added later gets fresh optimiser memory") {
  ad::Tensor p = parameter({1.0}), q = parameter({1.0});
  nn::Adam opt(std::vector<ad::Tensor>{p}, 0.1);
  set_gradient(opt, p, {1.0});
  opt.step();
  opt.add_param_group({q});
  const nn::OptimizerState s = opt.state();
  REQUIRE(s.buffers.size() == 4);  // m_p, m_q, v_p, v_q
  CHECK(s.buffers[1] == std::vector<double>{0.0});
  CHECK(s.buffers[3] == std::vector<double>{0.0});
}

// ---- state --------------------------------------------------------------------

namespace {
// Steps `a` 3 times, copies its parameters and state into `b` (built on
// `b_params`), then steps both 3 more times with the same gradients: their
// parameters must stay bit-identical.
template <class T, class Opt>
void check_resumes_bit_identically(Opt& a, std::vector<ad::TensorT<T>>& a_params, Opt& b,
                                   std::vector<ad::TensorT<T>>& b_params) {
  const auto gradients_at = [](int t, std::size_t k, std::size_t n) {
    std::vector<T> g(n);
    for (std::size_t i = 0; i < n; ++i) g[i] = T(std::sin(1.0 + t + 2.0 * double(k) + 0.5 * double(i)));
    return g;
  };
  const auto step = [&](Opt& opt, std::vector<ad::TensorT<T>>& params, int t) {
    opt.zero_grad();
    for (std::size_t k = 0; k < params.size(); ++k)
      ad::sum(params[k] * ad::TensorT<T>::from(params[k].shape(), gradients_at(t, k, params[k].numel())))
          .backward();
    opt.step();
  };
  for (int t = 0; t < 3; ++t) step(a, a_params, t);
  for (std::size_t k = 0; k < a_params.size(); ++k) {
    auto values = b_params[k].mutable_values();
    std::copy(a_params[k].values().begin(), a_params[k].values().end(), values.begin());
  }
  b.load_state(a.state());
  for (int t = 3; t < 6; ++t) {
    step(a, a_params, t);
    step(b, b_params, t);
  }
  for (std::size_t k = 0; k < a_params.size(); ++k) CHECK(values_of(a_params[k]) == values_of(b_params[k]));
  CHECK(a.state().buffers == b.state().buffers);
}
}  // namespace

TEST_CASE("state() and load_state() resume every new optimiser bit-identically, groups included") {
  const auto two = [] { return std::vector<ad::Tensor>{parameter({1.0, -2.0, 0.5}), parameter({0.25})}; };
  const auto two_f = [] {
    return std::vector<ad::TensorF>{parameter<float>({1.0f, -2.0f, 0.5f}), parameter<float>({0.25f})};
  };
  {
    auto pa = two(), pb = two();
    const nn::SGDOptions o{.learning_rate = 0.1, .momentum = 0.9, .dampening = 0.2, .weight_decay = 0.01};
    nn::SGD a(std::vector<ad::Tensor>{pa[0]}, o), b(std::vector<ad::Tensor>{pb[0]}, o);
    a.add_param_group({pa[1]}, {.learning_rate = 0.05});
    b.add_param_group({pb[1]}, {.learning_rate = 0.3});  // the state brings 0.05
    check_resumes_bit_identically(a, pa, b, pb);
    CHECK(b.learning_rate(1) == 0.05);
  }
  {
    auto pa = two(), pb = two();
    nn::AdamW a(pa, {.learning_rate = 0.01, .amsgrad = true}),
        b(pb, {.learning_rate = 0.01, .amsgrad = true});
    check_resumes_bit_identically(a, pa, b, pb);
    CHECK(b.steps_taken() == 6);
  }
  {
    auto pa = two_f(), pb = two_f();
    nn::AdamW a(pa, {.learning_rate = 0.01}), b(pb, {.learning_rate = 0.01});
    check_resumes_bit_identically(a, pa, b, pb);
  }
  {
    auto pa = two(), pb = two();
    const nn::RMSpropOptions o{.weight_decay = 0.1, .momentum = 0.5, .centered = true};
    nn::RMSprop a(pa, o), b(pb, o);
    check_resumes_bit_identically(a, pa, b, pb);
  }
  {
    auto pa = two_f(), pb = two_f();
    nn::RMSprop a(pa, {.momentum = 0.5}), b(pb, {.momentum = 0.5});
    check_resumes_bit_identically(a, pa, b, pb);
  }
}

TEST_CASE("a state that does not fit a new optimiser is refused and changes nothing") {
  ad::Tensor p = parameter({1.0, 2.0}), q = parameter({3.0});
  nn::AdamW adamw(std::vector<ad::Tensor>{p}, {.learning_rate = 0.1, .amsgrad = true});
  nn::RMSprop rmsprop(std::vector<ad::Tensor>{p}, {.momentum = 0.5, .centered = true});
  nn::SGD sgd(std::vector<ad::Tensor>{p}, {.learning_rate = 0.1, .momentum = 0.9, .dampening = 0.5});
  for (nn::Optimizer<double>* opt : std::vector<nn::Optimizer<double>*>{&adamw, &rmsprop, &sgd}) {
    opt->add_param_group({q}, {.learning_rate = 0.2});
    set_gradient(*opt, p, {1.0, -1.0});
    opt->step();
  }
  const auto same = [](const nn::OptimizerState& a, const nn::OptimizerState& b) {
    return a.kind == b.kind && a.learning_rate == b.learning_rate && a.steps == b.steps &&
           a.buffers == b.buffers && a.other_group_learning_rates == b.other_group_learning_rates &&
           a.parameter_steps == b.parameter_steps;
  };
  for (nn::Optimizer<double>* opt : std::vector<nn::Optimizer<double>*>{&adamw, &rmsprop, &sgd}) {
    const nn::OptimizerState before = opt->state();
    CAPTURE(before.kind);
    CHECK(before.buffers.size() == (before.kind == "SGD" ? 2u : 6u));
    CHECK(before.other_group_learning_rates == std::vector<double>{0.2});
    std::vector<nn::OptimizerState> crafted(5, before);
    crafted[0].buffers.back().push_back(1.0);              // one value too many
    crafted[1].buffers.pop_back();                         // one buffer missing
    crafted[2].other_group_learning_rates.push_back(0.1);  // a group too many
    crafted[3].kind = before.kind == "SGD" ? "Adam" : "SGD";
    crafted[4].other_group_learning_rates = {std::numeric_limits<double>::quiet_NaN()};
    for (auto& c : crafted) {
      c.learning_rate = 0.5;
      for (auto& b : c.buffers)
        for (double& v : b) v = 42.0;
      CHECK_THROWS_AS(opt->load_state(c), std::invalid_argument);
      CHECK(same(opt->state(), before));
    }
  }
  // parameter_steps: SGD's alone, one per parameter.
  nn::OptimizerState s = sgd.state();
  CHECK(s.parameter_steps == std::vector<std::uint64_t>{1, 0});
  s.parameter_steps.push_back(3);
  CHECK_THROWS_AS(sgd.load_state(s), std::invalid_argument);
  nn::OptimizerState a = adamw.state();
  a.parameter_steps = {1, 1};
  CHECK_THROWS_AS(adamw.load_state(a), std::invalid_argument);
}

TEST_CASE("a state without group rates (written before groups existed) gives every group its learning rate") {
  ad::Tensor p = parameter({1.0}), q = parameter({1.0});
  nn::SGD opt(std::vector<ad::Tensor>{p}, {.learning_rate = 0.1, .momentum = 0.5});
  opt.add_param_group({q}, {.learning_rate = 0.2});
  nn::OptimizerState s = opt.state();
  s.other_group_learning_rates.clear();
  s.parameter_steps.clear();
  s.learning_rate = 0.3;
  opt.load_state(s);
  CHECK(opt.learning_rate(0) == 0.3);
  CHECK(opt.learning_rate(1) == 0.3);
  CHECK(opt.state().parameter_steps == std::vector<std::uint64_t>{1, 1});  // velocities count as started
}

// ---- construction -------------------------------------------------------------

TEST_CASE("the options constructors deduce float or double from the parameters") {
  std::mt19937_64 rng(1);
  nn::Network net({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::GradientDescent gd(net.parameters(), 0.1);
  nn::AdamW adamw(net.parameters(), {.learning_rate = 1e-3, .weight_decay = 1e-2});
  nn::SGD sgd(net.parameters(),
              {.learning_rate = 0.1, .momentum = 0.9, .weight_decay = 1e-4, .nesterov = true});
  nn::Adam adam(net.parameters(), {.learning_rate = 1e-3, .amsgrad = true});
  nn::RMSprop rmsprop(net.parameters());
  static_assert(std::is_same_v<decltype(gd), nn::GradientDescent<double>>);
  static_assert(std::is_same_v<decltype(adamw), nn::AdamW<double>>);
  static_assert(std::is_same_v<decltype(sgd), nn::SGD<double>>);
  static_assert(std::is_same_v<decltype(adam), nn::Adam<double>>);
  static_assert(std::is_same_v<decltype(rmsprop), nn::RMSprop<double>>);
  nn::NetworkT<float> netf({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::AdamW adamw_f(netf.parameters(), {.learning_rate = 1e-3});
  static_assert(std::is_same_v<decltype(adamw_f), nn::AdamW<float>>);
  CHECK(adamw.param_groups()[0].weight_decay == 1e-2);
  CHECK(adamw_f.param_groups()[0].weight_decay == 1e-2);  // PyTorch's default
  CHECK(rmsprop.learning_rate() == 1e-2);
}

TEST_CASE("bad hyper-parameters are rejected with a message naming the optimiser and the value") {
  ad::Tensor p = parameter({1.0});
  const std::vector<ad::Tensor> ps{p};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  check_rejected([&] { nn::AdamW opt(ps, {.learning_rate = -1.0}); }, {"nn::AdamW", "learning rate", "-1"});
  check_rejected([&] { nn::AdamW opt(ps, {.beta1 = 1.0}); }, {"nn::AdamW", "beta1", "[0, 1)", "1"});
  check_rejected([&] { nn::AdamW opt(ps, {.beta2 = -0.1}); }, {"nn::AdamW", "beta2", "-0.1"});
  check_rejected([&] { nn::AdamW opt(ps, {.epsilon = 0.0}); }, {"nn::AdamW", "epsilon", "0"});
  check_rejected([&] { nn::AdamW opt(ps, {.weight_decay = -0.01}); }, {"nn::AdamW", "weight decay", "-0.01"});
  check_rejected([&] { nn::Adam opt(ps, nn::AdamOptions{.weight_decay = nan}); },
                 {"nn::Adam", "weight decay", "nan"});
  check_rejected([&] { nn::SGD opt(ps, {.momentum = 0.9}); }, {"nn::SGD", "learning rate", "0"});
  check_rejected([&] { nn::SGD opt(ps, {.learning_rate = 0.1, .dampening = 1.0}); },
                 {"nn::SGD", "dampening", "1"});
  check_rejected([&] { nn::SGD opt(ps, {.learning_rate = 0.1, .weight_decay = -1.0}); },
                 {"nn::SGD", "weight decay", "-1"});
  check_rejected([&] { nn::SGD opt(ps, {.learning_rate = 0.1, .nesterov = true}); },
                 {"nn::SGD", "Nesterov", "momentum 0"});
  check_rejected(
      [&] { nn::SGD opt(ps, {.learning_rate = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
      {"nn::SGD", "Nesterov", "dampening 0.1"});
  check_rejected([&] { nn::RMSprop opt(ps, {.alpha = 1.0}); }, {"nn::RMSprop", "alpha", "1"});
  check_rejected([&] { nn::RMSprop opt(ps, {.epsilon = -1e-8}); }, {"nn::RMSprop", "epsilon", "-1e-08"});
  check_rejected([&] { nn::RMSprop opt(ps, {.momentum = 1.5}); }, {"nn::RMSprop", "momentum", "1.5"});
  check_rejected([&] { nn::RMSprop opt(ps, {.learning_rate = nan}); },
                 {"nn::RMSprop", "learning rate", "nan"});
}
