// Specification by comparison: nn's optimisers, parameter groups, gradient
// clipping and learning-rate schedules take the same 10 steps as LibTorch's
// (torch::optim, torch::nn::utils), to 1e-12 in double.
//
// Built only when LibTorch is found (tests/CMakeLists.txt); the same rules are
// checked against hand-computed values in test_nn_optim_rules.cpp and
// test_nn_schedules.cpp in every build.
//
// Both libraries see the same problem: two parameters (a 2x3 "weight" and a
// 3-vector "bias") whose gradient at every step is a fixed function of the
// library's own current parameter values, set exactly in both (for
// C = sum(G * theta), dC/dtheta = G), so any difference in the update rules
// shows in the parameters.
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <numbers>
#include <span>
#include <vector>

// clang-format off
#include <torch/optim.h>
#include <torch/nn/utils/clip_grad.h>  // needs torch::Tensor declared first
// clang-format on

// LibTorch (c10/util/logging_is_not_google_glog.h) defines a CHECK macro that
// aborts; doctest's must be the one these tests use.
#undef CHECK
#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

constexpr int steps = 10;
constexpr double tolerance = 1e-12;

const std::vector<double> weight0 = {0.5, -1.25, 0.75, 2.0, -0.3, 0.1};
const std::vector<double> bias0 = {-0.4, 0.9, 1.6};

// g_i = sin(3 theta_i) + theta_i / 2 + 0.1 (i + 1), times `scale`.
std::vector<double> gradient_at(std::span<const double> theta, double scale) {
  std::vector<double> g(theta.size());
  for (std::size_t i = 0; i < g.size(); ++i)
    g[i] = scale * (std::sin(3.0 * theta[i]) + 0.5 * theta[i] + 0.1 * double(i + 1));
  return g;
}

struct Twins {
  ad::Tensor weight = ad::Tensor::from({2, 3}, weight0).requires_grad(true);
  ad::Tensor bias = ad::Tensor::from(ad::Shape{3}, bias0).requires_grad(true);
  torch::Tensor torch_weight =
      torch::tensor(weight0, torch::kFloat64).reshape({2, 3}).set_requires_grad(true);
  torch::Tensor torch_bias = torch::tensor(bias0, torch::kFloat64).set_requires_grad(true);

  std::vector<ad::Tensor> ours() const { return {weight, bias}; }
  std::vector<torch::Tensor> theirs() const { return {torch_weight, torch_bias}; }

  // Zeroes both libraries' gradients and sets them to gradient_at(theta).
  void set_gradients(nn::OptimizerBase& opt, torch::optim::Optimizer& torch_opt, double scale) {
    opt.zero_grad();
    torch_opt.zero_grad();
    for (std::size_t k = 0; k < 2; ++k) {
      ad::Tensor p = ours()[k];
      ad::sum(p * ad::Tensor::from(p.shape(), gradient_at(p.values(), scale))).backward();
      torch::Tensor q = theirs()[k];
      const torch::Tensor contiguous = q.detach().contiguous();
      const std::span<const double> values(contiguous.data_ptr<double>(), std::size_t(contiguous.numel()));
      const std::vector<double> g = gradient_at(values, scale);
      torch::sum(q * torch::tensor(g, torch::kFloat64).reshape(q.sizes())).backward();
    }
  }

  // The largest |ours - LibTorch's| over every parameter value.
  double max_difference() const {
    double worst = 0.0;
    for (std::size_t k = 0; k < 2; ++k) {
      const torch::Tensor q = theirs()[k].detach().contiguous();
      const auto p = ours()[k].values();
      for (std::size_t i = 0; i < p.size(); ++i)
        worst = std::max(worst, std::abs(p[i] - q.data_ptr<double>()[i]));
    }
    return worst;
  }
  // How far ours moved from the start (the comparison means something only if it did).
  double distance_moved() const {
    double moved = 0.0;
    for (std::size_t i = 0; i < weight0.size(); ++i)
      moved = std::max(moved, std::abs(weight.values()[i] - weight0[i]));
    for (std::size_t i = 0; i < bias0.size(); ++i)
      moved = std::max(moved, std::abs(bias.values()[i] - bias0[i]));
    return moved;
  }
};

// Runs `steps` steps of both optimisers; `before_step` (clipping) runs between
// the gradients and the step, `after_step(t)` (schedules) after step t.
void run(Twins& twins, nn::OptimizerBase& opt, torch::optim::Optimizer& torch_opt, double scale = 1.0,
         const std::function<void()>& before_step = {}, const std::function<void(int)>& after_step = {}) {
  for (int t = 0; t < steps; ++t) {
    twins.set_gradients(opt, torch_opt, scale);
    if (before_step) before_step();
    opt.step();
    torch_opt.step();
    if (after_step) after_step(t);
  }
  CHECK(twins.distance_moved() > 1e-3);
  CHECK(twins.max_difference() <= tolerance);
}

void set_torch_learning_rate(torch::optim::Optimizer& opt, std::size_t group, double rate) {
  opt.param_groups().at(group).options().set_lr(rate);
}

}  // namespace

TEST_CASE("SGD with L2 weight decay, momentum and dampening matches torch::optim::SGD") {
  Twins twins;
  nn::SGD opt(twins.ours(), {.learning_rate = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 1e-2});
  torch::optim::SGD torch_opt(twins.theirs(),
                              torch::optim::SGDOptions(0.1).momentum(0.9).dampening(0.1).weight_decay(1e-2));
  run(twins, opt, torch_opt);
}

TEST_CASE("SGD with weight decay and Nesterov momentum matches torch::optim::SGD") {
  Twins twins;
  nn::SGD opt(twins.ours(), {.learning_rate = 0.05, .momentum = 0.8, .weight_decay = 0.1, .nesterov = true});
  torch::optim::SGD torch_opt(twins.theirs(),
                              torch::optim::SGDOptions(0.05).momentum(0.8).weight_decay(0.1).nesterov(true));
  run(twins, opt, torch_opt);
}

TEST_CASE("AdamW with decoupled weight decay matches torch::optim::AdamW") {
  Twins twins;
  nn::AdamW opt(twins.ours(), {.learning_rate = 0.05, .weight_decay = 0.1});
  torch::optim::AdamW torch_opt(twins.theirs(), torch::optim::AdamWOptions(0.05).weight_decay(0.1));
  run(twins, opt, torch_opt);
}

TEST_CASE("AdamW's defaults and AMSGrad match torch::optim::AdamW's") {
  Twins twins;
  nn::AdamW opt(twins.ours(), {.learning_rate = 0.05, .beta1 = 0.8, .beta2 = 0.95, .amsgrad = true});
  torch::optim::AdamW torch_opt(twins.theirs(),
                                torch::optim::AdamWOptions(0.05).betas({0.8, 0.95}).amsgrad(true));
  // Gradients that shrink make v fall, so AMSGrad's running maximum matters.
  int t = 0;
  for (; t < steps; ++t) {
    twins.set_gradients(opt, torch_opt, std::pow(0.5, t));
    opt.step();
    torch_opt.step();
  }
  CHECK(twins.max_difference() <= tolerance);
  CHECK(twins.distance_moved() > 1e-3);
}

TEST_CASE("Adam with L2 weight decay matches torch::optim::Adam") {
  Twins twins;
  nn::Adam opt(twins.ours(), nn::AdamOptions{.learning_rate = 0.05, .weight_decay = 0.1});
  torch::optim::Adam torch_opt(twins.theirs(), torch::optim::AdamOptions(0.05).weight_decay(0.1));
  run(twins, opt, torch_opt);
}

TEST_CASE("RMSprop matches torch::optim::RMSprop") {
  Twins twins;
  nn::RMSprop opt(twins.ours(), {.learning_rate = 0.01});
  torch::optim::RMSprop torch_opt(twins.theirs(), torch::optim::RMSpropOptions(0.01));
  run(twins, opt, torch_opt);
}

TEST_CASE("centered RMSprop with momentum and weight decay matches torch::optim::RMSprop") {
  Twins twins;
  nn::RMSprop opt(twins.ours(), {.learning_rate = 0.01,
                                 .alpha = 0.9,
                                 .epsilon = 1e-6,
                                 .weight_decay = 0.1,
                                 .momentum = 0.5,
                                 .centered = true});
  torch::optim::RMSprop torch_opt(
      twins.theirs(),
      torch::optim::RMSpropOptions(0.01).alpha(0.9).eps(1e-6).weight_decay(0.1).momentum(0.5).centered(true));
  run(twins, opt, torch_opt);
}

TEST_CASE("parameter groups with their own learning rate and weight decay match LibTorch's groups") {
  Twins twins;
  nn::AdamW opt(std::vector<ad::Tensor>{twins.weight}, {.learning_rate = 0.05, .weight_decay = 0.1});
  opt.add_param_group({twins.bias}, {.learning_rate = 0.01, .weight_decay = 0.0});
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{twins.torch_weight});
  groups.emplace_back(
      std::vector<torch::Tensor>{twins.torch_bias},
      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(0.01).weight_decay(0)));
  torch::optim::AdamW torch_opt(groups, torch::optim::AdamWOptions(0.05).weight_decay(0.1));
  run(twins, opt, torch_opt);
}

TEST_CASE("clip_grad_norm matches torch::nn::utils::clip_grad_norm_ for the 2-, 1- and infinity-norms") {
  for (double norm_type : {2.0, 1.0, 3.0, std::numeric_limits<double>::infinity()}) {
    CAPTURE(norm_type);
    Twins twins;
    nn::SGD opt(twins.ours(), {.learning_rate = 0.1, .momentum = 0.9});
    torch::optim::SGD torch_opt(twins.theirs(), torch::optim::SGDOptions(0.1).momentum(0.9));
    int clipped = 0;
    run(twins, opt, torch_opt, /*scale=*/5.0, [&] {
      const double norm = nn::clip_grad_norm(twins.ours(), 2.5, norm_type);
      const double torch_norm = torch::nn::utils::clip_grad_norm_(twins.theirs(), 2.5, norm_type);
      CHECK(norm == doctest::Approx(torch_norm).epsilon(1e-13));
      clipped += norm > 2.5;
    });
    CHECK(clipped > 0);
  }
}

TEST_CASE("clip_grad_value matches torch::nn::utils::clip_grad_value_") {
  Twins twins;
  nn::SGD opt(twins.ours(), {.learning_rate = 0.1, .momentum = 0.9});
  torch::optim::SGD torch_opt(twins.theirs(), torch::optim::SGDOptions(0.1).momentum(0.9));
  run(twins, opt, torch_opt, /*scale=*/5.0, [&] {
    nn::clip_grad_value(twins.ours(), 1.5);
    torch::nn::utils::clip_grad_value_(twins.theirs(), 1.5);
  });
}

// The schedules: LibTorch's C++ API has StepLR only, so the torch optimiser's
// rate is set every step from PyTorch's documented formulas
// (torch.optim.lr_scheduler), the same closed forms Python's schedulers follow.
namespace {
void check_schedule(nn::Schedule& schedule, nn::OptimizerBase& opt, Twins& twins,
                    torch::optim::Optimizer& torch_opt,
                    const std::function<double(std::size_t group, int t)>& pytorch_rate,
                    const std::function<void(nn::Schedule&, int)>& advance) {
  for (std::size_t g = 0; g < opt.group_count(); ++g) {
    CHECK(opt.learning_rate(g) == doctest::Approx(pytorch_rate(g, 0)).epsilon(1e-15));
    set_torch_learning_rate(torch_opt, g, pytorch_rate(g, 0));
  }
  run(twins, opt, torch_opt, 1.0, {}, [&](int t) {
    advance(schedule, t);
    for (std::size_t g = 0; g < opt.group_count(); ++g) {
      CHECK(opt.learning_rate(g) == doctest::Approx(pytorch_rate(g, t + 1)).epsilon(1e-14));
      set_torch_learning_rate(torch_opt, g, pytorch_rate(g, t + 1));
    }
  });
}
void plain_step(nn::Schedule& schedule, int) { schedule.step(); }
}  // namespace

TEST_CASE("StepSchedule matches StepLR's rates, and so LibTorch's parameters") {
  Twins twins;
  nn::SGD opt(twins.ours(), {.learning_rate = 0.2, .momentum = 0.9});
  torch::optim::SGD torch_opt(twins.theirs(), torch::optim::SGDOptions(0.2).momentum(0.9));
  nn::StepSchedule schedule(opt, /*step_size=*/3, /*gamma=*/0.5);
  check_schedule(
      schedule, opt, twins, torch_opt, [](std::size_t, int t) { return 0.2 * std::pow(0.5, t / 3); },
      plain_step);
}

TEST_CASE("StepSchedule after t steps has the rate of LibTorch's torch::optim::StepLR after t + 1") {
  // LibTorch's C++ StepLR computes the rate from its step count before
  // counting the step, one step behind Python's StepLR (which nn follows).
  Twins twins;
  nn::SGD opt(twins.ours(), {.learning_rate = 0.2});
  torch::optim::SGD torch_opt(twins.theirs(), torch::optim::SGDOptions(0.2));
  nn::StepSchedule schedule(opt, 3, 0.5);
  torch::optim::StepLR torch_schedule(torch_opt, 3, 0.5);
  torch_schedule.step();
  for (int t = 1; t <= 12; ++t) {
    schedule.step();
    torch_schedule.step();
    CAPTURE(t);
    CHECK(opt.learning_rate() ==
          doctest::Approx(torch_opt.param_groups()[0].options().get_lr()).epsilon(1e-15));
  }
}

TEST_CASE("ExponentialSchedule matches ExponentialLR's rates, and so LibTorch's parameters") {
  Twins twins;
  nn::RMSprop opt(twins.ours(), {.learning_rate = 0.02});
  torch::optim::RMSprop torch_opt(twins.theirs(), torch::optim::RMSpropOptions(0.02));
  nn::ExponentialSchedule schedule(opt, 0.8);
  check_schedule(
      schedule, opt, twins, torch_opt, [](std::size_t, int t) { return 0.02 * std::pow(0.8, t); },
      plain_step);
}

TEST_CASE("CosineSchedule with warm-up scales every group's base rate, matching LibTorch's parameters") {
  Twins twins;
  nn::AdamW opt(std::vector<ad::Tensor>{twins.weight}, {.learning_rate = 0.05});
  opt.add_param_group({twins.bias}, {.learning_rate = 0.02});
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{twins.torch_weight});
  groups.emplace_back(std::vector<torch::Tensor>{twins.torch_bias},
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(0.02)));
  torch::optim::AdamW torch_opt(groups, torch::optim::AdamWOptions(0.05));
  const double base[2] = {0.05, 0.02}, min_lr = 1e-3;
  const int warmup = 2, total = 8;
  nn::CosineSchedule schedule(opt, total, warmup, min_lr);
  // Linear warm-up (t + 1) / (W + 1), then CosineAnnealingLR's closed form
  // with T_max = total - W and eta_min = min_lr, then eta_min (10 steps run
  // past total = 8).
  const auto rate = [&](std::size_t g, int t) {
    if (t < warmup) return base[g] * (t + 1) / (warmup + 1);
    if (t >= total) return min_lr;
    return min_lr +
           (base[g] - min_lr) * (1 + std::cos(std::numbers::pi * (t - warmup) / (total - warmup))) / 2;
  };
  check_schedule(schedule, opt, twins, torch_opt, rate, plain_step);
}

TEST_CASE("LambdaSchedule matches LambdaLR's rates, and so LibTorch's parameters") {
  Twins twins;
  nn::SGD opt(twins.ours(), {.learning_rate = 0.1, .momentum = 0.5, .weight_decay = 0.01});
  torch::optim::SGD torch_opt(twins.theirs(), torch::optim::SGDOptions(0.1).momentum(0.5).weight_decay(0.01));
  nn::LambdaSchedule schedule(opt, [](std::size_t t) { return 1.0 / (1.0 + 0.5 * double(t)); });
  check_schedule(
      schedule, opt, twins, torch_opt, [](std::size_t, int t) { return 0.1 / (1.0 + 0.5 * t); }, plain_step);
}

TEST_CASE("ReduceOnPlateau matches ReduceLROnPlateau's rates, and so LibTorch's parameters") {
  Twins twins;
  nn::SGD opt(twins.ours(), {.learning_rate = 0.1, .momentum = 0.9});
  torch::optim::SGD torch_opt(twins.theirs(), torch::optim::SGDOptions(0.1).momentum(0.9));
  nn::ReduceOnPlateau schedule(opt, {.factor = 0.5, .patience = 1, .cooldown = 1});
  const double metric[steps] = {1.0, 0.8, 0.8, 0.85, 0.9, 0.9, 0.7, 0.75, 0.75, 0.75};
  // ReduceLROnPlateau(mode="min", factor=0.5, patience=1, threshold=1e-4, cooldown=1) fed these
  // metrics: the 4th is the second without improvement (> patience): halve, cool down for the 5th;
  // the 7th improves; the 9th is again the second bad one: halve.
  const double pytorch[steps + 1] = {0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025};
  check_schedule(
      schedule, opt, twins, torch_opt, [&](std::size_t, int t) { return pytorch[t]; },
      [&](nn::Schedule& s, int t) { s.step(metric[t]); });
}
