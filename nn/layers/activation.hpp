// nn::ActivationLayerT<T>: one of nn's activations (nn/activation.hpp)
// applied element-wise as a layer of its own, z = psi(x), for models that
// interleave activations with layers that have none (convolution, pooling,
// normalisation): Reshape -> Conv2d -> ActivationLayer(relu) -> MaxPool2d ...
//
// The value and derivative are the op table's, as in nn::Dense, and one node
// is recorded (none for the identity). The layer has no parameters.
// The names a PyTorch user looks for are small subclasses that fix psi
// (nn::ReLU is ActivationLayer(Activation::relu)); they describe the same
// model as the ActivationLayer they stand for, so architecture() is the same.
#pragma once

#include <string>

#include <autodiff/tensor.hpp>
#include <nn/activation.hpp>
#include <nn/module.hpp>

namespace nn {

template <class T>
class ActivationLayerT : public ModuleT<T> {
 public:
  // psi outside the enumeration throws std::invalid_argument
  // "nn::ActivationLayer: unknown activation (code <n>)".
  explicit ActivationLayerT(Activation psi);

  ad::TensorT<T> forward(const ad::TensorT<T>& x) override;
  std::string type_name() const override { return "ActivationLayer"; }
  std::string architecture() const override;  // "ActivationLayer(relu)"

  Activation activation() const noexcept { return psi_; }

 private:
  Activation psi_;
};

using ActivationLayer = ActivationLayerT<double>;
using ActivationLayerF = ActivationLayerT<float>;

extern template class ActivationLayerT<float>;
extern template class ActivationLayerT<double>;

// PyTorch's names for the activations nn has, with PyTorch's default
// settings where nn's activation fixes one (LeakyReLU's slope 0.01, ELU's
// alpha 1). GELU is the tanh approximation (PyTorch's approximate='tanh').
#define NN_ACTIVATION_LAYER(Name, psi)                       \
  template <class T>                                         \
  class Name##T : public ActivationLayerT<T> {               \
   public:                                                   \
    Name##T() : ActivationLayerT<T>(Activation::psi) {}      \
    std::string type_name() const override { return #Name; } \
  };                                                         \
  using Name = Name##T<double>;                              \
  using Name##F = Name##T<float>;

NN_ACTIVATION_LAYER(ReLU, relu)
NN_ACTIVATION_LAYER(Tanh, tanh)
NN_ACTIVATION_LAYER(Sigmoid, logistic)
NN_ACTIVATION_LAYER(Softsign, softsign)
NN_ACTIVATION_LAYER(Softplus, softplus)
NN_ACTIVATION_LAYER(LeakyReLU, leaky_relu)
NN_ACTIVATION_LAYER(ELU, elu)
NN_ACTIVATION_LAYER(GELU, gelu)
NN_ACTIVATION_LAYER(SiLU, silu)

#undef NN_ACTIVATION_LAYER

}  // namespace nn
