#include <cstddef>
#include <stdexcept>

#include <fmt/format.h>

#include <nn/optim/sgd.hpp>

// The update loops touch every weight every step: AD_CPU_CLONES compiles them
// for AVX-512 and AVX2 besides the baseline, all computing the same bits
// (no fused multiply-add: nn/CMakeLists.txt).
#include <autodiff/cpu_dispatch.hpp>

namespace nn {
namespace {

#define NN_DEFINE_SGD_KERNELS(T)                                                                         \
  /* theta -= eta g */                                                                                   \
  AD_CPU_CLONES void descend(T* __restrict theta, const T* __restrict grad, T eta, std::size_t n) {      \
    for (std::size_t i = 0; i < n; ++i) theta[i] -= eta * grad[i];                                       \
  }                                                                                                      \
  /* v = mu v + g; theta -= eta v (Nesterov: eta (g + mu v)) */                                          \
  AD_CPU_CLONES void momentum_step(T* __restrict theta, const T* __restrict grad, T* __restrict v, T mu, \
                                   T eta, bool nesterov, std::size_t n) {                                \
    if (nesterov) {                                                                                      \
      for (std::size_t i = 0; i < n; ++i) {                                                              \
        v[i] = mu * v[i] + grad[i];                                                                      \
        theta[i] -= eta * (grad[i] + mu * v[i]);                                                         \
      }                                                                                                  \
    } else {                                                                                             \
      for (std::size_t i = 0; i < n; ++i) {                                                              \
        v[i] = mu * v[i] + grad[i];                                                                      \
        theta[i] -= eta * v[i];                                                                          \
      }                                                                                                  \
    }                                                                                                    \
  }                                                                                                      \
  /* With weight decay lambda and dampening tau: d = g + lambda theta; v = d at the first step, else     \
     v = mu v + (1 - tau) d; theta -= eta v (Nesterov: eta (d + mu v)); mu = 0: theta -= eta d */        \
  AD_CPU_CLONES void decayed_step(T* __restrict theta, const T* __restrict grad, T* __restrict v, T mu,  \
                                  T one_minus_tau, T lambda, T eta, bool nesterov, bool first,           \
                                  std::size_t n) {                                                       \
    for (std::size_t i = 0; i < n; ++i) {                                                                \
      T d = grad[i] + lambda * theta[i];                                                                 \
      if (mu != T(0)) {                                                                                  \
        v[i] = first ? d : mu * v[i] + one_minus_tau * d;                                                \
        d = nesterov ? d + mu * v[i] : v[i];                                                             \
      }                                                                                                  \
      theta[i] -= eta * d;                                                                               \
    }                                                                                                    \
  }
NN_DEFINE_SGD_KERNELS(float)
NN_DEFINE_SGD_KERNELS(double)
#undef NN_DEFINE_SGD_KERNELS

}  // namespace

template <class T>
GradientDescent<T>::GradientDescent(std::vector<ad::TensorT<T>> parameters,
                                    std::type_identity_t<T> learning_rate)
    : Optimizer<T>(std::move(parameters)) {
  detail::check_positive(learning_rate, "learning rate", "GradientDescent");
  this->set_defaults(learning_rate, 0.0, /*has_weight_decay=*/false);
}

template <class T>
void GradientDescent<T>::step() {
  this->for_each_parameter(
      [](const ParamGroup& group, std::size_t, T* theta, const T* grad, std::size_t begin, std::size_t end) {
        descend(theta + begin, grad + begin, static_cast<T>(group.learning_rate), end - begin);
      });
}

template <class T>
SGD<T>::SGD(std::vector<ad::TensorT<T>> parameters, std::type_identity_t<T> learning_rate,
            std::type_identity_t<T> momentum, bool nesterov)
    : SGD(std::move(parameters), SGDOptions{.learning_rate = static_cast<double>(learning_rate),
                                            .momentum = static_cast<double>(momentum),
                                            .nesterov = nesterov && momentum > 0}) {}

template <class T>
SGD<T>::SGD(std::vector<ad::TensorT<T>> parameters, const SGDOptions& options)
    : Optimizer<T>(std::move(parameters)),
      momentum_(static_cast<T>(options.momentum)),
      dampening_(static_cast<T>(options.dampening)),
      nesterov_(options.nesterov) {
  detail::check_positive(options.learning_rate, "learning rate", "SGD");
  detail::check_unit_interval(options.momentum, "momentum", "SGD");
  detail::check_unit_interval(options.dampening, "dampening", "SGD");
  detail::check_positive(options.weight_decay, "weight decay", "SGD", /*allow_zero=*/true);
  if (options.nesterov && (options.momentum == 0.0 || options.dampening != 0.0))
    throw std::invalid_argument(fmt::format(
        "nn::SGD: Nesterov momentum needs a momentum > 0 and dampening 0, got momentum {} and dampening {}",
        options.momentum, options.dampening));
  this->set_defaults(options.learning_rate, options.weight_decay, /*has_weight_decay=*/true);
  parameters_added(0);
}

template <class T>
void SGD<T>::parameters_added(std::size_t first) {
  for (std::size_t k = first; k < this->parameters_.size(); ++k) {
    velocity_.emplace_back(this->parameters_[k].numel(), T(0));
    parameter_steps_.push_back(0);
  }
}

template <class T>
void SGD<T>::step() {
  const T mu = momentum_, one_minus_tau = T(1) - dampening_;
  const bool nesterov = nesterov_, dampened = dampening_ != T(0);
  this->for_each_parameter([&](const ParamGroup& group, std::size_t k, T* theta, const T* grad,
                               std::size_t begin, std::size_t end) {
    const T eta = static_cast<T>(group.learning_rate), lambda = static_cast<T>(group.weight_decay);
    T* v = velocity_[k].data();
    if (lambda != T(0) || dampened)
      decayed_step(theta + begin, grad + begin, v + begin, mu, one_minus_tau, lambda, eta, nesterov,
                   parameter_steps_[k] == 0, end - begin);
    else if (mu == T(0))  // plain gradient descent: no velocity to keep
      descend(theta + begin, grad + begin, eta, end - begin);
    else  // v starts at 0, so mu v + g is g at the first step, as PyTorch's
      momentum_step(theta + begin, grad + begin, v + begin, mu, eta, nesterov, end - begin);
  });
  for (std::size_t k = 0; k < this->parameters_.size(); ++k)
    if (this->parameters_[k].has_grad()) ++parameter_steps_[k];
}

template <class T>
OptimizerState SGD<T>::state() const {
  OptimizerState s = Optimizer<T>::state();
  detail::append_buffers(s.buffers, velocity_);
  s.parameter_steps = parameter_steps_;
  return s;
}

template <class T>
void SGD<T>::load_state(const OptimizerState& state) {
  this->check_state(state, velocity_.size(), /*uses_parameter_steps=*/true);
  detail::check_buffers(velocity_, state.buffers, 0, "SGD");
  if (!state.parameter_steps.empty() && state.parameter_steps.size() != parameter_steps_.size())
    throw std::invalid_argument(fmt::format("nn::SGD::load_state: {} parameter step counts for {} parameters",
                                            state.parameter_steps.size(), parameter_steps_.size()));
  this->restore_learning_rates(state);
  detail::copy_buffers(velocity_, state.buffers, 0);
  if (state.parameter_steps.empty())  // a state from before the counts: every velocity has started
    parameter_steps_.assign(parameter_steps_.size(), 1);
  else
    parameter_steps_ = state.parameter_steps;
}

template class GradientDescent<float>;
template class GradientDescent<double>;
template class SGD<float>;
template class SGD<double>;

}  // namespace nn
