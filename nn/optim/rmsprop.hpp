// RMSprop (Hinton's lecture 6e; torch.optim.RMSprop).
#pragma once

#include <vector>

#include <nn/optim/optimizer.hpp>

namespace nn {

struct RMSpropOptions {
  double learning_rate = 1e-2;
  double alpha = 0.99;        // smoothing of the squared gradient, in [0, 1)
  double epsilon = 1e-8;      // > 0
  double weight_decay = 0.0;  // L2, added to the gradient
  double momentum = 0.0;      // in [0, 1)
  bool centered = false;      // divide by the estimated variance instead of the second moment
};

// With g the gradient (+ lambda Theta):
//   s <- alpha s + (1 - alpha) g^2
//   centered: a <- alpha a + (1 - alpha) g,  d = sqrt(s - a^2) + eps;  else d = sqrt(s) + eps
//   momentum: b <- mu b + g / d,  Theta <- Theta - eta b;  else Theta <- Theta - eta g / d
template <class T>
class RMSprop final : public Optimizer<T> {
 public:
  RMSprop(std::vector<ad::TensorT<T>> parameters, const RMSpropOptions& options = {});
  void step() override;
  const char* kind() const noexcept override { return "RMSprop"; }
  // buffers: s..., then a... (centered), then b... (momentum > 0)
  OptimizerState state() const override;
  void load_state(const OptimizerState& state) override;

 private:
  void parameters_added(std::size_t first) override;

  T alpha_, epsilon_, momentum_;
  bool centered_;
  std::vector<std::vector<T>> square_average_, gradient_average_, momentum_buffer_;
};

extern template class RMSprop<float>;
extern template class RMSprop<double>;

}  // namespace nn
