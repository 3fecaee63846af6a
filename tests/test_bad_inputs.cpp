// The catalogue of misuse: every way of holding the library wrong that the
// design names, one row each, with the exception type it must throw and the
// words its message must contain (the op, the shapes or values, the file).
// Misuse is an error, never undefined behaviour.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include <unistd.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

using ad::Tensor;

struct BadInput {
  const char* misuse;
  std::function<void()> run;
  // True when the exception is of the expected type.
  bool (*expected_type)(const std::exception&);
  const char* type_name;
  std::vector<std::string> message_parts;
};

template <class E>
bool is(const std::exception& e) {
  return dynamic_cast<const E*>(&e) != nullptr;
}
#define EXPECT(E) &is<E>, #E

const double nan = std::numeric_limits<double>::quiet_NaN();
const double inf = std::numeric_limits<double>::infinity();

std::string model_file(const std::string& name) {
  return (std::filesystem::temp_directory_path() / fmt::format("ad-bad-inputs-{}-{}", ::getpid(), name)).string();
}

// A valid model file, and variants of it.
std::vector<char> model_bytes() {
  std::mt19937_64 rng(3);
  const nn::Network net({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  const std::string path = model_file("good.adnn");
  nn::save(net, path);
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  return bytes;
}
std::function<void()> load_bytes(const std::string& name, std::function<void(std::vector<char>&)> damage) {
  return [name, damage] {
    std::vector<char> bytes = model_bytes();
    damage(bytes);
    const std::string path = model_file(name);
    std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
    struct Remove {
      std::string p;
      ~Remove() { std::filesystem::remove(p); }
    } remove{path};
    nn::load(path);
  };
}

struct Net {
  std::mt19937_64 rng{1};
  nn::Network net{{2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng};
};

std::vector<BadInput> catalogue() {
  return {
      // ---- scalar tapes ----
      {"a Var used after its tape was cleared",
       [] {
         ad::Tape tape;
         ad::Var x = 1.0;
         tape.clear();
         (void)ad::sin(x);
       },
       EXPECT(std::logic_error), {"ad::sin", "clear"}},
      {"a Var used after its tape was destroyed",
       [] {
         ad::Var x;
         {
           ad::Tape gone;
           x = 1.0;
         }
         ad::Tape tape;
         (void)ad::exp(x);
       },
       EXPECT(std::logic_error), {"ad::exp"}},
      {"backward from a Var of a cleared tape",
       [] {
         ad::Tape tape;
         ad::Var x = 1.0;
         ad::Var y = x * x;
         tape.clear();
         y.backward();
       },
       EXPECT(std::logic_error), {"backward"}},
      {"gradient with respect to a Var of a cleared recording",
       [] {
         ad::Tape tape;
         ad::Var x = 1.0;
         tape.clear();
         ad::Var z = 2.0;
         ad::Var y = z * 3.0;
         (void)ad::gradient(y, {x});
       },
       EXPECT(std::logic_error), {"gradient"}},
      // ---- tensors ----
      {"tensors of two recordings (a tape and the default tape) joined in one op",
       [] {
         Tensor w = Tensor::ones({2}).requires_grad();
         Tensor a = w * 2.0;
         ad::Tape tape;
         Tensor b = w * 3.0;
         (void)(a + b);
       },
       EXPECT(std::logic_error), {"ad::add"}},
      {"a tensor whose tape was cleared, swept",
       [] {
         ad::Tape tape;
         Tensor w = Tensor::ones({2}).requires_grad();
         Tensor y = ad::sum(w * 2.0);
         tape.clear();
         y.backward();
       },
       EXPECT(std::logic_error), {"backward"}},
      {"shapes that do not broadcast",
       [] { (void)(Tensor::ones({2, 3}) + Tensor::ones({4})); },
       EXPECT(std::invalid_argument), {"ad::add", "[2, 3]", "[4]", "broadcast"}},
      {"matmul with mismatched inner extents",
       [] { (void)ad::matmul(Tensor::ones({2, 3}), Tensor::ones({4, 5})); },
       EXPECT(std::invalid_argument), {"ad::matmul", "[2, 3]", "[4, 5]"}},
      {"matmul of a vector",
       [] { (void)ad::matmul(Tensor::ones({3}), Tensor::ones({3, 2})); },
       EXPECT(std::invalid_argument), {"ad::matmul", "[3]"}},
      {"backward on a non-scalar without a seed",
       [] {
         Tensor w = Tensor::ones({2, 2}).requires_grad();
         (w * 2.0).backward();
       },
       EXPECT(std::invalid_argument), {"backward", "[2, 2]"}},
      {"backward with a seed of the wrong shape",
       [] {
         Tensor w = Tensor::ones({2, 2}).requires_grad();
         (w * 2.0).backward(Tensor::ones({3}));
       },
       EXPECT(std::invalid_argument), {"backward", "[3]", "[2, 2]"}},
      {"a tensor made from the wrong number of values",
       [] { (void)Tensor::from({2, 2}, {1.0, 2.0, 3.0}); },
       EXPECT(std::invalid_argument), {"[2, 2]", "3"}},
      {"reshape to another element count",
       [] { (void)ad::reshape(Tensor::ones({2, 3}), {4, 2}); },
       EXPECT(std::invalid_argument), {"ad::reshape", "[2, 3]", "[4, 2]"}},
      // ---- anomaly mode ----
      {"log of a negative number under DetectAnomaly",
       [] {
         ad::Tape tape;
         ad::DetectAnomaly anomaly;
         ad::Var x = -1.0;
         (void)ad::log(x);
       },
       EXPECT(ad::AnomalyError), {"log", "-1"}},
      {"exp overflowing to infinity under DetectAnomaly",
       [] {
         ad::Tape tape;
         ad::DetectAnomaly anomaly;
         ad::Var x = 1000.0;
         (void)ad::exp(x);
       },
       EXPECT(ad::AnomalyError), {"exp", "1000"}},
      {"a NaN input under DetectAnomaly",
       [] {
         ad::Tape tape;
         ad::DetectAnomaly anomaly;
         ad::Var x = nan;
         (void)(x * 2.0);
       },
       EXPECT(ad::AnomalyError), {"nan"}},
      {"an infinite input under DetectAnomaly",
       [] {
         ad::Tape tape;
         ad::DetectAnomaly anomaly;
         ad::Var x = inf;
         (void)ad::sin(x);
       },
       EXPECT(ad::AnomalyError), {"inf"}},
      {"a NaN tensor element under DetectAnomaly",
       [] {
         ad::DetectAnomaly anomaly;
         Tensor w = Tensor::from({2}, {1.0, nan}).requires_grad();
         (void)ad::tanh(w);
       },
       EXPECT(ad::AnomalyError), {"tanh"}},
      {"sqrt of a negative tensor element under DetectAnomaly",
       [] {
         ad::DetectAnomaly anomaly;
         Tensor w = Tensor::from({2}, {4.0, -4.0}).requires_grad();
         (void)ad::sqrt(w);
       },
       EXPECT(ad::AnomalyError), {"sqrt"}},
      // ---- optimisers ----
      {"a negative learning rate", [] { Net n; nn::GradientDescent<double> opt(n.net.parameters(), -0.1); },
       EXPECT(std::invalid_argument), {"GradientDescent", "learning rate", "-0.1"}},
      {"a NaN learning rate", [] { Net n; nn::SGD<double> opt(n.net.parameters(), nan); },
       EXPECT(std::invalid_argument), {"SGD", "learning rate", "nan"}},
      {"a zero learning rate", [] { Net n; nn::Adam<double> opt(n.net.parameters(), 0.0); },
       EXPECT(std::invalid_argument), {"Adam", "learning rate", "0"}},
      {"an infinite learning rate set later",
       [] {
         Net n;
         nn::GradientDescent<double> opt(n.net.parameters(), 0.1);
         opt.set_learning_rate(inf);
       },
       EXPECT(std::invalid_argument), {"learning rate", "inf"}},
      {"momentum of 1", [] { Net n; nn::SGD<double> opt(n.net.parameters(), 0.1, 1.0); },
       EXPECT(std::invalid_argument), {"momentum", "1"}},
      // ---- training ----
      {"an empty data set in nn::fit",
       [] {
         Net n;
         nn::GradientDescent<double> opt(n.net.parameters(), 0.1);
         nn::fit(n.net, Tensor::zeros({0, 2}), Tensor::zeros({0, 1}), nn::mse_loss<double>, opt);
       },
       EXPECT(std::invalid_argument), {"nn::fit", "no training samples"}},
      {"X and Y of different lengths in nn::fit",
       [] {
         Net n;
         nn::GradientDescent<double> opt(n.net.parameters(), 0.1);
         nn::fit(n.net, Tensor::zeros({4, 2}), Tensor::zeros({3, 1}), nn::mse_loss<double>, opt);
       },
       EXPECT(std::invalid_argument), {"nn::fit", "[4, 2]", "[3, 1]"}},
      {"a validation fraction of 1",
       [] {
         Net n;
         nn::GradientDescent<double> opt(n.net.parameters(), 0.1);
         nn::fit(n.net, Tensor::zeros({4, 2}), Tensor::zeros({4, 1}), nn::mse_loss<double>, opt,
                 {.validation_fraction = 1.0});
       },
       EXPECT(std::invalid_argument), {"validation_fraction", "1"}},
      {"a label out of range in softmax_cross_entropy",
       [] { (void)nn::softmax_cross_entropy(Tensor::zeros({2, 3}), std::vector<std::size_t>{0, 3}); },
       EXPECT(std::out_of_range), {"softmax_cross_entropy", "label 3", "3 classes"}},
      {"fewer labels than samples in softmax_cross_entropy",
       [] { (void)nn::softmax_cross_entropy(Tensor::zeros({2, 3}), std::vector<std::size_t>{0}); },
       EXPECT(std::invalid_argument), {"softmax_cross_entropy", "[2, 3]", "1 labels"}},
      {"prediction and target of different shapes in mse_loss",
       [] { (void)nn::mse_loss(Tensor::zeros({4, 1}), Tensor::zeros({3, 1})); },
       EXPECT(std::invalid_argument), {"mse_loss", "[4, 1]", "[3, 1]"}},
      {"a batch of the wrong width for the network",
       [] {
         Net n;
         (void)n.net(Tensor::zeros({4, 3}));
       },
       EXPECT(std::invalid_argument), {"[4, 3]"}},
      // ---- model files ----
      {"a missing model file", [] { nn::load(model_file("does-not-exist.adnn")); },
       EXPECT(std::runtime_error), {"nn::load", "does-not-exist.adnn", "cannot open"}},
      {"an empty model file", load_bytes("empty.adnn", [](std::vector<char>& b) { b.clear(); }),
       EXPECT(std::runtime_error), {"nn::load", "empty.adnn", "truncated"}},
      {"a truncated model file", load_bytes("truncated.adnn", [](std::vector<char>& b) { b.erase(b.end() - 13, b.end()); }),
       EXPECT(std::runtime_error), {"nn::load", "truncated.adnn", "truncated"}},
      {"a corrupt model file", load_bytes("corrupt.adnn", [](std::vector<char>& b) { b[40] ^= 0x01; }),
       EXPECT(std::runtime_error), {"nn::load", "corrupt.adnn", "checksum"}},
      {"a model file of another format version", load_bytes("version.adnn", [](std::vector<char>& b) { b[4] = 7; }),
       EXPECT(std::runtime_error), {"nn::load", "version.adnn", "version 7"}},
      {"a file that is not a model", load_bytes("text.adnn", [](std::vector<char>& b) { b.assign(64, 'x'); }),
       EXPECT(std::runtime_error), {"nn::load", "text.adnn", "not an .adnn"}},
  };
}

}  // namespace

TEST_CASE("every misuse in the catalogue throws the documented exception naming the problem") {
  std::size_t count = 0;
  for (const BadInput& row : catalogue()) {
    const std::string misuse = row.misuse;
    CAPTURE(misuse);
    ++count;
    bool threw = false;
    try {
      row.run();
    } catch (const std::exception& e) {
      threw = true;
      const std::string message = e.what();
      CAPTURE(message);
      CHECK_MESSAGE(row.expected_type(e), fmt::format("expected {}, got {}", row.type_name, typeid(e).name()));
      for (const std::string& part : row.message_parts)
        CHECK_MESSAGE(message.find(part) != std::string::npos, fmt::format("the message does not name '{}'", part));
    }
    CHECK_MESSAGE(threw, "no exception");
  }
  MESSAGE(fmt::format("{} bad inputs checked", count));
}
