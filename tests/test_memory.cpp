// Memory stays flat in long training loops: 10^4 steps of a 2-16-16-1 tanh
// network on tensors and of a small scalar model on a reused ad::Tape, with
// no growth of the recordings (tensor tape slots, scalar tape capacity) or of
// resident memory after the first steps. Leaks are LeakSanitizer's job: the
// sanitizer stage of scripts/test runs every test with detect_leaks=1.
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <random>
#include <vector>

#include <unistd.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <autodiff/autodiff.hpp>
// White-box: the tape's own counters (slots, live nodes), private to the library.
#include <autodiff/src/tensor_tape.hpp>
#include <nn/nn.hpp>

namespace {

#if defined(__SANITIZE_ADDRESS__)
// ASan's quarantine keeps freed blocks resident on purpose: RSS says nothing there.
constexpr bool check_resident = false;
#else
constexpr bool check_resident = true;
#endif

// Resident set size in bytes, from /proc/self/statm (its second field, in pages).
std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int got = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return got == 2 ? resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

constexpr std::size_t steps = 10000;
constexpr std::size_t warm_up = 1000;  // several cycles of the tensor tape's slot compaction
constexpr std::size_t resident_tolerance = 2u << 20;  // 2 MiB: allocator noise, not a leak

}  // namespace

TEST_CASE("10^4 tensor training steps of a 2-16-16-1 tanh network keep the tape and resident memory flat") {
  std::mt19937_64 rng(7);
  nn::Network net({2, 16, 16, 1}, nn::Activation::tanh, nn::Activation::identity, rng, nn::Init::xavier);
  const ad::Tensor X = ad::Tensor::randn({32, 2}, rng);
  const ad::Tensor Y = ad::sum(ad::sin(X), {1}, true);
  nn::SGD<double> opt(net.parameters(), 0.05, 0.9);
  std::size_t max_slots_warm_up = 0, resident_after_warm_up = 0, max_slots = 0;
  double first_loss = 0, last_loss = 0;
  for (std::size_t step = 0; step < steps; ++step) {
    opt.zero_grad();
    ad::Tensor loss = nn::mse_loss(net(X), Y);
    loss.backward();
    opt.step();
    const std::size_t slots = ad::detail::current_tensor_tape()->slots();
    if (step == 0) first_loss = loss.item();
    last_loss = loss.item();
    if (step < warm_up) max_slots_warm_up = std::max(max_slots_warm_up, slots);
    if (step == warm_up) resident_after_warm_up = resident_bytes();
    if (step >= warm_up) max_slots = std::max(max_slots, slots);
  }
  CHECK(last_loss < first_loss);  // it did learn
  // Dead slots are compacted away periodically: the list saw-tooths below a
  // fixed bound instead of growing.
  CHECK(max_slots <= max_slots_warm_up);
  CHECK(ad::detail::current_tensor_tape()->live_nodes() == 0);
  const std::size_t resident_end = resident_bytes();
  MESSAGE(fmt::format("tensor tape slots: max {} in the first {} steps, max {} after; resident {} KiB -> {} KiB",
                      max_slots_warm_up, warm_up, max_slots,
                      resident_after_warm_up >> 10, resident_end >> 10));
  if (check_resident) CHECK(resident_end <= resident_after_warm_up + resident_tolerance);
}

TEST_CASE("10^4 scalar training steps on one reused tape keep its capacity and resident memory flat") {
  // A 2-4-1 tanh network written with Vars, trained by gradient descent on
  // four points; the tape is cleared and re-recorded every step.
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal(0.0, 0.5);
  std::vector<double> theta(4 * 2 + 4 + 4 + 1);
  for (double& t : theta) t = normal(rng);
  const double xs[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
  const double ys[4] = {0, 1, 1, 0};
  ad::Tape tape;
  std::vector<double> grad(theta.size());
  std::size_t capacity_after_warm_up = 0, resident_after_warm_up = 0, max_capacity = 0;
  double first_loss = 0, last_loss = 0;
  for (std::size_t step = 0; step < steps; ++step) {
    tape.clear();
    std::vector<ad::Var> p(theta.begin(), theta.end());
    ad::Var loss = 0.0;
    for (int i = 0; i < 4; ++i) {
      ad::Var out = p[16];
      for (int j = 0; j < 4; ++j) {
        const ad::Var h = ad::tanh(p[2 * j] * xs[i][0] + p[2 * j + 1] * xs[i][1] + p[8 + j]);
        out += p[12 + j] * h;
      }
      loss += (out - ys[i]) * (out - ys[i]);
    }
    ad::gradient(loss, p, grad);
    for (std::size_t k = 0; k < theta.size(); ++k) theta[k] -= 0.1 * grad[k];
    if (step == 0) first_loss = loss.value();
    last_loss = loss.value();
    if (step == warm_up) {
      capacity_after_warm_up = tape.capacity();
      resident_after_warm_up = resident_bytes();
    }
    if (step > warm_up) max_capacity = std::max(max_capacity, tape.capacity());
  }
  CHECK(last_loss < first_loss);
  CHECK(max_capacity == capacity_after_warm_up);
  const std::size_t resident_end = resident_bytes();
  MESSAGE(fmt::format("scalar tape capacity {} -> {} nodes, resident {} KiB -> {} KiB", capacity_after_warm_up,
                      max_capacity, resident_after_warm_up >> 10, resident_end >> 10));
  if (check_resident) CHECK(resident_end <= resident_after_warm_up + resident_tolerance);
}
