// bench_cnn: one Fashion-MNIST training epoch of the convolutional network of
// BENCHMARKS.md, ours against LibTorch in the same process.
//
//   conv(1->32, 3x3)-relu-maxpool(2)-conv(32->64, 3x3)-relu-maxpool(2)-
//   dense(1600->128)-relu-dropout(0.5)-dense(128->10)
//
// softmax cross-entropy, Adam (lr 1e-3), batch 128, float, pixels in [0, 1],
// the training images in one shuffled order per repetition. Both contestants
// start each repetition from the same weights (drawn by nn: PyTorch's default
// initialisation for the convolutions, He for the dense layers) and see the
// same order (dropout masks come from each library's own generator). The
// epoch is timed (wall clock); the test accuracy after it is measured untimed.
//   ours      nn::SequentialT<float> of nn layers, a hand-written loop over
//             ad::rows(images, batch)
//   LibTorch  torch::nn::Sequential of the same layers, index_select batches
// Threads: ours = gemm threads; LibTorch at 1 thread = torch 1 + OpenBLAS 1,
// at n > 1 threads both of its settings (torch n + OpenBLAS 1, and torch 1 +
// OpenBLAS n) are timed and the faster one is the peer (BENCHMARKS.md: which
// is best depends on where LibTorch's time goes).
//
//   bench_cnn [--threads 1,2] [--reps R] [--images N] [--quick] [--csv FILE] [--data DIR] [--no-torch]
//
// Data: Debian's dataset-fashion-mnist; without it the program says so and
// exits with status 0.
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
#include <nn/layers.hpp>
#include <nn/nn.hpp>

#include "fashion_split.hpp"
#include "options.hpp"
#include "side_by_side.hpp"
#if defined(AD_BENCH_HAVE_LIBTORCH)
#include "peers/libtorch_cnn_peer.hpp"
#include "peers/libtorch_peer.hpp"
#endif

namespace {

namespace fs = std::filesystem;
using bench::fashion::Split;

constexpr std::size_t batch_size = 128;
constexpr double learning_rate = 1e-3;
constexpr float dropout = 0.5f;

nn::SequentialT<float> make_cnn(std::mt19937_64& rng) {
  nn::SequentialT<float> m;
  m.add<nn::ReshapeT<float>>(std::vector<std::size_t>{1, 28, 28})
      .add<nn::Conv2dT<float>>(1, 32, 3, nn::Activation::relu, rng)  // relu fused into the convolution
      .add<nn::MaxPool2dT<float>>(2)
      .add<nn::Conv2dT<float>>(32, 64, 3, nn::Activation::relu, rng)
      .add<nn::MaxPool2dT<float>>(2)
      .add<nn::FlattenT<float>>()
      .add<nn::DenseT<float>>(1600, 128, nn::Activation::relu, rng, nn::Init::he)
      .add<nn::DropoutT<float>>(dropout, rng())
      .add<nn::DenseT<float>>(128, 10, nn::Activation::identity, rng, nn::Init::he);
  return m;
}

struct Ours {
  nn::SequentialT<float> net;
  nn::Adam<float> optimizer;

  explicit Ours(std::mt19937_64& rng)
      : net(make_cnn(rng)), optimizer(net.parameters(), float(learning_rate)) {}

  double epoch(const ad::TensorF& images, const std::vector<std::size_t>& labels,
               const std::vector<std::size_t>& order) {
    net.train();
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

  double accuracy(const ad::TensorF& images, const std::vector<std::size_t>& labels) {
    net.eval();
    ad::NoGrad off;
    std::size_t correct = 0;
    for (std::size_t first = 0; first < labels.size(); first += 1000) {
      const std::size_t last = std::min(labels.size(), first + 1000);
      const std::vector<std::size_t> predicted = nn::argmax(net(ad::slice_rows(images, first, last)));
      for (std::size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == labels[first + i];
    }
    return double(correct) / double(labels.size());
  }
};

struct Options {
  std::vector<int> threads{1, 2};
  int reps = 2;
  std::size_t images = 60000;
  std::string csv;
  fs::path data = "/usr/share/datasets/fashion-mnist";
  bool torch =
#if defined(AD_BENCH_HAVE_LIBTORCH)
      true;
#else
      false;
#endif
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
    } else if (a == "--images") {
      o.images = std::max<std::size_t>(batch_size, bench::positive_integer(value(), a));
    } else if (a == "--quick") {
      o.reps = 1;
      o.images = 12800;
    } else if (a == "--csv") {
      o.csv = value();
    } else if (a == "--data") {
      o.data = value();
    } else if (a == "--no-torch") {
      o.torch = false;
    } else if (a == "--help" || a == "-h") {
      fmt::print(R"(usage: bench_cnn [options]
  --threads 1,2   thread counts (ours: gemm threads; LibTorch: the faster of torch n + OpenBLAS 1
                  and torch 1 + OpenBLAS n)
  --reps R        epochs per contestant and thread count, alternated (default 2)
  --images N      train on the first N images of each shuffled order (default 60000: one epoch)
  --quick         one repetition on 12800 images
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

std::string cell(const bench::Summary& s) {
  return fmt::format("{:.2f} [{:.2f}, {:.2f}]", s.median, s.min, s.max);
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  const std::vector<fs::path> files = bench::fashion::find_files(o.data);
  if (files.empty()) {
    fmt::print(
        "bench_cnn: Fashion-MNIST not found in {} (apt-get install dataset-fashion-mnist, or --data DIR): "
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
  const std::size_t images = std::min(o.images, train.count());

  fmt::print(
      "bench_cnn: Fashion-MNIST CNN conv32-pool-conv64-pool-dense128-dropout-dense10, {} training images per "
      "epoch, Adam {}, batch {}, float, {} repetition(s), seconds of wall time\n",
      images, learning_rate, batch_size, o.reps);
#if defined(AD_BENCH_HAVE_LIBTORCH)
  fmt::print("peer: {}\n", o.torch ? bench::libtorch::description() : "LibTorch (skipped: --no-torch)");
#else
  fmt::print("peer: LibTorch not built (install libtorch-dev and reconfigure)\n");
#endif
  fmt::print("\n{:>3}  {:>22}  {:>8}  {:>22}  {:>22}  {:>8}  {:>9}  {:>9}\n", "thr", "ours s/epoch",
             "accuracy", "LibTorch torch n", "LibTorch blas n", "accuracy", "torch/us", "peak RSS");

  bench::ResultLog log(o.csv);
  for (int threads : o.threads) {
    ad::linalg::set_gemm_threads(threads);
    std::vector<double> ours_seconds, ours_accuracy, torch_n_seconds, blas_n_seconds, torch_accuracy;
    for (int r = 0; r < o.reps; ++r) {
      std::mt19937_64 rng(3000 + std::uint64_t(r));
      Ours ours(rng);
      std::vector<std::vector<double>> parameters;
      for (const ad::TensorF& p : ours.net.parameters())
        parameters.emplace_back(p.values().begin(), p.values().end());
      std::vector<std::size_t> order(train.count());
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::shuffle(order.begin(), order.end(), rng);
      order.resize(images);

      auto run_ours = [&] {
        const bench::Clock::time_point start = bench::Clock::now();
        ours.epoch(train_images, train_labels, order);
        ours_seconds.push_back(bench::seconds_since(start));
        ours_accuracy.push_back(ours.accuracy(test_images, test_labels));
      };
      auto run_torch = [&] {
#if defined(AD_BENCH_HAVE_LIBTORCH)
        if (!o.torch) return;
        // Two settings at n > 1 threads (at 1 thread they are the same).
        for (bool torch_threads : threads > 1 ? std::vector<bool>{true, false} : std::vector<bool>{false}) {
          bench::libtorch::set_threads(torch_threads ? threads : 1, torch_threads ? 1 : threads);
          if (threads > 1) bench::let_blas_workers_sleep();
          bench::libtorch::CnnTrainer torch(parameters, dropout, learning_rate);
          const bench::Clock::time_point start = bench::Clock::now();
          torch.epoch(train.pixels, train.labels, order, batch_size);
          (torch_threads ? torch_n_seconds : blas_n_seconds).push_back(bench::seconds_since(start));
          if (!torch_threads) torch_accuracy.push_back(torch.accuracy(test.pixels, test.labels));
        }
        bench::libtorch::set_threads(1, 1);
        if (threads > 1) bench::let_blas_workers_sleep();
#endif
      };
      // Alternated order between repetitions: neither always runs first.
      if (r % 2 == 0) {
        run_ours();
        run_torch();
      } else {
        run_torch();
        run_ours();
      }
    }
    const bench::Summary ours = bench::summarise(ours_seconds), ours_acc = bench::summarise(ours_accuracy);
    const bench::Summary torch_n = bench::summarise(torch_n_seconds),
                         blas_n = bench::summarise(blas_n_seconds),
                         torch_acc = bench::summarise(torch_accuracy);
    const double best_torch =
        torch_n_seconds.empty() ? blas_n.median : std::min(torch_n.median, blas_n.median);
    fmt::print("{:>3}  {:>22}  {:>7.2f}%  {:>22}  {:>22}  {:>8}  {:>9}  {:>6.0f} MiB\n", threads, cell(ours),
               100 * ours_acc.median, o.torch && !torch_n_seconds.empty() ? cell(torch_n) : std::string("-"),
               o.torch ? cell(blas_n) : std::string("not built"),
               o.torch ? fmt::format("{:.2f}%", 100 * torch_acc.median) : std::string("-"),
               o.torch ? fmt::format("{:.2f}x", best_torch / ours.median) : std::string("-"),
               bench::peak_rss_mib());
    std::fflush(stdout);
    log.add("cnn_epoch", "float", threads, "ours", ours, "s/epoch");
    log.add("cnn_accuracy", "float", threads, "ours", ours_acc, "fraction");
    if (o.torch) {
      log.add("cnn_epoch", "float", threads, "LibTorch", bench::summarise({best_torch}), "s/epoch");
      log.add("cnn_accuracy", "float", threads, "LibTorch", torch_acc, "fraction");
    }
  }
  fmt::print(
      "\naccuracy: test accuracy after the epoch (median over repetitions); torch/us: LibTorch's faster "
      "setting (median) / ours (median); peak RSS: the process's, LibTorch's libraries included (about 150 "
      "MiB of them when it is built in)\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_cnn: %s\n", e.what());
  return 2;
}
