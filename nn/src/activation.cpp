#include <cmath>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include <autodiff/scalar_ops.hpp>
#include <autodiff/tensor_ops.hpp>
#include <nn/activation.hpp>

namespace nn {

std::string_view name(Activation psi) noexcept {
  switch (psi) {
    case Activation::identity: return "identity";
    case Activation::heaviside: return "heaviside";
    case Activation::tanh: return "tanh";
    case Activation::logistic: return "logistic";
    case Activation::softsign: return "softsign";
    case Activation::relu: return "relu";
  }
  return "invalid";
}

Activation activation_from_name(std::string_view s) {
  for (Activation psi : all_activations)
    if (name(psi) == s) return psi;
  throw std::invalid_argument(fmt::format("nn::activation_from_name: unknown activation '{}'", s));
}

// The values come from autodiff's op table, so the network, the tape and the
// reference recursion use one definition of each function.
double value(Activation psi, double a) noexcept {
  switch (psi) {
    case Activation::identity: return a;
    case Activation::heaviside: return ad::ops::Heaviside::value(a);
    case Activation::tanh: return ad::ops::Tanh::value(a);
    case Activation::logistic: return ad::ops::Logistic::value(a);
    case Activation::softsign: return ad::ops::Softsign::value(a);
    case Activation::relu: return ad::ops::Relu::value(a);
  }
  return a;
}

double derivative(Activation psi, double a, HeavisideGradient policy) noexcept {
  const double y = value(psi, a);
  switch (psi) {
    case Activation::identity: return 1.0;
    case Activation::heaviside:
      switch (policy) {
        case HeavisideGradient::zero: return 0.0;
        case HeavisideGradient::straight_through: return 1.0;
        case HeavisideGradient::logistic_surrogate: {
          const double s = ad::ops::Logistic::value(a);
          return s * (1.0 - s);
        }
      }
      return 0.0;
    case Activation::tanh: return ad::ops::Tanh::derivative(a, y);
    case Activation::logistic: return ad::ops::Logistic::derivative(a, y);
    case Activation::softsign: return ad::ops::Softsign::derivative(a, y);
    case Activation::relu: return ad::ops::Relu::derivative(a, y);
  }
  return 1.0;
}

template <class T>
ad::TensorT<T> apply(Activation psi, const ad::TensorT<T>& a, HeavisideGradient policy) {
  switch (psi) {
    case Activation::identity: return a;
    case Activation::tanh: return ad::tanh(a);
    case Activation::logistic: return ad::logistic(a);
    case Activation::softsign: return ad::softsign(a);
    case Activation::relu: return ad::relu(a);
    case Activation::heaviside: {
      const ad::TensorT<T> step = ad::heaviside(a);
      // Surrogate gradients: s + (H(a) - s) with the bracket detached has the
      // value H(a) and the derivative of s.
      switch (policy) {
        case HeavisideGradient::zero: return step;
        case HeavisideGradient::straight_through: return a + (step - a).detach();
        case HeavisideGradient::logistic_surrogate: {
          const ad::TensorT<T> s = ad::logistic(a);
          return s + (step - s).detach();
        }
      }
      return step;
    }
  }
  return a;
}

template <class T>
ad::TensorT<T> apply(const std::vector<Activation>& per_neuron, const ad::TensorT<T>& a, HeavisideGradient policy) {
  const ad::Shape& s = a.shape();
  if (s.rank() == 0 || s[s.rank() - 1] != per_neuron.size())
    throw std::invalid_argument(fmt::format("nn::apply: {} per-neuron activations for pre-activations of shape {}",
                                            per_neuron.size(), s.to_string()));
  bool uniform = true;
  for (Activation psi : per_neuron) uniform = uniform && psi == per_neuron[0];
  if (uniform) return apply(per_neuron[0], a, policy);
  // z = sum over the distinct activations k of mask_k * psi_k(a), with
  // mask_k[j] = 1 where neuron j uses psi_k: each column gets its own psi and
  // its own derivative.
  ad::TensorT<T> z;
  for (Activation psi : all_activations) {
    std::vector<T> mask(per_neuron.size(), T(0));
    bool used = false;
    for (std::size_t j = 0; j < per_neuron.size(); ++j)
      if (per_neuron[j] == psi) {
        mask[j] = T(1);
        used = true;
      }
    if (!used) continue;
    const ad::TensorT<T> term = apply(psi, a, policy) * ad::TensorT<T>::from(ad::Shape{per_neuron.size()}, mask);
    z = z.defined() ? z + term : term;
  }
  return z;
}

template ad::TensorT<float> apply(Activation, const ad::TensorT<float>&, HeavisideGradient);
template ad::TensorT<double> apply(Activation, const ad::TensorT<double>&, HeavisideGradient);
template ad::TensorT<float> apply(const std::vector<Activation>&, const ad::TensorT<float>&, HeavisideGradient);
template ad::TensorT<double> apply(const std::vector<Activation>&, const ad::TensorT<double>&, HeavisideGradient);

}  // namespace nn
