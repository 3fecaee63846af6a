// Threads: each thread records on its own tapes, so N threads training their
// own networks get exactly (bit for bit) the results of the same runs made
// one after another on one thread; the same for scalar Var tapes. scripts/test
// also runs this file under ThreadSanitizer (the AD_TSAN build).
#include <cmath>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

constexpr int thread_count = 4;

// One training run, seeded by `id`: a 2-8-8-1 tanh network fitted by Adam in
// mini-batches; with `own_tape`, inside an explicit ad::Tape (else on the
// thread's default tensor tape). Returns the final parameters and losses.
std::vector<double> training_run(int id, bool own_tape) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(100 + id));
  const ad::Tensor X = ad::Tensor::rand({24, 2}, rng);
  const ad::Tensor Y = ad::sum(ad::cos(X * 3.0), {1}, true);
  nn::Network net({2, 8, 8, 1}, nn::Activation::tanh, nn::Activation::identity, rng, nn::Init::xavier);
  nn::Adam<double> opt(net.parameters(), 0.01);
  nn::FitOptions o;
  o.max_epochs = 60;
  o.batch_size = 6;
  o.seed = static_cast<std::uint64_t>(id);
  o.patience = 1000;
  std::vector<double> result;
  auto fit = [&] {
    const nn::History h = nn::fit(net, X, Y, nn::mse_loss<double>, opt, o);
    result = net.flat_parameters();
    result.insert(result.end(), h.loss.begin(), h.loss.end());
  };
  if (own_tape) {
    ad::Tape tape;
    fit();
  } else {
    fit();
  }
  return result;
}

// Many gradients of an extended Rosenbrock function on a scalar tape.
std::vector<double> scalar_run(int id) {
  std::vector<double> out;
  ad::Tape tape;
  for (int round = 0; round < 200; ++round) {
    tape.clear();
    std::vector<ad::Var> x;
    for (int i = 0; i < 8; ++i) x.emplace_back(0.1 * (id + 1) + 0.01 * (i + round));
    ad::Var f = 0.0;
    for (int i = 0; i + 1 < 8; ++i)
      f += 100.0 * ad::pow(x[i + 1] - x[i] * x[i], 2.0) + ad::pow(1.0 - x[i], 2.0) + ad::sin(x[i]) * ad::exp(x[i + 1] / 4.0);
    const std::vector<double> g = ad::gradient(f, x);
    out.push_back(f.value());
    out.insert(out.end(), g.begin(), g.end());
  }
  return out;
}

template <class Run>
void check_parallel_equals_serial(Run run) {
  std::vector<std::vector<double>> serial(thread_count), parallel(thread_count);
  for (int id = 0; id < thread_count; ++id) serial[id] = run(id);
  {
    std::vector<std::jthread> threads;
    for (int id = 0; id < thread_count; ++id) threads.emplace_back([&, id] { parallel[id] = run(id); });
  }
  for (int id = 0; id < thread_count; ++id) {
    CAPTURE(id);
    REQUIRE(parallel[id].size() == serial[id].size());
    CHECK(parallel[id] == serial[id]);  // bit-identical
  }
}

}  // namespace

TEST_CASE("threads training their own networks on the default tensor tape match the serial runs bit for bit") {
  check_parallel_equals_serial([](int id) { return training_run(id, false); });
}

TEST_CASE("threads training their own networks inside their own ad::Tape match the serial runs bit for bit") {
  check_parallel_equals_serial([](int id) { return training_run(id, true); });
}

TEST_CASE("scalar Var tapes on parallel threads match the serial results bit for bit") {
  check_parallel_equals_serial([](int id) { return scalar_run(id); });
}

TEST_CASE("a Var of another thread's tape is refused, not raced on") {
  ad::Tape tape;
  ad::Var x = 2.0;
  bool threw = false;
  std::jthread([&] {
    ad::Tape mine;
    try {
      (void)(x * 3.0);
    } catch (const std::logic_error&) {
      threw = true;
    }
  }).join();
  CHECK(threw);
}
