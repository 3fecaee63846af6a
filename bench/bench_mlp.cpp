// bench_mlp: the tensor training steps T1-T3 of BENCHMARKS.md, ours against
// LibTorch and a hand-written backprop floor, side by side in one process.
//
// One step = zero gradients + forward + loss 1/(2B) sum (f(x) - y)^2 +
// backward + plain SGD update (lr 0.01); tanh hidden layers, identity output,
// N(0, 1) inputs and targets, one fixed seeded batch.
//   T1 tiny 2-16-16-1, batch 32;  T2 medium 784-256-256-10, batch 128;
//   T3 deep-narrow 32-(8 x 32)-1, batch 64.
// Contestants (all start from the same weights, Xavier-initialised by nn):
//   ours      nn::NetworkT<T> + nn::mse_loss + nn::SGD<T>, as a user writes it
//   LibTorch  torch::nn::Sequential(Linear, Tanh, ...) + torch::optim::SGD
//   floor     textbook backprop without a tape: delta^d = (z^d - y)/B,
//             delta^L = (delta^{L+1} W^{L+1}) * tanh'(a^L), products by
//             ad::linalg::gemm, everything else plain loops
//
//   bench_mlp [--workload T1,T2,T3] [--dtype float,double] [--threads 1,2]
//             [--reps R] [--quick] [--csv FILE] [--no-torch]
//   bench_mlp --scaling [--threads N] [--dtype float]   step cost vs batch and vs width
//   bench_mlp --rss ours|torch|floor [--steps 200]       peak RSS of a T2 float loop
//   bench_mlp --speedup [--dtype float,double]          T2: 2 threads against 1, and what
//                                                        two independent 1-thread steps get
//
// See bench/README.md.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <autodiff/autodiff.hpp>
#include <autodiff/gemm.hpp>
#include <nn/nn.hpp>

#include "options.hpp"
#include "side_by_side.hpp"
#if defined(AD_BENCH_HAVE_LIBTORCH)
#include "peers/libtorch_peer.hpp"
#endif

namespace {

constexpr bool have_torch =
#if defined(AD_BENCH_HAVE_LIBTORCH)
    true;
#else
    false;
#endif

constexpr double learning_rate = 0.01;

struct Workload {
  std::string name;
  std::vector<std::size_t> sizes;  // n_0 (inputs), n_1, ..., n_d (outputs)
  std::size_t batch;
};

std::vector<Workload> standard_workloads() {
  std::vector<std::size_t> deep{32};
  for (int l = 0; l < 8; ++l) deep.push_back(32);
  deep.push_back(1);
  return {{"T1", {2, 16, 16, 1}, 32}, {"T2", {784, 256, 256, 10}, 128}, {"T3", deep, 64}};
}

// BENCHMARKS.md's targets for ours, microseconds per step with 1 thread.
double target_us(const std::string& workload, bool is_double) {
  if (workload == "T1") return is_double ? 10 : 3;
  if (workload == "T2") return is_double ? 3400 : 1700;
  if (workload == "T3") return is_double ? 150 : 70;
  return NAN;
}

// Matrix-product flops of one step: forward 2 B n_{L-1} n_L per layer, the
// weight gradient as much again, the input gradient for every layer but the
// first.
double step_flops(const Workload& w) {
  double total = 0;
  for (std::size_t l = 1; l < w.sizes.size(); ++l)
    total += double(l == 1 ? 2 : 3) * 2.0 * double(w.batch) * double(w.sizes[l - 1] * w.sizes[l]);
  return total;
}

// The fixed batch: N(0, 1) inputs [B, n_0] and targets [B, n_d], row-major.
struct Batch {
  std::vector<double> x, y;
};

Batch make_batch(const Workload& w, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Batch b;
  b.x.resize(w.batch * w.sizes.front());
  b.y.resize(w.batch * w.sizes.back());
  for (double& v : b.x) v = normal(rng);
  for (double& v : b.y) v = normal(rng);
  return b;
}

template <class T>
std::vector<T> converted(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// ---- ours -----------------------------------------------------------------

template <class T>
struct OursTrainer {
  nn::NetworkT<T> net;
  nn::SGD<T> optimizer;
  ad::TensorT<T> x, y;

  OursTrainer(nn::NetworkT<T> net_, const Workload& w, const Batch& b)
      : net(std::move(net_)),
        optimizer(net.parameters(), T(learning_rate)),
        x(ad::TensorT<T>::from({w.batch, w.sizes.front()}, converted<T>(b.x))),
        y(ad::TensorT<T>::from({w.batch, w.sizes.back()}, converted<T>(b.y))) {}

  double step(bool want_loss) {
    optimizer.zero_grad();
    ad::TensorT<T> loss = nn::mse_loss(net(x), y);
    loss.backward();
    optimizer.step();
    return want_loss ? double(loss.item()) : NAN;
  }
};

// Every contestant's starting point: the parameters of an nn network built
// with Xavier initialisation (N(0, 1) weights would saturate tanh on T2's 784
// inputs), as double arrays W^1, b^1, ..., W^d, b^d.
std::vector<std::vector<double>> initial_parameters(const Workload& w, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const nn::NetworkT<double> net(w.sizes, nn::Activation::tanh, nn::Activation::identity, rng,
                                 nn::Init::xavier);
  std::vector<std::vector<double>> out;
  for (const ad::Tensor& p : net.parameters()) out.emplace_back(p.values().begin(), p.values().end());
  return out;
}

template <class T>
nn::NetworkT<T> network_from(const Workload& w, const std::vector<std::vector<double>>& parameters) {
  std::vector<nn::DenseT<T>> layers;
  for (std::size_t l = 0; l + 1 < w.sizes.size(); ++l) {
    const bool last = l + 2 == w.sizes.size();
    layers.emplace_back(
        ad::TensorT<T>::from({w.sizes[l + 1], w.sizes[l]}, converted<T>(parameters[2 * l])),
        ad::TensorT<T>::from({w.sizes[l + 1]}, converted<T>(parameters[2 * l + 1])),
        std::vector<nn::Activation>(w.sizes[l + 1], last ? nn::Activation::identity : nn::Activation::tanh));
  }
  return nn::NetworkT<T>(std::move(layers));
}

// ---- the floor: backprop by hand ------------------------------------------

template <class T>
class BackpropFloor {
 public:
  BackpropFloor(const Workload& w, const std::vector<std::vector<double>>& parameters, const Batch& b)
      : sizes_(w.sizes), batch_(w.batch), y_(converted<T>(b.y)) {
    const std::size_t d = sizes_.size() - 1;
    z_.resize(d + 1);
    delta_.resize(d + 1);
    z_[0] = converted<T>(b.x);
    for (std::size_t l = 1; l <= d; ++l) {
      weights_.push_back(converted<T>(parameters[2 * (l - 1)]));
      bias_.push_back(converted<T>(parameters[2 * (l - 1) + 1]));
      weight_grad_.emplace_back(weights_.back().size());
      bias_grad_.emplace_back(bias_.back().size());
      z_[l].resize(batch_ * sizes_[l]);
      delta_[l].resize(batch_ * sizes_[l]);
    }
  }

  double step(bool want_loss) {
    namespace la = ad::linalg;
    const std::size_t d = sizes_.size() - 1, n = batch_;
    // forward: a^L = z^{L-1} W^L^T + b^L, z^L = tanh(a^L) (identity for L = d)
    for (std::size_t l = 1; l <= d; ++l) {
      const std::size_t in = sizes_[l - 1], out = sizes_[l];
      T* z = z_[l].data();
      const T* b = bias_[l - 1].data();
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < out; ++j) z[i * out + j] = b[j];
      la::gemm<T>(false, true, n, out, in, T(1), z_[l - 1].data(), in, weights_[l - 1].data(), in, T(1), z,
                  out);
      if (l < d)
        for (std::size_t k = 0; k < n * out; ++k) z[k] = std::tanh(z[k]);
    }
    // loss 1/(2B) sum (z^d - y)^2 and delta^d = (z^d - y) / B
    double loss = 0;
    {
      const T scale = T(1) / T(n);
      T* delta = delta_[d].data();
      const T* z = z_[d].data();
      for (std::size_t k = 0; k < z_[d].size(); ++k) {
        const T e = z[k] - y_[k];
        loss += double(e) * double(e);
        delta[k] = e * scale;
      }
      loss *= 0.5 / double(n);
    }
    // backward: dC/dW^L = delta^L^T z^{L-1}, dC/db^L = sum_i delta^L_i,
    // delta^{L-1} = (delta^L W^L) * (1 - (z^{L-1})^2)
    for (std::size_t l = d; l >= 1; --l) {
      const std::size_t in = sizes_[l - 1], out = sizes_[l];
      const T* delta = delta_[l].data();
      la::gemm<T>(true, false, out, in, n, T(1), delta, out, z_[l - 1].data(), in, T(0),
                  weight_grad_[l - 1].data(), in);
      T* gb = bias_grad_[l - 1].data();
      std::fill(gb, gb + out, T(0));
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < out; ++j) gb[j] += delta[i * out + j];
      if (l > 1) {
        T* below = delta_[l - 1].data();
        la::gemm<T>(false, false, n, in, out, T(1), delta, out, weights_[l - 1].data(), in, T(0), below, in);
        const T* z = z_[l - 1].data();
        for (std::size_t k = 0; k < n * in; ++k) below[k] *= T(1) - z[k] * z[k];
      }
    }
    // SGD: theta <- theta - eta grad
    for (std::size_t l = 0; l < d; ++l) {
      for (std::size_t k = 0; k < weights_[l].size(); ++k)
        weights_[l][k] -= T(learning_rate) * weight_grad_[l][k];
      for (std::size_t k = 0; k < bias_[l].size(); ++k) bias_[l][k] -= T(learning_rate) * bias_grad_[l][k];
    }
    return want_loss ? loss : NAN;
  }

 private:
  std::vector<std::size_t> sizes_;
  std::size_t batch_;
  std::vector<T> y_;
  std::vector<std::vector<T>> weights_, bias_, weight_grad_, bias_grad_;
  std::vector<std::vector<T>> z_;      // z_[0] = x; z_[L] = activations of layer L
  std::vector<std::vector<T>> delta_;  // delta_[L] = dC/da^L
};

// ---- options ----------------------------------------------------------------

struct Options {
  std::vector<std::string> workloads{"T1", "T2", "T3"};
  std::vector<std::string> dtypes{"float", "double"};
  std::vector<int> threads{1, 2};
  bench::Protocol protocol;
  std::string csv;
  bool torch = have_torch;
  bool scaling = false;
  bool speedup = false;
  std::string rss;                // "", "ours", "torch" or "floor"
  std::vector<std::string> only;  // --only: time just these contestants (for perf record)
  long rss_steps = 200;
};

void print_usage() {
  fmt::print(R"(usage: bench_mlp [options]
  --workload T1,T2,T3   which training steps (default: all three)
  --dtype float,double  which element types (default: both)
  --threads 1,2         thread counts (default: 1 and 2); ours: ad::linalg::set_gemm_threads(n);
                        LibTorch: torch 1 thread + OpenBLAS n threads (BENCHMARKS.md)
  --reps R              samples per contestant (default 11, at least 5)
  --quick               5 samples of about 10 ms each: a smoke run
  --csv FILE            append result rows to FILE
  --no-torch            leave LibTorch out even when it was built in
  --scaling             one-hidden-layer net w-w-w: step cost vs batch (w = 256) and vs width (batch 128)
  --rss ours|torch|floor  run --steps T2 float steps here and print the peak resident memory
  --steps N             steps of the --rss loop (default 200)
  --only ours,torch,floor  time only these contestants (for perf record; the others show "not built")
  --speedup             T2 (--dtype): ours with 2 threads against 1 thread, alternated in one run, beside
                        the machine's ceiling: two independent 1-thread steps on two threads at once
)");
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", a));
      return argv[++i];
    };
    if (a == "--workload") {
      o.workloads = bench::split_list(value());
    } else if (a == "--dtype") {
      o.dtypes = bench::split_list(value());
    } else if (a == "--threads") {
      o.threads.clear();
      for (std::size_t t : bench::positive_integers(value(), a)) o.threads.push_back(static_cast<int>(t));
    } else if (a == "--reps") {
      o.protocol.reps = std::max(5, static_cast<int>(bench::positive_integer(value(), a)));
    } else if (a == "--quick") {
      o.protocol = {0.05, 0.01, 5};
    } else if (a == "--csv") {
      o.csv = value();
    } else if (a == "--no-torch") {
      o.torch = false;
    } else if (a == "--scaling") {
      o.scaling = true;
    } else if (a == "--speedup") {
      o.speedup = true;
    } else if (a == "--rss") {
      o.rss = value();
    } else if (a == "--only") {
      o.only = bench::split_list(value());
    } else if (a == "--steps") {
      o.rss_steps = static_cast<long>(bench::positive_integer(value(), a));
    } else if (a == "--help" || a == "-h") {
      print_usage();
      std::exit(0);
    } else {
      throw std::invalid_argument(fmt::format("unknown option {} (see --help)", a));
    }
  }
  for (const std::string& d : o.dtypes)
    if (d != "float" && d != "double") throw std::invalid_argument("--dtype takes float and/or double");
  for (int t : o.threads)
    if (t < 1) throw std::invalid_argument("--threads takes counts >= 1");
  if (!o.rss.empty() && o.rss != "ours" && o.rss != "torch" && o.rss != "floor")
    throw std::invalid_argument("--rss takes ours, torch or floor");
  return o;
}

// Ours n threads; LibTorch's best setting for n (torch 1 + OpenBLAS n).
void set_threads(int threads) {
  ad::linalg::set_gemm_threads(threads);
#if defined(AD_BENCH_HAVE_LIBTORCH)
  bench::libtorch::set_threads(1, threads);
#endif
}

// ---- one workload ---------------------------------------------------------------

struct Measured {
  bench::Summary ours, torch, floor;
  double loss_ours = NAN, loss_torch = NAN, loss_floor = NAN;  // after two steps from the same start
};

template <class T>
Measured run_workload(const Workload& w, [[maybe_unused]] int threads, const Options& o) {
  constexpr bool is_double = std::is_same_v<T, double>;
  const std::vector<std::vector<double>> parameters = initial_parameters(w, 7);
  const Batch batch = make_batch(w, 11);

  OursTrainer<T> ours(network_from<T>(w, parameters), w, batch);
  BackpropFloor<T> floor(w, parameters, batch);
  Measured m;
  // Two steps from the same start must give the same losses: a wrong gradient
  // shows in the second one.
  ours.step(false);
  m.loss_ours = ours.step(true);
  floor.step(false);
  m.loss_floor = floor.step(true);

  std::vector<bench::Contestant> contestants(3);
  contestants[0].name = "ours";
  contestants[0].step = [&] { ours.step(false); };
  contestants[1].name = "LibTorch";
  contestants[2].name = "floor";
  contestants[2].step = [&] { floor.step(false); };
#if defined(AD_BENCH_HAVE_LIBTORCH)
  std::optional<bench::libtorch::MlpTrainer> torch;
  if (o.torch) {
    torch.emplace(w.sizes, parameters, batch.x, batch.y, is_double, learning_rate);
    torch->step(false);
    m.loss_torch = torch->step(true);
    contestants[1].step = [&] { torch->step(false); };
    if (threads > 1) contestants[1].settle = bench::let_blas_workers_sleep;
  }
#else
  (void)is_double;
#endif
  if (!o.only.empty())
    for (bench::Contestant& c : contestants) {
      const std::string key = c.name == "LibTorch" ? "torch" : c.name;
      if (std::find(o.only.begin(), o.only.end(), key) == o.only.end()) c.step = nullptr;
    }
  bench::measure(contestants, o.protocol);
  m.ours = contestants[0].summary();
  m.torch = contestants[1].summary();
  m.floor = contestants[2].summary();
  return m;
}

std::string cell(const bench::Summary& s, bool built) {
  if (!built) return "not built";
  if (std::isnan(s.median)) return "not timed";
  return fmt::format("{:.1f} [{:.1f}, {:.1f}]", s.median, s.min, s.max);
}

// Relative agreement of two losses, as text for the check column.
bool losses_agree(double a, double b, bool is_double) {
  if (std::isnan(b)) return true;
  return std::fabs(a - b) <= (is_double ? 1e-9 : 2e-4) * std::max(1.0, std::fabs(a));
}

int run_standard(const Options& o) {
  bench::ResultLog log(o.csv);
  std::vector<Workload> selected;
  for (const Workload& w : standard_workloads())
    if (std::find(o.workloads.begin(), o.workloads.end(), w.name) != o.workloads.end()) selected.push_back(w);
  if (selected.empty()) throw std::invalid_argument("--workload: none of T1, T2, T3 selected");

  fmt::print("bench_mlp: one training step (zero grads, forward, MSE/2, backward, SGD lr {}), microseconds\n",
             learning_rate);
  fmt::print("ours: nn + ad::linalg::gemm ({}, {}); floor: hand-written backprop on the same gemm\n",
             ad::linalg::gemm_backend(), ad::linalg::gemm_portable_isa());
#if defined(AD_BENCH_HAVE_LIBTORCH)
  fmt::print("peer: {}\n", o.torch ? bench::libtorch::description() : "LibTorch (skipped: --no-torch)");
#else
  fmt::print("peer: LibTorch not built (install libtorch-dev and reconfigure)\n");
#endif
  fmt::print("median [min, max] over {} samples, contestants alternated; ratios of medians\n\n",
             o.protocol.reps);
  fmt::print("{:<4} {:<6} {:>3}  {:>26}  {:>26}  {:>24}  {:>9}  {:>10}  {:>8}  {:>7}  {}\n", "", "dtype",
             "thr", "ours us", "LibTorch us", "floor us", "torch/us", "ours/floor", "GFLOP/s", "target",
             "check");

  bool all_ok = true;
  // ours' 1-thread T2 medians, for the 2-thread scaling target
  std::vector<std::pair<std::string, double>> one_thread_ours;
  for (int threads : o.threads) {
    set_threads(threads);
    for (const Workload& w : selected)
      for (const std::string& dtype : o.dtypes) {
        const bool is_double = dtype == "double";
        const Measured m =
            is_double ? run_workload<double>(w, threads, o) : run_workload<float>(w, threads, o);
        const bool ok = losses_agree(m.loss_ours, m.loss_floor, is_double) &&
                        losses_agree(m.loss_ours, m.loss_torch, is_double) && std::isfinite(m.loss_ours);
        all_ok = all_ok && ok;
        const double target = threads == 1 ? target_us(w.name, is_double) : NAN;
        std::string target_text = "-";
        if (!std::isnan(target))
          target_text = fmt::format("{}{}", m.ours.median <= target ? "met " : "MISS ", target);
        if (threads == 1) one_thread_ours.emplace_back(w.name + dtype, m.ours.median);
        if (threads > 1)
          for (const auto& [key, median] : one_thread_ours)
            if (key == w.name + dtype && w.name == "T2")
              target_text = fmt::format("x{:.2f} of 1thr", median / m.ours.median);
        fmt::print("{:<4} {:<6} {:>3}  {:>26}  {:>26}  {:>24}  {:>9}  {:>10.2f}  {:>8.1f}  {:>7}  {}\n",
                   w.name, dtype, threads, cell(m.ours, true), cell(m.torch, o.torch), cell(m.floor, true),
                   o.torch ? fmt::format("{:.2f}x", m.torch.median / m.ours.median) : std::string("-"),
                   m.ours.median / m.floor.median, step_flops(w) / m.ours.median * 1e-3, target_text,
                   ok ? "ok"
                      : fmt::format("LOSSES DIFFER ours {:.9g} torch {:.9g} floor {:.9g}", m.loss_ours,
                                    m.loss_torch, m.loss_floor));
        std::fflush(stdout);
        log.add(w.name, dtype, threads, "ours", m.ours, "us/step");
        if (o.torch) log.add(w.name, dtype, threads, "LibTorch", m.torch, "us/step");
        log.add(w.name, dtype, threads, "floor", m.floor, "us/step");
      }
  }
  fmt::print(
      "\ntorch/us = LibTorch median / ours median (> 1: we are faster); GFLOP/s: ours, matrix products "
      "only\n");
  fmt::print(
      "targets (1 thread): BENCHMARKS.md; 2 threads: T2 must run >= 1.7x its 1-thread rate and beat LibTorch "
      "by >= 1.3x\n");
  return all_ok ? 0 : 1;
}

// ---- scaling ---------------------------------------------------------------------

template <class T>
void run_scaling_point(const Workload& w, int threads, const Options& o, const std::string& dtype,
                       bench::ResultLog& log, const std::string& label) {
  const Measured m = run_workload<T>(w, threads, o);
  fmt::print("{:<14} {:>26}  {:>26}  {:>24}  {:>9}  {:>10.2f}  {:>10.3f}\n", label, cell(m.ours, true),
             cell(m.torch, o.torch), cell(m.floor, true),
             o.torch ? fmt::format("{:.2f}x", m.torch.median / m.ours.median) : std::string("-"),
             m.ours.median / m.floor.median, m.ours.median / double(w.batch));
  std::fflush(stdout);
  log.add(w.name, dtype, threads, "ours", m.ours, "us/step");
  if (o.torch) log.add(w.name, dtype, threads, "LibTorch", m.torch, "us/step");
  log.add(w.name, dtype, threads, "floor", m.floor, "us/step");
}

int run_scaling(const Options& o) {
  bench::ResultLog log(o.csv);
  const int threads = o.threads.front();
  const std::string dtype = o.dtypes.size() == 1 ? o.dtypes.front() : "float";
  set_threads(threads);
  fmt::print("bench_mlp --scaling: one step of a w-w-w net (one tanh hidden layer), {}, {} thread(s), us\n\n",
             dtype, threads);
  fmt::print("{:<14} {:>26}  {:>26}  {:>24}  {:>9}  {:>10}  {:>10}\n", "", "ours us", "LibTorch us",
             "floor us", "torch/us", "ours/floor", "ours/sample");
  auto point = [&](std::size_t width, std::size_t batch, const std::string& label) {
    const Workload w{fmt::format("scale_w{}_b{}", width, batch), {width, width, width}, batch};
    if (dtype == "double")
      run_scaling_point<double>(w, threads, o, dtype, log, label);
    else
      run_scaling_point<float>(w, threads, o, dtype, log, label);
  };
  for (std::size_t batch : {1, 4, 16, 64, 256, 1024}) point(256, batch, fmt::format("w 256 B {}", batch));
  fmt::print("\n");
  for (std::size_t width : {16, 64, 256, 1024}) point(width, 128, fmt::format("w {} B 128", width));
  return 0;
}

// ---- 2 threads against 1 ------------------------------------------------------

// Runs a step on a second thread while the caller runs one of its own: what
// two independent 1-thread steps get from this machine's two cores at once,
// the ceiling of any 2-thread speed-up here (a shared VM's second core does
// not always give a whole core). The partner sleeps on an atomic between
// steps, so it takes no core while the other contestants are timed.
class Partner {
 public:
  explicit Partner(std::function<void()> work) : work_(std::move(work)), thread_([this] { loop(); }) {}
  Partner(const Partner&) = delete;
  Partner& operator=(const Partner&) = delete;
  ~Partner() {
    request(-1);
    thread_.join();
  }

  // Starts one call of `work` on the partner thread.
  void start() { request(1); }
  // Waits until that call has returned.
  void finish() {
    for (int seen = done_.load(); seen != requested_;) {
      done_.wait(seen);
      seen = done_.load();
    }
  }

 private:
  void request(int what) {
    if (what < 0) {
      stop_.store(true);
    } else {
      ++requested_;
    }
    go_.fetch_add(1);
    go_.notify_one();
  }
  void loop() {
    for (int seen = 0;;) {
      go_.wait(seen);
      seen = go_.load();
      if (stop_.load()) return;
      work_();
      done_.fetch_add(1);
      done_.notify_one();
    }
  }

  std::function<void()> work_;
  std::atomic<int> go_{0}, done_{0};
  std::atomic<bool> stop_{false};
  int requested_ = 0;
  std::thread thread_;
};

template <class T>
void run_speedup_dtype(const Options& o, const std::string& dtype, bench::ResultLog& log) {
  const Workload w = standard_workloads()[1];  // T2
  const std::vector<std::vector<double>> parameters = initial_parameters(w, 7);
  const Batch batch = make_batch(w, 11);
  OursTrainer<T> ours(network_from<T>(w, parameters), w, batch);
  OursTrainer<T> second(network_from<T>(w, parameters), w, batch);  // the partner's own model
  Partner partner([&] { second.step(false); });

  std::vector<bench::Contestant> contestants(3);
  contestants[0].name = "1 thread";
  contestants[0].step = [&] {
    ad::linalg::set_gemm_threads(1);
    ours.step(false);
  };
  contestants[1].name = "2 threads";
  contestants[1].step = [&] {
    ad::linalg::set_gemm_threads(2);
    ours.step(false);
  };
  // Time per pair of steps; half of it is the time per step of the two.
  contestants[2].name = "2 x 1 thread";
  contestants[2].step = [&] {
    ad::linalg::set_gemm_threads(1);
    partner.start();
    ours.step(false);
    partner.finish();
  };
  bench::measure(contestants, o.protocol);
  const bench::Summary one = contestants[0].summary(), two = contestants[1].summary(),
                       pair = contestants[2].summary();
  const double speedup = one.median / two.median, ceiling = 2.0 * one.median / pair.median;
  fmt::print("T2  {:<6}  {:>24}  {:>24}  {:>24}  {:>8.2f}x  {:>8.2f}x  {:>9.0f}%  {:>8.2f}x\n", dtype,
             cell(one, true), cell(two, true), cell(pair, true), speedup, ceiling, 100.0 * speedup / ceiling,
             one.min / two.min);
  std::fflush(stdout);
  log.add("T2", dtype, 1, "ours", one, "us/step");
  log.add("T2", dtype, 2, "ours", two, "us/step");
  log.add("T2_two_independent", dtype, 2, "ours", pair, "us/pair");
}

int run_speedup(const Options& o) {
  bench::ResultLog log(o.csv);
  fmt::print(
      "bench_mlp --speedup: T2 steps of ours (nn + ad::linalg::gemm {}, {}), microseconds, median [min, max] "
      "of {} samples, the three alternated\n",
      ad::linalg::gemm_backend(), ad::linalg::gemm_portable_isa(), o.protocol.reps);
  fmt::print("{:<3} {:<6}  {:>24}  {:>24}  {:>24}  {:>9}  {:>9}  {:>10}  {:>9}\n", "", "dtype", "1 thread",
             "2 threads", "2 x 1 thread (a pair)", "speed-up", "ceiling", "of ceiling", "of mins");
  for (const std::string& dtype : o.dtypes) {
    if (dtype == "double")
      run_speedup_dtype<double>(o, dtype, log);
    else
      run_speedup_dtype<float>(o, dtype, log);
  }
  fmt::print(
      "\nspeed-up = 1-thread median / 2-thread median (target 1.7x); ceiling = 2 x 1-thread median / pair "
      "median: what two independent 1-thread steps on two threads at once get from this machine; of mins = "
      "1-thread minimum / 2-thread minimum (a shared machine only ever adds time)\n");
  return 0;
}

// ---- peak memory -----------------------------------------------------------------

int run_rss(const Options& o) {
  if (o.rss == "torch" && !o.torch) {
    fmt::print("bench_mlp --rss torch: LibTorch not built (or --no-torch): skipped\n");
    return 0;
  }
  bench::ResultLog log(o.csv);
  const int threads = o.threads.front();
  set_threads(threads);
  const Workload w = standard_workloads()[1];  // T2
  const double at_start = bench::current_rss_mib();
  const std::vector<std::vector<double>> parameters = initial_parameters(w, 7);
  const Batch batch = make_batch(w, 11);
  double loss = NAN;
  if (o.rss == "ours") {
    OursTrainer<float> ours(network_from<float>(w, parameters), w, batch);
    for (long s = 0; s < o.rss_steps; ++s) loss = ours.step(s + 1 == o.rss_steps);
  } else if (o.rss == "floor") {
    BackpropFloor<float> floor(w, parameters, batch);
    for (long s = 0; s < o.rss_steps; ++s) loss = floor.step(s + 1 == o.rss_steps);
  } else {
#if defined(AD_BENCH_HAVE_LIBTORCH)
    bench::libtorch::MlpTrainer torch(w.sizes, parameters, batch.x, batch.y, false, learning_rate);
    for (long s = 0; s < o.rss_steps; ++s) loss = torch.step(s + 1 == o.rss_steps);
#endif
  }
  const double peak = bench::peak_rss_mib();
  const std::string contestant = o.rss == "torch" ? "LibTorch" : o.rss;
  fmt::print(
      "bench_mlp --rss {}: T2 float, {} steps, {} thread(s): peak RSS {:.1f} MiB (RSS at start {:.1f} MiB, "
      "growth {:.1f} MiB); final loss {:.6g}\n",
      o.rss, o.rss_steps, threads, peak, at_start, peak - at_start, loss);
  log.add("T2_peak_rss", "float", threads, contestant, {peak, peak, peak}, "MiB");
  log.add("T2_rss_growth", "float", threads, contestant, {peak - at_start, peak - at_start, peak - at_start},
          "MiB");
  return std::isfinite(loss) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  if (!o.rss.empty()) return run_rss(o);
  if (o.scaling) return run_scaling(o);
  if (o.speedup) return run_speedup(o);
  return run_standard(o);
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_mlp: %s\n", e.what());
  return 2;
}
