#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <nn/checkpoint.hpp>

#include "binary_io.hpp"

namespace nn {
namespace {

constexpr char magic[4] = {'A', 'D', 'C', 'K'};
constexpr std::uint32_t format_version = 1;

}  // namespace

template <class T>
void save_checkpoint(const std::string& path, const NetworkT<T>& net, const Optimizer<T>& optimizer,
                     const TrainingState& state) {
  detail::ByteWriter e;
  for (char c : magic) e.put(static_cast<std::uint8_t>(c));
  e.put(format_version);
  e.put(static_cast<std::uint8_t>(std::is_same_v<T, float> ? 0 : 1));
  for (int i = 0; i < 3; ++i) e.put(std::uint8_t{0});
  const std::vector<std::size_t> sizes = net.sizes();
  e.put(static_cast<std::uint32_t>(net.depth()));
  for (std::size_t n : sizes) e.put(static_cast<std::uint64_t>(n));
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
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error(fmt::format("nn::load_checkpoint: cannot open '{}': {}", path, std::strerror(errno)));
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  detail::ByteReader header(bytes, bytes.size(), path, "nn::load_checkpoint");
  for (char c : magic)
    if (header.get<std::uint8_t>("the magic bytes") != static_cast<std::uint8_t>(c))
      header.fail("not a checkpoint file (wrong magic bytes)");
  const auto version = header.get<std::uint32_t>("the version");
  if (version == 3)
    return load_checkpoint(path, static_cast<ModuleT<T>&>(net), optimizer);  // any module's (nn::fit)
  if (version != format_version)
    header.fail(fmt::format("format version {} is not supported (this build reads versions {} and 3)",
                            version, format_version));
  if (bytes.size() < 16) header.fail("truncated: no room for the checksum");
  std::uint64_t stored = 0;
  for (std::size_t i = 8; i-- > 0;) stored = (stored << 8) | bytes[bytes.size() - 8 + i];
  if (stored != detail::fnv1a(bytes.data(), bytes.size() - 8))
    header.fail("corrupt or truncated: the checksum does not match the contents");

  detail::ByteReader d(bytes, bytes.size() - 8, path, "nn::load_checkpoint");
  for (int i = 0; i < 8; ++i) d.get<std::uint8_t>("the header");
  const auto dtype = d.get<std::uint8_t>("the element type");
  const std::uint8_t expected_dtype = std::is_same_v<T, float> ? 0 : 1;
  if (dtype != expected_dtype)
    d.fail(fmt::format("saved with {} parameters, loading into a {} network", dtype == 0 ? "float32" : dtype == 1 ? "float64" : "unknown",
                       expected_dtype == 0 ? "float32" : "float64"));
  for (int i = 0; i < 3; ++i)
    if (d.get<std::uint8_t>("reserved bytes") != 0) d.fail("reserved header bytes are not zero");
  const auto depth = d.get<std::uint32_t>("the number of layers");
  if (depth > (bytes.size() / 8)) d.fail(fmt::format("implausible number of layers {}", depth));
  std::vector<std::size_t> sizes;
  for (std::uint32_t k = 0; k <= depth; ++k) sizes.push_back(static_cast<std::size_t>(d.get<std::uint64_t>("layer sizes")));
  if (sizes != net.sizes())
    d.fail(fmt::format("saved for a network of sizes [{}], loading into one of sizes [{}]", fmt::join(sizes, ", "),
                       fmt::join(net.sizes(), ", ")));
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
    std::vector<double> b(static_cast<std::size_t>(d.get_count(sizeof(double), "an optimiser buffer length")));
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
  state.validation_loss.resize(static_cast<std::size_t>(d.get_count(sizeof(double), "the validation history length")));
  for (double& v : state.validation_loss) v = d.get<double>("the validation history");
  state.stop_reason = d.get_string("the stop reason");
  if (!d.at_end()) d.fail("unexpected bytes after the last field");

  // Everything parsed: only now touch the caller's network and optimiser.
  try {
    optimizer.load_state(o);
  } catch (const std::invalid_argument& e) {
    d.fail(fmt::format("the optimiser does not match: {}", e.what()));
  }
  net.set_flat_parameters(theta);
  return state;
}

template void save_checkpoint(const std::string&, const NetworkT<float>&, const Optimizer<float>&, const TrainingState&);
template void save_checkpoint(const std::string&, const NetworkT<double>&, const Optimizer<double>&, const TrainingState&);
template TrainingState load_checkpoint(const std::string&, NetworkT<float>&, Optimizer<float>&);
template TrainingState load_checkpoint(const std::string&, NetworkT<double>&, Optimizer<double>&);

}  // namespace nn
