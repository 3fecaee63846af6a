#include <cstdint>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nn/checkpoint.hpp>

#include "binary_io.hpp"
#include "model_rules.hpp"
#include "training_state_rules.hpp"

namespace nn {
namespace {

constexpr char magic[4] = {'A', 'D', 'C', 'K'};
// Version 2 added each layer's Heaviside policy and activations after the
// sizes; version 1 files (without them) are still read.
constexpr std::uint32_t format_version = 2;
constexpr std::size_t header_size = 16;  // magic, version, dtype, reserved, depth

std::string_view policy_name(std::uint8_t code) {
  switch (static_cast<HeavisideGradient>(code)) {
    case HeavisideGradient::zero:
      return "zero";
    case HeavisideGradient::straight_through:
      return "straight_through";
    case HeavisideGradient::logistic_surrogate:
      return "logistic_surrogate";
  }
  return "unknown";
}

}  // namespace

namespace detail {

std::string training_state_problem(const TrainingState& state) {
  // The RNG: exactly what writing a std::mt19937_64 gives, nothing more.
  std::istringstream in(state.rng);
  std::mt19937_64 rng;
  in >> rng;
  if (in.fail()) return "the RNG state is not a std::mt19937_64 state in its text form";
  std::ostringstream canonical;
  canonical << rng;
  if (canonical.str() != state.rng)
    return "the RNG state is not a std::mt19937_64 state in its text form (extra or non-canonical text)";
  // The sample order: each of 0 .. n-1 exactly once.
  std::vector<bool> seen(state.order.size(), false);
  for (std::size_t k = 0; k < state.order.size(); ++k) {
    const std::uint64_t i = state.order[k];
    if (i >= state.order.size() || seen[static_cast<std::size_t>(i)])
      return fmt::format("the sample order is not a permutation of 0 .. {}: entry {} is {}{}",
                         state.order.size() - 1, k, i, i < state.order.size() ? ", which came earlier" : "");
    seen[static_cast<std::size_t>(i)] = true;
  }
  return {};
}

}  // namespace detail

template <class T>
void save_checkpoint(const std::string& path, const NetworkT<T>& net, const Optimizer<T>& optimizer,
                     const TrainingState& state) {
  // Nothing load_checkpoint would refuse is written.
  std::string problem = detail::network_problem(net);
  if (problem.empty()) problem = detail::training_state_problem(state);
  if (!problem.empty())
    throw std::invalid_argument(fmt::format("nn::save_checkpoint: not saving to '{}': {}", path, problem));
  detail::ByteWriter e;
  for (char c : magic) e.put(static_cast<std::uint8_t>(c));
  e.put(format_version);
  e.put(static_cast<std::uint8_t>(std::is_same_v<T, float> ? 0 : 1));
  for (int i = 0; i < 3; ++i) e.put(std::uint8_t{0});
  const std::vector<std::size_t> sizes = net.sizes();
  e.put(static_cast<std::uint32_t>(net.depth()));
  for (std::size_t n : sizes) e.put(static_cast<std::uint64_t>(n));
  for (const auto& layer : net.layers()) {
    e.put(static_cast<std::uint8_t>(layer.heaviside_gradient()));
    for (Activation psi : layer.activations()) e.put(file_code(psi));
  }
  const std::vector<T> theta = net.flat_parameters();
  e.put(static_cast<std::uint64_t>(theta.size()));
  for (T v : theta) e.put(v);
  const OptimizerState o = optimizer.state();
  e.put_string(o.kind);
  e.put(o.learning_rate);
  e.put(o.steps);
  e.put(static_cast<std::uint32_t>(o.buffers.size()));
  for (const auto& b : o.buffers) {
    e.put(static_cast<std::uint64_t>(b.size()));
    for (double v : b) e.put(v);
  }
  e.put(state.epoch);
  e.put_string(state.rng);
  e.put(static_cast<std::uint64_t>(state.order.size()));
  for (std::uint64_t i : state.order) e.put(i);
  e.put(state.best);
  e.put(state.epochs_without_improvement);
  e.put(static_cast<std::uint64_t>(state.loss.size()));
  for (double v : state.loss) e.put(v);
  e.put(static_cast<std::uint64_t>(state.validation_loss.size()));
  for (double v : state.validation_loss) e.put(v);
  e.put_string(state.stop_reason);
  e.put(detail::fnv1a(e.bytes.data(), e.bytes.size()));
  detail::write_atomically(path, e.bytes, "nn::save_checkpoint");
}

template <class T>
TrainingState load_checkpoint(const std::string& path, NetworkT<T>& net, Optimizer<T>& optimizer) {
  detail::InputFile file(path, "nn::load_checkpoint");
  // The header first: a file that is not a checkpoint is refused after 16
  // bytes, whatever its size; the rest is read up to the file's size.
  std::vector<std::uint8_t> bytes;
  file.append(bytes, header_size);
  detail::ByteReader header(bytes, bytes.size(), path, "nn::load_checkpoint");
  for (char c : magic)
    if (header.get<std::uint8_t>("the magic bytes") != static_cast<std::uint8_t>(c))
      header.fail("not a checkpoint file (wrong magic bytes)");
  const auto version = header.get<std::uint32_t>("the version");
  if (version == 3 || version == 4)
    return load_checkpoint(path, static_cast<ModuleT<T>&>(net), optimizer);  // any module's (nn::fit)
  if (version != 1 && version != format_version)
    header.fail(
        fmt::format("format version {} is not supported (this build reads versions 1 to 4)", version));
  header.skip(header_size - 8, "the header");
  file.append(bytes, static_cast<std::size_t>(file.size()));
  if (bytes.size() < header_size + 8) header.fail("truncated: no room for the checksum");
  std::uint64_t stored = 0;
  for (std::size_t i = 8; i-- > 0;) stored = (stored << 8) | bytes[bytes.size() - 8 + i];
  if (stored != detail::fnv1a(bytes.data(), bytes.size() - 8))
    header.fail("corrupt or truncated: the checksum does not match the contents");

  detail::ByteReader d(bytes, bytes.size() - 8, path, "nn::load_checkpoint");
  d.skip(8, "the header");
  const auto dtype = d.get<std::uint8_t>("the element type");
  const std::uint8_t expected_dtype = std::is_same_v<T, float> ? 0 : 1;
  if (dtype != expected_dtype)
    d.fail(fmt::format("saved with {} parameters, loading into a {} network",
                       dtype == 0   ? "float32"
                       : dtype == 1 ? "float64"
                                    : "unknown",
                       expected_dtype == 0 ? "float32" : "float64"));
  for (int i = 0; i < 3; ++i)
    if (d.get<std::uint8_t>("reserved bytes") != 0) d.fail("reserved header bytes are not zero");
  const auto depth = d.get<std::uint32_t>("the number of layers");
  if (depth > (bytes.size() / 8)) d.fail(fmt::format("implausible number of layers {}", depth));
  std::vector<std::size_t> sizes;
  for (std::uint32_t k = 0; k <= depth; ++k)
    sizes.push_back(static_cast<std::size_t>(d.get<std::uint64_t>("layer sizes")));
  if (sizes != net.sizes())
    d.fail(fmt::format("saved for a network of sizes [{}], loading into one of sizes [{}]",
                       fmt::join(sizes, ", "), fmt::join(net.sizes(), ", ")));
  if (version >= 2) {
    // The same sizes but other activations would resume a different model.
    for (std::size_t L = 1; L <= depth; ++L) {
      const auto& layer = net.layers()[L - 1];
      const auto policy = d.get<std::uint8_t>("a Heaviside gradient policy");
      if (policy != static_cast<std::uint8_t>(layer.heaviside_gradient()))
        d.fail(fmt::format("layer {} was saved with Heaviside gradient policy {}, the network has {}", L,
                           policy_name(policy),
                           policy_name(static_cast<std::uint8_t>(layer.heaviside_gradient()))));
      for (std::size_t j = 0; j < layer.outputs(); ++j) {
        const auto code = d.get<std::uint8_t>("an activation");
        if (const std::string problem = detail::activation_problem(L, j, code); !problem.empty())
          d.fail(problem);
        const Activation saved = *activation_from_file_code(code), present = layer.activations()[j];
        if (saved != present)
          d.fail(fmt::format("layer {} neuron {} was saved with activation {}, the network has {}", L, j,
                             name(saved), name(present)));
      }
    }
  }
  const auto count = d.get_count(sizeof(T), "the parameter count");
  if (count != net.parameter_count())
    d.fail(fmt::format("holds {} parameters, the network has {}", count, net.parameter_count()));
  std::vector<T> theta(static_cast<std::size_t>(count));
  for (T& v : theta) v = d.get<T>("the parameters");

  OptimizerState o;
  o.kind = d.get_string("the optimiser kind");
  o.learning_rate = d.get<double>("the learning rate");
  o.steps = d.get<std::uint64_t>("the optimiser steps");
  const auto buffers = d.get<std::uint32_t>("the optimiser buffer count");
  for (std::uint32_t k = 0; k < buffers; ++k) {
    std::vector<double> b(
        static_cast<std::size_t>(d.get_count(sizeof(double), "an optimiser buffer length")));
    for (double& v : b) v = d.get<double>("an optimiser buffer");
    o.buffers.push_back(std::move(b));
  }
  TrainingState state;
  state.epoch = d.get<std::uint64_t>("the epoch");
  state.rng = d.get_string("the RNG state");
  state.order.resize(static_cast<std::size_t>(d.get_count(sizeof(std::uint64_t), "the sample order length")));
  for (auto& i : state.order) i = d.get<std::uint64_t>("the sample order");
  state.best = d.get<double>("the best loss");
  state.epochs_without_improvement = d.get<std::uint64_t>("the epochs without improvement");
  state.loss.resize(static_cast<std::size_t>(d.get_count(sizeof(double), "the loss history length")));
  for (double& v : state.loss) v = d.get<double>("the loss history");
  state.validation_loss.resize(
      static_cast<std::size_t>(d.get_count(sizeof(double), "the validation history length")));
  for (double& v : state.validation_loss) v = d.get<double>("the validation history");
  state.stop_reason = d.get_string("the stop reason");
  if (!d.at_end()) d.fail("unexpected bytes after the last field");
  if (const std::string problem = detail::training_state_problem(state); !problem.empty()) d.fail(problem);

  // Everything parsed: only now touch the caller's network and optimiser.
  try {
    optimizer.load_state(o);
  } catch (const std::invalid_argument& e) {
    d.fail(fmt::format("the optimiser does not match: {}", e.what()));
  }
  net.set_flat_parameters(theta);
  return state;
}

template void save_checkpoint(const std::string&, const NetworkT<float>&, const Optimizer<float>&,
                              const TrainingState&);
template void save_checkpoint(const std::string&, const NetworkT<double>&, const Optimizer<double>&,
                              const TrainingState&);
template TrainingState load_checkpoint(const std::string&, NetworkT<float>&, Optimizer<float>&);
template TrainingState load_checkpoint(const std::string&, NetworkT<double>&, Optimizer<double>&);

}  // namespace nn
