// The optimisers' common part: parameter groups, learning rates, the state a
// checkpoint keeps, and the per-parameter loop every update rule runs in.
//
//   nn::SGD opt(net.parameters(), {.learning_rate = 0.1, .momentum = 0.9});
//   opt.add_param_group(head.parameters(), {.learning_rate = 0.01});  // its own rate
//   opt.zero_grad();  loss.backward();  opt.step();
//
// Learning rates: learning_rate() is group 0's; set_learning_rate(eta) sets
// every group's to eta (PyTorch's `for g in opt.param_groups: g["lr"] = eta`);
// learning_rate(g) / set_learning_rate(g, eta) address one group. Schedules
// (nn/optim/schedule.hpp) scale each group's own base rate instead.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <autodiff/parallel.hpp>
#include <autodiff/tensor.hpp>

namespace nn {

// Everything an optimiser remembers between steps, for checkpoints
// (nn/checkpoint.hpp): restoring it with load_state() makes the following
// steps bit-identical to those of the optimiser it was taken from.
struct OptimizerState {
  std::string kind;                          // "GradientDescent", "SGD", "Adam", "AdamW", "RMSprop"
  double learning_rate = 0.0;                // group 0's
  std::uint64_t steps = 0;                   // steps taken (Adam's and AdamW's bias correction)
  std::vector<std::vector<double>> buffers;  // per-parameter memory, one run of buffers per kind of
                                             // memory (SGD: velocity...; Adam: m..., then v...)
  // The learning rates of groups 1, 2, ... (group 0's is learning_rate).
  // Empty in a state written before groups existed: every group takes
  // learning_rate.
  std::vector<double> other_group_learning_rates;
  // SGD: the steps in which each parameter received a gradient (its first one
  // starts the velocity without dampening, as PyTorch). Empty: every parameter
  // counts as started. Other optimisers keep it empty.
  std::vector<std::uint64_t> parameter_steps;
};

// A parameter group's own hyper-parameters; those left out take the values
// the optimiser was constructed with.
struct ParamGroupOptions {
  std::optional<double> learning_rate = std::nullopt;
  std::optional<double> weight_decay = std::nullopt;
};

// One group: parameters()[first, first + count) and their hyper-parameters.
struct ParamGroup {
  std::size_t first = 0;
  std::size_t count = 0;
  double learning_rate = 0.0;
  double weight_decay = 0.0;
};

class Schedule;

// What does not depend on the element type: the groups, their learning
// rates, the state. Schedules drive an optimiser through this interface.
class OptimizerBase {
 public:
  virtual ~OptimizerBase() = default;
  // Applies one update to every parameter from its current gradient
  // (parameters that received no gradient are left unchanged).
  virtual void step() = 0;
  // Sets every parameter's gradient to 0 (gradients accumulate otherwise).
  virtual void zero_grad() = 0;
  // The optimiser's name, as in OptimizerState::kind (user-defined optimisers
  // without state may keep the default).
  virtual const char* kind() const noexcept { return "Optimizer"; }

  // Group 0's learning rate.
  double learning_rate() const noexcept { return groups_.front().learning_rate; }
  // Sets every group's learning rate; must be finite and > 0.
  void set_learning_rate(double learning_rate);
  std::size_t group_count() const noexcept { return groups_.size(); }
  const std::vector<ParamGroup>& param_groups() const noexcept { return groups_; }
  double learning_rate(std::size_t group) const;
  void set_learning_rate(std::size_t group, double learning_rate);

  // The state to checkpoint, and its restoration (throws std::invalid_argument
  // for a state of another optimiser kind, other parameter sizes or another
  // number of groups, and then changes nothing). Float buffers are stored as
  // double, which is exact.
  virtual OptimizerState state() const;
  virtual void load_state(const OptimizerState& state);

 protected:
  OptimizerBase() : groups_(1) {}
  // Checks the parts of `state` every optimiser has (kind, learning rates,
  // parameter_steps empty unless `uses_parameter_steps`) and the number of
  // buffers; throws std::invalid_argument naming the optimiser.
  void check_state(const OptimizerState& state, std::size_t buffer_count, bool uses_parameter_steps) const;
  // Takes the learning rates of a state that passed check_state.
  void restore_learning_rates(const OptimizerState& state);

  // The constructor's hyper-parameters: group 0's, and the defaults of groups
  // added later.
  void set_defaults(double learning_rate, double weight_decay, bool has_weight_decay);

  std::vector<ParamGroup> groups_;
  double default_learning_rate_ = 0.0;
  double default_weight_decay_ = 0.0;
  bool has_weight_decay_ = false;  // whether the update rule has a weight decay at all

 private:
  friend class Schedule;
  // Schedules may drive a rate to 0 (a cosine's end, a warm-up's start).
  void assign_scheduled_learning_rate(std::size_t group, double learning_rate);
};

// What Optimizer::guarded_step found.
struct GuardedStepResult {
  enum class Problem { none, gradient_not_finite, value_not_finite };
  Problem problem = Problem::none;
  std::size_t parameter = 0;      // the first parameter (index in parameters()) with the problem
  bool parameters_finite = true;  // false only after a user-defined step() (see guarded_step)
  bool ok() const noexcept { return problem == Problem::none; }
};

namespace detail {
// Whether n numbers are all finite (compiled for AVX-512 and AVX2 too: the
// step guards run it twice over every parameter per step).
bool all_finite(const float* values, std::size_t n) noexcept;
bool all_finite(const double* values, std::size_t n) noexcept;
}  // namespace detail

template <class T>
class Optimizer : public OptimizerBase {
 public:
  explicit Optimizer(std::vector<ad::TensorT<T>> parameters);
  void zero_grad() override;
  // Every group's parameters, group after group.
  const std::vector<ad::TensorT<T>>& parameters() const noexcept { return parameters_; }
  // Adds parameters with their own learning rate and weight decay (a
  // parameter already in the optimiser, a rate <= 0 or a negative decay throws
  // std::invalid_argument). Add groups before making a schedule.
  void add_param_group(std::vector<ad::TensorT<T>> parameters, const ParamGroupOptions& options = {});
  // step(), guarded against NaN and infinities (nn::fit's guard_steps). The
  // update loop runs in blocks of guard_block values, and a block whose
  // updated values are not finite (from a NaN or infinite gradient, or an
  // overflow) is put back as it was; every other block takes the step. So
  // the parameters stay finite, and the outcome does not depend on the
  // number of threads. The check runs on each block while it is in cache for
  // the update: about a third of Adam's own time. The optimiser's own memory
  // (moments, step counts) of a put-back block keeps the update. A step()
  // that writes parameters without for_each_parameter (a user-defined rule)
  // is only checked afterwards: result.parameters_finite is then false.
  GuardedStepResult guarded_step();

 protected:
  // The per-parameter loop of step(), written once: for each parameter with a
  // gradient, update(group, k, theta, grad, begin, end) on index ranges of
  // parameter k split over the gemm's threads (ad::parallel_for). A template,
  // not a std::function: on a small network the loop's own cost is a
  // noticeable part of a step (T1 in BENCHMARKS.md).
  template <class Update>
  void for_each_parameter(const Update& update) {
    for (const ParamGroup& group : groups_)
      for (std::size_t k = group.first; k < group.first + group.count; ++k) {
        auto& p = parameters_[k];
        const auto g = p.grad_values();
        if (g.empty()) continue;
        T* theta = p.mutable_values().data();
        const T* grad = g.data();
        if (guard_ != nullptr) {
          guarded_update(k, theta, grad, g.size(), [&](std::size_t begin, std::size_t end) {
            update(group, k, theta, grad, begin, end);
          });
          continue;
        }
        ad::parallel_for(g.size(), ad::parallel_grain, [&](std::size_t begin, std::size_t end) {
          update(group, k, theta, grad, begin, end);
        });
      }
  }
  // Called after add_param_group appended parameters [first, size): grow the
  // per-parameter buffers.
  virtual void parameters_added(std::size_t first) { (void)first; }

  std::vector<ad::TensorT<T>> parameters_;

 private:
  // The findings of a running guarded_step(); ranges run on several threads.
  struct Guard {
    static constexpr std::size_t none = static_cast<std::size_t>(-1);
    std::vector<char> visited;  // parameters the update loop went through
    std::atomic<std::size_t> bad_gradient{none}, bad_value{none};
    static void note(std::atomic<std::size_t>& first, std::size_t k) noexcept {
      std::size_t seen = first.load(std::memory_order_relaxed);
      while (k < seen && !first.compare_exchange_weak(seen, k, std::memory_order_relaxed)) {
      }
    }
  };

 public:
  // Values per guarded block: with its gradient, moments and saved copy it
  // stays in the first-level cache from the checks through the update.
  static constexpr std::size_t guard_block = 1024;

 private:
  template <class Body>
  void guarded_update(std::size_t k, T* theta, const T* grad, std::size_t n, const Body& body) {
    Guard& guard = *guard_;
    guard.visited[k] = 1;
    // Split over threads by whole blocks, so that the blocks, and what is
    // stepped when a check fails, are the same on any number of threads.
    const std::size_t blocks = (n + guard_block - 1) / guard_block;
    ad::parallel_for(blocks, ad::parallel_grain / guard_block, [&](std::size_t first, std::size_t last) {
      T saved[guard_block];
      for (std::size_t block = first; block < last; ++block) {
        const std::size_t b = block * guard_block, e = std::min(n, b + guard_block);
        // One check, of the updated values: a NaN or infinite gradient makes
        // them non-finite under every built-in rule (theta - eta g, and the
        // moments' inf / inf = NaN), so the gradient is looked at only then.
        std::copy(theta + b, theta + e, saved);
        body(b, e);
        if (!detail::all_finite(theta + b, e - b)) [[unlikely]] {
          Guard::note(detail::all_finite(grad + b, e - b) ? guard.bad_value : guard.bad_gradient, k);
          std::copy(saved, saved + (e - b), theta + b);
        }
      }
    });
  }
  Guard* guard_ = nullptr;
};

namespace detail {
// Per-parameter buffers to and from their double form, sizes checked. Throws
// unless in[first + k] fits buffers[k] for every k; load_state checks every
// buffer before it changes anything.
template <class T>
void append_buffers(std::vector<std::vector<double>>& out, const std::vector<std::vector<T>>& buffers);
template <class T>
void check_buffers(const std::vector<std::vector<T>>& buffers, const std::vector<std::vector<double>>& in,
                   std::size_t first, const char* optimizer);
template <class T>
void copy_buffers(std::vector<std::vector<T>>& buffers, const std::vector<std::vector<double>>& in,
                  std::size_t first);
// Throws std::invalid_argument "nn::<optimizer>: the <what> must be finite
// and > 0 (or >= 0 with allow_zero), got <value>".
void check_positive(double value, const char* what, const char* optimizer, bool allow_zero = false);
// Throws unless 0 <= value < 1.
void check_unit_interval(double value, const char* what, const char* optimizer);
}  // namespace detail

extern template class Optimizer<float>;
extern template class Optimizer<double>;

}  // namespace nn
