#include <cstddef>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include <autodiff/tensor_ops.hpp>
#include <nn/activation.hpp>

namespace nn {
namespace {

// What find() and file codes rely on: row i is the enum value i, every op is
// the op table's unary op (or leaf for identity), no file code twice.
constexpr bool table_is_consistent() {
  for (std::size_t i = 0; i < std::size(activation_table); ++i) {
    const ActivationInfo& row = activation_table[i];
    if (static_cast<std::size_t>(row.psi) != i) return false;
    if (row.op != ad::OpCode::leaf && !ad::is_unary(row.op)) return false;
    if ((row.op == ad::OpCode::leaf) != (row.psi == Activation::identity)) return false;
    if (row.file_code == invalid_file_code) return false;
    for (std::size_t j = 0; j < i; ++j)
      if (activation_table[j].file_code == row.file_code || activation_table[j].name == row.name)
        return false;
  }
  return true;
}
static_assert(table_is_consistent(),
              "nn::activation_table: rows out of enum order, an op that is not unary, or a file code or name "
              "used twice");

}  // namespace

std::string_view name(Activation psi) noexcept {
  const ActivationInfo* row = find(psi);
  return row != nullptr ? row->name : "invalid";
}

Activation activation_from_name(std::string_view s) {
  for (const ActivationInfo& row : activation_table)
    if (row.name == s) return row.psi;
  throw std::invalid_argument(fmt::format("nn::activation_from_name: unknown activation '{}'", s));
}

ad::OpCode op_code(Activation psi) noexcept {
  const ActivationInfo* row = find(psi);
  return row != nullptr ? row->op : ad::OpCode::leaf;
}

std::uint8_t file_code(Activation psi) noexcept {
  const ActivationInfo* row = find(psi);
  return row != nullptr ? row->file_code : invalid_file_code;
}

std::optional<Activation> activation_from_file_code(std::uint8_t code) noexcept {
  for (const ActivationInfo& row : activation_table)
    if (row.file_code == code) return row.psi;
  return std::nullopt;
}

// The values and derivatives come from autodiff's op table, so the network,
// the tape and the reference recursion use one definition of each function.
// (An Activation outside the enumeration acts as the identity.)
double value(Activation psi, double a) noexcept {
  const ad::OpCode op = op_code(psi);
  return op == ad::OpCode::leaf ? a : ad::unary_value(op, a);
}

double derivative(Activation psi, double a, HeavisideGradient policy) noexcept {
  if (psi == Activation::heaviside && policy != HeavisideGradient::zero) {
    if (policy == HeavisideGradient::straight_through) return 1.0;
    const double s = ad::unary_value(ad::OpCode::logistic, a);  // the logistic surrogate
    return ad::unary_derivative(ad::OpCode::logistic, a, s);
  }
  const ad::OpCode op = op_code(psi);
  return op == ad::OpCode::leaf ? 1.0 : ad::unary_derivative(op, a, ad::unary_value(op, a));
}

template <class T>
ad::TensorT<T> apply(Activation psi, const ad::TensorT<T>& a, HeavisideGradient policy) {
  if (psi == Activation::heaviside && policy != HeavisideGradient::zero) {
    // Surrogate gradients: s + (H(a) - s) with the bracket detached has the
    // value H(a) and the derivative of s.
    const ad::TensorT<T> step = ad::heaviside(a);
    const ad::TensorT<T> s = policy == HeavisideGradient::straight_through ? a : ad::logistic(a);
    return s + (step - s).detach();
  }
  const ad::OpCode op = op_code(psi);
  return op == ad::OpCode::leaf ? a : ad::apply_unary(op, a);
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
