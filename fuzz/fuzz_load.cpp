// libFuzzer harness for nn::load (.adnn model files): any input must either
// load or throw std::runtime_error; any other exception, crash, leak or hang
// is a finding.
#include <cstdint>
#include <stdexcept>
#include <vector>

#include <nn/serialize.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::MemoryFile file;
  std::vector<std::uint8_t> bytes(data, data + size);
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) fuzz::fix_checksum(bytes.data(), bytes.size());
    const std::string path = file.hold(bytes.data(), bytes.size());
    try {
      (void)nn::load<double>(path);
    } catch (const std::runtime_error&) {
    }
    try {
      (void)nn::load<float>(path);
    } catch (const std::runtime_error&) {
    }
  }
  return 0;
}
