// Specification: nn::save / nn::load_into for any Module (named-state files).
// A round trip is bit-identical; load_into checks every name, kind and shape
// and changes nothing unless everything fits; every bad file is a
// std::runtime_error naming the file; Network files keep working.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <autodiff/autodiff.hpp>
#include <autodiff/custom_op.hpp>
#include <nn/nn.hpp>

namespace fs = std::filesystem;

namespace {

class ScratchDirectory {
 public:
  ScratchDirectory() {
    const auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = fs::temp_directory_path() / fmt::format("nn-state-test-{}-{}", ::getpid(), ticks);
    fs::create_directories(path_);
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

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

void fix_checksum(std::vector<std::uint8_t>& bytes) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i + 8 < bytes.size(); ++i) {
    h ^= bytes[i];
    h *= 0x100000001b3ull;
  }
  for (std::size_t i = 0; i < 8; ++i, h >>= 8) bytes[bytes.size() - 8 + i] = static_cast<std::uint8_t>(h);
}

// A user module: x + scale * tanh(fc(x)) through a custom op, with a buffer
// counting the forward calls (state that is saved but not trained).
template <class T>
struct ScaledResidual : nn::ModuleT<T> {
  nn::DenseT<T> fc;
  ad::TensorT<T> scale;
  ad::TensorT<T> calls = ad::TensorT<T>::zeros({1});
  ScaledResidual(std::size_t n, std::mt19937_64& rng)
      : fc(n, n, nn::Activation::identity, rng), scale(ad::TensorT<T>::randn({n}, rng)) {
    this->register_module("fc", fc);
    this->register_parameter("scale", scale);
    this->register_buffer("calls", calls);
  }
  ad::TensorT<T> forward(const ad::TensorT<T>& x) override {
    calls.mutable_values()[0] += 1;
    const ad::TensorT<T> a = fc(x);
    const std::size_t n = a.shape()[1];
    std::vector<T> y(a.numel());
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = scale.values()[i % n] * std::tanh(a.values()[i]);
    return x + ad::custom_op<T>(
                   "scaled_tanh", {a, scale}, a.shape(), std::move(y), [n](const ad::CustomGradient<T>& g) {
                     for (std::size_t i = 0; i < g.grad_output.size(); ++i) {
                       const T t = std::tanh(g.inputs[0][i]);
                       if (!g.grad_inputs[0].empty())
                         g.grad_inputs[0][i] += g.grad_output[i] * g.inputs[1][i % n] * (1 - t * t);
                       if (!g.grad_inputs[1].empty()) g.grad_inputs[1][i % n] += g.grad_output[i] * t;
                     }
                   });
  }
  std::string type_name() const override { return "ScaledResidual"; }
};

template <class T>
nn::SequentialT<T> make_model(std::uint64_t seed, std::size_t width = 3) {
  std::mt19937_64 rng(seed);
  nn::SequentialT<T> model;
  model.template add<ScaledResidual<T>>(width, rng)
      .template add<nn::DenseT<T>>(width, 2, nn::Activation::tanh, rng);
  return model;
}

template <class T>
std::vector<std::vector<T>> state_of(const nn::ModuleT<T>& m) {
  std::vector<std::vector<T>> out;
  for (const auto& [name, p] : m.named_parameters()) out.emplace_back(p.values().begin(), p.values().end());
  for (const auto& [name, b] : m.named_buffers()) out.emplace_back(b.values().begin(), b.values().end());
  return out;
}

template <class T>
bool bit_identical(const std::vector<std::vector<T>>& a, const std::vector<std::vector<T>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k)
    if (a[k].size() != b[k].size() || std::memcmp(a[k].data(), b[k].data(), a[k].size() * sizeof(T)) != 0)
      return false;
  return true;
}

// The message of the std::runtime_error that load_into throws ("" if none).
template <class T>
std::string load_error(nn::ModuleT<T>& model, const std::string& path) {
  try {
    nn::load_into(model, path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE_TEMPLATE("a user module round-trips through save and load_into bit-identically", T, float, double) {
  ScratchDirectory dir;
  nn::SequentialT<T> model = make_model<T>(1);
  std::mt19937_64 rng(2);
  const ad::TensorT<T> X = ad::TensorT<T>::randn({5, 3}, rng);
  (void)model(X);  // the buffer counts one call
  nn::save(model, dir.file("model.adst"));

  nn::SequentialT<T> again = make_model<T>(99);  // same architecture, other values
  CHECK_FALSE(bit_identical(state_of(again), state_of(model)));
  nn::load_into(again, dir.file("model.adst"));
  CHECK(bit_identical(state_of(again), state_of(model)));
  CHECK(again.named_buffers()[0].second.values()[0] == T(1));
  const ad::TensorT<T> y1 = model(X), y2 = again(X);
  CHECK(std::memcmp(y1.values().data(), y2.values().data(), y1.numel() * sizeof(T)) == 0);
  // Saving the loaded model writes the same bytes.
  nn::save(again, dir.file("again.adst"));
  (void)model(X);
  (void)again(X);
  nn::save(model, dir.file("model2.adst"));
  nn::save(again, dir.file("again2.adst"));
  CHECK(read_bytes(dir.file("model2.adst")) == read_bytes(dir.file("again2.adst")));
}

TEST_CASE("read_state lists every tensor with its name, kind, shape and values in model order") {
  ScratchDirectory dir;
  nn::Sequential model = make_model<double>(3);
  nn::save(model, dir.file("m.adst"));
  const auto state = nn::read_state(dir.file("m.adst"));
  std::vector<std::string> names;
  for (const auto& e : state) names.push_back(e.name);
  CHECK(names == std::vector<std::string>{"0.scale", "0.fc.W", "0.fc.b", "1.W", "1.b", "0.calls"});
  CHECK(state[5].kind == nn::StateKind::buffer);
  CHECK(state[0].kind == nn::StateKind::parameter);
  CHECK(state[3].value.shape() == ad::Shape{2, 3});
  CHECK(state[3].value.values()[4] == model.named_parameters()[3].second.values()[4]);
}

TEST_CASE("element types convert: float into double exactly, double into float rounded") {
  ScratchDirectory dir;
  nn::SequentialF single = make_model<float>(4);
  nn::save(single, dir.file("f.adst"));
  nn::Sequential wide = make_model<double>(5);
  nn::load_into(wide, dir.file("f.adst"));
  const auto a = state_of(single);
  const auto b = state_of(wide);
  for (std::size_t k = 0; k < a.size(); ++k)
    for (std::size_t i = 0; i < a[k].size(); ++i) CHECK(b[k][i] == double(a[k][i]));

  nn::Sequential source = make_model<double>(6);
  nn::save(source, dir.file("d.adst"));
  nn::load_into(single, dir.file("d.adst"));
  const auto c = state_of(source);
  const auto d = state_of(single);
  for (std::size_t k = 0; k < c.size(); ++k)
    for (std::size_t i = 0; i < c[k].size(); ++i) CHECK(d[k][i] == static_cast<float>(c[k][i]));
}

TEST_CASE("a double too large for float is refused, naming the tensor, and nothing is loaded") {
  ScratchDirectory dir;
  nn::Sequential source = make_model<double>(7);
  source.named_parameters()[3].second.mutable_values()[1] = 1e300;
  nn::save(source, dir.file("big.adst"));
  nn::SequentialF target = make_model<float>(8);
  const auto before = state_of(target);
  const std::string error = load_error(target, dir.file("big.adst"));
  CHECK(error.find("'1.W' holds 1e+300 at index 1, too large for a float model") != std::string::npos);
  CHECK(error.find("big.adst") != std::string::npos);
  CHECK(bit_identical(state_of(target), before));
}

TEST_CASE("load_into names every missing, extra and misshapen tensor and changes nothing") {
  ScratchDirectory dir;
  std::mt19937_64 rng(1);
  nn::Sequential saved = make_model<double>(9, 3);
  saved.add<nn::Dense>(2, 1, nn::Activation::identity, rng);
  nn::save(saved, dir.file("three.adst"));

  SUBCASE("a model without the file's last module") {
    nn::Sequential target = make_model<double>(10, 3);
    const auto before = state_of(target);
    const std::string error = load_error(target, dir.file("three.adst"));
    CHECK(error.find("nn::load_into: '" + dir.file("three.adst") + "'") != std::string::npos);
    CHECK(error.find("the file does not fit the Sequential (nothing was loaded)") != std::string::npos);
    CHECK(error.find("not in the model: 2.W [1, 2], 2.b [1]") != std::string::npos);
    CHECK(bit_identical(state_of(target), before));
  }
  SUBCASE("a model with other widths and a module more") {
    nn::Sequential target = make_model<double>(11, 4);
    target.add<nn::Dense>(2, 1, nn::Activation::identity, rng)
        .add<nn::Dense>(1, 1, nn::Activation::identity, rng);
    const auto before = state_of(target);
    const std::string error = load_error(target, dir.file("three.adst"));
    CHECK(error.find("missing from the file: 3.W [1, 1], 3.b [1]") != std::string::npos);
    CHECK(error.find("'0.fc.W' is [3, 3] in the file, [4, 4] in the model") != std::string::npos);
    CHECK(error.find("'1.W' is [2, 3] in the file, [2, 4] in the model") != std::string::npos);
    CHECK(bit_identical(state_of(target), before));
  }
}

TEST_CASE("a parameter in the file that is a buffer in the model is a difference") {
  ScratchDirectory dir;
  struct AsParameter : nn::Module {
    ad::Tensor t = ad::Tensor::ones({2});
    AsParameter() { register_parameter("t", t); }
    ad::Tensor forward(const ad::Tensor& x) override { return x * t; }
  };
  struct AsBuffer : nn::Module {
    ad::Tensor t = ad::Tensor::zeros({2});
    AsBuffer() { register_buffer("t", t); }
    ad::Tensor forward(const ad::Tensor& x) override { return x; }
  };
  AsParameter p;
  nn::save(p, dir.file("p.adst"));
  AsBuffer b;
  CHECK(load_error(b, dir.file("p.adst")).find("'t' is a parameter in the file, a buffer in the model") !=
        std::string::npos);
  CHECK(b.t.values()[0] == 0.0);
}

TEST_CASE("a Network saved as a Module is still an .adnn file that nn::load reads") {
  ScratchDirectory dir;
  std::mt19937_64 rng(12);
  nn::Network net({2, 4, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  const nn::Module& as_module = net;
  nn::save(as_module, dir.file("net.adnn"));
  const auto bytes = read_bytes(dir.file("net.adnn"));
  REQUIRE(bytes.size() > 4);
  CHECK(std::string(bytes.begin(), bytes.begin() + 4) == "ADNN");
  const nn::Network again = nn::load(dir.file("net.adnn"));
  CHECK(again.flat_parameters() == net.flat_parameters());
}

TEST_CASE("nn::load refuses a named-state file and says to use load_into") {
  ScratchDirectory dir;
  nn::Sequential model = make_model<double>(20);
  nn::save(model, dir.file("m.adst"));
  CHECK_THROWS_WITH_AS(nn::load(dir.file("m.adst")),
                       doctest::Contains("a named-state file (nn::save of a Module), not an .adnn network"),
                       std::runtime_error);
}

TEST_CASE("load_into reads .adnn network files too, into a Network or any module with the same names") {
  ScratchDirectory dir;
  std::mt19937_64 rng(13);
  nn::Network net({2, 4, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::save(net, dir.file("net.adnn"));

  nn::Network target({2, 4, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::load_into(target, dir.file("net.adnn"));
  CHECK(target.flat_parameters() == net.flat_parameters());

  nn::Sequential layers;  // children named as a Network's
  layers.add("layer1", std::make_unique<nn::Dense>(2, 4, nn::Activation::tanh, rng))
      .add("layer2", std::make_unique<nn::Dense>(4, 1, nn::Activation::identity, rng));
  nn::load_into(layers, dir.file("net.adnn"));
  const ad::Tensor X = ad::Tensor::randn({3, 2}, rng);
  const ad::Tensor a = net(X), b = layers(X);
  for (std::size_t i = 0; i < 3; ++i) CHECK(a.values()[i] == b.values()[i]);

  nn::NetworkT<float> single({2, 4, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::load_into(single, dir.file("net.adnn"));
  CHECK(single.layers()[0].weights().values()[0] ==
        static_cast<float>(net.layers()[0].weights().values()[0]));
}

TEST_CASE("an .adnn file into a Network with other activations is refused, naming the layer") {
  ScratchDirectory dir;
  std::mt19937_64 rng(14);
  nn::Network net({2, 4, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::save(net, dir.file("net.adnn"));
  nn::Network relu({2, 4, 1}, nn::Activation::relu, nn::Activation::identity, rng);
  const auto before = relu.flat_parameters();
  CHECK(load_error(relu, dir.file("net.adnn"))
            .find("layer 1 neuron 1 is tanh in the file, relu in the model") != std::string::npos);
  CHECK(relu.flat_parameters() == before);
}

TEST_CASE("a named-state file with a Network's names loads into a Network") {
  ScratchDirectory dir;
  std::mt19937_64 rng(15);
  nn::Sequential layers;
  layers.add("layer1", std::make_unique<nn::Dense>(2, 3, nn::Activation::tanh, rng))
      .add("layer2", std::make_unique<nn::Dense>(3, 1, nn::Activation::identity, rng));
  nn::save(layers, dir.file("state.adst"));
  nn::Network net({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::load_into(net, dir.file("state.adst"));
  CHECK(net.layers()[1].weights().values()[2] == layers.parameters()[2].values()[2]);
}

TEST_CASE("saving a module with an empty tensor is refused and writes nothing") {
  ScratchDirectory dir;
  struct Unset : nn::Module {
    ad::Tensor w = ad::Tensor::ones({1});
    ad::Tensor running;  // never given a value
    Unset() {
      register_parameter("w", w);
      register_buffer("running", running);
    }
    ad::Tensor forward(const ad::Tensor& x) override { return x * w; }
  };
  Unset m;
  CHECK_THROWS_WITH_AS(nn::save(m, dir.file("u.adst")),
                       doctest::Contains(("nn::save: not saving the Module to '" + dir.file("u.adst") +
                                          "': buffer 'running' is an empty tensor")
                                             .c_str()),
                       std::invalid_argument);
  CHECK_FALSE(fs::exists(dir.file("u.adst")));
}

TEST_CASE("every damaged file is a std::runtime_error naming the file and the problem") {
  ScratchDirectory dir;
  nn::Sequential model = make_model<double>(16);
  nn::save(model, dir.file("good.adst"));
  const auto good = read_bytes(dir.file("good.adst"));
  const std::string path = dir.file("bad.adst");
  const auto before = state_of(model);
  auto error_for = [&](const std::vector<std::uint8_t>& bytes) {
    write_bytes(path, bytes);
    return load_error(model, path);
  };
  auto contains = [](const std::string& error, const std::string& part) {
    CAPTURE(error);
    CHECK(error.find(part) != std::string::npos);
  };

  contains(load_error(model, dir.file("absent.adst")),
           "nn::load_into: cannot open '" + dir.file("absent.adst"));
  contains(load_error(model, dir.file("")), "is a directory, not a regular file");  // the folder itself
  contains(error_for({}), "'" + path + "': truncated");
  contains(error_for({'A', 'D', 'S', 'T', 1, 0, 0}), "truncated");

  auto wrong_magic = good;
  wrong_magic[1] = 'X';
  contains(error_for(wrong_magic), "not a named-state file (wrong magic bytes)");
  auto version = good;
  version[4] = 2;
  contains(error_for(version), "format version 2 is not supported");
  auto flipped = good;
  flipped[good.size() - 9] ^= 0x10;  // in the last value
  contains(error_for(flipped), "corrupt: the checksum does not match the contents");
  for (std::size_t at = 16; at + 8 < good.size(); at += 7) {  // anywhere: a size field too
    auto changed = good;
    changed[at] ^= 0x41;
    CAPTURE(at);
    contains(error_for(changed), "the checksum does not match");
  }
  for (std::size_t cut :
       {std::size_t{16}, std::size_t{40}, good.size() / 2, good.size() - 9, good.size() - 1}) {
    CAPTURE(cut);
    contains(
        error_for(std::vector<std::uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut))),
        "truncated");
  }
  auto longer = good;
  longer.insert(longer.end() - 8, {1, 2, 3});
  fix_checksum(longer);
  contains(error_for(longer), "3 unexpected bytes after the last tensor");
  CHECK(bit_identical(state_of(model), before));
}

TEST_CASE("crafted files with valid checksums are refused by the field checks") {
  ScratchDirectory dir;
  const std::string path = dir.file("crafted.adst");
  nn::Sequential model = make_model<double>(17);
  // Header, then one tensor "w" of `rank` dimensions `dim`, kind, dtype.
  auto file = [](std::uint32_t count, const std::string& name, std::uint8_t kind, std::uint8_t dtype,
                 std::uint8_t rank, std::uint64_t dim) {
    std::vector<std::uint8_t> b{'A', 'D', 'S', 'T', 1, 0, 0, 0};
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(count >> (8 * i)));
    b.insert(b.end(), 4, 0);
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(name.size() >> (8 * i)));
    b.insert(b.end(), name.begin(), name.end());
    b.push_back(kind);
    b.push_back(dtype);
    b.push_back(rank);
    for (std::uint8_t r = 0; r < rank; ++r)
      for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(dim >> (8 * i)));
    b.insert(b.end(), 16, 0);  // two doubles of values
    b.insert(b.end(), 8, 0);   // checksum
    fix_checksum(b);
    return b;
  };
  auto error_for = [&](const std::vector<std::uint8_t>& bytes) {
    write_bytes(path, bytes);
    return load_error(model, path);
  };
  auto contains = [](const std::string& error, const std::string& part) {
    CAPTURE(error);
    CHECK(error.find(part) != std::string::npos);
  };
  contains(error_for(file(1, "w", 0, 1, 1, 2)), "missing from the file");  // a valid file, other names
  CHECK(nn::read_state<float>(path).at(0).value.shape() == ad::Shape{2});
  contains(error_for(file(0xFFFFFFFF, "w", 0, 1, 1, 2)), "implausible number of tensors 4294967295");
  contains(error_for(file(2, "w", 0, 1, 1, 2)), "truncated");
  contains(error_for(file(1, "w", 2, 1, 1, 2)), "unknown kind code 2");
  contains(error_for(file(1, "w", 0, 7, 1, 2)), "unknown element type code 7");
  contains(error_for(file(1, "w", 0, 1, 9, 2)), "rank 9 (at most 8)");
  contains(error_for(file(1, "w", 0, 1, 2, std::uint64_t{1} << 33)), "more values than the file holds");
  contains(error_for(file(1, "w", 0, 1, 1, std::uint64_t{1} << 62)), "more values than the file holds");
  contains(error_for(file(1, "a..b", 0, 1, 1, 2)), "has an empty component");
  contains(error_for(file(1, std::string("a\nb"), 0, 1, 1, 2)), "control character 0x0a at byte 1");
  contains(error_for(file(1, "", 0, 1, 1, 2)), "a tensor name of 0 bytes");
}
