// Fashion-MNIST with a convolutional network: where a user goes after the MLP
// (fashion_mnist). The network (BENCHMARKS.md),
//   28x28 -> conv 3x3, 32 channels -> relu -> max pool 2x2      (32 x 13 x 13)
//         -> conv 3x3, 64 channels -> relu -> max pool 2x2      (64 x 5 x 5)
//         -> flatten -> dense 128, relu -> dropout 0.5 -> dense 10 (logits),
// is an nn::Sequential of nn layers, in float, trained on the softmax
// cross-entropy by Adam on mini-batches of 128 reshuffled every epoch
// (nn::fit), the learning rate following a cosine from 2e-3 down to 0 over the
// run (from 1e-3 the same run ends at 91.16%; with dropout 0.25 at 91.41%). Dropout is on while training and
// off when fit measures the test accuracy (fit switches the model's train/eval mode).
//
//   fashion_cnn               15 epochs (the full run: > 91.5% test accuracy)
//   fashion_cnn --quick       1 epoch (about 88%)
//   fashion_cnn --smoke       a few hundred samples, 1 epoch (CTest)
//   --epochs N  --lr ETA  --dropout P  --threads N  --data DIR  --out DIR
//
// Writes fashion_cnn.adnn (the model, nn::save), fashion_cnn.svg (training
// loss per batch, test error per epoch) and fashion_cnn_confusion.svg (the
// confusion matrix as a picture).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include <autodiff/autodiff.hpp>
#include <autodiff/gemm.hpp>
#include <nn/layers.hpp>
#include <nn/nn.hpp>

#include "fashion_data.hpp"
#include "svg_plot.hpp"
#include "tour.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* class_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                         "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

nn::SequentialT<float> make_cnn(std::mt19937_64& rng, float dropout) {
  nn::SequentialT<float> model;
  model
      .add<nn::ReshapeT<float>>(std::vector<std::size_t>{1, 28, 28})  // a batch of rows -> N x 1 x 28 x 28
      .add<nn::Conv2dT<float>>(1, 32, 3, nn::Activation::relu, rng)   // relu fused into the convolution
      .add<nn::MaxPool2dT<float>>(2)
      .add<nn::Conv2dT<float>>(32, 64, 3, nn::Activation::relu, rng)
      .add<nn::MaxPool2dT<float>>(2)
      .add<nn::FlattenT<float>>()
      .add<nn::DenseT<float>>(64 * 5 * 5, 128, nn::Activation::relu, rng, nn::Init::he)
      .add<nn::DropoutT<float>>(dropout, rng())
      .add<nn::DenseT<float>>(128, 10, nn::Activation::identity, rng, nn::Init::he);
  return model;
}

// The confusion matrix (row: true class, column: predicted), in batches of
// 1000 test images.
std::vector<std::size_t> confusion_matrix(nn::SequentialT<float>& model,
                                          const nn::TensorDataset<float>& test) {
  ad::NoGrad off;
  model.eval();
  std::vector<std::size_t> confusion(100, 0);
  for (std::size_t first = 0; first < test.size(); first += 1000) {
    const std::size_t last = std::min(test.size(), first + 1000);
    const std::vector<std::size_t> predicted = nn::argmax(model(ad::slice_rows(test.inputs(), first, last)));
    for (std::size_t i = 0; i < predicted.size(); ++i)
      ++confusion[test.labels()[first + i] * 10 + predicted[i]];
  }
  return confusion;
}

// The confusion matrix as a picture: each cell shaded by the fraction of its
// row (the true class), the count written in it.
void write_confusion_svg(const fs::path& path, const std::vector<std::size_t>& confusion) {
  const double cell = 44, left = 110, top = 70;
  std::ostringstream svg;
  svg << fmt::format(
             R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif">)",
             left + 10 * cell + 20, top + 10 * cell + 40)
      << "\n"
      << fmt::format(
             R"(<text x="{}" y="24" font-size="15" text-anchor="middle">Fashion-MNIST CNN: rows true class,)"
             R"( columns predicted</text>)",
             (left + 10 * cell + 20) / 2)
      << "\n";
  for (std::size_t r = 0; r < 10; ++r) {
    std::size_t row_total = 0;
    for (std::size_t c = 0; c < 10; ++c) row_total += confusion[r * 10 + c];
    svg << fmt::format(R"(<text x="{}" y="{}" font-size="12" text-anchor="end">{}</text>)", left - 6,
                       top + (double(r) + 0.6) * cell, class_names[r])
        << "\n";
    for (std::size_t c = 0; c < 10; ++c) {
      const std::size_t n = confusion[r * 10 + c];
      const double share = row_total ? double(n) / double(row_total) : 0.0;
      // White (none) to deep blue (the whole row); off-diagonal cells in red.
      const int fade = int(std::lround(255 * (1 - std::sqrt(share))));
      const std::string color =
          r == c ? fmt::format("rgb({},{},255)", fade, fade) : fmt::format("rgb(255,{},{})", fade, fade);
      svg << fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="#ccc"/>)",
                         left + double(c) * cell, top + double(r) * cell, cell, cell, color)
          << fmt::format(R"(<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="{}">{}</text>)",
                         left + (double(c) + 0.5) * cell, top + (double(r) + 0.6) * cell,
                         share > 0.5 ? "white" : "black", n)
          << "\n";
    }
  }
  for (std::size_t c = 0; c < 10; ++c)
    svg << fmt::format(R"(<text x="{}" y="{}" font-size="11" text-anchor="middle">{}</text>)",
                       left + (double(c) + 0.5) * cell, top - 8, c)
        << "\n";
  svg << fmt::format(
             R"(<text x="{}" y="{}" font-size="12" text-anchor="middle">predicted class (0 = {}, ..., 9 = {})</text>)",
             left + 5 * cell, top + 10 * cell + 24, class_names[0], class_names[9])
      << "\n</svg>\n";
  const fs::path partial = fs::path(path).concat(".partial");
  {
    std::ofstream file(partial);
    file << svg.str();
    if (!file.flush()) throw std::runtime_error("cannot write " + partial.string());
  }
  fs::rename(partial, path);  // atomically: a half-written picture never replaces a whole one
}

// One '\r'-refreshed line on stderr, only when stderr is a terminal.
class ProgressBar {
 public:
  ProgressBar() : enabled_(isatty(fileno(stderr)) != 0) {}
  void show(std::size_t epoch, std::size_t epochs, std::size_t batch, std::size_t batches, double loss,
            double samples_per_second) {
    if (!enabled_) return;
    const std::size_t width = 24, filled = width * batch / batches;
    fmt::print(stderr, "\repoch {}/{} [{}{}] batch {:>3}/{} loss {:.4f} {:>6.0f} samples/s ", epoch, epochs,
               std::string(filled, '#'), std::string(width - filled, '.'), batch, batches, loss,
               samples_per_second);
    std::fflush(stderr);
  }
  void clear() {
    if (enabled_) fmt::print(stderr, "\r{:<100}\r", "");
  }

 private:
  bool enabled_;
};

}  // namespace

int main(int argc, char** argv) try {
  const tour::Args args(argc, argv, {"--epochs", "--lr", "--dropout", "--threads", "--data"});
  const fs::path data_dir = args.get("--data", "/usr/share/datasets/fashion-mnist");
  const std::size_t epochs = std::size_t(args.get_int("--epochs", args.smoke() || args.quick() ? 1 : 15));
  const double lr0 = args.get_double("--lr", 2e-3);
  if (epochs == 0) throw std::invalid_argument("--epochs must be at least 1");
  ad::linalg::set_gemm_threads(int(args.get_int("--threads", 0)));  // 0: one per hardware thread
  ad::set_flush_denormal(true);  // as fashion_mnist: subnormal floats late in training are slow

  const fs::path files[4] = {
      fashion::find(data_dir, "train-images-idx3-ubyte"), fashion::find(data_dir, "train-labels-idx1-ubyte"),
      fashion::find(data_dir, "t10k-images-idx3-ubyte"), fashion::find(data_dir, "t10k-labels-idx1-ubyte")};
  if (std::any_of(std::begin(files), std::end(files), [](const fs::path& p) { return p.empty(); })) {
    fmt::print(
        "Fashion-MNIST not found in {} (install it with `apt-get install dataset-fashion-mnist`, or pass "
        "--data DIR): skipped.\n",
        data_dir.string());
    return 0;
  }
  const fs::path out = args.out_dir();
  const std::size_t train_limit = args.smoke() ? 512 : 60000, test_limit = args.smoke() ? 256 : 10000;
  const nn::TensorDataset<float> train = fashion::load(files[0], files[1], train_limit);
  const nn::TensorDataset<float> test = fashion::load(files[2], files[3], test_limit);
  const std::size_t n = train.size();

  std::mt19937_64 rng(2026);
  nn::SequentialT<float> model = make_cnn(rng, float(args.get_double("--dropout", 0.5)));
  nn::Adam<float> opt(model.parameters(), float(lr0));
  opt.set_learning_rate(lr0);
  fmt::print(
      "{} training and {} test images; {} parameters, Adam, batch 128, {} epoch(s), lr {} with cosine "
      "decay, {} thread(s)\n{}\n",
      n, test.size(), model.parameter_count(), epochs, lr0, ad::linalg::get_gemm_threads(),
      model.architecture());

  nn::DataLoader<float> loader(train, {.batch_size = 128, .seed = 7});
  nn::CosineSchedule cosine(opt, /*total_steps=*/epochs);
  std::vector<double> batch_loss, accuracy;
  ProgressBar bar;
  double train_seconds = 0, epoch_loss = 0;
  auto epoch_start = Clock::now();
  fmt::print("{:>5}  {:>9}  {:>10}  {:>9}  {:>10}  {:>13}\n", "epoch", "lr", "train loss", "seconds",
             "samples/s", "test accuracy");
  const nn::History history = nn::fit(
      model, loader, nn::cross_entropy, opt,
      {.epochs = epochs,
       .patience = epochs,
       .validation = &test,
       .on_epoch =
           [&](const nn::EpochReport& r) {
             train_seconds += r.seconds;
             accuracy.push_back(r.val_accuracy);
             bar.clear();
             fmt::print("{:>5}  {:>9.2e}  {:>10.4f}  {:>9.1f}  {:>10.0f}  {:>12.2f}%\n", r.epoch,
                        r.learning_rate, r.loss, r.seconds, double(n) / r.seconds, 100 * r.val_accuracy);
             std::fflush(stdout);
             epoch_loss = 0;
             epoch_start = Clock::now();
             return true;
           },
       .on_batch =
           [&](const nn::BatchReport& r) {
             batch_loss.push_back(r.loss);
             epoch_loss += r.loss;
             if (r.batch % 4 == 0 || r.batch == r.batches) {
               const double elapsed = std::chrono::duration<double>(Clock::now() - epoch_start).count();
               bar.show(r.epoch, epochs, r.batch, r.batches, epoch_loss / double(r.batch),
                        double(std::min(n, r.batch * 128)) / elapsed);
             }
             return true;
           },
       .schedule = &cosine});
  if (history.stop_reason != "max_epochs")
    throw std::runtime_error(
        fmt::format("training stopped early: {} ({})", history.stop_reason, history.stop_detail));
  const std::vector<std::size_t> confusion = confusion_matrix(model, test);
  fmt::print("training time {:.1f} s ({:.1f} s per epoch), final test accuracy {:.2f}%\n", train_seconds,
             train_seconds / double(epochs), 100 * accuracy.back());
  fmt::print("confusion matrix (rows: true class, columns: predicted class)\n{:>13}", "");
  for (std::size_t c = 0; c < 10; ++c) fmt::print(" {:>5}", c);
  fmt::print("\n");
  for (std::size_t r = 0; r < 10; ++r) {
    fmt::print("{:>2} {:<10}", r, class_names[r]);
    for (std::size_t c = 0; c < 10; ++c) fmt::print(" {:>5}", confusion[r * 10 + c]);
    fmt::print("\n");
  }

  const fs::path model_path = out / "fashion_cnn.adnn", plot_path = out / "fashion_cnn.svg",
                 confusion_path = out / "fashion_cnn_confusion.svg";
  nn::save(model, model_path.string());
  std::vector<double> at, smoothed, epoch_axis, error;
  for (std::size_t first = 0; first < batch_loss.size(); first += 20) {
    const std::size_t last = std::min(batch_loss.size(), first + 20);
    at.push_back(double(last) / double(loader.size()));
    smoothed.push_back(std::accumulate(batch_loss.begin() + std::ptrdiff_t(first),
                                       batch_loss.begin() + std::ptrdiff_t(last), 0.0) /
                       double(last - first));
  }
  for (std::size_t e = 0; e < accuracy.size(); ++e) {
    epoch_axis.push_back(double(e + 1));
    error.push_back(1 - accuracy[e]);
  }
  tour::Plot plot("Fashion-MNIST, CNN conv32-pool-conv64-pool-dense128-dropout, Adam", "epoch", "value");
  plot.log_y().line("train loss (20-batch mean)", at, smoothed).line("test error rate", epoch_axis, error);
  plot.write(plot_path, 700, 420);
  write_confusion_svg(confusion_path, confusion);
  tour::wrote(model_path, "the trained CNN, nn::save; nn::load_into(make_cnn(rng), path) reads it back");
  tour::wrote(plot_path, "training loss and test error per epoch");
  tour::wrote(confusion_path, "which classes the CNN confuses (Shirt with T-shirt, Pullover and Coat)");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "fashion_cnn: %s\n", e.what());
  return 1;
}
