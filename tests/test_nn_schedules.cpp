// Specification: learning-rate schedules (nn/optim/schedule.hpp) set the
// rates PyTorch's torch.optim.lr_scheduler gives, computed here by hand, keep
// each parameter group's base rate, and resume from their state.
#include <cmath>
#include <limits>
#include <memory>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

ad::Tensor parameter(double value) {
  ad::Tensor p = ad::Tensor::from(ad::Shape{1}, {value});
  p.requires_grad(true);
  return p;
}

// The rates a schedule sets at steps 0 .. n - 1 (step 0: when it is made).
std::vector<double> rates(nn::Schedule& schedule, nn::OptimizerBase& opt, std::size_t n) {
  std::vector<double> out{opt.learning_rate()};
  while (out.size() < n) {
    schedule.step();
    out.push_back(opt.learning_rate());
  }
  return out;
}

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

TEST_CASE("StepSchedule multiplies the rate by gamma every step_size steps") {
  nn::GradientDescent opt(std::vector<ad::Tensor>{parameter(1.0)}, 0.8);
  nn::StepSchedule schedule(opt, /*step_size=*/3, /*gamma=*/0.5);
  CHECK(rates(schedule, opt, 8) == std::vector<double>{0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2});
  CHECK(schedule.steps_taken() == 7);
  CHECK(schedule.learning_rate() == 0.2);
}

TEST_CASE("ExponentialSchedule multiplies the rate by gamma every step") {
  nn::GradientDescent opt(std::vector<ad::Tensor>{parameter(1.0)}, 0.8);
  nn::ExponentialSchedule schedule(opt, 0.5);
  CHECK(rates(schedule, opt, 5) == std::vector<double>{0.8, 0.4, 0.2, 0.1, 0.05});
}

TEST_CASE("CosineSchedule warms up linearly, follows a half cosine to min_lr, then stays there") {
  ad::Tensor p = parameter(1.0);
  nn::GradientDescent opt(std::vector<ad::Tensor>{p}, 1.0);
  nn::CosineSchedule schedule(opt, /*total_steps=*/6, /*warmup=*/2);
  const std::vector<double> got = rates(schedule, opt, 8);
  const double c = std::cos(std::numbers::pi / 4);
  const std::vector<double> expected = {1.0 / 3, 2.0 / 3, 1.0, (1 + c) / 2, 0.5, (1 - c) / 2, 0.0, 0.0};
  for (std::size_t t = 0; t < expected.size(); ++t) {
    CAPTURE(t);
    CHECK(got[t] == doctest::Approx(expected[t]).epsilon(1e-15));
  }
  // A rate of 0 from the schedule is allowed, and a step with it moves nothing.
  opt.zero_grad();
  ad::sum(p * 3.0).backward();
  opt.step();
  CHECK(p.values()[0] == 1.0);
}

TEST_CASE("CosineSchedule without warm-up starts at the base rate and ends at min_lr") {
  nn::GradientDescent opt(std::vector<ad::Tensor>{parameter(1.0)}, 0.5);
  nn::CosineSchedule schedule(opt, 4, 0, 0.1);
  const std::vector<double> got = rates(schedule, opt, 6);
  CHECK(got[0] == 0.5);
  CHECK(got[2] == doctest::Approx(0.3).epsilon(1e-15));  // halfway: (0.5 + 0.1) / 2
  CHECK(got[4] == 0.1);
  CHECK(got[5] == 0.1);
}

TEST_CASE("LambdaSchedule sets base * factor(step)") {
  nn::GradientDescent opt(std::vector<ad::Tensor>{parameter(1.0)}, 0.5);
  nn::LambdaSchedule schedule(opt, [](std::size_t t) { return 1.0 / double(1 + t); });
  const std::vector<double> got = rates(schedule, opt, 4);
  CHECK(got == std::vector<double>{0.5, 0.25, 0.5 / 3, 0.125});
}

TEST_CASE("a LambdaSchedule factor that is NaN or negative throws, naming the step, and changes nothing") {
  nn::GradientDescent opt(std::vector<ad::Tensor>{parameter(1.0)}, 0.5);
  nn::LambdaSchedule schedule(opt, [](std::size_t t) { return t < 2 ? 1.0 : std::nan(""); });
  schedule.step();
  check_rejected([&] { schedule.step(); }, {"nn::LambdaSchedule", "step 2", "nan"});
  CHECK(schedule.steps_taken() == 1);
  CHECK(opt.learning_rate() == 0.5);
  check_rejected([&] { nn::LambdaSchedule s(opt, [](std::size_t) { return -1.0; }); },
                 {"LambdaSchedule", "step 0", "-1"});
}

TEST_CASE("ReduceOnPlateau halves the rate after more than `patience` steps without improvement") {
  nn::GradientDescent opt(std::vector<ad::Tensor>{parameter(1.0)}, 0.1);
  nn::ReduceOnPlateau schedule(opt, {.factor = 0.5, .patience = 1, .cooldown = 1, .min_lr = 0.02});
  // best 1, best 0.8, bad 1, bad 2 > 1: halve + cooldown, (cooldown: not counted), bad 1, best 0.7,
  // bad 1, bad 2: halve, (cooldown), bad 1, bad 2: 0.0125 -> min_lr 0.02, (cooldown), bad, bad: 0.02
  // is min_lr already, no change.
  const std::vector<double> metric = {1.0,  0.8,  0.8,  0.85, 0.9,  0.9,  0.7, 0.75,
                                      0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75};
  const std::vector<double> expected = {0.1,   0.1,   0.1,   0.05, 0.05, 0.05, 0.05, 0.05,
                                        0.025, 0.025, 0.025, 0.02, 0.02, 0.02, 0.02};
  for (std::size_t t = 0; t < metric.size(); ++t) {
    CAPTURE(t);
    schedule.step(metric[t]);
    CHECK(opt.learning_rate() == expected[t]);
  }
  CHECK(schedule.best() == 0.7);
}

TEST_CASE("ReduceOnPlateau's improvement is relative to the threshold, or absolute, in min or max mode") {
  nn::GradientDescent opt(std::vector<ad::Tensor>{parameter(1.0)}, 1.0);
  SUBCASE("min, relative: 1 -> 0.9995 is not better than 1 (1 - 1e-3)") {
    nn::ReduceOnPlateau s(opt, {.patience = 0, .threshold = 1e-3});
    s.step(1.0);
    s.step(0.9995);
    CHECK(opt.learning_rate() == doctest::Approx(0.1).epsilon(1e-15));
  }
  SUBCASE("max, absolute: 0.80 -> 0.85 is better than 0.80 + 0.01; 0.855 is not better than 0.86") {
    nn::ReduceOnPlateau s(opt, {.mode = nn::PlateauMode::max,
                                .patience = 0,
                                .threshold = 0.01,
                                .threshold_mode = nn::ThresholdMode::absolute});
    s.step(0.80);
    s.step(0.85);
    CHECK(opt.learning_rate() == 1.0);
    CHECK(s.best() == 0.85);
    s.step(0.855);
    CHECK(opt.learning_rate() == doctest::Approx(0.1).epsilon(1e-15));
  }
  SUBCASE("a NaN metric is never an improvement") {
    nn::ReduceOnPlateau s(opt, {.patience = 0});
    s.step(1.0);
    s.step(std::nan(""));
    CHECK(opt.learning_rate() == doctest::Approx(0.1).epsilon(1e-15));
    CHECK(s.best() == 1.0);
  }
}

TEST_CASE("ReduceOnPlateau needs a metric; the other schedules ignore one") {
  nn::GradientDescent opt(std::vector<ad::Tensor>{parameter(1.0)}, 1.0);
  std::vector<std::unique_ptr<nn::Schedule>> schedules;
  schedules.push_back(std::make_unique<nn::ExponentialSchedule>(opt, 0.5));
  nn::Schedule& exponential = *schedules.back();
  exponential.step(123.0);  // as fit would call it
  CHECK(opt.learning_rate() == 0.5);
  nn::ReduceOnPlateau plateau(opt);
  nn::Schedule& any = plateau;
  CHECK_THROWS_AS(any.step(), std::logic_error);
  any.step(1.0);
  CHECK(plateau.steps_taken() == 1);
}

TEST_CASE("a schedule scales each parameter group's own base rate") {
  ad::Tensor p = parameter(1.0), q = parameter(1.0);
  nn::SGD opt(std::vector<ad::Tensor>{p}, {.learning_rate = 0.8});
  opt.add_param_group({q}, {.learning_rate = 0.2});
  nn::StepSchedule schedule(opt, 1, 0.5);
  CHECK(schedule.base_learning_rates() == std::vector<double>{0.8, 0.2});
  schedule.step();
  schedule.step();
  CHECK(opt.learning_rate(0) == 0.2);
  CHECK(opt.learning_rate(1) == 0.05);
}

TEST_CASE("a schedule made before a group was added refuses to step") {
  ad::Tensor p = parameter(1.0), q = parameter(1.0);
  nn::SGD opt(std::vector<ad::Tensor>{p}, {.learning_rate = 0.8});
  nn::StepSchedule schedule(opt, 1, 0.5);
  opt.add_param_group({q});
  CHECK_THROWS_AS(schedule.step(), std::logic_error);
  CHECK(schedule.steps_taken() == 0);
  CHECK(opt.learning_rate(1) == 0.8);
}

TEST_CASE("state() and load_state() resume a schedule with the same rates") {
  const auto make = [](nn::OptimizerBase& opt, int which) -> std::unique_ptr<nn::Schedule> {
    switch (which) {
      case 0:
        return std::make_unique<nn::StepSchedule>(opt, 2, 0.5);
      case 1:
        return std::make_unique<nn::ExponentialSchedule>(opt, 0.9);
      case 2:
        return std::make_unique<nn::CosineSchedule>(opt, 10, 3, 0.01);
      case 3:
        return std::make_unique<nn::LambdaSchedule>(opt, [](std::size_t t) { return 1.0 / (1.0 + t); });
      default:
        return std::make_unique<nn::ReduceOnPlateau>(
            opt, nn::ReduceOnPlateauOptions{.patience = 1, .cooldown = 2});
    }
  };
  const double metric[] = {1.0, 0.9, 0.95, 0.97, 0.99, 0.98, 0.99, 0.99, 0.99, 0.99, 0.99, 0.99};
  for (int which = 0; which < 5; ++which) {
    nn::GradientDescent a(std::vector<ad::Tensor>{parameter(1.0)}, 0.5);
    nn::GradientDescent b(std::vector<ad::Tensor>{parameter(1.0)}, 0.5);
    auto first = make(a, which), second = make(b, which);
    CAPTURE(first->kind());
    for (int t = 0; t < 5; ++t) first->step(metric[t]);
    b.load_state(a.state());  // the optimiser carries the rates ReduceOnPlateau set
    second->load_state(first->state());
    CHECK(b.learning_rate() == a.learning_rate());
    CHECK(second->steps_taken() == 5);
    for (int t = 5; t < 12; ++t) {
      first->step(metric[t]);
      second->step(metric[t]);
      CHECK(b.learning_rate() == a.learning_rate());
    }
  }
}

TEST_CASE("a schedule state that does not fit is refused and changes nothing") {
  nn::GradientDescent opt(std::vector<ad::Tensor>{parameter(1.0)}, 0.5);
  nn::StepSchedule step(opt, 2, 0.5);
  step.step();
  const nn::ScheduleState before = step.state();
  nn::ScheduleState other = before;
  other.kind = "CosineSchedule";
  CHECK_THROWS_AS(step.load_state(other), std::invalid_argument);
  nn::ScheduleState groups = before;
  groups.base_learning_rates.push_back(0.1);
  CHECK_THROWS_AS(step.load_state(groups), std::invalid_argument);
  nn::ScheduleState rate = before;
  rate.base_learning_rates = {-1.0};
  CHECK_THROWS_AS(step.load_state(rate), std::invalid_argument);
  CHECK(step.state().steps == before.steps);
  CHECK(step.state().base_learning_rates == before.base_learning_rates);
  nn::ReduceOnPlateau plateau(opt, {.cooldown = 1});
  nn::ScheduleState p = plateau.state();
  p.cooldown_left = 2;
  CHECK_THROWS_AS(plateau.load_state(p), std::invalid_argument);
  p.cooldown_left = 0;
  p.best = std::nan("");
  CHECK_THROWS_AS(plateau.load_state(p), std::invalid_argument);
}

TEST_CASE("bad schedule arguments are rejected with a message naming the schedule and the value") {
  nn::GradientDescent opt(std::vector<ad::Tensor>{parameter(1.0)}, 0.5);
  check_rejected([&] { nn::StepSchedule s(opt, 0); }, {"nn::StepSchedule", "step_size", "0"});
  check_rejected([&] { nn::StepSchedule s(opt, 2, -0.5); }, {"nn::StepSchedule", "gamma", "-0.5"});
  check_rejected([&] { nn::ExponentialSchedule s(opt, 0.0); }, {"nn::ExponentialSchedule", "gamma", "0"});
  check_rejected([&] { nn::CosineSchedule s(opt, 10, 10); }, {"nn::CosineSchedule", "warmup_steps 10"});
  check_rejected([&] { nn::CosineSchedule s(opt, 0); }, {"nn::CosineSchedule", "total_steps 0"});
  check_rejected([&] { nn::CosineSchedule s(opt, 10, 0, -1.0); }, {"nn::CosineSchedule", "min_lr", "-1"});
  check_rejected([&] { nn::ReduceOnPlateau s(opt, {.factor = 1.0}); },
                 {"nn::ReduceOnPlateau", "factor", "1"});
  check_rejected([&] { nn::ReduceOnPlateau s(opt, {.threshold = -1.0}); },
                 {"nn::ReduceOnPlateau", "threshold"});
  check_rejected([&] { nn::LambdaSchedule s(opt, nullptr); }, {"nn::LambdaSchedule", "empty"});
  CHECK(opt.learning_rate() == 0.5);
}
