// Activation functions psi, as the textbook writes a layer: z = psi(a),
// a = W x + b. Each has a value and a derivative, can be applied to a whole
// tensor (recorded for the reverse sweep), and may differ per neuron.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string_view>
#include <vector>

#include <autodiff/op_code.hpp>
#include <autodiff/tensor.hpp>

namespace nn {

enum class Activation : std::uint8_t {
  identity,    // psi(a) = a
  heaviside,   // psi(a) = 1 if a >= 0 else 0 (the perceptron's step)
  tanh,        // psi(a) = tanh(a)
  logistic,    // psi(a) = 1 / (1 + e^-a)
  softsign,    // psi(a) = a / (1 + |a|)
  relu,        // psi(a) = max(a, 0)
  softplus,    // psi(a) = log(1 + e^a)
  leaky_relu,  // psi(a) = a if a > 0 else 0.01 a (PyTorch's default slope, fixed)
  elu,         // psi(a) = a if a > 0 else e^a - 1 (alpha = 1)
  gelu,        // psi(a) = a/2 (1 + tanh(sqrt(2/pi) (a + 0.044715 a^3))) (PyTorch's approximate='tanh')
  silu,        // psi(a) = a sigma(a) (swish)
};

// The one table of activations. Value, derivative and name are the op
// table's (autodiff/scalar_ops.hpp); nn adds only what is nn's: the enum
// value, the code in .adnn files and the display name. Adding an activation
// is one op in the op table and one line here (and its enum value above).
struct ActivationInfo {
  Activation psi;
  ad::OpCode op;           // the op table's op; leaf for identity (no op: psi(a) = a)
  std::uint8_t file_code;  // its byte in .adnn files: never change or reuse one
  std::string_view name;   // as printed and parsed (the op's name on the tape)
};

inline constexpr ActivationInfo activation_table[] = {
    {Activation::identity, ad::OpCode::leaf, 0, "identity"},
    {Activation::heaviside, ad::OpCode::heaviside, 1, "heaviside"},
    {Activation::tanh, ad::OpCode::tanh, 2, "tanh"},
    {Activation::logistic, ad::OpCode::logistic, 3, "logistic"},
    {Activation::softsign, ad::OpCode::softsign, 4, "softsign"},
    {Activation::relu, ad::OpCode::relu, 5, "relu"},
    {Activation::softplus, ad::OpCode::softplus, 6, "softplus"},
    {Activation::leaky_relu, ad::OpCode::leaky_relu, 7, "leaky_relu"},
    {Activation::elu, ad::OpCode::elu, 8, "elu"},
    {Activation::gelu, ad::OpCode::gelu, 9, "gelu"},
    {Activation::silu, ad::OpCode::silu, 10, "silu"},
};

// Every activation, in table order.
inline constexpr auto all_activations = [] {
  std::array<Activation, std::size(activation_table)> all{};
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = activation_table[i].psi;
  return all;
}();

// The table's row for psi, or nullptr for a value outside the enumeration.
constexpr const ActivationInfo* find(Activation psi) noexcept {
  const auto i = static_cast<std::size_t>(psi);
  return i < std::size(activation_table) ? &activation_table[i] : nullptr;
}

std::string_view name(Activation psi) noexcept;
// Parses a name as printed by name(); throws std::invalid_argument otherwise.
Activation activation_from_name(std::string_view s);
// The op table's op of psi (OpCode::leaf for identity).
ad::OpCode op_code(Activation psi) noexcept;
// The code of psi in .adnn files (invalid_file_code for a value outside the
// enumeration, which no reader accepts), and back (nullopt for an unknown code).
inline constexpr std::uint8_t invalid_file_code = 0xFF;
std::uint8_t file_code(Activation psi) noexcept;
std::optional<Activation> activation_from_file_code(std::uint8_t code) noexcept;

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
