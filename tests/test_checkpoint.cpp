// Crash-safe training: nn::fit's checkpoints hold the whole training state,
// a run resumed from one is bit-identical to an uninterrupted run, and a
// training process killed at any moment leaves a checkpoint that loads and
// resumes to that same result.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
#include <nn/checkpoint.hpp>
#include <nn/nn.hpp>

#include "scratch_dir.hpp"

namespace {

using doctest::Contains;

template <class T>
struct Data {
  ad::TensorT<T> X, Y;
};
template <class T>
Data<T> make_data(std::size_t n) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<T> x(n * 2), y(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[2 * i] = T(u(rng));
    x[2 * i + 1] = T(u(rng));
    y[i] = T(std::sin(2.0 * double(x[2 * i])) + double(x[2 * i + 1]) * double(x[2 * i + 1]));
  }
  return {ad::TensorT<T>::from({n, 2}, std::move(x)), ad::TensorT<T>::from({n, 1}, std::move(y))};
}

std::string scratch(const std::string& name) {
  // tmpfs when there is one: the kill test is about processes, not power
  // loss, and fsync there costs nothing.
  static const ScratchDir dir("ad-checkpoint", std::filesystem::is_directory("/dev/shm")
                                                   ? std::filesystem::path("/dev/shm")
                                                   : std::filesystem::temp_directory_path());
  return dir.file(name);
}

enum class Kind { gd, sgd, adam };

template <class T>
std::unique_ptr<nn::Optimizer<T>> make_optimizer(Kind kind, const nn::NetworkT<T>& net) {
  switch (kind) {
    case Kind::gd: return std::make_unique<nn::GradientDescent<T>>(net.parameters(), T(0.05));
    case Kind::sgd: return std::make_unique<nn::SGD<T>>(net.parameters(), T(0.05), T(0.9), true);
    case Kind::adam: return std::make_unique<nn::Adam<T>>(net.parameters(), T(0.01));
  }
  return nullptr;
}

struct Outcome {
  std::vector<double> theta;
  nn::History history;
};

// One training run: a fresh 2-8-8-1 network (fixed seed), `epochs` epochs of
// mini-batches with shuffling and a validation split, optionally
// checkpointing to / resuming from `path`.
template <class T>
Outcome train(Kind kind, std::size_t epochs, const std::string& path = {}, std::size_t every = 0, bool resume = false) {
  const Data<T> d = make_data<T>(40);
  std::mt19937_64 rng(5);
  nn::NetworkT<T> net({2, 8, 8, 1}, nn::Activation::tanh, nn::Activation::identity, rng, nn::Init::xavier);
  auto opt = make_optimizer<T>(kind, net);
  nn::FitOptions o;
  o.max_epochs = epochs;
  o.batch_size = 8;
  o.validation_fraction = 0.2;
  o.tolerance = 0.0;
  o.patience = 1000000;
  o.seed = 99;
  o.checkpoint_path = path;
  o.checkpoint_every = every;
  o.resume = resume;
  Outcome out;
  out.history = nn::fit(net, d.X, d.Y, nn::mse_loss<T>, *opt, o);
  for (T v : net.flat_parameters()) out.theta.push_back(double(v));
  return out;
}

void check_identical(const Outcome& a, const Outcome& b) {
  REQUIRE(a.theta.size() == b.theta.size());
  for (std::size_t i = 0; i < a.theta.size(); ++i) CHECK(a.theta[i] == b.theta[i]);  // bit-identical
  CHECK(a.history.loss == b.history.loss);
  CHECK(a.history.validation_loss == b.history.validation_loss);
  CHECK(a.history.epochs == b.history.epochs);
  CHECK(a.history.stop_reason == b.history.stop_reason);
}

}  // namespace

TEST_CASE_TEMPLATE("a run stopped and resumed from its checkpoint ends bit-identical to an uninterrupted run", T, float,
                   double) {
  for (Kind kind : {Kind::gd, Kind::sgd, Kind::adam}) {
    CAPTURE(int(kind));
    const std::string path = scratch(fmt::format("resume-{}-{}.adck", sizeof(T), int(kind)));
    std::filesystem::remove(path);
    const Outcome whole = train<T>(kind, 60);
    const Outcome first = train<T>(kind, 23, path, 5);  // stops at 23: the final checkpoint is epoch 23
    CHECK(first.history.epochs == 23);
    const Outcome resumed = train<T>(kind, 60, path, 5, true);
    check_identical(whole, resumed);
    std::filesystem::remove(path);
  }
}

TEST_CASE("a checkpoint holds the parameters, the optimiser state and the training state exactly") {
  const std::string path = scratch("roundtrip.adck");
  const Outcome run = train<double>(Kind::adam, 7, path, 3);
  std::mt19937_64 rng(1234);  // other initial parameters: all must be overwritten
  nn::Network net({2, 8, 8, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::Adam<double> adam(net.parameters(), 0.5);
  const nn::TrainingState state = nn::load_checkpoint(path, net, adam);
  CHECK(state.epoch == 7);
  CHECK(state.loss == run.history.loss);
  CHECK(state.validation_loss == run.history.validation_loss);
  CHECK(state.stop_reason == "max_epochs");
  CHECK(net.flat_parameters() == run.theta);
  CHECK(adam.learning_rate() == 0.01);
  CHECK(adam.steps_taken() == 7 * 4);  // 32 training samples in batches of 8
  std::filesystem::remove(path);
}

TEST_CASE("a checkpoint for another network, optimiser or element type is refused, naming the mismatch") {
  const std::string path = scratch("mismatch.adck");
  train<double>(Kind::adam, 2, path, 1);
  std::mt19937_64 rng(1);
  nn::Network other({2, 4, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::Adam<double> adam_other(other.parameters());
  CHECK_THROWS_WITH_AS(nn::load_checkpoint(path, other, adam_other),
                       Contains("'layer1.W' was saved with shape [8, 2], the Network's has shape [4, 2]"),
                       std::runtime_error);
  nn::Network same({2, 8, 8, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::SGD<double> sgd(same.parameters(), 0.1);
  CHECK_THROWS_WITH_AS(nn::load_checkpoint(path, same, sgd), Contains("Adam optimiser"), std::runtime_error);
  nn::NetworkT<float> single({2, 8, 8, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::Adam<float> adam_float(single.parameters());
  CHECK_THROWS_WITH_AS(nn::load_checkpoint(path, single, adam_float), Contains("float64"), std::runtime_error);
  std::filesystem::remove(path);
}

TEST_CASE("damaged checkpoints are refused with the reason") {
  const std::string path = scratch("damaged.adck");
  train<double>(Kind::sgd, 2, path, 1);
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto write = [&](const std::vector<char>& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size()));
  };
  std::mt19937_64 rng(1);
  nn::Network net({2, 8, 8, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::SGD<double> sgd(net.parameters(), 0.1, 0.9);
  for (std::size_t cut : {std::size_t{0}, std::size_t{3}, std::size_t{12}, good.size() / 2, good.size() - 1}) {
    write(std::vector<char>(good.begin(), good.begin() + std::ptrdiff_t(cut)));
    CHECK_THROWS_WITH_AS(nn::load_checkpoint(path, net, sgd), Contains("truncated"), std::runtime_error);
  }
  std::vector<char> flipped = good;
  flipped[good.size() / 2] ^= 0x10;
  write(flipped);
  CHECK_THROWS_WITH_AS(nn::load_checkpoint(path, net, sgd), Contains("checksum"), std::runtime_error);
  std::vector<char> version = good;
  version[4] = 9;
  write(version);
  CHECK_THROWS_WITH_AS(nn::load_checkpoint(path, net, sgd), Contains("version 9"), std::runtime_error);
  std::vector<char> model = good;
  model[0] = 'X';
  write(model);
  CHECK_THROWS_WITH_AS(nn::load_checkpoint(path, net, sgd), Contains("not a checkpoint"), std::runtime_error);
  std::filesystem::remove(path);
  CHECK_THROWS_WITH_AS(nn::load_checkpoint(path, net, sgd), Contains("cannot open"), std::runtime_error);
}

TEST_CASE("checkpoint options without a path are refused") {
  const Data<double> d = make_data<double>(8);
  std::mt19937_64 rng(1);
  nn::Network net({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::GradientDescent<double> gd(net.parameters(), 0.1);
  CHECK_THROWS_WITH_AS(nn::fit(net, d.X, d.Y, nn::mse_loss<double>, gd, {.max_epochs = 2, .checkpoint_every = 1}),
                       Contains("checkpoint_path"), std::invalid_argument);
}

TEST_CASE("a training process killed at random moments leaves a checkpoint that resumes to the uninterrupted result") {
  constexpr std::size_t epochs = 300;
  const Outcome whole = train<double>(Kind::adam, epochs);
  std::mt19937_64 rng(2024);
  std::size_t resumed_mid_run = 0;
  for (int trial = 0; trial < 6; ++trial) {
    const std::string path = scratch(fmt::format("killed-{}.adck", trial));
    std::filesystem::remove(path);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // The child trains, checkpointing every epoch, until it is killed.
      try {
        for (;;) train<double>(Kind::adam, epochs, path, 1, true);
      } catch (...) {
      }
      ::_exit(3);
    }
    // Wait for a first checkpoint, then kill the child at a random moment.
    for (int waited = 0; waited < 2000 && !std::filesystem::exists(path); ++waited)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 60000)(rng)));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFSIGNALED(status));
    REQUIRE(std::filesystem::exists(path));
    {
      std::mt19937_64 init(5);
      nn::Network net({2, 8, 8, 1}, nn::Activation::tanh, nn::Activation::identity, init, nn::Init::xavier);
      nn::Adam<double> adam(net.parameters(), 0.01);
      const nn::TrainingState state = nn::load_checkpoint(path, net, adam);  // never throws: always whole
      if (state.epoch < epochs) ++resumed_mid_run;
      MESSAGE(fmt::format("trial {}: killed with a checkpoint at epoch {}", trial, state.epoch));
    }
    check_identical(whole, train<double>(Kind::adam, epochs, path, 1, true));
    // No temporary file is left behind except possibly the one being written when killed.
    std::size_t leftovers = 0;
    for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path()))
      if (entry.path().filename().string().rfind(fmt::format("killed-{}.adck.tmp", trial), 0) == 0) ++leftovers;
    CHECK(leftovers <= 1);
    std::filesystem::remove(path);
  }
  CHECK(resumed_mid_run > 0);
}

namespace {

// A checkpoint's bytes, changed and given a valid checksum again, as a
// crafted file would be.
struct CheckpointBytes {
  std::vector<std::uint8_t> bytes;
  explicit CheckpointBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::size_t find(const std::vector<std::uint8_t>& part) const {
    const auto at = std::search(bytes.begin(), bytes.end(), part.begin(), part.end());
    REQUIRE(at != bytes.end());
    return static_cast<std::size_t>(at - bytes.begin());
  }
  void write(const std::string& path) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::size_t i = 0; i + 8 < bytes.size(); ++i) {
      h ^= bytes[i];
      h *= 0x100000001b3ull;
    }
    for (std::size_t i = 0; i < 8; ++i, h >>= 8) bytes[bytes.size() - 8 + i] = std::uint8_t(h & 0xFF);
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }
};

std::vector<std::uint8_t> little_endian(std::uint64_t v) {
  std::vector<std::uint8_t> out;
  for (int i = 0; i < 8; ++i, v >>= 8) out.push_back(std::uint8_t(v & 0xFF));
  return out;
}

// A 2-3-1 tanh/identity network, SGD, and a valid state over 4 samples.
struct SmallRun {
  std::mt19937_64 init{3};
  nn::Network net{{2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, init};
  nn::SGD<double> sgd{net.parameters(), 0.1};
  nn::TrainingState state;
  SmallRun() {
    std::ostringstream rng;
    rng << std::mt19937_64(42);
    state.rng = rng.str();
    state.order = {2, 0, 3, 1};
  }
};

}  // namespace

TEST_CASE("a checkpoint whose RNG state is not a std::mt19937_64 state is refused by save and by load") {
  const std::string path = scratch("rng.adck");
  SmallRun run;
  for (const std::string& garbage :
       {std::string{}, std::string("1 2 3"), run.state.rng + " 7", "x" + run.state.rng}) {
    nn::TrainingState bad = run.state;
    bad.rng = garbage;
    CHECK_THROWS_WITH_AS(
        nn::save_checkpoint(path, run.net, run.sgd, bad),
        Contains(("not saving to '" + path + "': the RNG state is not a std::mt19937_64 state").c_str()),
        std::invalid_argument);
  }
  CHECK_FALSE(std::filesystem::exists(path));
  nn::save_checkpoint(path, run.net, run.sgd, run.state);
  CheckpointBytes file(path);
  const std::vector<std::uint8_t> text(run.state.rng.begin(), run.state.rng.end());
  file.bytes[file.find(text) + 3] = 'z';  // a letter inside the first number
  file.write(path);
  CHECK_THROWS_WITH_AS(
      nn::load_checkpoint(path, run.net, run.sgd),
      Contains(("nn::load_checkpoint: '" + path + "': the RNG state is not a std::mt19937_64 state").c_str()),
      std::runtime_error);
  std::filesystem::remove(path);
}

TEST_CASE("a checkpoint whose sample order is not a permutation is refused by save and by load") {
  const std::string path = scratch("order.adck");
  SmallRun run;
  nn::TrainingState bad = run.state;
  bad.order = {2, 0, 2, 1};
  CHECK_THROWS_WITH_AS(
      nn::save_checkpoint(path, run.net, run.sgd, bad),
      Contains("the sample order is not a permutation of 0 .. 3: entry 2 is 2, which came earlier"),
      std::invalid_argument);
  bad.order = {2, 0, 9, 1};
  CHECK_THROWS_WITH_AS(nn::save_checkpoint(path, run.net, run.sgd, bad), Contains("entry 2 is 9"),
                       std::invalid_argument);
  nn::save_checkpoint(path, run.net, run.sgd, run.state);
  CheckpointBytes file(path);
  std::vector<std::uint8_t> order = little_endian(4);
  for (std::uint64_t i : run.state.order) {
    const auto bytes = little_endian(i);
    order.insert(order.end(), bytes.begin(), bytes.end());
  }
  const std::size_t at = file.find(order);
  file.bytes[at + 8 + 2 * 8] = 7;  // entry 2 becomes 7
  file.write(path);
  CHECK_THROWS_WITH_AS(nn::load_checkpoint(path, run.net, run.sgd),
                       Contains("the sample order is not a permutation of 0 .. 3: entry 2 is 7"),
                       std::runtime_error);
  std::filesystem::remove(path);
}

TEST_CASE("a checkpoint resumed into a network with other activations or Heaviside policies is refused") {
  const std::string path = scratch("activations.adck");
  SmallRun run;
  nn::save_checkpoint(path, run.net, run.sgd, run.state);
  const std::vector<double> before = run.net.flat_parameters();
  std::mt19937_64 rng(3);
  nn::Network relu({2, 3, 1}, nn::Activation::relu, nn::Activation::identity, rng);
  nn::SGD<double> sgd(relu.parameters(), 0.1);
  CHECK_THROWS_WITH_AS(nn::load_checkpoint(path, relu, sgd),
                       Contains("layer 1 neuron 0 was saved with activation tanh, the network has relu"),
                       std::runtime_error);
  nn::Network policy({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  policy.layers()[0].set_heaviside_gradient(nn::HeavisideGradient::straight_through);
  nn::SGD<double> sgd_policy(policy.parameters(), 0.1);
  CHECK_THROWS_WITH_AS(
      nn::load_checkpoint(path, policy, sgd_policy),
      Contains("layer 1 was saved with Heaviside gradient policy zero, the network has straight_through"),
      std::runtime_error);
  CHECK(nn::load_checkpoint(path, run.net, run.sgd).order == run.state.order);
  CHECK(run.net.flat_parameters() == before);
  std::filesystem::remove(path);
}

TEST_CASE("a version-1 checkpoint (without activations) still loads") {
  const std::string path = scratch("version1.adck");
  SmallRun run;
  nn::save_checkpoint(path, run.net, run.sgd, run.state);
  CheckpointBytes file(path);
  // Version 2 put 1 + 3 and 1 + 1 bytes (policy, activations) after the 3 sizes.
  const std::size_t after_sizes = 16 + 3 * 8;
  REQUIRE(file.bytes[4] == 2);
  file.bytes[4] = 1;
  file.bytes.erase(file.bytes.begin() + std::ptrdiff_t(after_sizes),
                   file.bytes.begin() + std::ptrdiff_t(after_sizes + 6));
  file.write(path);
  const nn::TrainingState state = nn::load_checkpoint(path, run.net, run.sgd);
  CHECK(state.rng == run.state.rng);
  CHECK(state.order == run.state.order);
  std::filesystem::remove(path);
}
