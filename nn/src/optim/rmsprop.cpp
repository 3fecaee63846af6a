#include <cmath>
#include <cstddef>

#include <nn/optim/rmsprop.hpp>

// The update loops touch every weight every step: AD_CPU_CLONES compiles them
// for AVX-512 and AVX2 besides the baseline, all computing the same bits
// (no fused multiply-add: nn/CMakeLists.txt).
#include <autodiff/cpu_dispatch.hpp>

namespace nn {
namespace {

#define NN_DEFINE_RMSPROP_KERNELS(T)                                                                    \
  /* s = alpha s + (1 - alpha) g^2 with g = grad + lambda theta; centered (a != nullptr):               \
     a = alpha a + (1 - alpha) g, d = sqrt(s - a^2) + eps, else d = sqrt(s) + eps; then with momentum   \
     (b != nullptr) b = mu b + g / d, theta -= eta b, else theta -= eta g / d */                        \
  AD_CPU_CLONES void rmsprop_step(T* __restrict theta, const T* __restrict grad, T* __restrict s,       \
                                  T* __restrict a, T* __restrict b, T alpha, T epsilon, T mu, T lambda, \
                                  T eta, std::size_t n) {                                               \
    for (std::size_t i = 0; i < n; ++i) {                                                               \
      const T g = grad[i] + lambda * theta[i];                                                          \
      s[i] = alpha * s[i] + (T(1) - alpha) * g * g;                                                     \
      T denominator;                                                                                    \
      if (a) {                                                                                          \
        a[i] = alpha * a[i] + (T(1) - alpha) * g;                                                       \
        denominator = std::sqrt(s[i] - a[i] * a[i]) + epsilon;                                          \
      } else {                                                                                          \
        denominator = std::sqrt(s[i]) + epsilon;                                                        \
      }                                                                                                 \
      if (b) {                                                                                          \
        b[i] = mu * b[i] + g / denominator;                                                             \
        theta[i] -= eta * b[i];                                                                         \
      } else {                                                                                          \
        theta[i] -= eta * (g / denominator);                                                            \
      }                                                                                                 \
    }                                                                                                   \
  }
NN_DEFINE_RMSPROP_KERNELS(float)
NN_DEFINE_RMSPROP_KERNELS(double)
#undef NN_DEFINE_RMSPROP_KERNELS

}  // namespace

template <class T>
RMSprop<T>::RMSprop(std::vector<ad::TensorT<T>> parameters, const RMSpropOptions& options)
    : Optimizer<T>(std::move(parameters)),
      alpha_(static_cast<T>(options.alpha)),
      epsilon_(static_cast<T>(options.epsilon)),
      momentum_(static_cast<T>(options.momentum)),
      centered_(options.centered) {
  detail::check_positive(options.learning_rate, "learning rate", "RMSprop");
  detail::check_unit_interval(options.alpha, "alpha", "RMSprop");
  detail::check_positive(options.epsilon, "epsilon", "RMSprop");
  detail::check_positive(options.weight_decay, "weight decay", "RMSprop", /*allow_zero=*/true);
  detail::check_unit_interval(options.momentum, "momentum", "RMSprop");
  this->set_defaults(options.learning_rate, options.weight_decay, /*has_weight_decay=*/true);
  parameters_added(0);
}

template <class T>
void RMSprop<T>::parameters_added(std::size_t first) {
  for (std::size_t k = first; k < this->parameters_.size(); ++k) {
    const std::size_t n = this->parameters_[k].numel();
    square_average_.emplace_back(n, T(0));
    if (centered_) gradient_average_.emplace_back(n, T(0));
    if (momentum_ > T(0)) momentum_buffer_.emplace_back(n, T(0));
  }
}

template <class T>
void RMSprop<T>::step() {
  this->for_each_parameter([&](const ParamGroup& group, std::size_t k, T* theta, const T* grad,
                               std::size_t begin, std::size_t end) {
    T* a = centered_ ? gradient_average_[k].data() + begin : nullptr;
    T* b = momentum_ > T(0) ? momentum_buffer_[k].data() + begin : nullptr;
    rmsprop_step(theta + begin, grad + begin, square_average_[k].data() + begin, a, b, alpha_, epsilon_,
                 momentum_, static_cast<T>(group.weight_decay), static_cast<T>(group.learning_rate),
                 end - begin);
  });
}

template <class T>
OptimizerState RMSprop<T>::state() const {
  OptimizerState s = Optimizer<T>::state();
  detail::append_buffers(s.buffers, square_average_);
  detail::append_buffers(s.buffers, gradient_average_);
  detail::append_buffers(s.buffers, momentum_buffer_);
  return s;
}

template <class T>
void RMSprop<T>::load_state(const OptimizerState& state) {
  const std::size_t n = square_average_.size(), centered = gradient_average_.size();
  this->check_state(state, n + centered + momentum_buffer_.size(), /*uses_parameter_steps=*/false);
  detail::check_buffers(square_average_, state.buffers, 0, "RMSprop");
  detail::check_buffers(gradient_average_, state.buffers, n, "RMSprop");
  detail::check_buffers(momentum_buffer_, state.buffers, n + centered, "RMSprop");
  this->restore_learning_rates(state);
  detail::copy_buffers(square_average_, state.buffers, 0);
  detail::copy_buffers(gradient_average_, state.buffers, n);
  detail::copy_buffers(momentum_buffer_, state.buffers, n + centered);
}

template class RMSprop<float>;
template class RMSprop<double>;

}  // namespace nn
