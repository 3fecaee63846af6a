// Fashion-MNIST: 28x28 grey-scale pictures of clothes in 10 classes (60000 to
// train on, 10000 to test). A multilayer perceptron 784-256-128-10,
//   logits = W3 relu(W2 relu(W1 x + b1) + b2) + b3,
// in float, He-initialised, trained on the softmax cross-entropy
//   C = mean_i -log softmax(logits_i)[label_i]
// by Adam on mini-batches of 128, reshuffled every epoch (nn::fit with an
// nn::DataLoader; the schedule and the progress bar are its callbacks); pixels scaled to
// [0, 1]. The learning rate follows a cosine schedule from 1e-3 down to 0 over
// the run (eta_e = eta_0 (1 + cos(pi e / E)) / 2 for epoch e of E).
//
// Data: Debian's `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist/,
// gzip-compressed IDX files read with nn::load_idx_images/labels).
//
//   fashion_mnist                 20 epochs (the full run)
//   fashion_mnist --quick         3 epochs (> 84% test accuracy)
//   fashion_mnist --smoke         a few hundred samples, 1 epoch (CTest)
//   --epochs N  --lr ETA  --constant-lr  --threads N  --data DIR  --out DIR
//   --keep-denormals  compute with subnormal floats (by default they are
//                     flushed to zero: ad::set_flush_denormal, as PyTorch users
//                     do with torch.set_flush_denormal; same accuracy here,
//                     and epochs do not slow down as the gradients shrink)
//
// Writes fashion_mnist.adnn (the model, nn::save) and fashion_mnist.svg (the
// training loss per batch and the test accuracy per epoch).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
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
#include <nn/idx.hpp>
#include <nn/nn.hpp>

#include "fashion_data.hpp"
#include "svg_plot.hpp"
#include "tour.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* class_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                         "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// The confusion matrix (row: true class, column: predicted).
std::vector<std::size_t> confusion_matrix(nn::NetworkT<float>& net, const nn::TensorDataset<float>& test) {
  ad::NoGrad off;
  std::vector<std::size_t> confusion(100, 0);
  const std::vector<std::size_t> predicted = nn::argmax(net(test.inputs()));
  for (std::size_t i = 0; i < predicted.size(); ++i) ++confusion[test.labels()[i] * 10 + predicted[i]];
  return confusion;
}

// One '\r'-refreshed line on stderr, only when stderr is a terminal.
class ProgressBar {
 public:
  ProgressBar() : enabled_(isatty(fileno(stderr)) != 0) {}
  void show(std::size_t epoch, std::size_t epochs, std::size_t batch, std::size_t batches, double loss,
            double samples_per_second, double eta_seconds) {
    if (!enabled_) return;
    const std::size_t width = 24, filled = width * batch / batches;
    fmt::print(stderr, "\repoch {}/{} [{}{}] batch {:>3}/{} loss {:.4f} {:>6.0f} samples/s ETA {:>4.0f} s ",
               epoch, epochs, std::string(filled, '#'), std::string(width - filled, '.'), batch, batches,
               loss, samples_per_second, eta_seconds);
    std::fflush(stderr);
  }
  void clear() {
    if (enabled_) fmt::print(stderr, "\r{:<110}\r", "");
  }

 private:
  bool enabled_;
};

}  // namespace

int main(int argc, char** argv) try {
  const tour::Args args(argc, argv, {"--epochs", "--lr", "--threads", "--data", "--batch"},
                        {"--constant-lr", "--keep-denormals"});
  const fs::path data_dir = args.get("--data", "/usr/share/datasets/fashion-mnist");
  const std::size_t epochs = std::size_t(args.get_int("--epochs", args.smoke() ? 1 : args.quick() ? 3 : 20));
  const std::size_t batch = std::size_t(args.get_int("--batch", 128));
  const double lr0 = args.get_double("--lr", 1e-3);
  const bool constant_lr = args.has("--constant-lr");
  if (epochs == 0 || batch == 0) throw std::invalid_argument("--epochs and --batch must be at least 1");
  const int threads = int(args.get_int("--threads", 0));  // 0: one per hardware thread
  ad::linalg::set_gemm_threads(threads);
  // Late in training, Adam's moments and the gradients drift into subnormal
  // floats, whose arithmetic is many times slower: flush them to zero.
  const bool flush = !args.has("--keep-denormals") && ad::set_flush_denormal(true);

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

  const auto load_start = Clock::now();
  const std::size_t train_limit = args.smoke() ? 512 : 60000, test_limit = args.smoke() ? 256 : 10000;
  const nn::TensorDataset<float> train = fashion::load(files[0], files[1], train_limit);
  const nn::TensorDataset<float> test = fashion::load(files[2], files[3], test_limit);
  const std::size_t n = train.size();
  fmt::print("Fashion-MNIST from {}: {} training and {} test images, read in {:.1f} s\n", data_dir.string(),
             n, test.size(), std::chrono::duration<double>(Clock::now() - load_start).count());

  std::mt19937_64 rng(2024);
  nn::NetworkT<float> net({784, 256, 128, 10}, nn::Activation::relu, nn::Activation::identity, rng,
                          nn::Init::he);
  nn::Adam<float> opt(net.parameters(), float(lr0));
  fmt::print(
      "MLP 784-256-128-10 (ReLU, float, He init), {} parameters; Adam, batch {}, {} epoch(s), learning rate "
      "{} {}; matmul: {} with {} thread(s); subnormals {}\n",
      net.parameter_count(), batch, epochs, lr0, constant_lr ? "constant" : "with cosine decay",
      ad::linalg::gemm_backend(), ad::linalg::get_gemm_threads(), flush ? "flushed to zero" : "kept");

  // Batches of `batch`, reshuffled every epoch by the generator that
  // initialised the network (continued where the initialisation left it).
  nn::DataLoader<float> loader(train, {.batch_size = batch});
  loader.restore(loader.order(), (std::ostringstream() << rng).str());
  // Cosine decay: eta_e = eta_0 (1 + cos(pi e / E)) / 2 during epoch e,
  // stepped by fit after every epoch.
  // (The base rate is lr0 itself, not the optimiser's float-rounded copy.)
  opt.set_learning_rate(lr0);
  std::optional<nn::CosineSchedule> cosine;
  if (!constant_lr) cosine.emplace(opt, /*total_steps=*/epochs);
  std::vector<double> batch_loss, accuracy;
  ProgressBar bar;
  double train_seconds = 0, epoch_loss = 0;
  auto epoch_start = Clock::now();
  const nn::History history = nn::fit(
      net, loader, nn::cross_entropy, opt,
      {.epochs = epochs,
       .patience = epochs,
       .validation = &test,
       .on_epoch =
           [&](const nn::EpochReport& r) {
             train_seconds += r.seconds;
             accuracy.push_back(r.val_accuracy);
             bar.clear();
             fmt::print(
                 "epoch {:>2}/{}: lr {:.2e}  train loss {:.4f}  train time {:.2f} s ({:.0f} samples/s, CPU "
                 "{:.2f} "
                 "s)  test accuracy {:.2f}%\n",
                 r.epoch, epochs, r.learning_rate, r.loss, r.seconds, double(n) / r.seconds, r.cpu_seconds,
                 100 * r.val_accuracy);
             std::fflush(stdout);
             epoch_loss = 0;
             epoch_start = Clock::now();
             return true;
           },
       .on_batch =
           [&](const nn::BatchReport& r) {
             batch_loss.push_back(r.loss);
             epoch_loss += r.loss;
             if (r.batch % 8 == 0 || r.batch == r.batches) {
               const double elapsed = std::chrono::duration<double>(Clock::now() - epoch_start).count();
               const double per_batch =
                   (train_seconds + elapsed) / double((r.epoch - 1) * r.batches + r.batch);
               bar.show(r.epoch, epochs, r.batch, r.batches, epoch_loss / double(r.batch),
                        double(std::min(n, r.batch * batch)) / elapsed,
                        per_batch * double((epochs - r.epoch + 1) * r.batches - r.batch));
             }
             return true;
           },
       .schedule = cosine ? &*cosine : nullptr});
  if (history.stop_reason != "max_epochs")
    throw std::runtime_error(
        fmt::format("training stopped early: {} ({})", history.stop_reason, history.stop_detail));
  const std::vector<std::size_t> confusion = confusion_matrix(net, test);
  const double final_accuracy = accuracy.back();
  fmt::print("training time {:.1f} s ({:.2f} s per epoch), final test accuracy {:.2f}%\n", train_seconds,
             train_seconds / double(epochs), 100 * final_accuracy);

  fmt::print("confusion matrix (rows: true class, columns: predicted class)\n{:>12}", "");
  for (std::size_t c = 0; c < 10; ++c) fmt::print(" {:>5}", c);
  fmt::print("\n");
  for (std::size_t r = 0; r < 10; ++r) {
    fmt::print("{:>2} {:<10}", r, class_names[r]);
    for (std::size_t c = 0; c < 10; ++c) fmt::print(" {:>5}", confusion[r * 10 + c]);
    fmt::print("\n");
  }

  const fs::path model_path = out / "fashion_mnist.adnn", plot_path = out / "fashion_mnist.svg";
  nn::save(net, model_path.string());
  // The training loss averaged over windows of 20 batches, and the test
  // accuracy (as an error rate, to share the log axis) per epoch.
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
  tour::Plot plot("Fashion-MNIST, MLP 784-256-128-10, Adam", "epoch", "value");
  plot.log_y().line("train loss (20-batch mean)", at, smoothed).line("test error rate", epoch_axis, error);
  plot.write(plot_path, 700, 420);
  tour::wrote(model_path, "the trained network, nn::save; read it back with nn::load<float>");
  tour::wrote(plot_path, "training loss and test error per epoch");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "fashion_mnist: %s\n", e.what());
  return 1;
}
