// The vectorised element-wise kernels (autodiff/src/vector_math.hpp) against
// the scalar paths they would replace, in ns per element for arrays of 4096:
//   ours      - ad::detail::{exp,tanh,logistic}_array on the best instruction set
//   op table  - what the tensor ops do now: ad::ops::Op::value(double) per element,
//               cast to T (for float, the maths runs in double)
//   std T     - std::exp / std::tanh / 1 / (1 + std::exp(-x)) in T itself (expf, tanhf for float)
// The three alternate within each repetition (A B C A B C ...), each sample a
// batch of about 1 ms; median, min and max over the repetitions; 1 thread.
//
//   bench_vector_math [--reps N] [--n N] [--isa avx512|avx2|baseline]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include <autodiff/format.hpp>
#include <autodiff/scalar_ops.hpp>
#include <autodiff/src/vector_math.hpp>

namespace {

template <class T>
void keep(const T& value) {
  asm volatile("" : : "g"(&value) : "memory");
}

struct Stats {
  double median, min, max;
};

Stats summarise(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return {samples[samples.size() / 2], samples.front(), samples.back()};
}

// ns per element of one call of f, averaged over `inner` calls.
template <class F>
double sample_ns(F&& f, int inner, std::size_t n) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < inner; ++i) f();
  const auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / inner / double(n);
}

template <class T>
std::vector<T> inputs(std::size_t n, double low, double high) {
  std::vector<T> x(n);
  std::uint64_t state = 42;
  for (T& v : x) {
    state = state * 6364136223846793005u + 1442695040888963407u;
    v = static_cast<T>(low + (high - low) * (double(state >> 11) * 0x1p-53));
  }
  return x;
}

template <class T>
T std_logistic(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

template <class T, class Ours, class Op, class Std>
void compare(const char* name, double low, double high, std::size_t n, int reps, Ours ours, Op, Std in_t) {
  const std::vector<T> x = inputs<T>(n, low, high);
  std::vector<T> y(n);
  auto run_ours = [&] {
    ours(x.data(), y.data(), n);
    keep(y);
  };
  auto run_table = [&] {
    for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<T>(Op::value(x[i]));
    keep(y);
  };
  auto run_std = [&] {
    for (std::size_t i = 0; i < n; ++i) y[i] = in_t(x[i]);
    keep(y);
  };
  // Each sample is a batch of about 1 ms, sized from a warm-up batch.
  auto batch = [&](auto& run) {
    return std::max(1, static_cast<int>(1e6 / (sample_ns(run, 4, n) * double(n))));
  };
  const int inner_ours = batch(run_ours), inner_table = batch(run_table), inner_std = batch(run_std);
  std::vector<double> a, b, c;
  for (int r = 0; r < reps; ++r) {
    a.push_back(sample_ns(run_ours, inner_ours, n));
    b.push_back(sample_ns(run_table, inner_table, n));
    c.push_back(sample_ns(run_std, inner_std, n));
  }
  const Stats sa = summarise(a), sb = summarise(b), sc = summarise(c);
  fmt::print(
      "  {:<8} {:<6} {:6.3f} [{:6.3f} {:6.3f}]  {:6.3f} [{:6.3f} {:6.3f}]  {:6.3f} [{:6.3f} {:6.3f}]  "
      "{:5.1f}x {:5.1f}x\n",
      name, sizeof(T) == 4 ? "float" : "double", sa.median, sa.min, sa.max, sb.median, sb.min, sb.max,
      sc.median, sc.min, sc.max, sb.median / sa.median, sc.median / sa.median);
}

template <class T>
void run_type(std::size_t n, int reps) {
  namespace vm = ad::detail;
  compare<T>(
      "exp", -10.0, 10.0, n, reps, [](const T* x, T* y, std::size_t k) { vm::exp_array(x, y, k); },
      ad::ops::Exp{}, [](T v) { return std::exp(v); });
  compare<T>(
      "tanh", -5.0, 5.0, n, reps, [](const T* x, T* y, std::size_t k) { vm::tanh_array(x, y, k); },
      ad::ops::Tanh{}, [](T v) { return std::tanh(v); });
  compare<T>(
      "logistic", -10.0, 10.0, n, reps, [](const T* x, T* y, std::size_t k) { vm::logistic_array(x, y, k); },
      ad::ops::Logistic{}, [](T v) { return std_logistic(v); });
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 15;
  std::size_t n = 4096;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view arg = argv[i];
    if (arg == "--reps") reps = std::max(1, std::atoi(argv[i + 1]));
    if (arg == "--n") n = static_cast<std::size_t>(std::max(1, std::atoi(argv[i + 1])));
    if (arg == "--isa" && !ad::detail::select_vector_math_isa(argv[i + 1])) {
      fmt::print(stderr, "this CPU lacks instruction set {}\n", argv[i + 1]);
      return 1;
    }
  }
  fmt::print("== element-wise kernels, n = {}, {} repetitions, 1 thread, instruction set {} ==\n", n, reps,
             ad::detail::vector_math_isa());
  fmt::print("  ns per element: median [min max]; speed-up = op table / ours, std T / ours\n");
  fmt::print("  {:<8} {:<6} {:^22}  {:^22}  {:^22}  {:^13}\n", "op", "type", "ours", "op table (double)",
             "std:: in T", "speed-up");
  run_type<float>(n, reps);
  run_type<double>(n, reps);
}
