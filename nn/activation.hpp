// Activation functions psi, as the textbook writes a layer: z = psi(a),
// a = W x + b. Each has a value and a derivative, can be applied to a whole
// tensor (recorded for the reverse sweep), and may differ per neuron.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include <autodiff/tensor.hpp>

namespace nn {

enum class Activation : std::uint8_t {
  identity,   // psi(a) = a
  heaviside,  // psi(a) = 1 if a >= 0 else 0 (the perceptron's step)
  tanh,       // psi(a) = tanh(a)
  logistic,   // psi(a) = 1 / (1 + e^-a)
  softsign,   // psi(a) = a / (1 + |a|)
  relu,       // psi(a) = max(a, 0)
};

inline constexpr Activation all_activations[] = {Activation::identity, Activation::heaviside, Activation::tanh,
                                                 Activation::logistic, Activation::softsign,  Activation::relu};

std::string_view name(Activation psi) noexcept;
// Parses a name as printed by name(); throws std::invalid_argument otherwise.
Activation activation_from_name(std::string_view s);

// How a gradient passes through the Heaviside step, whose true derivative is
// 0 everywhere (and undefined at 0):
enum class HeavisideGradient : std::uint8_t {
  zero,                // the true derivative: nothing passes (default)
  straight_through,    // as if psi were the identity in the backward pass (d/da = 1)
  logistic_surrogate,  // as if psi were the logistic sigma: d/da = sigma(a) (1 - sigma(a))
};

// psi(a) and psi'(a) on plain doubles (the reference recursion uses these;
// psi' of heaviside follows `policy`).
double value(Activation psi, double a) noexcept;
double derivative(Activation psi, double a, HeavisideGradient policy = HeavisideGradient::zero) noexcept;

// psi applied element-wise to a tensor, recorded so the sweep differentiates
// it. With one activation per neuron, `per_neuron[j]` applies to column j of
// `a` (shape [batch, neurons]).
template <class T>
ad::TensorT<T> apply(Activation psi, const ad::TensorT<T>& a, HeavisideGradient policy = HeavisideGradient::zero);
template <class T>
ad::TensorT<T> apply(const std::vector<Activation>& per_neuron, const ad::TensorT<T>& a,
                     HeavisideGradient policy = HeavisideGradient::zero);

}  // namespace nn
