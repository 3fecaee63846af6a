// Optimisers: update the parameters Theta from their gradients. All share
// one small interface: zero_grad() before a backward pass, step() after.
//
//   nn::GradientDescent opt(net.parameters(), /*learning_rate=*/0.1);
//   opt.zero_grad();  nn::mse_loss(net(X), Y).backward();  opt.step();
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <autodiff/tensor.hpp>

namespace nn {

// Everything an optimiser remembers between steps, for checkpoints
// (nn/checkpoint.hpp): restoring it with load_state() makes the following
// steps bit-identical to those of the optimiser it was taken from.
struct OptimizerState {
  std::string kind;                          // "GradientDescent", "SGD", "Adam"
  double learning_rate = 0.0;
  std::uint64_t steps = 0;                   // steps taken (Adam's bias correction)
  std::vector<std::vector<double>> buffers;  // per-parameter memory (SGD: velocity; Adam: m..., then v...)
};

template <class T>
class Optimizer {
 public:
  explicit Optimizer(std::vector<ad::TensorT<T>> parameters);
  virtual ~Optimizer() = default;
  // Applies one update to every parameter from its current gradient
  // (parameters that received no gradient are left unchanged).
  virtual void step() = 0;
  // Sets every parameter's gradient to 0 (gradients accumulate otherwise).
  void zero_grad();
  const std::vector<ad::TensorT<T>>& parameters() const noexcept { return parameters_; }
  double learning_rate() const noexcept { return learning_rate_; }
  // Changes the step size (schedules); must be finite and > 0.
  void set_learning_rate(double learning_rate);
  // The optimiser's name, as in OptimizerState::kind (user-defined optimisers
  // without state may keep the default).
  virtual const char* kind() const noexcept { return "Optimizer"; }
  // The state to checkpoint, and its restoration (throws std::invalid_argument
  // for a state of another optimiser kind or other parameter sizes). Float
  // buffers are stored as double, which is exact.
  virtual OptimizerState state() const;
  virtual void load_state(const OptimizerState& state);

 protected:
  std::vector<ad::TensorT<T>> parameters_;
  double learning_rate_ = 0.0;
};

// The textbook's gradient descent: Theta <- Theta - eta grad C. With the mean
// loss over the whole data set, grad C is the average of the N per-sample
// gradients: full-batch gradient descent.
template <class T>
class GradientDescent final : public Optimizer<T> {
 public:
  GradientDescent(std::vector<ad::TensorT<T>> parameters, std::type_identity_t<T> learning_rate);
  void step() override;
  const char* kind() const noexcept override { return "GradientDescent"; }
};

// Stochastic gradient descent with momentum mu (classical: v <- mu v + g,
// Theta <- Theta - eta v; Nesterov: Theta <- Theta - eta (g + mu v)).
// Mini-batches and shuffling come from nn::fit's batch_size.
template <class T>
class SGD final : public Optimizer<T> {
 public:
  SGD(std::vector<ad::TensorT<T>> parameters, std::type_identity_t<T> learning_rate,
      std::type_identity_t<T> momentum = 0, bool nesterov = false);
  void step() override;
  const char* kind() const noexcept override { return "SGD"; }
  OptimizerState state() const override;
  void load_state(const OptimizerState& state) override;

 private:
  T momentum_;
  bool nesterov_;
  std::vector<std::vector<T>> velocity_;
};

// Adam (Kingma and Ba, 2015): m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2,
// Theta <- Theta - eta m_hat / (sqrt(v_hat) + eps) with bias-corrected m_hat,
// v_hat.
template <class T>
class Adam final : public Optimizer<T> {
 public:
  Adam(std::vector<ad::TensorT<T>> parameters, std::type_identity_t<T> learning_rate = T(1e-3),
       std::type_identity_t<T> beta1 = T(0.9), std::type_identity_t<T> beta2 = T(0.999),
       std::type_identity_t<T> epsilon = T(1e-8));
  void step() override;
  std::size_t steps_taken() const noexcept { return steps_; }
  const char* kind() const noexcept override { return "Adam"; }
  OptimizerState state() const override;
  void load_state(const OptimizerState& state) override;

 private:
  T beta1_, beta2_, epsilon_;
  std::size_t steps_ = 0;
  std::vector<std::vector<T>> m_, v_;
};

extern template class Optimizer<float>;
extern template class Optimizer<double>;
extern template class GradientDescent<float>;
extern template class GradientDescent<double>;
extern template class SGD<float>;
extern template class SGD<double>;
extern template class Adam<float>;
extern template class Adam<double>;

}  // namespace nn
