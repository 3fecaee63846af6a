// Fashion-MNIST: 28x28 grey-scale pictures of clothes in 10 classes (60000 to
// train on, 10000 to test). A multilayer perceptron 784-256-128-10,
//   logits = W3 relu(W2 relu(W1 x + b1) + b2) + b3,
// in float, He-initialised, trained on the softmax cross-entropy
//   C = mean_i -log softmax(logits_i)[label_i]
// by Adam on mini-batches of 128, reshuffled every epoch; pixels scaled to
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
#include <ctime>
#include <exception>
#include <filesystem>
#include <numbers>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include <autodiff/autodiff.hpp>
#include <autodiff/gemm.hpp>
#include <nn/idx.hpp>
#include <nn/nn.hpp>

#include "svg_plot.hpp"
#include "tour.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* class_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                         "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

struct Split {
  ad::TensorF images;               // [n, 784], pixels / 255
  std::vector<std::size_t> labels;  // n labels in 0 .. 9
};

// The file `name` in `dir`, compressed (.gz) or not; "" when neither exists.
fs::path find(const fs::path& dir, const std::string& name) {
  for (const fs::path& p : {dir / (name + ".gz"), dir / name})
    if (fs::exists(p)) return p;
  return {};
}

Split load(const fs::path& images_path, const fs::path& labels_path, std::size_t limit) {
  const nn::IdxImages images = nn::load_idx_images(images_path.string());
  const std::vector<std::uint8_t> labels = nn::load_idx_labels(labels_path.string());
  if (images.count != labels.size() || images.rows * images.cols != 784)
    throw std::runtime_error(fmt::format("{} ({} images of {}x{}) and {} ({} labels) do not match",
                                         images_path.string(), images.count, images.rows, images.cols,
                                         labels_path.string(), labels.size()));
  const std::size_t n = std::min(images.count, limit);
  std::vector<float> pixels(n * 784);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = float(images.pixels[i]) / 255.0f;
  Split s{ad::TensorF::from({n, 784}, std::move(pixels)), {}};
  for (std::size_t i = 0; i < n; ++i) {
    if (labels[i] > 9)
      throw std::runtime_error(fmt::format("{}: label {} of sample {}", labels_path.string(), labels[i], i));
    s.labels.push_back(labels[i]);
  }
  return s;
}

// The predicted class of each row of logits.
std::vector<std::size_t> argmax_rows(const ad::TensorF& logits) {
  const std::size_t n = logits.shape()[0], c = logits.shape()[1];
  const auto v = logits.values();
  std::vector<std::size_t> best(n);
  for (std::size_t i = 0; i < n; ++i)
    best[i] = std::size_t(
        std::max_element(v.begin() + std::ptrdiff_t(i * c), v.begin() + std::ptrdiff_t(i * c + c)) -
        (v.begin() + std::ptrdiff_t(i * c)));
  return best;
}

// Test accuracy, and the confusion matrix (row: true class, column: predicted).
double evaluate(const nn::NetworkT<float>& net, const Split& test,
                std::vector<std::size_t>* confusion = nullptr) {
  ad::NoGrad off;
  const std::size_t n = test.labels.size();
  std::size_t correct = 0;
  if (confusion) confusion->assign(100, 0);
  for (std::size_t first = 0; first < n; first += 1000) {
    const std::size_t last = std::min(n, first + 1000);
    const std::vector<std::size_t> predicted = argmax_rows(net(ad::slice_rows(test.images, first, last)));
    for (std::size_t i = first; i < last; ++i) {
      correct += predicted[i - first] == test.labels[i];
      if (confusion) ++(*confusion)[test.labels[i] * 10 + predicted[i - first]];
    }
  }
  return double(correct) / double(n);
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
      find(data_dir, "train-images-idx3-ubyte"), find(data_dir, "train-labels-idx1-ubyte"),
      find(data_dir, "t10k-images-idx3-ubyte"), find(data_dir, "t10k-labels-idx1-ubyte")};
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
  const Split train = load(files[0], files[1], train_limit);
  const Split test = load(files[2], files[3], test_limit);
  const std::size_t n = train.labels.size(), batches = (n + batch - 1) / batch;
  fmt::print("Fashion-MNIST from {}: {} training and {} test images, read in {:.1f} s\n", data_dir.string(),
             n, test.labels.size(), std::chrono::duration<double>(Clock::now() - load_start).count());

  std::mt19937_64 rng(2024);
  nn::NetworkT<float> net({784, 256, 128, 10}, nn::Activation::relu, nn::Activation::identity, rng,
                          nn::Init::he);
  nn::Adam<float> opt(net.parameters(), float(lr0));
  fmt::print(
      "MLP 784-256-128-10 (ReLU, float, He init), {} parameters; Adam, batch {}, {} epoch(s), learning rate "
      "{} {}; matmul: {} with {} thread(s); subnormals {}\n",
      net.parameter_count(), batch, epochs, lr0, constant_lr ? "constant" : "with cosine decay",
      ad::linalg::gemm_backend(), ad::linalg::get_gemm_threads(), flush ? "flushed to zero" : "kept");

  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::vector<double> batch_loss, accuracy;
  ProgressBar bar;
  double train_seconds = 0;
  for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
    if (!constant_lr) {  // cosine decay: eta_e = eta_0 (1 + cos(pi e / E)) / 2
      const double eta = lr0 * 0.5 * (1 + std::cos(std::numbers::pi * double(epoch) / double(epochs)));
      opt.set_learning_rate(std::max(eta, 1e-9));  // must stay > 0
    }
    std::shuffle(order.begin(), order.end(), rng);
    const auto epoch_start = Clock::now();
    // CPU time of all threads: on a shared machine the wall time also counts waiting.
    const std::clock_t cpu_start = std::clock();
    double epoch_loss = 0;
    for (std::size_t b = 0; b < batches; ++b) {
      const std::vector<std::size_t> rows(order.begin() + std::ptrdiff_t(b * batch),
                                          order.begin() + std::ptrdiff_t(std::min(n, (b + 1) * batch)));
      std::vector<std::size_t> labels(rows.size());
      for (std::size_t i = 0; i < rows.size(); ++i) labels[i] = train.labels[rows[i]];
      opt.zero_grad();
      ad::TensorF loss = nn::softmax_cross_entropy(net(ad::rows(train.images, rows)), labels);
      loss.backward();
      opt.step();
      batch_loss.push_back(double(loss.item()));
      epoch_loss += batch_loss.back();
      if (b % 8 == 7 || b + 1 == batches) {
        const double elapsed = std::chrono::duration<double>(Clock::now() - epoch_start).count();
        const double per_batch = (train_seconds + elapsed) / double(epoch * batches + b + 1);
        bar.show(epoch + 1, epochs, b + 1, batches, epoch_loss / double(b + 1),
                 double(std::min(n, (b + 1) * batch)) / elapsed,
                 per_batch * double((epochs - epoch) * batches - b - 1));
      }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
    const double cpu_seconds = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    train_seconds += seconds;
    accuracy.push_back(evaluate(net, test));
    bar.clear();
    fmt::print(
        "epoch {:>2}/{}: lr {:.2e}  train loss {:.4f}  train time {:.2f} s ({:.0f} samples/s, CPU {:.2f} s)  "
        "test accuracy {:.2f}%\n",
        epoch + 1, epochs, opt.learning_rate(), epoch_loss / double(batches), seconds, double(n) / seconds,
        cpu_seconds, 100 * accuracy.back());
    std::fflush(stdout);
  }
  std::vector<std::size_t> confusion;
  const double final_accuracy = evaluate(net, test, &confusion);
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
    at.push_back(double(last) / double(batches));
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
