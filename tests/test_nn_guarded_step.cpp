// Specification: Optimizer::guarded_step (what nn::fit's guard_steps runs).
// A finite step is exactly step(); a block of guard_block values whose
// gradient is not finite, or whose update would make a value non-finite, keeps
// its values bit for bit while every other block takes exactly step()'s
// update, the same on one thread and on two (parameters large enough to be
// split into ranges and blocks).
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
#include <autodiff/gemm.hpp>
#include <nn/nn.hpp>

namespace {

using Problem = nn::GuardedStepResult::Problem;
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();

// Parameters of 100,000, 7 and 40,000 values: the first and last span several
// parallel ranges and guard blocks.
std::vector<ad::Tensor> make_parameters(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<ad::Tensor> ps;
  for (std::size_t n : {100000, 7, 40000}) {
    ad::Tensor p = ad::Tensor::randn(ad::Shape{n}, rng);
    p.requires_grad(true);
    ps.push_back(p);
  }
  return ps;
}

// Gives each parameter the gradient c_k (one backward of sum_k sum(c_k * p_k)).
void set_gradients(nn::Optimizer<double>& opt, const std::vector<ad::Tensor>& ps,
                   const std::vector<std::vector<double>>& c) {
  opt.zero_grad();
  ad::Tensor total = ad::Tensor::scalar(0.0);
  for (std::size_t k = 0; k < ps.size(); ++k)
    total = total + ad::sum(ps[k] * ad::Tensor::from(ps[k].shape(), c[k]));
  total.backward();
}

std::vector<std::vector<double>> gradients(const std::vector<ad::Tensor>& ps, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<std::vector<double>> c;
  for (const auto& p : ps) {
    c.emplace_back(p.numel());
    for (double& v : c.back()) v = normal(rng);
  }
  return c;
}

std::vector<std::vector<double>> snapshot(const std::vector<ad::Tensor>& ps) {
  std::vector<std::vector<double>> out;
  for (const auto& p : ps) out.emplace_back(p.values().begin(), p.values().end());
  return out;
}

bool bitwise_equal(const std::vector<std::vector<double>>& a, const std::vector<std::vector<double>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k)
    if (a[k].size() != b[k].size() ||
        std::memcmp(a[k].data(), b[k].data(), a[k].size() * sizeof(double)) != 0)
      return false;
  return true;
}

struct Threads {
  explicit Threads(int n) : before(ad::linalg::get_gemm_threads()) { ad::linalg::set_gemm_threads(n); }
  ~Threads() { ad::linalg::set_gemm_threads(before); }
  int before;
};

}  // namespace

TEST_CASE("a finite guarded step is exactly step(), for Adam and SGD with momentum, on 1 and 2 threads") {
  for (int threads : {1, 2}) {
    Threads use(threads);
    for (int rule = 0; rule < 2; ++rule) {
      CAPTURE(threads);
      CAPTURE(rule);
      auto a = make_parameters(1), b = make_parameters(1);
      std::unique_ptr<nn::Optimizer<double>> plain, guarded;
      if (rule == 0) {
        plain = std::make_unique<nn::Adam<double>>(a, 1e-2);
        guarded = std::make_unique<nn::Adam<double>>(b, 1e-2);
      } else {
        plain = std::make_unique<nn::SGD<double>>(a, 0.1, 0.9);
        guarded = std::make_unique<nn::SGD<double>>(b, 0.1, 0.9);
      }
      for (std::uint64_t step = 0; step < 3; ++step) {
        const auto c = gradients(a, 10 + step);
        set_gradients(*plain, a, c);
        set_gradients(*guarded, b, c);
        plain->step();
        const nn::GuardedStepResult r = guarded->guarded_step();
        CHECK(r.ok());
        CHECK(bitwise_equal(snapshot(a), snapshot(b)));
      }
    }
  }
}

TEST_CASE("blocks with a non-finite gradient keep their values, the others take step()'s update") {
  constexpr std::size_t block = nn::Optimizer<double>::guard_block;
  std::vector<std::vector<double>> after_one_thread;
  for (int threads : {1, 2}) {
    Threads use(threads);
    CAPTURE(threads);
    auto ps = make_parameters(2), reference = make_parameters(2);
    nn::Adam<double> opt(ps, 1e-2), plain(reference, 1e-2);
    const auto first = gradients(ps, 3);
    set_gradients(opt, ps, first);
    set_gradients(plain, reference, first);
    REQUIRE(opt.guarded_step().ok());  // a first, finite step: the moments are not zero
    plain.step();
    auto c = gradients(ps, 4);
    c[2][39999] = not_a_number;  // the last value of the last parameter
    c[0][70000] = std::numeric_limits<double>::infinity();
    set_gradients(opt, ps, c);
    set_gradients(plain, reference, c);
    const auto before = snapshot(ps);
    const nn::GuardedStepResult r = opt.guarded_step();
    plain.step();
    CHECK(r.problem == Problem::gradient_not_finite);
    CHECK(r.parameter == 0);
    CHECK(r.parameters_finite);
    const auto after = snapshot(ps), expected = snapshot(reference);
    auto skipped = [&](std::size_t k, std::size_t i) {
      return (k == 0 && i / block == 70000 / block) || (k == 2 && i / block == 39999 / block);
    };
    std::size_t kept = 0, differ = 0, not_finite = 0;
    for (std::size_t k = 0; k < after.size(); ++k)
      for (std::size_t i = 0; i < after[k].size(); ++i) {
        not_finite += !std::isfinite(after[k][i]);
        if (skipped(k, i))
          kept += std::memcmp(&after[k][i], &before[k][i], sizeof(double)) == 0;
        else
          differ += std::memcmp(&after[k][i], &expected[k][i], sizeof(double)) != 0;
      }
    CHECK(kept ==
          block + (40000 - 39 * block));  // block 68 of parameter 0, the short last block of parameter 2
    CHECK(differ == 0);
    CHECK(not_finite == 0);
    if (threads == 1)
      after_one_thread = after;
    else
      CHECK(bitwise_equal(after, after_one_thread));
  }
}

TEST_CASE("a block whose update overflows keeps its values") {
  auto ps = make_parameters(5);
  nn::GradientDescent<double> opt(ps, 1e300);
  auto c = gradients(ps, 6);
  c[1][3] = 1e300;  // eta * g overflows to infinity in parameter 1 only
  set_gradients(opt, ps, c);
  const auto before = snapshot(ps);
  const nn::GuardedStepResult r = opt.guarded_step();
  CHECK(r.problem == Problem::value_not_finite);
  CHECK(r.parameter == 1);
  CHECK(r.parameters_finite);
  const auto after = snapshot(ps);
  CHECK(after[1] == before[1]);  // its one block, all 7 values
  CHECK(after[0] != before[0]);
  // The same step unguarded does write the infinity.
  opt.step();
  CHECK(std::isinf(ps[1].values()[3]));
}

namespace {
// A user-defined rule that writes its parameters itself, without
// for_each_parameter: the guard can only look at the result.
class HandWritten : public nn::Optimizer<double> {
 public:
  using nn::Optimizer<double>::Optimizer;
  void step() override {
    for (auto& p : parameters_) {
      const auto g = p.grad_values();
      const auto v = p.mutable_values();
      for (std::size_t i = 0; i < v.size(); ++i) v[i] = v[i] / g[i];  // 1/0 = inf where g is 0
    }
  }
};
}  // namespace

TEST_CASE(
    "a user-defined step() outside for_each_parameter is checked afterwards and reported as not finite") {
  std::vector<ad::Tensor> ps{ad::Tensor::from(ad::Shape{3}, {1.0, 2.0, 3.0})};
  ps[0].requires_grad(true);
  HandWritten opt(ps);
  set_gradients(opt, ps, {{1.0, 2.0, 4.0}});
  CHECK(opt.guarded_step().ok());
  set_gradients(opt, ps, {{1.0, 0.0, 1.0}});
  const nn::GuardedStepResult r = opt.guarded_step();
  CHECK(r.problem == Problem::value_not_finite);
  CHECK(r.parameter == 0);
  CHECK_FALSE(r.parameters_finite);
}
