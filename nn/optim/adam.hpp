// Adam (torch.optim.Adam) and AdamW (torch.optim.AdamW): one update rule,
// two ways of decaying the weights.
#pragma once

#include <cstddef>
#include <type_traits>
#include <vector>

#include <nn/optim/optimizer.hpp>

namespace nn {

struct AdamOptions {
  double learning_rate = 1e-3;
  double beta1 = 0.9;         // in [0, 1)
  double beta2 = 0.999;       // in [0, 1)
  double epsilon = 1e-8;      // > 0
  double weight_decay = 0.0;  // Adam: L2, added to the gradient; AdamW: decoupled
  bool amsgrad = false;       // divide by the running maximum of v_hat (Reddi et al., 2018)
};

// AdamW's defaults are PyTorch's: weight decay 1e-2.
struct AdamWOptions {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

namespace detail {
// Adam's moments and step count, shared by Adam and AdamW.
template <class T>
class AdamFamily : public Optimizer<T> {
 public:
  std::size_t steps_taken() const noexcept { return steps_; }
  void step() override;
  OptimizerState state() const override;
  void load_state(const OptimizerState& state) override;

 protected:
  AdamFamily(std::vector<ad::TensorT<T>> parameters, const AdamOptions& options, bool decoupled,
             const char* name);

 private:
  void parameters_added(std::size_t first) override;

  T beta1_, beta2_, epsilon_;
  bool amsgrad_, decoupled_;
  std::size_t steps_ = 0;
  std::vector<std::vector<T>> m_, v_, v_max_;
};
}  // namespace detail

// Adam (Kingma and Ba, 2015): with g the gradient (+ lambda Theta when
// weight_decay = lambda > 0),
//   m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,
//   Theta <- Theta - eta m_hat / (sqrt(v_hat) + eps)
// with bias-corrected m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t), t the
// number of step() calls (PyTorch counts t per parameter: they differ only for
// a parameter that missed gradients in earlier steps).
template <class T>
class Adam final : public detail::AdamFamily<T> {
 public:
  Adam(std::vector<ad::TensorT<T>> parameters, std::type_identity_t<T> learning_rate = T(1e-3),
       std::type_identity_t<T> beta1 = T(0.9), std::type_identity_t<T> beta2 = T(0.999),
       std::type_identity_t<T> epsilon = T(1e-8));
  Adam(std::vector<ad::TensorT<T>> parameters, const AdamOptions& options);
  const char* kind() const noexcept override { return "Adam"; }
};

// AdamW (Loshchilov and Hutter, 2019): Adam with the weight decay decoupled
// from the gradient: Theta <- Theta (1 - eta lambda) before Adam's step, so
// the decay is not divided by sqrt(v_hat).
//   nn::AdamW opt(model.parameters(), {.learning_rate = 1e-3, .weight_decay = 1e-2});
template <class T>
class AdamW final : public detail::AdamFamily<T> {
 public:
  AdamW(std::vector<ad::TensorT<T>> parameters, const AdamWOptions& options = {});
  const char* kind() const noexcept override { return "AdamW"; }
};

extern template class detail::AdamFamily<float>;
extern template class detail::AdamFamily<double>;
extern template class Adam<float>;
extern template class Adam<double>;
extern template class AdamW<float>;
extern template class AdamW<double>;

}  // namespace nn
