// libFuzzer harness for nn::load_checkpoint (.adck files, loaded into the
// 2-8-8-1 network and Adam optimiser of the seed corpus, and into a
// Sequential 2-3-1 with SGD, the any-Module path that nn::fit writes, format
// version 4): any input must either load or throw std::runtime_error.
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include <nn/checkpoint.hpp>
#include <nn/nn.hpp>
#include <nn/optimizer.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::MemoryFile file;
  std::vector<std::uint8_t> bytes(data, data + size);
  std::mt19937_64 rng(1);
  nn::Network net({2, 8, 8, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::Adam<double> adam(net.parameters());
  nn::Sequential model;
  model.add<nn::Dense>(2, 3, nn::Activation::tanh, rng).add<nn::Dense>(3, 1, nn::Activation::identity, rng);
  nn::SGD<double> sgd(model.parameters(), {.learning_rate = 0.1, .momentum = 0.9});
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) fuzz::fix_checksum(bytes.data(), bytes.size());
    try {
      (void)nn::load_checkpoint(file.hold(bytes.data(), bytes.size()), net, adam);
    } catch (const std::runtime_error&) {
    }
    try {
      (void)nn::load_checkpoint(file.hold(bytes.data(), bytes.size()), model, sgd);
    } catch (const std::runtime_error&) {
    }
  }
  return 0;
}
