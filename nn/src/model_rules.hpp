// Internal: the rules a network obeys to be written to a file and read back
// (the .adnn model format and the .adck checkpoint). The writers apply them
// before writing anything (std::invalid_argument) and the readers while
// reading (std::runtime_error), so nothing is saved that cannot be loaded.
// Each returns what is wrong in words, or "" when nothing is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <fmt/format.h>

#include <nn/activation.hpp>
#include <nn/network.hpp>

namespace nn::detail {

// A layer larger than this is certainly a corrupt size field, not a model.
inline constexpr std::uint64_t max_layer_width = std::uint64_t{1} << 26;

inline bool known_activation(std::uint8_t code) {
  return activation_from_file_code(code).has_value();
}

inline bool known_heaviside_gradient(std::uint8_t code) {
  return code <= static_cast<std::uint8_t>(HeavisideGradient::logistic_surrogate);
}

// Layer L (from 1) of `inputs` -> `outputs` after a layer with
// `previous_outputs` (0 for the first layer), with Heaviside policy `policy`.
inline std::string layer_problem(std::size_t L, std::uint64_t inputs, std::uint64_t outputs,
                                 std::uint64_t previous_outputs, std::uint8_t policy) {
  if (inputs == 0 || outputs == 0 || inputs > max_layer_width || outputs > max_layer_width)
    return fmt::format("layer {} has implausible size {} -> {} (each must be 1 to {})", L, inputs, outputs,
                       max_layer_width);
  if (previous_outputs != 0 && previous_outputs != inputs)
    return fmt::format("layer {} expects {} inputs but layer {} has {} outputs", L, inputs, L - 1,
                       previous_outputs);
  if (!known_heaviside_gradient(policy))
    return fmt::format("layer {} has an unknown Heaviside gradient policy {}", L, policy);
  return {};
}

inline std::string activation_problem(std::size_t L, std::size_t neuron, std::uint8_t code) {
  if (!known_activation(code))
    return fmt::format("layer {} neuron {} has an unknown activation code {}", L, neuron, code);
  return {};
}

// Every layer of `net` (the rules above, as a writer checks them).
template <class T>
std::string network_problem(const NetworkT<T>& net) {
  if (net.depth() == 0) return "the network has no layers";
  std::uint64_t previous = 0;
  for (std::size_t L = 1; L <= net.depth(); ++L) {
    const auto& layer = net.layers()[L - 1];
    std::string problem = layer_problem(L, layer.inputs(), layer.outputs(), previous,
                                        static_cast<std::uint8_t>(layer.heaviside_gradient()));
    if (!problem.empty()) return problem;
    for (std::size_t j = 0; j < layer.activations().size(); ++j) {
      problem = activation_problem(L, j, static_cast<std::uint8_t>(layer.activations()[j]));
      if (!problem.empty()) return problem;
    }
    previous = layer.outputs();
  }
  return {};
}

}  // namespace nn::detail
