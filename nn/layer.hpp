// nn::DenseT<T>: one fully connected layer of the textbook,
//   a = W x + b,   z = psi(a)   (psi may differ per neuron),
// evaluated on a batch: x is [batch, inputs] (or one sample [inputs]), W is
// [outputs, inputs], b is [outputs]; a and z are [batch, outputs].
#pragma once

#include <cstddef>
#include <random>
#include <vector>

#include <autodiff/tensor.hpp>
#include <nn/activation.hpp>
#include <nn/module.hpp>

namespace nn {

// Initial weights: i.i.d. N(0, 1) as in the textbook's algorithm (the
// default, for fidelity), Xavier/Glorot N(0, 2 / (in + out)) or He
// N(0, 2 / in). Biases start at 0 for xavier and he, N(0, 1) for normal.
enum class Init { normal, xavier, he };

template <class T>
class DenseT : public ModuleT<T> {
 public:
  // A layer with every neuron using `psi`, or one activation per neuron.
  DenseT(std::size_t inputs, std::size_t outputs, Activation psi, std::mt19937_64& rng,
         Init init = Init::normal);
  DenseT(std::size_t inputs, std::size_t outputs, std::vector<Activation> per_neuron, std::mt19937_64& rng,
         Init init = Init::normal);
  // From given parameters (W: [outputs, inputs], b: [outputs]); they become
  // leaves that require gradients.
  DenseT(ad::TensorT<T> weights, ad::TensorT<T> bias, std::vector<Activation> per_neuron);

  struct Output {
    ad::TensorT<T> a;  // pre-activation W x + b
    ad::TensorT<T> z;  // activation psi(a)
  };
  // a and z, both kept (forward propagation as the textbook writes it).
  Output forward_trace(const ad::TensorT<T>& x) const;
  // The Module interface: z, as operator() computes it.
  ad::TensorT<T> forward(const ad::TensorT<T>& x) override { return (*this)(x); }
  std::string type_name() const override { return "Dense"; }
  // "Dense(2->3, tanh)", or with one activation per neuron
  // "Dense(2->3, [tanh, relu, tanh])"; ", heaviside straight_through" when
  // the Heaviside gradient policy is not the default.
  std::string architecture() const override;
  // z alone. For a batch whose neurons all use tanh, logistic or relu this is
  // one recorded op (ad::linear_activation) rather than a = linear, z = psi(a):
  // the same values and gradients, without a as a tensor of its own (use
  // forward_trace() or NetworkT::forward_trace to keep it).
  ad::TensorT<T> operator()(const ad::TensorT<T>& x) const;

  std::size_t inputs() const { return weights_.shape()[1]; }
  std::size_t outputs() const { return weights_.shape()[0]; }
  const ad::TensorT<T>& weights() const { return weights_; }
  const ad::TensorT<T>& bias() const { return bias_; }
  const std::vector<Activation>& activations() const { return activations_; }
  // The gradient Heaviside neurons let through (see activation.hpp).
  HeavisideGradient heaviside_gradient() const { return heaviside_gradient_; }
  void set_heaviside_gradient(HeavisideGradient policy) { heaviside_gradient_ = policy; }
  // W and b, the leaves of this layer (named "W" and "b" as a Module).
  std::vector<ad::TensorT<T>> parameters() const { return {weights_, bias_}; }
  // A copy with its own parameter storage (copying a DenseT shares it).
  DenseT clone() const;

 private:
  void register_parameters();

  ad::TensorT<T> weights_;
  ad::TensorT<T> bias_;
  std::vector<Activation> activations_;
  HeavisideGradient heaviside_gradient_ = HeavisideGradient::zero;
};

using Dense = DenseT<double>;

extern template class DenseT<float>;
extern template class DenseT<double>;

}  // namespace nn
