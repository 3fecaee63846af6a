#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>

#include <fmt/format.h>

#include <nn/optim/optimizer.hpp>

// The update loops touch every weight every step: AD_CPU_CLONES compiles them
// for AVX-512 and AVX2 besides the baseline, all computing the same bits
// (no fused multiply-add: nn/CMakeLists.txt).
#include <autodiff/cpu_dispatch.hpp>

namespace nn {

namespace detail {

// By the exponent bits, with integer operations, which vectorise (a
// floating-point comparison loop does not).
#define NN_DEFINE_ALL_FINITE(T, Bits, exponent)                                 \
  AD_CPU_CLONES bool all_finite(const T* values, std::size_t n) noexcept {      \
    Bits bad = 0;                                                               \
    for (std::size_t i = 0; i < n; ++i)                                         \
      bad |= Bits((std::bit_cast<Bits>(values[i]) & (exponent)) == (exponent)); \
    return bad == 0;                                                            \
  }
NN_DEFINE_ALL_FINITE(float, std::uint32_t, 0x7f800000u)
NN_DEFINE_ALL_FINITE(double, std::uint64_t, 0x7ff0000000000000ull)
#undef NN_DEFINE_ALL_FINITE

void check_positive(double value, const char* what, const char* optimizer, bool allow_zero) {
  if (!std::isfinite(value) || value < 0.0 || (value == 0.0 && !allow_zero))
    throw std::invalid_argument(fmt::format("nn::{}: the {} must be finite and {} 0, got {}", optimizer, what,
                                            allow_zero ? ">=" : ">", value));
}

void check_unit_interval(double value, const char* what, const char* optimizer) {
  if (!(value >= 0.0 && value < 1.0))
    throw std::invalid_argument(fmt::format("nn::{}: {} must be in [0, 1), got {}", optimizer, what, value));
}

template <class T>
void append_buffers(std::vector<std::vector<double>>& out, const std::vector<std::vector<T>>& buffers) {
  for (const auto& b : buffers) out.emplace_back(b.begin(), b.end());
}

template <class T>
void check_buffers(const std::vector<std::vector<T>>& buffers, const std::vector<std::vector<double>>& in,
                   std::size_t first, const char* optimizer) {
  for (std::size_t k = 0; k < buffers.size(); ++k) {
    const auto& source = in[first + k];
    if (source.size() != buffers[k].size())
      throw std::invalid_argument(
          fmt::format("nn::{}::load_state: buffer {} holds {} values, parameter {} has {}", optimizer,
                      first + k, source.size(), k, buffers[k].size()));
  }
}

template <class T>
void copy_buffers(std::vector<std::vector<T>>& buffers, const std::vector<std::vector<double>>& in,
                  std::size_t first) {
  for (std::size_t k = 0; k < buffers.size(); ++k)
    for (std::size_t i = 0; i < buffers[k].size(); ++i) buffers[k][i] = static_cast<T>(in[first + k][i]);
}

template void append_buffers(std::vector<std::vector<double>>&, const std::vector<std::vector<float>>&);
template void append_buffers(std::vector<std::vector<double>>&, const std::vector<std::vector<double>>&);
template void check_buffers(const std::vector<std::vector<float>>&, const std::vector<std::vector<double>>&,
                            std::size_t, const char*);
template void check_buffers(const std::vector<std::vector<double>>&, const std::vector<std::vector<double>>&,
                            std::size_t, const char*);
template void copy_buffers(std::vector<std::vector<float>>&, const std::vector<std::vector<double>>&,
                           std::size_t);
template void copy_buffers(std::vector<std::vector<double>>&, const std::vector<std::vector<double>>&,
                           std::size_t);

}  // namespace detail

// ---- OptimizerBase ----------------------------------------------------------

void OptimizerBase::set_learning_rate(double learning_rate) {
  detail::check_positive(learning_rate, "learning rate", "Optimizer::set_learning_rate");
  for (auto& group : groups_) group.learning_rate = learning_rate;
}

double OptimizerBase::learning_rate(std::size_t group) const {
  if (group >= groups_.size())
    throw std::out_of_range(fmt::format("nn::{}::learning_rate: no parameter group {} (the optimiser has {})",
                                        kind(), group, groups_.size()));
  return groups_[group].learning_rate;
}

void OptimizerBase::set_learning_rate(std::size_t group, double learning_rate) {
  if (group >= groups_.size())
    throw std::out_of_range(
        fmt::format("nn::{}::set_learning_rate: no parameter group {} (the optimiser has {})", kind(), group,
                    groups_.size()));
  detail::check_positive(learning_rate, "learning rate", "Optimizer::set_learning_rate");
  groups_[group].learning_rate = learning_rate;
}

void OptimizerBase::set_defaults(double learning_rate, double weight_decay, bool has_weight_decay) {
  groups_.front().learning_rate = default_learning_rate_ = learning_rate;
  groups_.front().weight_decay = default_weight_decay_ = weight_decay;
  has_weight_decay_ = has_weight_decay;
}

void OptimizerBase::assign_scheduled_learning_rate(std::size_t group, double learning_rate) {
  detail::check_positive(learning_rate, "scheduled learning rate", kind(), /*allow_zero=*/true);
  groups_.at(group).learning_rate = learning_rate;
}

OptimizerState OptimizerBase::state() const {
  OptimizerState s{kind(), learning_rate(), 0, {}, {}, {}};
  for (std::size_t g = 1; g < groups_.size(); ++g)
    s.other_group_learning_rates.push_back(groups_[g].learning_rate);
  return s;
}

void OptimizerBase::check_state(const OptimizerState& state, std::size_t buffer_count,
                                bool uses_parameter_steps) const {
  if (state.kind != kind())
    throw std::invalid_argument(fmt::format("nn::{}::load_state: the state is of a {} optimiser", kind(),
                                            state.kind.empty() ? "nameless" : state.kind));
  if (state.buffers.size() != buffer_count)
    throw std::invalid_argument(fmt::format("nn::{}::load_state: {} state buffers, this optimiser keeps {}",
                                            kind(), state.buffers.size(), buffer_count));
  const std::string where = fmt::format("{}::load_state", kind());
  // A state may come from a schedule that drove a rate to 0.
  detail::check_positive(state.learning_rate, "learning rate", where.c_str(), /*allow_zero=*/true);
  const auto& others = state.other_group_learning_rates;
  if (!others.empty() && others.size() + 1 != groups_.size())
    throw std::invalid_argument(fmt::format("nn::{}: the state has {} parameter groups, the optimiser {}",
                                            where, others.size() + 1, groups_.size()));
  for (double rate : others)
    detail::check_positive(rate, "group learning rate", where.c_str(), /*allow_zero=*/true);
  if (!uses_parameter_steps && !state.parameter_steps.empty())
    throw std::invalid_argument(
        fmt::format("nn::{}: {} unexpected parameter step counts", where, state.parameter_steps.size()));
}

void OptimizerBase::restore_learning_rates(const OptimizerState& state) {
  const auto& others = state.other_group_learning_rates;
  groups_.front().learning_rate = state.learning_rate;
  for (std::size_t g = 1; g < groups_.size(); ++g)
    groups_[g].learning_rate = others.empty() ? state.learning_rate : others[g - 1];
}

void OptimizerBase::load_state(const OptimizerState& state) {
  check_state(state, 0, false);
  restore_learning_rates(state);
}

// ---- Optimizer<T> -----------------------------------------------------------

namespace {
template <class T>
void check_leaves(const std::vector<ad::TensorT<T>>& parameters, std::size_t first_index) {
  for (std::size_t i = 0; i < parameters.size(); ++i)
    if (!parameters[i].defined() || !parameters[i].is_leaf())
      throw std::invalid_argument(
          fmt::format("nn::Optimizer: parameter {} is not a leaf tensor (optimisers update leaves in place)",
                      first_index + i));
}
}  // namespace

template <class T>
Optimizer<T>::Optimizer(std::vector<ad::TensorT<T>> parameters) : parameters_(std::move(parameters)) {
  check_leaves(parameters_, 0);
  groups_.front().count = parameters_.size();
}

template <class T>
void Optimizer<T>::zero_grad() {
  for (auto& p : parameters_) p.zero_grad();
}

template <class T>
GuardedStepResult Optimizer<T>::guarded_step() {
  Guard guard{std::vector<char>(parameters_.size(), 0)};
  struct Active {
    Guard*& slot;
    ~Active() { slot = nullptr; }
  } active{guard_};
  guard_ = &guard;
  step();
  guard_ = nullptr;

  // Parameters a user-defined step() changed outside for_each_parameter can
  // only be looked at now.
  std::size_t unguarded = Guard::none;
  for (std::size_t k = 0; k < parameters_.size() && unguarded == Guard::none; ++k) {
    const std::span<const T> v = parameters_[k].values();
    if (!guard.visited[k] && !detail::all_finite(v.data(), v.size())) unguarded = k;
  }
  const std::size_t bad_gradient = guard.bad_gradient.load(), bad_value = guard.bad_value.load();
  GuardedStepResult result;
  if (bad_gradient != Guard::none)
    result = {GuardedStepResult::Problem::gradient_not_finite, bad_gradient, unguarded == Guard::none};
  else if (bad_value != Guard::none || unguarded != Guard::none)
    result = {GuardedStepResult::Problem::value_not_finite, std::min(bad_value, unguarded),
              unguarded == Guard::none};
  return result;
}

template <class T>
void Optimizer<T>::add_param_group(std::vector<ad::TensorT<T>> parameters, const ParamGroupOptions& options) {
  const std::string where = fmt::format("{}::add_param_group", kind());
  check_leaves(parameters, parameters_.size());
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    for (std::size_t k = 0; k < parameters_.size(); ++k)
      if (parameters_[k].is_same(parameters[i]))
        throw std::invalid_argument(fmt::format(
            "nn::{}: parameter {} of the new group is already optimised (parameter {})", where, i, k));
    for (std::size_t j = 0; j < i; ++j)
      if (parameters[j].is_same(parameters[i]))
        throw std::invalid_argument(
            fmt::format("nn::{}: parameters {} and {} of the new group are the same tensor", where, j, i));
  }
  ParamGroup group{parameters_.size(), parameters.size(), default_learning_rate_, default_weight_decay_};
  if (options.learning_rate) {
    detail::check_positive(*options.learning_rate, "learning rate", where.c_str());
    group.learning_rate = *options.learning_rate;
  }
  if (options.weight_decay) {
    if (!has_weight_decay_ && *options.weight_decay != 0.0)
      throw std::invalid_argument(fmt::format("nn::{}: {} has no weight decay", where, kind()));
    detail::check_positive(*options.weight_decay, "weight decay", where.c_str(), /*allow_zero=*/true);
    group.weight_decay = *options.weight_decay;
  }
  const std::size_t first = parameters_.size();
  parameters_.insert(parameters_.end(), parameters.begin(), parameters.end());
  groups_.push_back(group);
  parameters_added(first);
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace nn
