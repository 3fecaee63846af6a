#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>

#include <fmt/format.h>

#include <autodiff/tape.hpp>
#include <autodiff/tensor_ops.hpp>
#include <nn/checkpoint.hpp>
#include <nn/train.hpp>

namespace nn {
namespace {

void check_options(const FitOptions& o) {
  if (!(o.validation_fraction >= 0.0 && o.validation_fraction < 1.0))
    throw std::invalid_argument(
        fmt::format("nn::fit: validation_fraction must be in [0, 1), got {}", o.validation_fraction));
  if (!(o.tolerance >= 0.0) || !std::isfinite(o.tolerance))
    throw std::invalid_argument(fmt::format("nn::fit: tolerance must be finite and >= 0, got {}", o.tolerance));
  if ((o.checkpoint_every > 0 || o.resume) && o.checkpoint_path.empty())
    throw std::invalid_argument("nn::fit: checkpoint_every and resume need a checkpoint_path");
}

bool file_exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

std::string rng_text(const std::mt19937_64& rng) {
  std::ostringstream out;
  out << rng;
  return out.str();
}

}  // namespace

template <class T>
History fit_with(NetworkT<T>& net, const ad::TensorT<T>& X, const ad::TensorT<T>& Y, const LossFunction<T>& loss,
                 Optimizer<T>& optimizer, const FitOptions& options) {
  check_options(options);
  if (X.rank() == 0 || Y.rank() == 0 || X.shape()[0] != Y.shape()[0])
    throw std::invalid_argument(fmt::format("nn::fit: X {} and Y {} need the same number of samples (rows)",
                                            X.shape().to_string(), Y.shape().to_string()));
  const std::size_t n = X.shape()[0];
  const std::size_t n_validation = static_cast<std::size_t>(std::floor(options.validation_fraction * double(n)));
  const std::size_t n_train = n - n_validation;
  if (n_train == 0) throw std::invalid_argument(fmt::format("nn::fit: no training samples (X has {} rows)", n));

  const ad::TensorT<T> X_train = n_validation ? ad::slice_rows(X, 0, n_train) : X;
  const ad::TensorT<T> Y_train = n_validation ? ad::slice_rows(Y, 0, n_train) : Y;
  const std::size_t batch = options.batch_size == 0 ? n_train : std::min(options.batch_size, n_train);
  std::vector<std::size_t> order(n_train);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::mt19937_64 rng(options.seed);

  History history;
  double best = std::numeric_limits<double>::infinity();
  std::size_t epochs_without_improvement = 0;
  std::size_t first_epoch = 0;
  if (options.resume && file_exists(options.checkpoint_path)) {
    const TrainingState saved = load_checkpoint(options.checkpoint_path, net, optimizer);
    if (saved.order.size() != n_train || saved.loss.size() != saved.epoch ||
        (n_validation ? saved.validation_loss.size() != saved.epoch : !saved.validation_loss.empty()))
      throw std::runtime_error(fmt::format(
          "nn::fit: checkpoint '{}' was written for other data or options ({} training samples, {} epochs of history)",
          options.checkpoint_path, saved.order.size(), saved.loss.size()));
    std::istringstream(saved.rng) >> rng;
    std::copy(saved.order.begin(), saved.order.end(), order.begin());
    best = saved.best;
    epochs_without_improvement = static_cast<std::size_t>(saved.epochs_without_improvement);
    first_epoch = static_cast<std::size_t>(saved.epoch);
    history.loss = saved.loss;
    history.validation_loss = saved.validation_loss;
    history.epochs = first_epoch;
    // A run that had stopped by its own rule stays stopped.
    if (saved.stop_reason == "no_improvement" || saved.stop_reason == "diverged") {
      history.stop_reason = saved.stop_reason;
      return history;
    }
  }
  auto checkpoint = [&](std::size_t epochs_done, const std::string& stop_reason) {
    TrainingState state;
    state.epoch = epochs_done;
    state.rng = rng_text(rng);
    state.order.assign(order.begin(), order.end());
    state.best = best;
    state.epochs_without_improvement = epochs_without_improvement;
    state.loss = history.loss;
    state.validation_loss = history.validation_loss;
    state.stop_reason = stop_reason;
    save_checkpoint(options.checkpoint_path, net, optimizer, state);
  };
  history.stop_reason = "max_epochs";
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t epoch = first_epoch; epoch < options.max_epochs; ++epoch) {
    if (batch < n_train && options.shuffle) std::shuffle(order.begin(), order.end(), rng);
    double total = 0.0;
    std::size_t batches = 0;
    for (std::size_t first = 0; first < n_train; first += batch) {
      const std::size_t last = std::min(first + batch, n_train);
      ad::TensorT<T> xb = X_train, yb = Y_train;
      if (batch < n_train) {
        const std::vector<std::size_t> idx(order.begin() + static_cast<std::ptrdiff_t>(first),
                                           order.begin() + static_cast<std::ptrdiff_t>(last));
        xb = ad::rows(X_train, idx);
        yb = ad::rows(Y_train, idx);
      }
      optimizer.zero_grad();
      ad::TensorT<T> value = loss(net(xb), yb);
      if (value.numel() != 1)
        throw std::invalid_argument(
            fmt::format("nn::fit: the loss returned shape {}, not one value", value.shape().to_string()));
      value.backward();
      optimizer.step();
      total += double(value.item());
      ++batches;
    }
    const double epoch_loss = total / double(batches);
    history.loss.push_back(epoch_loss);
    double monitored = epoch_loss;
    if (n_validation) {
      ad::NoGrad off;
      monitored = double(loss(net(ad::slice_rows(X, n_train, n)), ad::slice_rows(Y, n_train, n)).item());
      history.validation_loss.push_back(monitored);
    }
    history.epochs = epoch + 1;
    if (options.progress) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      fmt::print(stderr, "\repoch {:>6}/{}  loss {:.6g}{}  {:.0f} samples/s   ", epoch + 1, options.max_epochs,
                 epoch_loss, n_validation ? fmt::format("  validation {:.6g}", monitored) : std::string(),
                 double(n_train) * double(epoch + 1) / std::max(seconds, 1e-9));
    }
    if (!std::isfinite(monitored)) {
      history.stop_reason = "diverged";
      break;
    }
    if (best == std::numeric_limits<double>::infinity() || monitored < best - options.tolerance * std::fabs(best)) {
      best = monitored;
      epochs_without_improvement = 0;
    } else if (++epochs_without_improvement >= options.patience) {
      history.stop_reason = "no_improvement";
      break;
    }
    if (options.checkpoint_every > 0 && (epoch + 1) % options.checkpoint_every == 0 && epoch + 1 < options.max_epochs)
      checkpoint(epoch + 1, {});
  }
  if (options.checkpoint_every > 0) checkpoint(history.epochs, history.stop_reason);
  if (options.progress) fmt::print(stderr, "\n");
  return history;
}

template History fit_with(NetworkT<float>&, const ad::TensorT<float>&, const ad::TensorT<float>&,
                          const LossFunction<float>&, Optimizer<float>&, const FitOptions&);
template History fit_with(NetworkT<double>&, const ad::TensorT<double>&, const ad::TensorT<double>&,
                          const LossFunction<double>&, Optimizer<double>&, const FitOptions&);

}  // namespace nn
