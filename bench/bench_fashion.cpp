// bench_fashion: one Fashion-MNIST training epoch end to end (BENCHMARKS.md),
// ours against LibTorch in the same process.
//
// MLP 784-256-128-10 (ReLU hidden, identity output), softmax cross-entropy,
// Adam (lr 1e-3), batch 128, float, pixels scaled to [0, 1], the 60000
// training images reshuffled for every epoch. Both contestants start each
// repetition from the same He-initialised weights (drawn by nn) and see the
// same order; the epoch is timed (wall clock), then the test accuracy after
// it is measured untimed.
//   ours      nn::NetworkT<float> + nn::softmax_cross_entropy + nn::Adam<float>
//             on ad::rows(images, batch), a hand-written loop
//   nn::fit   the same network and optimiser trained by nn::fit, as
//             examples/fashion_mnist.cpp trains (with and without guard_steps)
//   LibTorch  torch::nn::Sequential + cross_entropy + torch::optim::Adam on
//             index_select(images, batch)
//
//   bench_fashion [--threads 1,2] [--reps R] [--quick] [--csv FILE] [--data DIR] [--no-torch]
//
// Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist);
// without it the program says so and exits with status 0.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <autodiff/autodiff.hpp>
#include <autodiff/gemm.hpp>
#include <nn/idx.hpp>
#include <nn/nn.hpp>

#include "fashion_split.hpp"
#include "options.hpp"
#include "side_by_side.hpp"
#if defined(AD_BENCH_HAVE_LIBTORCH)
#include "peers/libtorch_peer.hpp"
#endif

namespace {

namespace fs = std::filesystem;

constexpr bool have_torch =
#if defined(AD_BENCH_HAVE_LIBTORCH)
    true;
#else
    false;
#endif

const std::vector<std::size_t> layer_sizes{784, 256, 128, 10};
constexpr std::size_t batch_size = 128;
constexpr double learning_rate = 1e-3;

using bench::fashion::Split;

// ---- ours -------------------------------------------------------------------------

struct OursClassifier {
  nn::NetworkT<float> net;
  nn::Adam<float> optimizer;

  explicit OursClassifier(nn::NetworkT<float> net_)
      : net(std::move(net_)), optimizer(net.parameters(), float(learning_rate)) {}

  double epoch(const ad::TensorF& images, const std::vector<std::size_t>& labels,
               const std::vector<std::size_t>& order) {
    double total = 0.0;
    std::size_t batches = 0;
    std::vector<std::size_t> rows, batch_labels;
    for (std::size_t first = 0; first < order.size(); first += batch_size, ++batches) {
      const std::size_t last = std::min(order.size(), first + batch_size);
      rows.assign(order.begin() + std::ptrdiff_t(first), order.begin() + std::ptrdiff_t(last));
      batch_labels.resize(rows.size());
      for (std::size_t i = 0; i < rows.size(); ++i) batch_labels[i] = labels[rows[i]];
      optimizer.zero_grad();
      ad::TensorF loss = nn::softmax_cross_entropy(net(ad::rows(images, rows)), batch_labels);
      loss.backward();
      optimizer.step();
      total += double(loss.item());
    }
    return total / double(batches);
  }

  double accuracy(const ad::TensorF& images, const std::vector<std::size_t>& labels) const {
    ad::NoGrad off;
    const ad::TensorF logits = net(images);
    const std::span<const float> v = logits.values();
    const std::size_t classes = logits.shape()[1];
    std::size_t correct = 0;
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const auto row = v.begin() + std::ptrdiff_t(i * classes);
      correct += std::size_t(std::max_element(row, row + std::ptrdiff_t(classes)) - row) == labels[i];
    }
    return double(correct) / double(labels.size());
  }
};

// The same epoch through nn::fit (its DataLoader shuffles with its own seeded
// generator, so the order differs from the loop's), with and without
// FitOptions::guard_steps: what a user of fit pays for the loop it runs.
struct FitEpoch {
  double seconds = 0.0;
  double accuracy = 0.0;
};

FitEpoch fit_epoch(nn::NetworkT<float> net, const nn::TensorDataset<float>& train,
                   const ad::TensorF& test_images, const std::vector<std::size_t>& test_labels,
                   std::uint64_t seed, bool guard_steps) {
  nn::Adam<float> optimizer(net.parameters(), float(learning_rate));
  const bench::Clock::time_point start = bench::Clock::now();
  const nn::History h =
      nn::fit(net, train, nn::cross_entropy, optimizer,
              {.epochs = 1, .batch_size = batch_size, .guard_steps = guard_steps, .seed = seed});
  FitEpoch out;
  out.seconds = bench::seconds_since(start);
  if (h.epochs != 1) throw std::runtime_error("nn::fit stopped early: " + h.stop_detail);
  OursClassifier judge(std::move(net));
  out.accuracy = judge.accuracy(test_images, test_labels);
  return out;
}

// ---- options ----------------------------------------------------------------------

struct Options {
  std::vector<int> threads{1, 2};
  int reps = 5;
  std::string csv;
  fs::path data = "/usr/share/datasets/fashion-mnist";
  bool torch = have_torch;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", a));
      return argv[++i];
    };
    if (a == "--threads") {
      o.threads.clear();
      for (std::size_t t : bench::positive_integers(value(), a)) o.threads.push_back(static_cast<int>(t));
    } else if (a == "--reps") {
      o.reps = std::max(1, static_cast<int>(bench::positive_integer(value(), a)));
    } else if (a == "--quick") {
      o.reps = 1;
    } else if (a == "--csv") {
      o.csv = value();
    } else if (a == "--data") {
      o.data = value();
    } else if (a == "--no-torch") {
      o.torch = false;
    } else if (a == "--help" || a == "-h") {
      fmt::print(R"(usage: bench_fashion [options]
  --threads 1,2   thread counts (ours: gemm threads; LibTorch: torch 1 + OpenBLAS n)
  --reps R        epochs per contestant and thread count, alternated (default 5)
  --quick         one epoch each
  --csv FILE      append result rows to FILE
  --data DIR      where the Fashion-MNIST IDX files are (default /usr/share/datasets/fashion-mnist)
  --no-torch      leave LibTorch out even when it was built in
)");
      std::exit(0);
    } else {
      throw std::invalid_argument(fmt::format("unknown option {} (see --help)", a));
    }
  }
  return o;
}

void set_threads(int threads) {
  ad::linalg::set_gemm_threads(threads);
#if defined(AD_BENCH_HAVE_LIBTORCH)
  bench::libtorch::set_threads(1, threads);
#endif
}

std::string cell(const bench::Summary& s) {
  return fmt::format("{:.3f} [{:.3f}, {:.3f}]", s.median, s.min, s.max);
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  const std::vector<fs::path> files = bench::fashion::find_files(o.data);
  if (files.empty()) {
    fmt::print(
        "bench_fashion: Fashion-MNIST not found in {} (apt-get install dataset-fashion-mnist, or --data "
        "DIR): "
        "skipped.\n",
        o.data.string());
    return 0;
  }
  const Split train = bench::fashion::load_split(files[0], files[1]);
  const Split test = bench::fashion::load_split(files[2], files[3]);
  const ad::TensorF train_images = ad::TensorF::from({train.count(), 784}, train.pixels);
  const ad::TensorF test_images = ad::TensorF::from({test.count(), 784}, test.pixels);
  const std::vector<std::size_t> train_labels(train.labels.begin(), train.labels.end());
  const std::vector<std::size_t> test_labels(test.labels.begin(), test.labels.end());

  fmt::print(
      "bench_fashion: one Fashion-MNIST epoch ({} images, MLP 784-256-128-10 ReLU, softmax cross-entropy, "
      "Adam {}, batch {}, float), {} repetition(s), seconds of wall time\n",
      train.count(), learning_rate, batch_size, o.reps);
#if defined(AD_BENCH_HAVE_LIBTORCH)
  fmt::print("peer: {}\n", o.torch ? bench::libtorch::description() : "LibTorch (skipped: --no-torch)");
#else
  fmt::print("peer: LibTorch not built (install libtorch-dev and reconfigure)\n");
#endif
  fmt::print("\n{:>3}  {:>24}  {:>9}  {:>24}  {:>9}  {:>24}  {:>24}  {:>9}  {:>9}  {:>9}  {}\n", "thr",
             "ours s/epoch", "accuracy", "LibTorch s/epoch", "accuracy", "nn::fit s/epoch", "fit, no guards",
             "accuracy", "torch/us", "torch/fit", "target (ours)");
  const nn::TensorDataset<float> train_set(train_images, train_labels);

  bench::ResultLog log(o.csv);
  for (int threads : o.threads) {
    set_threads(threads);
    std::vector<double> ours_seconds, ours_accuracy, torch_seconds, torch_accuracy, fit_seconds, fit_accuracy,
        bare_fit_seconds;
    for (int r = 0; r < o.reps; ++r) {
      // Repetition r: the same start and the same shuffled order for both.
      std::mt19937_64 rng(1000 + std::uint64_t(r));
      nn::NetworkT<float> net(layer_sizes, nn::Activation::relu, nn::Activation::identity, rng, nn::Init::he);
      std::vector<std::vector<double>> parameters;
      for (const ad::TensorF& p : net.parameters())
        parameters.emplace_back(p.values().begin(), p.values().end());
      std::vector<std::size_t> order(train.count());
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::shuffle(order.begin(), order.end(), rng);

      // Alternated order between repetitions: neither variant always runs first.
      for (bool guard : r % 2 == 0 ? std::array<bool, 2>{true, false} : std::array<bool, 2>{false, true}) {
        const FitEpoch f =
            fit_epoch(net.clone(), train_set, test_images, test_labels, 1000 + std::uint64_t(r), guard);
        (guard ? fit_seconds : bare_fit_seconds).push_back(f.seconds);
        if (guard) fit_accuracy.push_back(f.accuracy);
      }
      OursClassifier ours(std::move(net));
      const bench::Clock::time_point start = bench::Clock::now();
      ours.epoch(train_images, train_labels, order);
      ours_seconds.push_back(bench::seconds_since(start));
      ours_accuracy.push_back(ours.accuracy(test_images, test_labels));
#if defined(AD_BENCH_HAVE_LIBTORCH)
      if (o.torch) {
        if (threads > 1) bench::let_blas_workers_sleep();
        bench::libtorch::ClassifierTrainer torch(layer_sizes, parameters, learning_rate);
        const bench::Clock::time_point torch_start = bench::Clock::now();
        torch.epoch(train.pixels, train.labels, order, batch_size);
        torch_seconds.push_back(bench::seconds_since(torch_start));
        torch_accuracy.push_back(torch.accuracy(test.pixels, test.labels));
        if (threads > 1) bench::let_blas_workers_sleep();
      }
#endif
    }
    const bench::Summary ours = bench::summarise(ours_seconds), torch = bench::summarise(torch_seconds);
    const bench::Summary ours_acc = bench::summarise(ours_accuracy),
                         torch_acc = bench::summarise(torch_accuracy);
    const bench::Summary fit = bench::summarise(fit_seconds), bare_fit = bench::summarise(bare_fit_seconds),
                         fit_acc = bench::summarise(fit_accuracy);
    const double target = threads == 1 ? 0.7 : threads == 2 ? 0.45 : NAN;
    fmt::print("{:>3}  {:>24}  {:>8.2f}%  {:>24}  {:>9}  {:>24}  {:>24}  {:>8.2f}%  {:>9}  {:>9}  {}\n",
               threads, cell(ours), 100 * ours_acc.median, o.torch ? cell(torch) : std::string("not built"),
               o.torch ? fmt::format("{:.2f}%", 100 * torch_acc.median) : std::string("-"), cell(fit),
               cell(bare_fit), 100 * fit_acc.median,
               o.torch ? fmt::format("{:.2f}x", torch.median / ours.median) : std::string("-"),
               o.torch ? fmt::format("{:.2f}x", torch.median / fit.median) : std::string("-"),
               std::isnan(target)
                   ? std::string("-")
                   : fmt::format("{} <= {} s, {} >= 84%", ours.median <= target ? "met" : "MISS", target,
                                 ours_acc.median >= 0.84 ? "met" : "MISS"));
    std::fflush(stdout);
    log.add("fashion_epoch", "float", threads, "ours", ours, "s/epoch");
    log.add("fashion_accuracy", "float", threads, "ours", ours_acc, "fraction");
    log.add("fashion_epoch", "float", threads, "ours nn::fit", fit, "s/epoch");
    log.add("fashion_epoch", "float", threads, "ours nn::fit without guards", bare_fit, "s/epoch");
    log.add("fashion_accuracy", "float", threads, "ours nn::fit", fit_acc, "fraction");
    if (o.torch) {
      log.add("fashion_epoch", "float", threads, "LibTorch", torch, "s/epoch");
      log.add("fashion_accuracy", "float", threads, "LibTorch", torch_acc, "fraction");
    }
  }
  fmt::print(
      "\naccuracy: test accuracy after the epoch (median over repetitions); torch/us: LibTorch median / ours "
      "(hand-written loop) median; torch/fit: LibTorch median / nn::fit (guard_steps on) median\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_fashion: %s\n", e.what());
  return 2;
}
