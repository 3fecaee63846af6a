// Learning-rate schedules: objects that drive an optimiser's learning rates,
// with PyTorch's semantics (torch.optim.lr_scheduler). A schedule records each
// parameter group's rate when it is made (its base rate), sets the rate for
// step 0 at once, and each step() advances one unit: the caller decides
// whether a unit is a batch or an epoch.
//
//   nn::AdamW opt(model.parameters(), {.learning_rate = 1e-3});
//   nn::CosineSchedule schedule(opt, /*total_steps=*/1000, /*warmup=*/50);
//   for (...) { opt.zero_grad(); loss.backward(); opt.step(); schedule.step(); }
//
// The optimiser must outlive the schedule; add parameter groups before
// making it (a schedule made for fewer groups throws std::logic_error).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <nn/optim/optimizer.hpp>

namespace nn {

// Everything a schedule remembers, for checkpoints: load_state() then makes
// the following steps bit-identical.
struct ScheduleState {
  std::string kind;                         // "StepSchedule", "CosineSchedule", ...
  std::uint64_t steps = 0;                  // steps taken
  std::vector<double> base_learning_rates;  // per parameter group
  double best = 0.0;                        // ReduceOnPlateau: the best metric so far
  std::uint64_t bad_steps = 0;              // ReduceOnPlateau: steps without improvement
  std::uint64_t cooldown_left = 0;          // ReduceOnPlateau: steps left in the cooldown
};

class Schedule {
 public:
  explicit Schedule(OptimizerBase& optimizer);
  virtual ~Schedule() = default;
  Schedule(const Schedule&) = delete;
  Schedule& operator=(const Schedule&) = delete;

  // Advances one unit and sets the optimiser's learning rates.
  virtual void step() = 0;
  // The same for schedules that follow a metric (nn::ReduceOnPlateau); the
  // others ignore it, so nn::fit can call step(validation_loss) on any.
  virtual void step(double metric);
  virtual const char* kind() const noexcept = 0;

  std::uint64_t steps_taken() const noexcept { return steps_; }
  // The optimiser's current learning rate (group 0's).
  double learning_rate() const noexcept { return optimizer_.learning_rate(); }
  const std::vector<double>& base_learning_rates() const noexcept { return base_; }
  // The optimiser this schedule drives.
  const OptimizerBase& optimizer() const noexcept { return optimizer_; }

  virtual ScheduleState state() const;
  // Throws std::invalid_argument for a state of another kind or another number
  // of groups (and then changes nothing).
  virtual void load_state(const ScheduleState& state);

 protected:
  // Checks that the optimiser still has the groups the schedule was made for.
  void check_groups() const;
  void check_state(const ScheduleState& state) const;
  void set_learning_rate(std::size_t group, double learning_rate);

  OptimizerBase& optimizer_;
  std::vector<double> base_;
  std::uint64_t steps_ = 0;
};

// A schedule whose rate at step t is a formula of t and the base rate:
// step() sets eta_g(t) = learning_rate_at(base_g, t) for every group g.
class FormulaSchedule : public Schedule {
 public:
  using Schedule::step;
  void step() override;
  // The rate this schedule gives a group of base rate `base` at step t.
  virtual double learning_rate_at(double base, std::uint64_t t) const = 0;
  void load_state(const ScheduleState& state) override;

 protected:
  using Schedule::Schedule;
  void apply();
};

// eta(t) = base gamma^floor(t / step_size)  (torch StepLR)
class StepSchedule final : public FormulaSchedule {
 public:
  StepSchedule(OptimizerBase& optimizer, std::size_t step_size, double gamma = 0.1);
  double learning_rate_at(double base, std::uint64_t t) const override;
  const char* kind() const noexcept override { return "StepSchedule"; }

 private:
  std::size_t step_size_;
  double gamma_;
};

// eta(t) = base gamma^t  (torch ExponentialLR)
class ExponentialSchedule final : public FormulaSchedule {
 public:
  ExponentialSchedule(OptimizerBase& optimizer, double gamma);
  double learning_rate_at(double base, std::uint64_t t) const override;
  const char* kind() const noexcept override { return "ExponentialSchedule"; }

 private:
  double gamma_;
};

// Linear warm-up for W steps, then a half cosine from base down to min_lr at
// step total_steps (torch CosineAnnealingLR with T_max = total - W), then
// min_lr:
//   t < W:          eta = base (t + 1) / (W + 1)
//   W <= t < total: eta = min + (base - min) (1 + cos(pi (t - W) / (total - W))) / 2
//   t >= total:     eta = min
class CosineSchedule final : public FormulaSchedule {
 public:
  CosineSchedule(OptimizerBase& optimizer, std::size_t total_steps, std::size_t warmup_steps = 0,
                 double min_lr = 0.0);
  double learning_rate_at(double base, std::uint64_t t) const override;
  const char* kind() const noexcept override { return "CosineSchedule"; }

 private:
  std::size_t total_, warmup_;
  double min_lr_;
};

// eta(t) = base factor(t)  (torch LambdaLR); factor(t) must be finite and >= 0
// (else std::invalid_argument naming the step and the value).
class LambdaSchedule final : public FormulaSchedule {
 public:
  LambdaSchedule(OptimizerBase& optimizer, std::function<double(std::size_t)> factor);
  double learning_rate_at(double base, std::uint64_t t) const override;
  const char* kind() const noexcept override { return "LambdaSchedule"; }

 private:
  std::function<double(std::size_t)> factor_;
};

enum class PlateauMode { min, max };
enum class ThresholdMode { relative, absolute };

struct ReduceOnPlateauOptions {
  PlateauMode mode = PlateauMode::min;  // min: the metric should fall (a loss); max: rise (accuracy)
  double factor = 0.1;                  // eta <- max(eta factor, min_lr), factor in (0, 1)
  std::size_t patience = 10;            // steps without improvement tolerated
  double threshold = 1e-4;              // what counts as an improvement (>= 0)
  ThresholdMode threshold_mode = ThresholdMode::relative;
  std::size_t cooldown = 0;  // steps after a reduction before counting again
  double min_lr = 0.0;
  double eps = 1e-8;  // reductions smaller than this are skipped
};

// torch ReduceLROnPlateau: step(metric) records the metric; an improvement is
// metric < best (1 - threshold) (relative, min mode; absolute: best -
// threshold; max mode mirrored). After more than `patience` steps without
// one, every group's rate is multiplied by factor (not below min_lr) and
// `cooldown` steps follow in which no bad step is counted. A NaN metric is
// never an improvement. step() without a metric throws std::logic_error.
class ReduceOnPlateau final : public Schedule {
 public:
  ReduceOnPlateau(OptimizerBase& optimizer, const ReduceOnPlateauOptions& options = {});
  void step() override;
  void step(double metric) override;
  const char* kind() const noexcept override { return "ReduceOnPlateau"; }
  double best() const noexcept { return best_; }
  std::uint64_t bad_steps() const noexcept { return bad_steps_; }
  ScheduleState state() const override;
  void load_state(const ScheduleState& state) override;

 private:
  bool improves(double metric) const;

  ReduceOnPlateauOptions options_;
  double best_;
  std::uint64_t bad_steps_ = 0, cooldown_left_ = 0;
};

}  // namespace nn
