// Threads: each thread records on its own tapes, so N threads training their
// own networks get exactly (bit for bit) the results of the same runs made
// one after another on one thread; the same for scalar Var tapes. scripts/test
// also runs this file under ThreadSanitizer (the AD_TSAN build).
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
// White-box: the tape's own counters (slots, live nodes), private to the library.
#include <autodiff/src/tensor_tape.hpp>
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
      f += 100.0 * ad::pow(x[i + 1] - x[i] * x[i], 2.0) + ad::pow(1.0 - x[i], 2.0) +
           ad::sin(x[i]) * ad::exp(x[i + 1] / 4.0);
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

TEST_CASE(
    "threads training their own networks on the default tensor tape match the serial runs bit for bit") {
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

namespace {

// Restores the gemm thread setting when a test case ends.
struct GemmThreads {
  explicit GemmThreads(int threads) : before(ad::linalg::get_gemm_threads()) {
    ad::linalg::set_gemm_threads(threads);
  }
  ~GemmThreads() { ad::linalg::set_gemm_threads(before); }
  GemmThreads(const GemmThreads&) = delete;
  GemmThreads& operator=(const GemmThreads&) = delete;
  int before;
};

// The ranges parallel_for hands out, each as (begin, end, thread).
std::vector<std::array<std::size_t, 2>> ranges_of(std::size_t n, std::size_t min_range) {
  std::mutex lock;
  std::vector<std::array<std::size_t, 2>> seen;
  ad::parallel_for(n, min_range, [&](std::size_t begin, std::size_t end) {
    std::lock_guard guard(lock);
    seen.push_back({begin, end});
  });
  std::sort(seen.begin(), seen.end());
  return seen;
}

}  // namespace

TEST_CASE(
    "parallel_for covers [0, n) once, in ranges of whole cache lines, and stays on one thread when small") {
  GemmThreads two(2);
  for (const std::size_t n : {std::size_t{100000}, std::size_t{65537}, std::size_t{40000}}) {
    CAPTURE(n);
    const auto seen = ranges_of(n, 16384);
    REQUIRE(seen.size() == 2);
    CHECK(seen[0][0] == 0);
    CHECK(seen[0][1] == seen[1][0]);
    CHECK(seen[1][1] == n);
    CHECK(seen[1][0] % 16 == 0);
    CHECK(seen[0][1] - seen[0][0] >= 16384);
  }
  CHECK(ranges_of(20000, 16384) == std::vector<std::array<std::size_t, 2>>{{0, 20000}});  // < 2 * min_range
  CHECK(ranges_of(0, 16).empty());
  {
    GemmThreads one(1);
    CHECK(ranges_of(1000000, 16).size() == 1);
  }
  // Every element written exactly once, by whichever thread.
  std::vector<int> hits(300000, 0);
  ad::parallel_for(hits.size(), 1024, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) ++hits[i];
  });
  CHECK(std::count(hits.begin(), hits.end(), 1) == static_cast<std::ptrdiff_t>(hits.size()));
}

TEST_CASE(
    "parallel_for inside parallel_for, and a gemm inside it, run the inner work on the calling thread") {
  GemmThreads two(2);
  std::vector<long> sums(2, 0);
  std::vector<float> a(256 * 256, 1.0f), b(256 * 256, 0.5f), c(2 * 256 * 256, 0.0f);
  ad::parallel_for(2 * 16384, 16384, [&](std::size_t begin, std::size_t) {
    const std::size_t part = begin == 0 ? 0 : 1;
    ad::parallel_for(100000, 16, [&](std::size_t inner_begin, std::size_t inner_end) {
      for (std::size_t i = inner_begin; i < inner_end; ++i) sums[part] += static_cast<long>(i);
    });
    ad::linalg::gemm<float>(false, false, 256, 256, 256, 1.0f, a.data(), 256, b.data(), 256, 0.0f,
                            c.data() + part * 256 * 256, 256);
  });
  CHECK(sums[0] == 100000L * 99999L / 2);
  CHECK(sums[1] == sums[0]);
  CHECK(std::all_of(c.begin(), c.end(), [](float v) { return v == 128.0f; }));
}

TEST_CASE("optimiser steps split over two threads give the one-thread results bit for bit") {
  auto train = [](int threads) {
    GemmThreads setting(threads);
    std::mt19937_64 rng(5);
    nn::NetworkT<float> net({64, 512, 1}, nn::Activation::tanh, nn::Activation::identity,
                            rng);  // 33k weights
    nn::Adam<float> adam(net.parameters(), 1e-3f);
    const ad::TensorF X = ad::TensorF::randn({16, 64}, rng), Y = ad::TensorF::randn({16, 1}, rng);
    for (int step = 0; step < 3; ++step) {
      adam.zero_grad();
      nn::mse_loss(net(X), Y).backward();
      adam.step();
    }
    std::vector<std::uint32_t> bits;
    for (const auto& p : net.parameters())
      for (const float v : p.values()) bits.push_back(std::bit_cast<std::uint32_t>(v));
    return bits;
  };
  CHECK(train(2) == train(1));
}

TEST_CASE(
    "large element-wise ops split over two threads give the one-thread values and gradients bit for bit") {
  auto run = [](int threads) {
    GemmThreads setting(threads);
    std::mt19937_64 rng(11);
    ad::TensorF x = ad::TensorF::randn({300, 333}, rng).requires_grad(true);  // 99,900 elements
    const ad::TensorF seed = ad::TensorF::randn({300, 333}, rng);
    const ad::TensorF y = ad::tanh(x) + ad::exp(x * 0.1f) + ad::relu(x) + ad::logistic(x) + ad::sin(x);
    ad::sum(y * seed).backward();
    std::vector<std::uint32_t> bits;
    for (const float v : y.values()) bits.push_back(std::bit_cast<std::uint32_t>(v));
    const ad::TensorF g = x.grad();
    for (const float v : g.values()) bits.push_back(std::bit_cast<std::uint32_t>(v));
    return bits;
  };
  CHECK(run(2) == run(1));
}

// ---- recorded tensors and shared leaves across threads (issue 14, item 4) ----

TEST_CASE("a recorded tensor dropped on another thread leaves its recording thread's tape consistent") {
  ad::Tensor W = ad::Tensor::from({3}, {1.0, 2.0, 3.0}).requires_grad(true);
  std::vector<ad::Tensor> handed_over;
  for (int i = 0; i < 200; ++i) handed_over.push_back(ad::tanh(W * static_cast<double>(i)));
  std::mutex lock;
  std::jthread dropper([&] {
    for (int i = 0; i < 200; ++i) {
      ad::Tensor t;
      {
        std::lock_guard guard(lock);
        t = std::move(handed_over.back());
        handed_over.pop_back();
      }
      // t dies here, on this thread, while the main thread records and sweeps
    }
  });
  for (int i = 0; i < 200; ++i) {  // meanwhile: record and sweep on the same tape
    W.zero_grad();
    ad::sum(W * W).backward();
    CHECK(W.grad().values()[2] == 6.0);
  }
  dropper.join();
  CHECK(ad::detail::current_tensor_tape()->live_nodes() == 0);
}

TEST_CASE("backward() on a tensor recorded by another thread throws logic_error naming the op and the rule") {
  ad::Tensor W = ad::Tensor::from({2}, {1.0, 2.0}).requires_grad(true);
  ad::Tensor loss = ad::sum(ad::exp(W));
  std::string message;
  std::jthread([&] {
    try {
      loss.backward();
    } catch (const std::logic_error& e) {
      message = e.what();
    }
  }).join();
  CHECK(message.find("ad::Tensor::backward") != std::string::npos);
  CHECK(message.find("sum") != std::string::npos);
  CHECK(message.find("another thread") != std::string::npos);
  loss.backward();  // still fine on its own thread
  CHECK(W.grad().values()[0] == doctest::Approx(std::exp(1.0)));
}

TEST_CASE("the recorded (second-order) sweeps refuse a tensor recorded by another thread too") {
  ad::Tensor W = ad::Tensor::from({2}, {1.0, 2.0}).requires_grad(true);
  ad::Tensor loss = ad::sum(ad::exp(W));
  std::string recorded;
  std::jthread([&] {
    try {
      (void)ad::gradient_recorded(loss, {W});
    } catch (const std::logic_error& e) {
      recorded = e.what();
    }
  }).join();
  CHECK(recorded.find("ad::gradient_recorded") != std::string::npos);
  CHECK(recorded.find("another thread") != std::string::npos);
  const auto g = ad::gradient_recorded(loss, {W});  // fine on its own thread
  CHECK(g[0].values()[1] == doctest::Approx(std::exp(2.0)));
}

TEST_CASE("two threads sweeping into a shared leaf add every contribution, one sweep at a time") {
  ad::Tensor W = ad::Tensor::from({2}, {1.0, -1.0}).requires_grad(true);  // shared read-only
  constexpr int rounds = 300;
  auto work = [&](double scale) {
    for (int i = 0; i < rounds; ++i) {
      ad::Tensor loss = ad::sum(W * scale + ad::square(W) * 0.5);  // dloss/dW = scale + W
      loss.backward();
    }
  };
  { std::jthread a(work, 1.0), b(work, 2.0); }
  CHECK(W.grad().values()[0] == rounds * (1.0 + 1.0) + rounds * (2.0 + 1.0));
  CHECK(W.grad().values()[1] == rounds * (1.0 - 1.0) + rounds * (2.0 - 1.0));
}

TEST_CASE("a tape made on one thread and destroyed on another leaves the first thread recording correctly") {
  auto tape = std::make_unique<ad::Tape>();
  ad::Tensor W = ad::Tensor::from({2}, {1.0, 2.0}).requires_grad(true);
  ad::Tensor on_tape = W * 2.0;  // recorded on `tape`
  std::jthread([&] { tape.reset(); }).join();
  CHECK(ad::Tape::active() == nullptr);
  ad::Tensor loss = ad::sum(W * 3.0);  // on the default tape again
  loss.backward();
  CHECK(W.grad().values()[1] == 3.0);
  CHECK_THROWS_AS(ad::sum(on_tape).backward(), std::logic_error);  // its history went with the tape
}
