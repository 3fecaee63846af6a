#include <cmath>
#include <cstddef>
#include <stdexcept>

#include <fmt/format.h>

#include <autodiff/parallel.hpp>
#include <nn/optimizer.hpp>

namespace nn {
namespace {

// The update rules touch every weight every step. Their loops are compiled
// for AVX-512 and AVX2 besides the x86-64 baseline, and the loader picks one
// (the library is built without -march=native); nn/CMakeLists.txt compiles
// this file with -ffp-contract=off, so every version computes the same bits
// (no fused multiply-add where the baseline has none). Large tensors
// are split over the gemm's threads (ad::parallel_for).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
#define NN_UPDATE_KERNEL __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NN_UPDATE_KERNEL
#endif

#define NN_DEFINE_UPDATE_KERNELS(T)                                                                         \
  /* theta -= eta g */                                                                                      \
  NN_UPDATE_KERNEL void descend(T* __restrict theta, const T* __restrict grad, T eta, std::size_t n) {      \
    for (std::size_t i = 0; i < n; ++i) theta[i] -= eta * grad[i];                                          \
  }                                                                                                         \
  /* v = mu v + g; theta -= eta v (Nesterov: eta (g + mu v)) */                                             \
  NN_UPDATE_KERNEL void momentum_step(T* __restrict theta, const T* __restrict grad, T* __restrict v, T mu, \
                                      T eta, bool nesterov, std::size_t n) {                                \
    if (nesterov) {                                                                                         \
      for (std::size_t i = 0; i < n; ++i) {                                                                 \
        v[i] = mu * v[i] + grad[i];                                                                         \
        theta[i] -= eta * (grad[i] + mu * v[i]);                                                            \
      }                                                                                                     \
    } else {                                                                                                \
      for (std::size_t i = 0; i < n; ++i) {                                                                 \
        v[i] = mu * v[i] + grad[i];                                                                         \
        theta[i] -= eta * v[i];                                                                             \
      }                                                                                                     \
    }                                                                                                       \
  }                                                                                                         \
  /* Adam with bias corrections c1 = 1 - beta1^t, c2 = 1 - beta2^t */                                       \
  NN_UPDATE_KERNEL void adam_step(T* __restrict theta, const T* __restrict grad, T* __restrict m,           \
                                  T* __restrict v, T beta1, T beta2, T epsilon, T c1, T c2, T eta,          \
                                  std::size_t n) {                                                          \
    for (std::size_t i = 0; i < n; ++i) {                                                                   \
      m[i] = beta1 * m[i] + (T(1) - beta1) * grad[i];                                                       \
      v[i] = beta2 * v[i] + (T(1) - beta2) * grad[i] * grad[i];                                             \
      const T m_hat = m[i] / c1;                                                                            \
      const T v_hat = v[i] / c2;                                                                            \
      theta[i] -= eta * m_hat / (std::sqrt(v_hat) + epsilon);                                               \
    }                                                                                                       \
  }
NN_DEFINE_UPDATE_KERNELS(float)
NN_DEFINE_UPDATE_KERNELS(double)
#undef NN_DEFINE_UPDATE_KERNELS
#undef NN_UPDATE_KERNEL

void check_rate(double value, const char* what, const char* optimizer) {
  if (!std::isfinite(value) || value <= 0.0)
    throw std::invalid_argument(
        fmt::format("nn::{}: the {} must be finite and > 0, got {}", optimizer, what, value));
}

}  // namespace

template <class T>
Optimizer<T>::Optimizer(std::vector<ad::TensorT<T>> parameters) : parameters_(std::move(parameters)) {
  for (std::size_t i = 0; i < parameters_.size(); ++i)
    if (!parameters_[i].defined() || !parameters_[i].is_leaf())
      throw std::invalid_argument(fmt::format(
          "nn::Optimizer: parameter {} is not a leaf tensor (optimisers update leaves in place)", i));
}

template <class T>
void Optimizer<T>::zero_grad() {
  for (auto& p : parameters_) p.zero_grad();
}

template <class T>
void Optimizer<T>::set_learning_rate(double learning_rate) {
  check_rate(learning_rate, "learning rate", "Optimizer::set_learning_rate");
  learning_rate_ = learning_rate;
}

template <class T>
OptimizerState Optimizer<T>::state() const {
  return OptimizerState{kind(), learning_rate_, 0, {}};
}

template <class T>
void Optimizer<T>::load_state(const OptimizerState& state) {
  if (state.kind != kind())
    throw std::invalid_argument(fmt::format("nn::{}::load_state: the state is of a {} optimiser", kind(),
                                            state.kind.empty() ? "nameless" : state.kind));
  if (!state.buffers.empty())
    throw std::invalid_argument(
        fmt::format("nn::{}::load_state: {} unexpected state buffers", kind(), state.buffers.size()));
  check_rate(state.learning_rate, "learning rate", "Optimizer::load_state");
  learning_rate_ = state.learning_rate;
}

namespace {

// Per-parameter buffers to and from their double form, sizes checked.
template <class T>
void append_buffers(std::vector<std::vector<double>>& out, const std::vector<std::vector<T>>& buffers) {
  for (const auto& b : buffers) out.emplace_back(b.begin(), b.end());
}
// Throws unless in[first + k] fits buffers[k] for every k. load_state checks
// every buffer before it changes anything: a state that does not fit leaves
// the optimiser as it was.
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

}  // namespace

template <class T>
GradientDescent<T>::GradientDescent(std::vector<ad::TensorT<T>> parameters,
                                    std::type_identity_t<T> learning_rate)
    : Optimizer<T>(std::move(parameters)) {
  check_rate(learning_rate, "learning rate", "GradientDescent");
  this->learning_rate_ = learning_rate;
}

template <class T>
void GradientDescent<T>::step() {
  const T eta = static_cast<T>(this->learning_rate_);
  for (auto& p : this->parameters_) {
    const auto g = p.grad_values();
    if (g.empty()) continue;
    T* theta = p.mutable_values().data();
    ad::parallel_for(g.size(), ad::parallel_grain, [&](std::size_t begin, std::size_t end) {
      descend(theta + begin, g.data() + begin, eta, end - begin);
    });
  }
}

template <class T>
SGD<T>::SGD(std::vector<ad::TensorT<T>> parameters, std::type_identity_t<T> learning_rate,
            std::type_identity_t<T> momentum, bool nesterov)
    : Optimizer<T>(std::move(parameters)), momentum_(momentum), nesterov_(nesterov) {
  check_rate(learning_rate, "learning rate", "SGD");
  if (!std::isfinite(momentum) || momentum < 0 || momentum >= 1)
    throw std::invalid_argument(fmt::format("nn::SGD: the momentum must be in [0, 1), got {}", momentum));
  this->learning_rate_ = learning_rate;
  for (const auto& p : this->parameters_) velocity_.emplace_back(p.numel(), T(0));
}

template <class T>
void SGD<T>::step() {
  const T eta = static_cast<T>(this->learning_rate_);
  for (std::size_t k = 0; k < this->parameters_.size(); ++k) {
    auto& p = this->parameters_[k];
    const auto g = p.grad_values();
    if (g.empty()) continue;
    T* theta = p.mutable_values().data();
    const T* grad = g.data();
    T* v = velocity_[k].data();
    const T momentum = momentum_;
    const bool nesterov = nesterov_;
    ad::parallel_for(g.size(), ad::parallel_grain, [&](std::size_t begin, std::size_t end) {
      if (momentum == T(0))  // plain gradient descent: no velocity to keep
        descend(theta + begin, grad + begin, eta, end - begin);
      else
        momentum_step(theta + begin, grad + begin, v + begin, momentum, eta, nesterov, end - begin);
    });
  }
}

template <class T>
OptimizerState SGD<T>::state() const {
  OptimizerState s = Optimizer<T>::state();
  append_buffers(s.buffers, velocity_);
  return s;
}

template <class T>
void SGD<T>::load_state(const OptimizerState& state) {
  if (state.kind == kind() && state.buffers.size() != velocity_.size())
    throw std::invalid_argument(fmt::format("nn::SGD::load_state: {} velocity buffers for {} parameters",
                                            state.buffers.size(), velocity_.size()));
  if (state.kind == kind()) check_buffers(velocity_, state.buffers, 0, "SGD");
  Optimizer<T>::load_state(OptimizerState{state.kind, state.learning_rate, 0, {}});
  copy_buffers(velocity_, state.buffers, 0);
}

template <class T>
Adam<T>::Adam(std::vector<ad::TensorT<T>> parameters, std::type_identity_t<T> learning_rate,
              std::type_identity_t<T> beta1, std::type_identity_t<T> beta2, std::type_identity_t<T> epsilon)
    : Optimizer<T>(std::move(parameters)), beta1_(beta1), beta2_(beta2), epsilon_(epsilon) {
  check_rate(learning_rate, "learning rate", "Adam");
  check_rate(epsilon, "epsilon", "Adam");
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
    throw std::invalid_argument(
        fmt::format("nn::Adam: beta1 and beta2 must be in [0, 1), got {} and {}", beta1, beta2));
  this->learning_rate_ = learning_rate;
  for (const auto& p : this->parameters_) {
    m_.emplace_back(p.numel(), T(0));
    v_.emplace_back(p.numel(), T(0));
  }
}

template <class T>
void Adam<T>::step() {
  ++steps_;
  const double t = static_cast<double>(steps_);
  const T correction1 = static_cast<T>(1.0 - std::pow(double(beta1_), t));
  const T correction2 = static_cast<T>(1.0 - std::pow(double(beta2_), t));
  const T eta = static_cast<T>(this->learning_rate_);
  for (std::size_t k = 0; k < this->parameters_.size(); ++k) {
    auto& p = this->parameters_[k];
    const auto g = p.grad_values();
    if (g.empty()) continue;
    T* theta = p.mutable_values().data();
    const T* grad = g.data();
    T* m = m_[k].data();
    T* v = v_[k].data();
    const T beta1 = beta1_, beta2 = beta2_, epsilon = epsilon_;
    ad::parallel_for(g.size(), ad::parallel_grain, [&](std::size_t begin, std::size_t end) {
      adam_step(theta + begin, grad + begin, m + begin, v + begin, beta1, beta2, epsilon, correction1,
                correction2, eta, end - begin);
    });
  }
}

template <class T>
OptimizerState Adam<T>::state() const {
  OptimizerState s = Optimizer<T>::state();
  s.steps = steps_;
  append_buffers(s.buffers, m_);
  append_buffers(s.buffers, v_);
  return s;
}

template <class T>
void Adam<T>::load_state(const OptimizerState& state) {
  if (state.kind == kind() && state.buffers.size() != 2 * m_.size())
    throw std::invalid_argument(
        fmt::format("nn::Adam::load_state: {} moment buffers for {} parameters (2 per parameter)",
                    state.buffers.size(), m_.size()));
  if (state.kind == kind()) {
    check_buffers(m_, state.buffers, 0, "Adam");
    check_buffers(v_, state.buffers, m_.size(), "Adam");
  }
  Optimizer<T>::load_state(OptimizerState{state.kind, state.learning_rate, 0, {}});
  copy_buffers(m_, state.buffers, 0);
  copy_buffers(v_, state.buffers, m_.size());
  steps_ = static_cast<std::size_t>(state.steps);
}

template class Optimizer<float>;
template class Optimizer<double>;
template class GradientDescent<float>;
template class GradientDescent<double>;
template class SGD<float>;
template class SGD<double>;
template class Adam<float>;
template class Adam<double>;

}  // namespace nn
