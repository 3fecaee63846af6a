// Tensor ops at the op level: the fixed cost of a recorded tiny op with its
// share of the backward sweep (target: <= 100 ns, BENCHMARKS.md "Per-op
// overhead"), element-wise throughput on large tensors, and matmul GFLOP/s
// through the tensor layer (the raw kernel is bench_gemm).
//
//   bench_tensor_ops [--quick]
#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <string_view>
#include <vector>

#include <autodiff/autodiff.hpp>

namespace {

template <class T>
void keep(const T& value) {
  asm volatile("" : : "g"(&value) : "memory");
}

struct Stats {
  double median, min, max;
};

// Median, min and max over `reps` samples of the per-call time in ns; each
// sample runs `inner` calls.
template <class F>
Stats time_ns(F&& f, int reps, int inner) {
  for (int i = 0; i < inner; ++i) f();  // warm-up
  std::vector<double> samples;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < inner; ++i) f();
    const auto t1 = std::chrono::steady_clock::now();
    samples.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / inner);
  }
  std::sort(samples.begin(), samples.end());
  return {samples[samples.size() / 2], samples.front(), samples.back()};
}

void per_op_overhead(int reps) {
  fmt::print("== per-op overhead: a chain of recorded 2x2 adds, then one backward ==\n");
  std::mt19937_64 rng(1);
  ad::Tensor a = ad::Tensor::randn({2, 2}, rng).requires_grad(true);
  ad::Tensor b = ad::Tensor::randn({2, 2}, rng);
  constexpr int chain = 1000;
  auto step = [&] {
    ad::Tensor x = a;
    for (int i = 0; i < chain; ++i) x = x + b;
    ad::sum(x).backward();
    a.zero_grad();
    keep(x);
  };
  const Stats s = time_ns(step, reps, 10);
  fmt::print("  {:.0f} ns per recorded op incl. its backward (median; min {:.0f}, max {:.0f}; 1 thread)\n\n",
             s.median / chain, s.min / chain, s.max / chain);
}

void elementwise_throughput(int reps) {
  fmt::print("== element-wise throughput (forward + backward), 1 thread ==\n");
  std::mt19937_64 rng(2);
  for (std::size_t n : {std::size_t{1} << 12, std::size_t{1} << 20}) {
    ad::Tensor x = ad::Tensor::randn({n}, rng).requires_grad(true);
    ad::TensorF xf = ad::TensorF::randn({n}, rng).requires_grad(true);
    auto run_d = [&] {
      ad::sum(ad::tanh(x) * x).backward();
      x.zero_grad();
    };
    auto run_f = [&] {
      ad::sum(ad::tanh(xf) * xf).backward();
      xf.zero_grad();
    };
    const int inner = n > 100000 ? 2 : 50;
    const Stats d = time_ns(run_d, reps, inner), f = time_ns(run_f, reps, inner);
    fmt::print("  n = {:>8}: double {:6.2f} ns/element, float {:6.2f} ns/element (tanh, mul, sum + backward)\n", n,
               d.median / double(n), f.median / double(n));
  }
  fmt::print("\n");
}

void matmul_throughput(int reps) {
  fmt::print("== matmul through the tensor layer (forward + backward = 3 products), backend {} ==\n",
             ad::linalg::gemm_backend());
  std::mt19937_64 rng(3);
  for (std::size_t n : {16, 128, 512}) {
    ad::TensorF a = ad::TensorF::randn({n, n}, rng).requires_grad(true);
    ad::TensorF b = ad::TensorF::randn({n, n}, rng).requires_grad(true);
    auto run = [&] {
      ad::sum(ad::matmul(a, b)).backward();
      a.zero_grad();
      b.zero_grad();
    };
    const int inner = n >= 512 ? 2 : (n >= 128 ? 20 : 500);
    const Stats s = time_ns(run, reps, inner);
    const double flops = 3.0 * 2.0 * double(n) * double(n) * double(n);
    fmt::print("  float {:>4}^3: {:7.1f} GFLOP/s (median; min-max time {:.0f}-{:.0f} ns)\n", n, flops / s.median,
               s.min, s.max);
  }
  fmt::print("\n");
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string_view(argv[1]) == "--quick";
  const int reps = quick ? 3 : 9;
  ad::linalg::set_gemm_threads(1);
  per_op_overhead(reps);
  elementwise_throughput(reps);
  matmul_throughput(reps);
  return 0;
}
