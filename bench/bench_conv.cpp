// bench_conv: conv2d and max_pool2d, forward and forward + backward, ours
// against LibTorch in the same process, per layer shape of a small CNN
// (docs/decisions/0015-conv2d.md). Run by hand:
//
//   bench_conv [--threads 1,2] [--double] [--reps N] [--csv FILE] [--no-torch] [--only TEXT] [--min]
//   [--torch-intra]
//
// Shapes: the two convolutions of conv(1->32,3x3)-pool-conv(32->64,3x3)-pool
// on Fashion-MNIST at batch 128, and two 3x3 layers of a CIFAR-sized network
// (3->64 and 64->64 on 32x32, padding 1); the pools after the first two.
// Each step: y = conv2d(x, w, b), backward from a fixed seed, the weight's
// and bias's gradients zeroed (an optimiser's zero_grad) and the input's
// dropped (an activation). LibTorch runs at its best thread setting: torch 1
// thread + OpenBLAS n threads (BENCHMARKS.md). Samples alternate between the
// contestants (bench/side_by_side.hpp); the table shows medians in
// microseconds and LibTorch / ours (> 1: ours faster).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <autodiff/autodiff.hpp>
#include <autodiff/gemm.hpp>

#include "options.hpp"
#include "side_by_side.hpp"
#if defined(AD_BENCH_HAVE_LIBTORCH)
#include "peers/libtorch_conv.hpp"
#include "peers/libtorch_peer.hpp"
#endif

namespace {

struct Options {
  std::vector<int> threads{1, 2};
  bool use_double = false;
  bool torch = true;
  std::string csv;
  bench::Protocol protocol;
  std::string only;          // run only the shapes whose name contains this
  bool minimum = false;      // show each contestant's fastest sample instead of the median
  bool torch_intra = false;  // LibTorch with n threads of its own too (default: 1 + OpenBLAS n)
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--threads") {
      o.threads.clear();
      for (std::size_t t : bench::positive_integers(next(), a)) o.threads.push_back(static_cast<int>(t));
    } else if (a == "--double") {
      o.use_double = true;
    } else if (a == "--no-torch") {
      o.torch = false;
    } else if (a == "--reps") {
      o.protocol.reps = std::max(5, static_cast<int>(bench::positive_integer(next(), a)));
    } else if (a == "--torch-intra") {
      o.torch_intra = true;
    } else if (a == "--min") {
      o.minimum = true;
    } else if (a == "--only") {
      o.only = next();
    } else if (a == "--csv") {
      o.csv = next();
    } else if (a == "--help" || a == "-h") {
      std::puts(
          "bench_conv [--threads 1,2] [--double] [--reps N] [--csv FILE] [--no-torch] [--only TEXT] [--min] "
          "[--torch-intra]");
      std::exit(0);
    } else {
      throw std::invalid_argument("unknown option " + a + " (see --help)");
    }
  }
  return o;
}

struct ConvCase {
  std::string name;
  std::size_t batch, in_channels, out_channels, height, width, kernel, padding;
  bool input_grad;
};

const std::vector<ConvCase> conv_cases = {
    {"conv 1->32 3x3 28x28 N=128", 128, 1, 32, 28, 28, 3, 0, false},
    {"conv 32->64 3x3 13x13 N=128", 128, 32, 64, 13, 13, 3, 0, true},
    {"conv 3->64 3x3 p1 32x32 N=32", 32, 3, 64, 32, 32, 3, 1, false},
    {"conv 64->64 3x3 p1 32x32 N=16", 16, 64, 64, 32, 32, 3, 1, true},
};

struct PoolCase {
  std::string name;
  std::array<std::size_t, 4> shape;
};

const std::vector<PoolCase> pool_cases = {
    {"max_pool 2x2 of 128x32x26x26", {128, 32, 26, 26}},
    {"max_pool 2x2 of 128x64x11x11", {128, 64, 11, 11}},
};

std::vector<double> normal(std::size_t n, std::mt19937_64& rng, double scale) {
  std::normal_distribution<double> d(0.0, scale);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng);
  return v;
}

// LibTorch at torch 1 + OpenBLAS n threads, its best for the MLP
// (BENCHMARKS.md); --torch-intra gives torch n threads as well (its
// convolutions run in oneDNN on torch's own threads, not OpenBLAS's).
void set_threads(int threads, bool torch_intra) {
  ad::linalg::set_gemm_threads(threads);
#if defined(AD_BENCH_HAVE_LIBTORCH)
  bench::libtorch::set_threads(torch_intra ? threads : 1, threads);
#else
  (void)torch_intra;
#endif
}

// Our side of one row: fixed tensors, a step that records, sweeps and zeroes.
template <class T>
struct OursConv {
  ad::TensorT<T> x, w, b, seed;
  bool input_grad;

  OursConv(const ConvCase& c, const std::vector<double>& xv, const std::vector<double>& wv,
           const std::vector<double>& bv, const std::vector<double>& sv)
      : input_grad(c.input_grad) {
    const std::size_t out = c.height + 2 * c.padding - c.kernel + 1;
    const std::size_t out_w = c.width + 2 * c.padding - c.kernel + 1;
    auto make = [](const ad::Shape& s, const std::vector<double>& v) {
      return ad::TensorT<T>::from(s, std::vector<T>(v.begin(), v.end()));
    };
    x = make({c.batch, c.in_channels, c.height, c.width}, xv).requires_grad(c.input_grad);
    w = make({c.out_channels, c.in_channels, c.kernel, c.kernel}, wv).requires_grad(true);
    b = make({c.out_channels}, bv).requires_grad(true);
    seed = make({c.batch, c.out_channels, out, out_w}, sv);
    options.padding = {c.padding, c.padding};
  }
  ad::Conv2dOptions options;

  void forward() {
    ad::NoGrad off;
    const ad::TensorT<T> y = ad::conv2d(x, w, b, options);
  }
  void forward_backward() {
    ad::conv2d(x, w, b, options).backward(seed);
    if (input_grad) x.clear_grad();
    w.zero_grad();
    b.zero_grad();
  }
};

template <class T>
struct OursPool {
  ad::TensorT<T> x, seed;
  OursPool(const PoolCase& c, const std::vector<double>& xv, const std::vector<double>& sv) {
    const auto& s = c.shape;
    x = ad::TensorT<T>::from({s[0], s[1], s[2], s[3]}, std::vector<T>(xv.begin(), xv.end()))
            .requires_grad(true);
    seed = ad::TensorT<T>::from({s[0], s[1], s[2] / 2, s[3] / 2}, std::vector<T>(sv.begin(), sv.end()));
  }
  void forward() {
    ad::NoGrad off;
    const ad::TensorT<T> y = ad::max_pool2d(x);
  }
  void forward_backward() {
    ad::max_pool2d(x).backward(seed);
    x.clear_grad();
  }
};

struct Row {
  bench::Summary ours_fwd, torch_fwd, ours_step, torch_step;
};

// Times forward and forward + backward of both contestants, alternating.
template <class Ours, class Torch>
Row measure_row(Ours& ours, Torch* torch, int threads, const bench::Protocol& protocol) {
  std::vector<bench::Contestant> c(4);
  c[0] = {"ours forward", [&] { ours.forward(); }, {}, 1, {}};
  c[1] = {"ours step", [&] { ours.forward_backward(); }, {}, 1, {}};
  if (torch != nullptr) {
    c[2] = {"torch forward", [torch] { torch->forward(); }, {}, 1, {}};
    c[3] = {"torch step", [torch] { torch->forward_backward(); }, {}, 1, {}};
    if (threads > 1) c[2].settle = c[3].settle = bench::let_blas_workers_sleep;
  }
  bench::measure(c, protocol);
  return {c[0].summary(), c[2].summary(), c[1].summary(), c[3].summary()};
}

// The median, or with --min the fastest sample (the least disturbed on a shared machine).
double shown(const bench::Summary& s, bool minimum) { return minimum ? s.min : s.median; }

std::string ratio(double torch, double ours) {
  return std::isnan(torch) ? std::string("-") : fmt::format("{:.2f}x", torch / ours);
}

void print_row(const std::string& name, int threads, const Row& r, bool minimum) {
  const double of = shown(r.ours_fwd, minimum), tf = shown(r.torch_fwd, minimum);
  const double os = shown(r.ours_step, minimum), ts = shown(r.torch_step, minimum);
  fmt::print("{:<32} {:>3} {:>10.0f} {:>10.0f} {:>7} {:>10.0f} {:>10.0f} {:>7}\n", name, threads, of, tf,
             ratio(tf, of), os, ts, ratio(ts, os));
}

template <class T>
void run(const Options& o) {
  const char* dtype = std::is_same_v<T, float> ? "float" : "double";
  bench::ResultLog log(o.csv);
  fmt::print("bench_conv: {} ; gemm {} ({}); {} of {} samples, microseconds per call\n", dtype,
             ad::linalg::gemm_backend(), ad::linalg::gemm_portable_isa(), o.minimum ? "fastest" : "medians",
             o.protocol.reps);
#if defined(AD_BENCH_HAVE_LIBTORCH)
  const bool torch = o.torch;
  fmt::print("peer: {}{}\n", torch ? bench::libtorch::description() : "LibTorch (skipped: --no-torch)",
             torch ? (bench::libtorch::has_mkldnn() ? ", convolutions through oneDNN" : ", no oneDNN") : "");
#else
  const bool torch = false;
  fmt::print("peer: LibTorch not built (install libtorch-dev and reconfigure)\n");
#endif
  fmt::print("\n{:<32} {:>3} {:>10} {:>10} {:>7} {:>10} {:>10} {:>7}\n", "shape", "thr", "ours fwd",
             "torch fwd", "t/ours", "ours f+b", "torch f+b", "t/ours");
  for (int threads : o.threads) {
    set_threads(threads, o.torch_intra);
    for (const ConvCase& c : conv_cases) {
      if (c.name.find(o.only) == std::string::npos) continue;
      std::mt19937_64 rng(11);
      const std::size_t out = c.height + 2 * c.padding - c.kernel + 1,
                        out_w = c.width + 2 * c.padding - c.kernel + 1;
      const auto xv = normal(c.batch * c.in_channels * c.height * c.width, rng, 1.0);
      const auto wv = normal(c.out_channels * c.in_channels * c.kernel * c.kernel, rng,
                             1.0 / std::sqrt(double(c.in_channels * c.kernel * c.kernel)));
      const auto bv = normal(c.out_channels, rng, 0.1);
      const auto sv = normal(c.batch * c.out_channels * out * out_w, rng, 1.0);
      OursConv<T> ours(c, xv, wv, bv, sv);
      Row row;
#if defined(AD_BENCH_HAVE_LIBTORCH)
      std::unique_ptr<bench::libtorch::ConvStep> peer;
      if (torch) {
        peer = std::make_unique<bench::libtorch::ConvStep>(
            bench::libtorch::ConvShape{c.batch, c.in_channels, c.out_channels, c.height, c.width, c.kernel,
                                       c.padding, c.input_grad},
            xv, wv, bv, sv, std::is_same_v<T, double>);
        // The same weight gradient, or the comparison is void.
        const std::vector<double> theirs = peer->weight_grad();
        ad::conv2d(ours.x, ours.w, ours.b, ours.options).backward(ours.seed);
        double worst = 0.0;
        const auto mine = ours.w.grad_view();
        for (std::size_t i = 0; i < theirs.size(); ++i)
          worst =
              std::max(worst, std::fabs(double(mine[i]) - theirs[i]) / std::max(1.0, std::fabs(theirs[i])));
        ours.x.clear_grad();
        ours.w.zero_grad();
        ours.b.zero_grad();
        if (worst > (std::is_same_v<T, float> ? 1e-2 : 1e-11))
          throw std::runtime_error(fmt::format(
              "bench_conv: {}: weight gradients differ from LibTorch's by {:.3g}", c.name, worst));
      }
      row = measure_row(ours, peer.get(), threads, o.protocol);
#else
      row = measure_row(ours, static_cast<OursConv<T>*>(nullptr), threads, o.protocol);
#endif
      print_row(c.name, threads, row, o.minimum);
      log.add("conv_step " + c.name, dtype, threads, "ours", row.ours_step, "us");
      log.add("conv_step " + c.name, dtype, threads, "libtorch", row.torch_step, "us");
    }
    for (const PoolCase& c : pool_cases) {
      if (c.name.find(o.only) == std::string::npos) continue;
      std::mt19937_64 rng(12);
      const auto& s = c.shape;
      const auto xv = normal(s[0] * s[1] * s[2] * s[3], rng, 1.0);
      const auto sv = normal(s[0] * s[1] * (s[2] / 2) * (s[3] / 2), rng, 1.0);
      OursPool<T> ours(c, xv, sv);
      Row row;
#if defined(AD_BENCH_HAVE_LIBTORCH)
      std::unique_ptr<bench::libtorch::MaxPoolStep> peer;
      if (torch) peer = std::make_unique<bench::libtorch::MaxPoolStep>(s, xv, sv, std::is_same_v<T, double>);
      row = measure_row(ours, peer.get(), threads, o.protocol);
#else
      row = measure_row(ours, static_cast<OursPool<T>*>(nullptr), threads, o.protocol);
#endif
      print_row(c.name, threads, row, o.minimum);
      log.add("max_pool_step " + c.name, dtype, threads, "ours", row.ours_step, "us");
      log.add("max_pool_step " + c.name, dtype, threads, "libtorch", row.torch_step, "us");
    }
  }
  fmt::print("\nt/ours: LibTorch median / ours (> 1: ours faster); f+b: forward, backward, zero_grad\n");
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  if (o.use_double)
    run<double>(o);
  else
    run<float>(o);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_conv: %s\n", e.what());
  return 1;
}
