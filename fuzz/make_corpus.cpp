// Writes the seed corpus of the fuzz targets: small valid files of each
// format (and a few near misses), one folder per target.
//   make_corpus <folder>   ->  <folder>/load, <folder>/idx, <folder>/checkpoint, <folder>/state
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <autodiff/tensor_ops.hpp>
#include <nn/checkpoint.hpp>
#include <nn/nn.hpp>

namespace {

void write(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

std::vector<std::uint8_t> idx(std::uint8_t type, const std::vector<std::uint32_t>& dims,
                              std::size_t element) {
  std::vector<std::uint8_t> b{0, 0, type, static_cast<std::uint8_t>(dims.size())};
  std::size_t count = 1;
  for (std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<std::uint8_t>(d >> shift));
    count *= d;
  }
  for (std::size_t i = 0; i < count * element; ++i) b.push_back(static_cast<std::uint8_t>(i * 37));
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: make_corpus <folder>\n");
    return 2;
  }
  const std::filesystem::path root = argv[1];
  for (const char* target : {"load", "idx", "checkpoint", "state"})
    std::filesystem::create_directories(root / target);

  std::mt19937_64 rng(1);
  nn::Network small({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::save(small, (root / "load" / "small-double.adnn").string());
  nn::NetworkT<float> single({3, 2, 2}, nn::Activation::relu, nn::Activation::logistic, rng);
  nn::save(single, (root / "load" / "float.adnn").string());
  nn::Network mixed({1, 4, 2, 1}, nn::Activation::softsign, nn::Activation::heaviside, rng);
  mixed.layers()[1].set_heaviside_gradient(nn::HeavisideGradient::logistic_surrogate);
  nn::save(mixed, (root / "load" / "three-layers.adnn").string());

  write(root / "idx" / "labels.idx1", idx(0x08, {5}, 1));
  write(root / "idx" / "images.idx3", idx(0x08, {2, 3, 3}, 1));
  write(root / "idx" / "int16.idx2", idx(0x0B, {2, 2}, 2));
  write(root / "idx" / "float64.idx1", idx(0x0E, {3}, 8));
  write(root / "idx" / "empty.idx2", idx(0x0D, {0, 4}, 4));

  nn::Network net({2, 8, 8, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::Adam<double> adam(net.parameters());
  nn::TrainingState state;
  state.epoch = 2;
  std::ostringstream shuffler;  // a real std::mt19937_64 state: save_checkpoint refuses anything else
  shuffler << std::mt19937_64(5);
  state.rng = shuffler.str();
  state.order = {0, 1, 2};
  state.best = 0.5;
  state.loss = {1.0, 0.5};
  nn::save_checkpoint((root / "checkpoint" / "adam.adck").string(), net, adam, state);
  // Format version 4 (any Module, as nn::fit writes): the Sequential 2-3-1
  // and SGD with momentum that fuzz_checkpoint also loads into.
  nn::Sequential module;
  module.add<nn::Dense>(2, 3, nn::Activation::tanh, rng).add<nn::Dense>(3, 1, nn::Activation::identity, rng);
  nn::SGD<double> sgd(module.parameters(), {.learning_rate = 0.1, .momentum = 0.9});
  nn::save_checkpoint((root / "checkpoint" / "module-v4.adck").string(), module, sgd, state);
  // Named states: the model fuzz_state loads into (and one that does not
  // fit it), in double and float, and an .adnn file (load_into reads both).
  nn::Sequential fits;
  fits.add<nn::Dense>(2, 3, nn::Activation::tanh, rng).add<nn::Dense>(3, 1, nn::Activation::identity, rng);
  nn::save(fits, (root / "state" / "fits.adst").string());
  nn::SequentialF single_state;
  single_state.add<nn::DenseT<float>>(2, 3, nn::Activation::tanh, rng);
  nn::save(single_state, (root / "state" / "float.adst").string());
  nn::Sequential nested;
  auto inner = std::make_unique<nn::Sequential>();
  inner->add<nn::Dense>(1, 2, nn::Activation::relu, rng);
  nested.add("encoder", std::move(inner)).add<nn::Dense>(2, 2, nn::Activation::identity, rng);
  nn::save(nested, (root / "state" / "nested.adst").string());
  nn::save(small, (root / "state" / "network.adnn").string());
  fmt::print("seed corpus written to {}\n", root.string());
  return 0;
}
