// libFuzzer harness for the IDX reader (nn::parse_idx, and nn::read_idx on a
// file): any input must either parse or throw std::runtime_error.
#include <cstdint>
#include <span>
#include <stdexcept>

#include <nn/idx.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::MemoryFile file;
  try {
    (void)nn::parse_idx(std::span<const std::uint8_t>(data, size), "fuzz input");
  } catch (const std::runtime_error&) {
  }
  // The file path too, unless the input is gzip (that path runs `gzip -dc`
  // in a subprocess per input: too slow to fuzz, and not our parser).
  if (!(size >= 2 && data[0] == 0x1f && data[1] == 0x8b)) {
    try {
      (void)nn::read_idx(file.hold(data, size));
    } catch (const std::runtime_error&) {
    }
  }
  return 0;
}
