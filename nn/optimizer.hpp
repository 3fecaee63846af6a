// Optimisers: update the parameters Theta from their gradients. All share
// one small interface: zero_grad() before a backward pass, step() after.
//
//   nn::GradientDescent opt(net.parameters(), /*learning_rate=*/0.1);
//   opt.zero_grad();  nn::mse_loss(net(X), Y).backward();  opt.step();
#pragma once

#include <cstddef>
#include <type_traits>
#include <vector>

#include <autodiff/tensor.hpp>

namespace nn {

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
