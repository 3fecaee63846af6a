// Gradient descent and stochastic gradient descent (torch.optim.SGD).
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

#include <nn/optim/optimizer.hpp>

namespace nn {

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

struct SGDOptions {
  double learning_rate = 0.0;  // required (> 0)
  double momentum = 0.0;       // mu in [0, 1)
  double dampening = 0.0;      // tau in [0, 1)
  double weight_decay = 0.0;   // lambda >= 0 (L2: added to the gradient)
  bool nesterov = false;       // needs momentum > 0 and dampening 0
};

// Stochastic gradient descent as torch.optim.SGD: with d = g + lambda Theta
// (L2 weight decay),
//   v <- mu v + (1 - tau) d   (v <- d at a parameter's first step)
//   Theta <- Theta - eta v               (classical momentum)
//   Theta <- Theta - eta (d + mu v)      (Nesterov)
// and Theta <- Theta - eta d without momentum. Mini-batches and shuffling come
// from nn::fit's batch_size.
template <class T>
class SGD final : public Optimizer<T> {
 public:
  SGD(std::vector<ad::TensorT<T>> parameters, std::type_identity_t<T> learning_rate,
      std::type_identity_t<T> momentum = 0, bool nesterov = false);
  SGD(std::vector<ad::TensorT<T>> parameters, const SGDOptions& options);
  void step() override;
  const char* kind() const noexcept override { return "SGD"; }
  OptimizerState state() const override;
  void load_state(const OptimizerState& state) override;

 private:
  void parameters_added(std::size_t first) override;

  T momentum_, dampening_;
  bool nesterov_;
  std::vector<std::vector<T>> velocity_;
  std::vector<std::uint64_t> parameter_steps_;
};

extern template class GradientDescent<float>;
extern template class GradientDescent<double>;
extern template class SGD<float>;
extern template class SGD<double>;

}  // namespace nn
