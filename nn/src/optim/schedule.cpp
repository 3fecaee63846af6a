#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include <nn/optim/schedule.hpp>

namespace nn {

// ---- Schedule ---------------------------------------------------------------

Schedule::Schedule(OptimizerBase& optimizer) : optimizer_(optimizer) {
  for (std::size_t g = 0; g < optimizer.group_count(); ++g) base_.push_back(optimizer.learning_rate(g));
}

void Schedule::step(double metric) {
  (void)metric;
  step();
}

void Schedule::check_groups() const {
  if (optimizer_.group_count() != base_.size())
    throw std::logic_error(fmt::format(
        "nn::{}: the optimiser has {} parameter groups, the schedule was made for {} (add groups first)",
        kind(), optimizer_.group_count(), base_.size()));
}

void Schedule::set_learning_rate(std::size_t group, double learning_rate) {
  optimizer_.assign_scheduled_learning_rate(group, learning_rate);
}

ScheduleState Schedule::state() const { return ScheduleState{kind(), steps_, base_, 0.0, 0, 0}; }

void Schedule::check_state(const ScheduleState& state) const {
  if (state.kind != kind())
    throw std::invalid_argument(fmt::format("nn::{}::load_state: the state is of a {}", kind(),
                                            state.kind.empty() ? "nameless schedule" : state.kind));
  if (state.base_learning_rates.size() != base_.size())
    throw std::invalid_argument(
        fmt::format("nn::{}::load_state: the state has {} base learning rates, the "
                    "optimiser {} parameter groups",
                    kind(), state.base_learning_rates.size(), base_.size()));
  for (double rate : state.base_learning_rates)
    if (!std::isfinite(rate) || rate <= 0.0)
      throw std::invalid_argument(fmt::format(
          "nn::{}::load_state: a base learning rate must be finite and > 0, got {}", kind(), rate));
}

void Schedule::load_state(const ScheduleState& state) {
  check_state(state);
  base_ = state.base_learning_rates;
  steps_ = state.steps;
}

// ---- FormulaSchedule --------------------------------------------------------

void FormulaSchedule::apply() {
  check_groups();
  std::vector<double> rates;
  for (double base : base_) rates.push_back(learning_rate_at(base, steps_));  // all checked before any is set
  for (std::size_t g = 0; g < rates.size(); ++g) set_learning_rate(g, rates[g]);
}

void FormulaSchedule::step() {
  check_groups();
  ++steps_;
  try {
    apply();
  } catch (...) {
    --steps_;
    throw;
  }
}

void FormulaSchedule::load_state(const ScheduleState& state) {
  check_state(state);
  for (double base : state.base_learning_rates)
    (void)learning_rate_at(base, state.steps);  // throws if invalid
  Schedule::load_state(state);
  apply();
}

namespace {
void check_factor(double value, const char* what, const char* schedule) {
  if (!std::isfinite(value) || value <= 0.0)
    throw std::invalid_argument(
        fmt::format("nn::{}: {} must be finite and > 0, got {}", schedule, what, value));
}
}  // namespace

StepSchedule::StepSchedule(OptimizerBase& optimizer, std::size_t step_size, double gamma)
    : FormulaSchedule(optimizer), step_size_(step_size), gamma_(gamma) {
  if (step_size == 0) throw std::invalid_argument("nn::StepSchedule: step_size must be > 0, got 0");
  check_factor(gamma, "gamma", "StepSchedule");
  apply();
}

double StepSchedule::learning_rate_at(double base, std::uint64_t t) const {
  return base * std::pow(gamma_, static_cast<double>(t / step_size_));
}

ExponentialSchedule::ExponentialSchedule(OptimizerBase& optimizer, double gamma)
    : FormulaSchedule(optimizer), gamma_(gamma) {
  check_factor(gamma, "gamma", "ExponentialSchedule");
  apply();
}

double ExponentialSchedule::learning_rate_at(double base, std::uint64_t t) const {
  return base * std::pow(gamma_, static_cast<double>(t));
}

CosineSchedule::CosineSchedule(OptimizerBase& optimizer, std::size_t total_steps, std::size_t warmup_steps,
                               double min_lr)
    : FormulaSchedule(optimizer), total_(total_steps), warmup_(warmup_steps), min_lr_(min_lr) {
  if (total_steps == 0 || warmup_steps >= total_steps)
    throw std::invalid_argument(fmt::format(
        "nn::CosineSchedule: needs 0 <= warmup_steps < total_steps, got total_steps {} and warmup_steps {}",
        total_steps, warmup_steps));
  if (!std::isfinite(min_lr) || min_lr < 0.0)
    throw std::invalid_argument(
        fmt::format("nn::CosineSchedule: min_lr must be finite and >= 0, got {}", min_lr));
  apply();
}

double CosineSchedule::learning_rate_at(double base, std::uint64_t t) const {
  if (t < warmup_) return base * static_cast<double>(t + 1) / static_cast<double>(warmup_ + 1);
  if (t >= total_) return min_lr_;
  // pi (t - W) / (T - W) evaluated left to right, as CosineAnnealingLR's
  // closed form (math.pi * t / T_max): pi * ((t - W) / (T - W)) rounds
  // differently for some t (e.g. t = 11 of 20), and the hand-written
  // schedules this one replaces use the left-to-right order too.
  const double angle =
      std::numbers::pi * static_cast<double>(t - warmup_) / static_cast<double>(total_ - warmup_);
  return min_lr_ + (base - min_lr_) * (1.0 + std::cos(angle)) / 2.0;
}

LambdaSchedule::LambdaSchedule(OptimizerBase& optimizer, std::function<double(std::size_t)> factor)
    : FormulaSchedule(optimizer), factor_(std::move(factor)) {
  if (!factor_) throw std::invalid_argument("nn::LambdaSchedule: the factor function is empty");
  apply();
}

double LambdaSchedule::learning_rate_at(double base, std::uint64_t t) const {
  const double factor = factor_(static_cast<std::size_t>(t));
  if (!std::isfinite(factor) || factor < 0.0)
    throw std::invalid_argument(
        fmt::format("nn::LambdaSchedule: the factor at step {} is {} (must be finite and >= 0)", t, factor));
  return base * factor;
}

// ---- ReduceOnPlateau --------------------------------------------------------

ReduceOnPlateau::ReduceOnPlateau(OptimizerBase& optimizer, const ReduceOnPlateauOptions& options)
    : Schedule(optimizer),
      options_(options),
      best_(options.mode == PlateauMode::min ? std::numeric_limits<double>::infinity()
                                             : -std::numeric_limits<double>::infinity()) {
  if (!(options.factor > 0.0 && options.factor < 1.0))
    throw std::invalid_argument(
        fmt::format("nn::ReduceOnPlateau: the factor must be in (0, 1), got {}", options.factor));
  if (!std::isfinite(options.threshold) || options.threshold < 0.0)
    throw std::invalid_argument(
        fmt::format("nn::ReduceOnPlateau: the threshold must be finite and >= 0, got {}", options.threshold));
  if (!std::isfinite(options.min_lr) || options.min_lr < 0.0)
    throw std::invalid_argument(
        fmt::format("nn::ReduceOnPlateau: min_lr must be finite and >= 0, got {}", options.min_lr));
  if (!std::isfinite(options.eps) || options.eps < 0.0)
    throw std::invalid_argument(
        fmt::format("nn::ReduceOnPlateau: eps must be finite and >= 0, got {}", options.eps));
}

void ReduceOnPlateau::step() {
  throw std::logic_error(
      "nn::ReduceOnPlateau::step: needs the metric (call step(metric), e.g. the validation loss)");
}

bool ReduceOnPlateau::improves(double metric) const {
  const double t = options_.threshold;
  if (options_.mode == PlateauMode::min)
    return options_.threshold_mode == ThresholdMode::relative ? metric < best_ * (1.0 - t)
                                                              : metric < best_ - t;
  return options_.threshold_mode == ThresholdMode::relative ? metric > best_ * (1.0 + t) : metric > best_ + t;
}

void ReduceOnPlateau::step(double metric) {
  check_groups();
  ++steps_;
  if (improves(metric)) {
    best_ = metric;
    bad_steps_ = 0;
  } else {
    ++bad_steps_;
  }
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    bad_steps_ = 0;
  }
  if (bad_steps_ > options_.patience) {
    for (std::size_t g = 0; g < optimizer_.group_count(); ++g) {
      const double old_rate = optimizer_.learning_rate(g);
      const double new_rate = std::max(old_rate * options_.factor, options_.min_lr);
      if (old_rate - new_rate > options_.eps) set_learning_rate(g, new_rate);
    }
    cooldown_left_ = options_.cooldown;
    bad_steps_ = 0;
  }
}

ScheduleState ReduceOnPlateau::state() const {
  ScheduleState s = Schedule::state();
  s.best = best_;
  s.bad_steps = bad_steps_;
  s.cooldown_left = cooldown_left_;
  return s;
}

void ReduceOnPlateau::load_state(const ScheduleState& state) {
  check_state(state);
  if (std::isnan(state.best))
    throw std::invalid_argument("nn::ReduceOnPlateau::load_state: the best metric is NaN");
  if (state.cooldown_left > options_.cooldown)
    throw std::invalid_argument(
        fmt::format("nn::ReduceOnPlateau::load_state: {} cooldown steps left, the cooldown is {}",
                    state.cooldown_left, options_.cooldown));
  Schedule::load_state(state);
  best_ = state.best;
  bad_steps_ = state.bad_steps;
  cooldown_left_ = state.cooldown_left;
}

}  // namespace nn
