// GFLOP/s of ad::linalg::gemm: our portable kernel against the system CBLAS
// (OpenBLAS), side by side in the same run, float and double, 1 and 2 threads.
//
//   bench_gemm [--reps N] [--ms M] [--threads 1,2] [--quick]
//
// Shapes: square n = 16 .. 1024, and the matrix products of one step of the
// T2 network of BENCHMARKS.md (784-256-256-10, batch 128), forward and
// backward, with W stored in x out (X W) and out x in (X W^T).
//
// Method (BENCHMARKS.md, rules of measurement): per shape a warm-up sizes a
// batch of calls to about --ms milliseconds; then batches of the two backends
// alternate (A B B A A B ...), --reps of each (>= 5), and each column reports
// the median rate with the minimum and maximum. Batches are short so that on
// a shared machine many of them run without being descheduled: the maximum
// is then the rate of an undisturbed run, and the last column compares those.
// OpenBLAS's worker threads keep spinning (sched_yield) for about 2^28 cycles
// after each call, which would steal the second core from the batch that
// follows, so with 2 threads every OpenBLAS batch is followed by a pause long
// enough for them to go to sleep (our own workers sleep after 100 us).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <autodiff/gemm.hpp>

namespace la = ad::linalg;
using Clock = std::chrono::steady_clock;

namespace {

struct Shape {
  std::string label;
  bool trans_a, trans_b;
  std::size_t m, n, k;
};

struct Options {
  int reps = 11;
  double batch_ms = 5;
  std::vector<int> threads = {1, 2};
  bool quick = false;
};

struct Stats {
  double median, min, max;
};

Stats summarize(std::vector<double> rates) {
  std::sort(rates.begin(), rates.end());
  const std::size_t n = rates.size();
  const double median = n % 2 == 1 ? rates[n / 2] : 0.5 * (rates[n / 2 - 1] + rates[n / 2]);
  return {median, rates.front(), rates.back()};
}

template <class T>
struct Problem {
  Shape shape;
  std::vector<T> a, b, c;

  explicit Problem(const Shape& s) : shape(s), a(s.m * s.k), b(s.k * s.n), c(s.m * s.n) {
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> uniform(-1, 1);
    for (T& v : a) v = static_cast<T>(uniform(rng));
    for (T& v : b) v = static_cast<T>(uniform(rng));
  }

  void run() {
    const Shape& s = shape;
    la::gemm<T>(s.trans_a, s.trans_b, s.m, s.n, s.k, T(1), a.data(), s.trans_a ? s.m : s.k, b.data(),
                s.trans_b ? s.k : s.n, T(0), c.data(), s.n);
  }

  double flops() const { return 2.0 * static_cast<double>(shape.m * shape.n * shape.k); }
};

// Seconds for `calls` back-to-back products.
template <class T>
double time_batch(Problem<T>& p, long calls) {
  const auto start = Clock::now();
  for (long i = 0; i < calls; ++i) p.run();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Calls per batch so that one batch of the portable kernel takes about `ms`.
template <class T>
long calibrate(Problem<T>& p, double ms) {
  la::set_gemm_backend(la::GemmBackend::portable);
  long calls = 1;
  for (;;) {
    const double seconds = time_batch(p, calls);
    if (seconds >= ms * 1e-3 / 4 || calls >= (1L << 30)) {
      return std::max(1L, static_cast<long>(static_cast<double>(calls) * ms * 1e-3 / seconds));
    }
    calls *= 2;
  }
}

std::string cell(const Stats& s) { return fmt::format("{:6.1f} ({:5.1f}-{:5.1f})", s.median, s.min, s.max); }

template <class T>
void measure(const Shape& shape, int threads, const Options& opt) {
  Problem<T> p(shape);
  la::set_gemm_threads(threads);
  const long calls = calibrate(p, opt.batch_ms);
  const bool with_cblas = la::gemm_has_cblas();
  const auto pause_after_cblas = std::chrono::milliseconds(threads > 1 ? 150 : 0);

  std::vector<double> ours, theirs;
  for (int rep = 0; rep < opt.reps; ++rep) {
    // A B B A A B ...: neither backend always goes first.
    for (int turn = 0; turn < 2; ++turn) {
      const bool portable_now = (rep + turn) % 2 == 0;
      if (!portable_now && !with_cblas) continue;
      la::set_gemm_backend(portable_now ? la::GemmBackend::portable : la::GemmBackend::cblas);
      p.run();  // warm: packing buffers, worker threads
      const double seconds = time_batch(p, calls);
      (portable_now ? ours : theirs).push_back(p.flops() * static_cast<double>(calls) / seconds * 1e-9);
      if (!portable_now) std::this_thread::sleep_for(pause_after_cblas);
    }
  }
  const Stats mine = summarize(ours);
  std::string row = fmt::format("| {:<26} | {:<6} | {} | {} |", shape.label,
                                sizeof(T) == 4 ? "float" : "double", threads, cell(mine));
  if (with_cblas) {
    const Stats blas = summarize(theirs);
    row +=
        fmt::format(" {} | {:5.2f} | {:5.2f} |", cell(blas), mine.median / blas.median, mine.max / blas.max);
  }
  fmt::print("{}\n", row);
  std::fflush(stdout);
}

std::vector<Shape> shapes(bool quick) {
  std::vector<Shape> list;
  for (const std::size_t n : {16, 64, 128, 256, 512, 1024}) {
    if (quick && n > 256) continue;
    list.push_back({fmt::format("NN {}^3", n), false, false, n, n, n});
  }
  // T2, layer 1 (784 -> 256), batch 128. dY is 128 x 256.
  list.push_back({"T2 fwd X W     128x784x256", false, false, 128, 256, 784});
  list.push_back({"T2 fwd X W^T   128x784x256", false, true, 128, 256, 784});
  list.push_back({"T2 dX=dY W^T   128x256x784", false, true, 128, 784, 256});
  list.push_back({"T2 dX=dY W     128x256x784", false, false, 128, 784, 256});
  list.push_back({"T2 dW=X^T dY   784x128x256", true, false, 784, 256, 128});
  list.push_back({"T2 dW=dY^T X   256x128x784", true, false, 256, 784, 128});
  // T2, layer 2 (256 -> 256).
  if (!quick) {
    list.push_back({"T2 fwd H W     128x256x256", false, false, 128, 256, 256});
    list.push_back({"T2 dW=H^T dY   256x128x256", true, false, 256, 256, 128});
  }
  return list;
}

Options parse(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--reps" && has_value) {
      opt.reps = std::max(5, std::atoi(argv[++i]));  // BENCHMARKS.md: median of >= 5
    } else if (arg == "--ms" && has_value) {
      opt.batch_ms = std::max(1.0, std::atof(argv[++i]));
    } else if (arg == "--threads" && has_value) {
      opt.threads.clear();
      for (const char* p = argv[++i]; *p != '\0'; ++p) {
        if (*p >= '1' && *p <= '9') opt.threads.push_back(*p - '0');
      }
    } else if (arg == "--quick") {
      opt.quick = true;
    } else {
      fmt::print(stderr, "usage: bench_gemm [--reps N] [--ms M] [--threads 1,2] [--quick]\n");
      std::exit(2);
    }
  }
  return opt;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  fmt::print("ad::linalg::gemm: portable kernel on {}; CBLAS: {}\n", la::gemm_portable_isa(),
             la::gemm_has_cblas() ? la::gemm_cblas_config() : "none in this build");
  fmt::print("GFLOP/s (2mnk / time), median (min-max) of {} batches of ~{} ms per backend, alternating.\n",
             opt.reps, opt.batch_ms);
  fmt::print(
      "Products up to 96^3 (16^3, 64^3) run our direct kernel in the portable column, OpenBLAS in the CBLAS "
      "one.\n\n");
  std::string header = "| shape (op, m x k x n)      | type   | t | portable               |";
  std::string rule = "|---|---|---:|---:|";
  if (la::gemm_has_cblas()) {
    header += " CBLAS                  | ratio of medians | ratio of maxima |";
    rule += "---:|---:|---:|";
  }
  fmt::print("{}\n{}\n", header, rule);
  for (const int threads : opt.threads) {
    for (const Shape& s : shapes(opt.quick)) {
      measure<float>(s, threads, opt);
      measure<double>(s, threads, opt);
    }
  }
  la::set_gemm_backend(la::GemmBackend::automatic);
  return 0;
}
