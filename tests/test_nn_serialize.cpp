// Specification: nn::save / nn::load. A round trip is bit-exact; every way a
// file can be wrong is a std::runtime_error that names the file and the
// problem; a failed save or a corrupt file never damages a saved model.
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace fs = std::filesystem;

namespace {

// A fresh directory under the system's temporary folder, removed with
// everything in it at the end of the test case.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    const auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = fs::temp_directory_path() / fmt::format("nn-serialize-test-{}-{}", ::getpid(), ticks);
    fs::create_directories(path_);
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// The message of the std::runtime_error that load() throws ("" if none).
template <class T = double>
std::string load_error(const std::string& path) {
  try {
    (void)nn::load<T>(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

// Bitwise equality of two values (distinguishes -0.0 from 0.0, NaN payloads).
template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <class T>
void check_identical(const nn::NetworkT<T>& a, const nn::NetworkT<T>& b) {
  REQUIRE(a.depth() == b.depth());
  CHECK(a.sizes() == b.sizes());
  for (std::size_t L = 0; L < a.depth(); ++L) {
    CHECK(a.layers()[L].activations() == b.layers()[L].activations());
    CHECK(a.layers()[L].heaviside_gradient() == b.layers()[L].heaviside_gradient());
  }
  const auto pa = a.flat_parameters(), pb = b.flat_parameters();
  REQUIRE(pa.size() == pb.size());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) differing += !same_bits(pa[i], pb[i]);
  CHECK(differing == 0);
}

// A network with per-neuron activations and non-default Heaviside policies.
template <class T>
nn::NetworkT<T> varied_network(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<nn::DenseT<T>> layers;
  // The six activations of the first format's files (the file's sizes below assume six).
  const std::vector<nn::Activation> first_six(nn::all_activations.begin(), nn::all_activations.begin() + 6);
  layers.emplace_back(3, 6, first_six, rng);
  layers.back().set_heaviside_gradient(nn::HeavisideGradient::logistic_surrogate);
  layers.emplace_back(6, 4, nn::Activation::heaviside, rng, nn::Init::he);
  layers.back().set_heaviside_gradient(nn::HeavisideGradient::straight_through);
  layers.emplace_back(4, 2, nn::Activation::identity, rng, nn::Init::xavier);
  return nn::NetworkT<T>(std::move(layers));
}

// Writes a good model file and returns its bytes.
std::vector<std::uint8_t> saved_model(const std::string& path) {
  nn::save(varied_network<double>(1), path);
  return read_bytes(path);
}

}  // namespace

TEST_CASE("a double network round-trips bit-exactly with its activations and Heaviside policies") {
  ScratchDirectory dir;
  const nn::Network net = varied_network<double>(1);
  nn::save(net, dir.file("model.adnn"));
  const nn::Network loaded = nn::load(dir.file("model.adnn"));
  check_identical(net, loaded);
  // Loaded parameters are trainable leaves.
  for (const auto& p : loaded.parameters()) {
    CHECK(p.requires_grad_enabled());
    CHECK(p.is_leaf());
  }
  // Special values survive too.
  nn::Network special = net.clone();
  auto theta = special.flat_parameters();
  theta[0] = -0.0;
  theta[1] = 5e-324;  // the smallest subnormal
  theta[2] = 1.7976931348623157e308;
  special.set_flat_parameters(theta);
  nn::save(special, dir.file("special.adnn"));
  check_identical(special, nn::load(dir.file("special.adnn")));
}

TEST_CASE("a network with every activation round-trips, each stored as its file code") {
  ScratchDirectory dir;
  std::mt19937_64 rng(8);
  const std::vector<nn::Activation> every(nn::all_activations.begin(), nn::all_activations.end());
  std::vector<nn::Dense> layers;
  layers.emplace_back(2, every.size(), every, rng);
  layers.emplace_back(every.size(), 1, nn::Activation::gelu, rng);
  const nn::Network net(std::move(layers));
  nn::save(net, dir.file("every.adnn"));
  check_identical(net, nn::load(dir.file("every.adnn")));
  // The first layer's activations follow its 16-byte file header and 17-byte layer header.
  const auto bytes = read_bytes(dir.file("every.adnn"));
  REQUIRE(bytes.size() > 33 + every.size());
  for (std::size_t j = 0; j < every.size(); ++j) CHECK(bytes[33 + j] == nn::file_code(every[j]));
}

TEST_CASE("an activation code that no activation has is reported with its layer") {
  ScratchDirectory dir;
  auto bytes = saved_model(dir.file("good.adnn"));
  bytes[33] = 11;  // the first neuron of layer 1; then a valid checksum (FNV-1a) over the change
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i + 8 < bytes.size(); ++i) h = (h ^ bytes[i]) * 0x100000001b3ull;
  for (std::size_t i = 0; i < 8; ++i) bytes[bytes.size() - 8 + i] = static_cast<std::uint8_t>(h >> (8 * i));
  const std::string path = dir.file("code.adnn");
  write_bytes(path, bytes);
  const std::string message = load_error(path);
  INFO(message);
  CHECK(message.find(path) != std::string::npos);
  CHECK(message.find("layer 1 neuron 0 has an unknown activation code 11") != std::string::npos);
}

TEST_CASE("a float network round-trips bit-exactly") {
  ScratchDirectory dir;
  const nn::NetworkT<float> net = varied_network<float>(2);
  nn::save(net, dir.file("model.adnn"));
  check_identical(net, nn::load<float>(dir.file("model.adnn")));
  // Loading float parameters as double converts each value exactly.
  const nn::Network widened = nn::load<double>(dir.file("model.adnn"));
  const auto narrow = net.flat_parameters();
  const auto wide = widened.flat_parameters();
  REQUIRE(narrow.size() == wide.size());
  for (std::size_t i = 0; i < narrow.size(); ++i) CHECK(wide[i] == double(narrow[i]));
}

TEST_CASE("the file starts with the documented header") {
  ScratchDirectory dir;
  const auto bytes = saved_model(dir.file("model.adnn"));
  REQUIRE(bytes.size() > 16);
  CHECK(std::string(bytes.begin(), bytes.begin() + 4) == "ADNN");
  CHECK(bytes[4] == 1);  // version 1, little-endian
  CHECK(bytes[5] == 0);
  CHECK(bytes[8] == 1);  // float64
  CHECK(bytes[12] == 3);  // three layers
  // Header 16, per layer 17 + outputs + 8 (in*out + out), checksum 8.
  const std::size_t expected = 16 + (17 + 6 + 8 * (18 + 6)) + (17 + 4 + 8 * (24 + 4)) + (17 + 2 + 8 * (8 + 2)) + 8;
  CHECK(bytes.size() == expected);
}

TEST_CASE("loading a missing file names the file and says it cannot be opened") {
  ScratchDirectory dir;
  const std::string path = dir.file("absent.adnn");
  const std::string message = load_error(path);
  INFO(message);
  CHECK(message.find(path) != std::string::npos);
  CHECK(message.find("cannot open") != std::string::npos);
}

TEST_CASE("loading an empty file reports it as truncated") {
  ScratchDirectory dir;
  const std::string path = dir.file("empty.adnn");
  write_bytes(path, {});
  const std::string message = load_error(path);
  INFO(message);
  CHECK(message.find(path) != std::string::npos);
  CHECK(message.find("truncated") != std::string::npos);
}

TEST_CASE("a file cut short anywhere is reported as truncated") {
  ScratchDirectory dir;
  const auto good = saved_model(dir.file("good.adnn"));
  const std::string path = dir.file("cut.adnn");
  // In the magic, the version, the header, a layer header, the activations,
  // the weights, the last bias and the checksum.
  for (std::size_t length : {std::size_t{2}, std::size_t{6}, std::size_t{13}, std::size_t{20}, std::size_t{35},
                             std::size_t{100}, good.size() / 2, good.size() - 9, good.size() - 1}) {
    write_bytes(path, std::vector<std::uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(length)));
    const std::string message = load_error(path);
    INFO("cut at " << length << " of " << good.size() << " bytes: " << message);
    CHECK(message.find(path) != std::string::npos);
    CHECK(message.find("truncated") != std::string::npos);
  }
}

TEST_CASE("a file with the wrong magic bytes is reported as not a model file") {
  ScratchDirectory dir;
  auto bytes = saved_model(dir.file("good.adnn"));
  const std::string path = dir.file("magic.adnn");
  bytes[0] = 'X';
  write_bytes(path, bytes);
  const std::string message = load_error(path);
  INFO(message);
  CHECK(message.find(path) != std::string::npos);
  CHECK(message.find("magic") != std::string::npos);
  // A text file is no model either.
  write_bytes(path, {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n', 'x', 'y', 'z', 'w', 'v', 'u', 't', 's'});
  CHECK(load_error(path).find("magic") != std::string::npos);
}

TEST_CASE("a file of another format version is reported as unsupported") {
  ScratchDirectory dir;
  auto bytes = saved_model(dir.file("good.adnn"));
  const std::string path = dir.file("version.adnn");
  bytes[4] = 2;  // version 2, which this build does not read
  write_bytes(path, bytes);
  const std::string message = load_error(path);
  INFO(message);
  CHECK(message.find(path) != std::string::npos);
  CHECK(message.find("version 2") != std::string::npos);
  CHECK(message.find("not supported") != std::string::npos);
}

TEST_CASE("a flipped byte anywhere is detected, past the header by the checksum") {
  ScratchDirectory dir;
  const auto good = saved_model(dir.file("good.adnn"));
  const std::string path = dir.file("flipped.adnn");
  // Counted rather than checked one by one: one flip for each of ~800 bytes,
  // the lowest bit at even offsets and the highest at odd ones.
  std::size_t undetected = 0, unnamed = 0, not_by_checksum = 0;
  std::string example;
  for (std::size_t at = 0; at < good.size(); ++at) {
    {
      const std::uint8_t mask = at % 2 == 0 ? 0x01 : 0x80;
      auto bytes = good;
      bytes[at] ^= mask;
      write_bytes(path, bytes);
      const std::string message = load_error(path);
      const bool bad = message.empty() || message.find(path) == std::string::npos ||
                       // The header's fields are checked by meaning (magic,
                       // version, type, reserved bytes); from the layer count
                       // on, the checksum catches the change.
                       (at >= 12 && message.find("checksum") == std::string::npos);
      undetected += message.empty();
      unnamed += !message.empty() && message.find(path) == std::string::npos;
      not_by_checksum += !message.empty() && at >= 12 && message.find("checksum") == std::string::npos;
      if (bad && example.empty()) example = fmt::format("byte {} ^ {:#x}: '{}'", at, mask, message);
    }
  }
  INFO("first problem: " << example);
  CHECK(undetected == 0);
  CHECK(unnamed == 0);
  CHECK(not_by_checksum == 0);
}

TEST_CASE("trailing bytes after the checksum are reported") {
  ScratchDirectory dir;
  auto bytes = saved_model(dir.file("good.adnn"));
  const std::string path = dir.file("trailing.adnn");
  for (std::size_t extra : {1, 7, 8, 100}) {
    auto longer = bytes;
    longer.insert(longer.end(), extra, std::uint8_t{0x5a});
    write_bytes(path, longer);
    const std::string message = load_error(path);
    INFO(extra << " extra bytes: " << message);
    CHECK(message.find(path) != std::string::npos);
    CHECK(message.find("trailing") != std::string::npos);
  }
}

TEST_CASE("a failed save leaves the previously saved file untouched and no temporary behind") {
  ScratchDirectory dir;
  const std::string path = dir.file("model.adnn");
  const auto before = saved_model(path);
  const nn::Network other = varied_network<double>(99);

  SUBCASE("into a folder that does not exist") {
    const std::string target = dir.file("no-such-folder/model.adnn");
    try {
      nn::save(other, target);
      FAIL("save into a missing folder succeeded");
    } catch (const std::runtime_error& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(target) != std::string::npos);
    }
  }
  SUBCASE("over a path that is a folder") {
    const std::string target = dir.file("a-folder");
    fs::create_directory(target);
    try {
      nn::save(other, target);
      FAIL("save over a folder succeeded");
    } catch (const std::runtime_error& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(target) != std::string::npos);
    }
    CHECK(fs::is_directory(target));
    CHECK(fs::is_empty(target));
  }
  CHECK(read_bytes(path) == before);
  check_identical(varied_network<double>(1), nn::load(path));
  // Only the model (and the folder made above) remain: no stray temporary.
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    INFO(entry.path().string());
    CHECK((entry.path().filename() == "model.adnn" || entry.path().filename() == "a-folder"));
  }
}

TEST_CASE("a corrupt file is left as it is by load, and a good save replaces it") {
  ScratchDirectory dir;
  const std::string good_path = dir.file("good.adnn");
  const auto good = saved_model(good_path);
  const std::string path = dir.file("model.adnn");
  auto corrupt = good;
  corrupt[corrupt.size() / 2] ^= 0xff;
  write_bytes(path, corrupt);
  CHECK_FALSE(load_error(path).empty());
  CHECK(read_bytes(path) == corrupt);
  CHECK(read_bytes(good_path) == good);
  // Saving over the corrupt file replaces it whole.
  nn::save(varied_network<double>(1), path);
  CHECK(read_bytes(path) == good);
  check_identical(varied_network<double>(1), nn::load(path));
}

TEST_CASE("saving again replaces the previous model atomically") {
  ScratchDirectory dir;
  const std::string path = dir.file("model.adnn");
  nn::save(varied_network<double>(1), path);
  const nn::Network second = varied_network<double>(2);
  nn::save(second, path);
  check_identical(second, nn::load(path));
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path())) ++files;
  CHECK(files == 1);
}
