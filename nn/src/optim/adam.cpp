#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>

#include <fmt/format.h>

#include <nn/optim/adam.hpp>

// The update loops touch every weight every step: AD_CPU_CLONES compiles them
// for AVX-512 and AVX2 besides the baseline, all computing the same bits
// (no fused multiply-add: nn/CMakeLists.txt).
#include <autodiff/cpu_dispatch.hpp>

namespace nn {
namespace {

#define NN_DEFINE_ADAM_KERNELS(T)                                                                            \
  /* Adam with bias corrections c1 = 1 - beta1^t, c2 = 1 - beta2^t (the hot path: no decay, no AMSGrad) */   \
  AD_CPU_CLONES void adam_step(T* __restrict theta, const T* __restrict grad, T* __restrict m,               \
                               T* __restrict v, T beta1, T beta2, T epsilon, T c1, T c2, T eta,              \
                               std::size_t n) {                                                              \
    for (std::size_t i = 0; i < n; ++i) {                                                                    \
      m[i] = beta1 * m[i] + (T(1) - beta1) * grad[i];                                                        \
      v[i] = beta2 * v[i] + (T(1) - beta2) * grad[i] * grad[i];                                              \
      const T m_hat = m[i] / c1;                                                                             \
      const T v_hat = v[i] / c2;                                                                             \
      theta[i] -= eta * m_hat / (std::sqrt(v_hat) + epsilon);                                                \
    }                                                                                                        \
  }                                                                                                          \
  /* The same with weight decay: theta *= shrink (AdamW: 1 - eta lambda, else 1), g = grad + l2 theta (Adam: \
     l2 = lambda, else 0); AMSGrad divides by the running maximum v_max of v instead of v. */                \
  AD_CPU_CLONES void decayed_adam_step(T* __restrict theta, const T* __restrict grad, T* __restrict m,       \
                                       T* __restrict v, T* __restrict v_max, T beta1, T beta2, T epsilon,    \
                                       T c1, T c2, T eta, T shrink, T l2, std::size_t n) {                   \
    for (std::size_t i = 0; i < n; ++i) {                                                                    \
      theta[i] *= shrink;                                                                                    \
      const T g = grad[i] + l2 * theta[i];                                                                   \
      m[i] = beta1 * m[i] + (T(1) - beta1) * g;                                                              \
      v[i] = beta2 * v[i] + (T(1) - beta2) * g * g;                                                          \
      T second = v[i];                                                                                       \
      if (v_max) second = v_max[i] = std::max(v_max[i], v[i]);                                               \
      const T m_hat = m[i] / c1;                                                                             \
      const T v_hat = second / c2;                                                                           \
      theta[i] -= eta * m_hat / (std::sqrt(v_hat) + epsilon);                                                \
    }                                                                                                        \
  }
NN_DEFINE_ADAM_KERNELS(float)
NN_DEFINE_ADAM_KERNELS(double)
#undef NN_DEFINE_ADAM_KERNELS

}  // namespace

namespace detail {

template <class T>
AdamFamily<T>::AdamFamily(std::vector<ad::TensorT<T>> parameters, const AdamOptions& options, bool decoupled,
                          const char* name)
    : Optimizer<T>(std::move(parameters)),
      beta1_(static_cast<T>(options.beta1)),
      beta2_(static_cast<T>(options.beta2)),
      epsilon_(static_cast<T>(options.epsilon)),
      amsgrad_(options.amsgrad),
      decoupled_(decoupled) {
  detail::check_positive(options.learning_rate, "learning rate", name);
  detail::check_positive(options.epsilon, "epsilon", name);
  detail::check_unit_interval(options.beta1, "beta1", name);
  detail::check_unit_interval(options.beta2, "beta2", name);
  detail::check_positive(options.weight_decay, "weight decay", name, /*allow_zero=*/true);
  this->set_defaults(options.learning_rate, options.weight_decay, /*has_weight_decay=*/true);
  parameters_added(0);
}

template <class T>
void AdamFamily<T>::parameters_added(std::size_t first) {
  for (std::size_t k = first; k < this->parameters_.size(); ++k) {
    const std::size_t n = this->parameters_[k].numel();
    m_.emplace_back(n, T(0));
    v_.emplace_back(n, T(0));
    if (amsgrad_) v_max_.emplace_back(n, T(0));
  }
}

template <class T>
void AdamFamily<T>::step() {
  ++steps_;
  const double t = static_cast<double>(steps_);
  const T c1 = static_cast<T>(1.0 - std::pow(double(beta1_), t));
  const T c2 = static_cast<T>(1.0 - std::pow(double(beta2_), t));
  const T beta1 = beta1_, beta2 = beta2_, epsilon = epsilon_;
  this->for_each_parameter([&](const ParamGroup& group, std::size_t k, T* theta, const T* grad,
                               std::size_t begin, std::size_t end) {
    const T eta = static_cast<T>(group.learning_rate);
    T* m = m_[k].data() + begin;
    T* v = v_[k].data() + begin;
    if (group.weight_decay == 0.0 && !amsgrad_) {
      adam_step(theta + begin, grad + begin, m, v, beta1, beta2, epsilon, c1, c2, eta, end - begin);
      return;
    }
    const T shrink = decoupled_ ? static_cast<T>(1.0 - group.learning_rate * group.weight_decay) : T(1);
    const T l2 = decoupled_ ? T(0) : static_cast<T>(group.weight_decay);
    decayed_adam_step(theta + begin, grad + begin, m, v, amsgrad_ ? v_max_[k].data() + begin : nullptr, beta1,
                      beta2, epsilon, c1, c2, eta, shrink, l2, end - begin);
  });
}

template <class T>
OptimizerState AdamFamily<T>::state() const {
  OptimizerState s = Optimizer<T>::state();
  s.steps = steps_;
  detail::append_buffers(s.buffers, m_);
  detail::append_buffers(s.buffers, v_);
  detail::append_buffers(s.buffers, v_max_);
  return s;
}

template <class T>
void AdamFamily<T>::load_state(const OptimizerState& state) {
  this->check_state(state, m_.size() + v_.size() + v_max_.size(), /*uses_parameter_steps=*/false);
  check_buffers(m_, state.buffers, 0, this->kind());
  check_buffers(v_, state.buffers, m_.size(), this->kind());
  check_buffers(v_max_, state.buffers, 2 * m_.size(), this->kind());
  this->restore_learning_rates(state);
  copy_buffers(m_, state.buffers, 0);
  copy_buffers(v_, state.buffers, m_.size());
  copy_buffers(v_max_, state.buffers, 2 * m_.size());
  steps_ = static_cast<std::size_t>(state.steps);
}

}  // namespace detail

template <class T>
Adam<T>::Adam(std::vector<ad::TensorT<T>> parameters, std::type_identity_t<T> learning_rate,
              std::type_identity_t<T> beta1, std::type_identity_t<T> beta2, std::type_identity_t<T> epsilon)
    : Adam(std::move(parameters),
           AdamOptions{.learning_rate = learning_rate, .beta1 = beta1, .beta2 = beta2, .epsilon = epsilon}) {}

template <class T>
Adam<T>::Adam(std::vector<ad::TensorT<T>> parameters, const AdamOptions& options)
    : detail::AdamFamily<T>(std::move(parameters), options, /*decoupled=*/false, "Adam") {}

template <class T>
AdamW<T>::AdamW(std::vector<ad::TensorT<T>> parameters, const AdamWOptions& options)
    : detail::AdamFamily<T>(std::move(parameters),
                            AdamOptions{.learning_rate = options.learning_rate,
                                        .beta1 = options.beta1,
                                        .beta2 = options.beta2,
                                        .epsilon = options.epsilon,
                                        .weight_decay = options.weight_decay,
                                        .amsgrad = options.amsgrad},
                            /*decoupled=*/true, "AdamW") {}

template class detail::AdamFamily<float>;
template class detail::AdamFamily<double>;
template class Adam<float>;
template class Adam<double>;
template class AdamW<float>;
template class AdamW<double>;

}  // namespace nn
