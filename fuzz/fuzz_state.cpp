// libFuzzer harness for named-state files (nn::read_state, nn::load_into):
// any input must either load or throw std::runtime_error; any other
// exception, crash, leak or hang is a finding. load_into goes into a small
// fixed model, so inputs that parse also reach the name and shape checks.
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include <nn/nn.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::MemoryFile file;
  static std::mt19937_64 rng(1);
  static nn::Sequential model = [] {
    nn::Sequential m;
    m.add<nn::Dense>(2, 3, nn::Activation::tanh, rng).add<nn::Dense>(3, 1, nn::Activation::identity, rng);
    return m;
  }();
  static nn::SequentialF single = [] {
    nn::SequentialF m;
    m.add<nn::DenseT<float>>(2, 3, nn::Activation::tanh, rng);
    return m;
  }();
  std::vector<std::uint8_t> bytes(data, data + size);
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) fuzz::fix_checksum(bytes.data(), bytes.size());
    const std::string path = file.hold(bytes.data(), bytes.size());
    try {
      (void)nn::read_state<double>(path);
    } catch (const std::runtime_error&) {
    }
    try {
      (void)nn::read_state<float>(path);
    } catch (const std::runtime_error&) {
    }
    try {
      nn::load_into(model, path);
    } catch (const std::runtime_error&) {
    }
    try {
      nn::load_into(single, path);
    } catch (const std::runtime_error&) {
    }
  }
  return 0;
}
