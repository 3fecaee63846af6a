// nn::fit: the training loop. Each epoch visits the data in mini-batches (or
// as one full batch), and for each: zero the gradients, evaluate the loss,
// one backward sweep, one optimiser step.
//
//   auto history = nn::fit(net, X, Y, nn::mse_loss, opt, {.max_epochs = 5000});
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include <autodiff/tensor.hpp>
#include <nn/network.hpp>
#include <nn/optimizer.hpp>

namespace nn {

struct FitOptions {
  std::size_t max_epochs = 1000;
  // Samples per step; 0 means the whole training set (full-batch descent).
  std::size_t batch_size = 0;
  // Reshuffle the samples every epoch (mini-batches only).
  bool shuffle = true;
  // Stop when the monitored loss (validation if there is a validation split,
  // else training) has not improved by a relative `tolerance` for `patience`
  // epochs in a row.
  double tolerance = 1e-6;
  std::size_t patience = 20;
  // Fraction of the samples (the last ones, before any shuffling) held out
  // for validation; 0 for none.
  double validation_fraction = 0.0;
  // Print a live progress line (epoch, loss, samples/s) to stderr.
  bool progress = false;
  std::uint64_t seed = 0;  // for shuffling
  // Crash-safe training (nn/checkpoint.hpp): every `checkpoint_every` epochs
  // (0: never) and when training stops, the whole training state is written
  // atomically to `checkpoint_path`. With `resume`, a checkpoint found there
  // is loaded first and training continues from it, bit-identically to a run
  // that was never interrupted (a missing file starts from scratch; a
  // corrupt one throws). Resuming needs the same network shape, optimiser
  // kind, data and options.
  std::string checkpoint_path = {};  // an initializer, so designated initialisers may omit it
  std::size_t checkpoint_every = 0;
  bool resume = false;
};

struct History {
  std::vector<double> loss;             // mean training loss per epoch (over its batches)
  std::vector<double> validation_loss;  // per epoch, when a validation split was asked for
  std::size_t epochs = 0;
  std::string stop_reason;              // "max_epochs" or "no_improvement"
};

template <class T>
using LossFunction = std::function<ad::TensorT<T>(const ad::TensorT<T>&, const ad::TensorT<T>&)>;

template <class T>
History fit_with(NetworkT<T>& net, const ad::TensorT<T>& X, const ad::TensorT<T>& Y, const LossFunction<T>& loss,
                 Optimizer<T>& optimizer, const FitOptions& options);

// A loss given by name (nn::mse_loss) or any callable (a lambda).
template <class T>
History fit(NetworkT<T>& net, const ad::TensorT<T>& X, const ad::TensorT<T>& Y,
            ad::TensorT<T> (*loss)(const ad::TensorT<T>&, const ad::TensorT<T>&), Optimizer<T>& optimizer,
            const FitOptions& options = {}) {
  return fit_with<T>(net, X, Y, LossFunction<T>(loss), optimizer, options);
}
template <class T, class Loss>
  requires std::is_invocable_r_v<ad::TensorT<T>, Loss, const ad::TensorT<T>&, const ad::TensorT<T>&>
History fit(NetworkT<T>& net, const ad::TensorT<T>& X, const ad::TensorT<T>& Y, Loss loss, Optimizer<T>& optimizer,
            const FitOptions& options = {}) {
  return fit_with<T>(net, X, Y, LossFunction<T>(std::move(loss)), optimizer, options);
}

extern template History fit_with(NetworkT<float>&, const ad::TensorT<float>&, const ad::TensorT<float>&,
                                 const LossFunction<float>&, Optimizer<float>&, const FitOptions&);
extern template History fit_with(NetworkT<double>&, const ad::TensorT<double>&, const ad::TensorT<double>&,
                                 const LossFunction<double>&, Optimizer<double>&, const FitOptions&);

}  // namespace nn
