// Inputs kept from fuzzing (fuzz/regressions/<target>/: crashes found by the
// harnesses once fixed, and hand-made near misses with valid checksums): each
// must be refused with a clean std::runtime_error, never a crash.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <nn/checkpoint.hpp>
#include <nn/idx.hpp>
#include <nn/nn.hpp>

namespace {

std::vector<std::filesystem::path> inputs(const char* target) {
  const auto folder = std::filesystem::path(AD_SOURCE_DIR) / "fuzz" / "regressions" / target;
  std::vector<std::filesystem::path> files;
  REQUIRE_MESSAGE(std::filesystem::is_directory(folder), folder.string());
  for (const auto& entry : std::filesystem::directory_iterator(folder))
    if (entry.is_regular_file() && entry.path().filename() != "README.md") files.push_back(entry.path());
  REQUIRE_MESSAGE(!files.empty(), folder.string());  // a folder without kept inputs
  return files;
}

}  // namespace

TEST_CASE("kept model-file inputs are refused by nn::load with a clean exception") {
  for (const auto& file : inputs("load")) {
    CAPTURE(file.string());
    CHECK_THROWS_AS(nn::load<double>(file.string()), std::runtime_error);
    CHECK_THROWS_AS(nn::load<float>(file.string()), std::runtime_error);
  }
}

TEST_CASE("kept IDX inputs are refused by the IDX reader with a clean exception") {
  for (const auto& file : inputs("idx")) {
    CAPTURE(file.string());
    CHECK_THROWS_AS(nn::read_idx(file.string()), std::runtime_error);
    std::ifstream in(file, std::ios::binary);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK_THROWS_AS(nn::parse_idx(bytes, file.string()), std::runtime_error);
  }
}

TEST_CASE("kept checkpoint inputs are refused by nn::load_checkpoint with a clean exception") {
  for (const auto& file : inputs("checkpoint")) {
    CAPTURE(file.string());
    std::mt19937_64 rng(1);
    nn::Network net({2, 8, 8, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
    nn::Adam<double> adam(net.parameters());
    CHECK_THROWS_AS(nn::load_checkpoint(file.string(), net, adam), std::runtime_error);
  }
}
