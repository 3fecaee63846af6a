// nn::fit: the training loop, for any nn::Module. Each epoch visits the data
// in mini-batches (or as one full batch), and for each: zero the gradients,
// evaluate the loss, one backward sweep, one optimiser step. Around that: a
// validation set or split, per-epoch metrics, callbacks that can stop,
// early stopping, restore of the best weights, divergence guards and
// crash-safe checkpoints.
//
//   auto history = nn::fit(net, X, Y, nn::mse_loss, opt, {.max_epochs = 5000});      // tensors
//   nn::TensorDataset<double> train{X, labels}, test{X_test, labels_test};             // data sets
//   auto h = nn::fit(model, train, nn::cross_entropy, opt,
//                    {.epochs = 20, .batch_size = 128, .validation = &test,
//                     .on_epoch = [&](const nn::EpochReport& r) { return r.val_accuracy < 0.99; }});
//
// Stop reasons (History::stop_reason; History::stop_detail says more):
//   "max_epochs"      every epoch ran;
//   "no_improvement"  the monitored loss (validation if any, else training)
//                     did not improve by a relative `tolerance` for `patience`
//                     epochs in a row (early stopping);
//   "callback"        on_epoch or on_batch returned false;
//   "diverged"        a batch loss was NaN/Inf or exploded (> divergence_factor
//                     times the run's first batch loss), the gradients' norm
//                     (with clip_grad_norm) was not finite, a gradient or an
//                     updated parameter was not finite, or the validation loss
//                     was not finite. No value is stepped from a non-finite
//                     gradient or to a non-finite number (blocks of
//                     Optimizer::guard_block values keep theirs), so the
//                     weights stay finite.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <autodiff/tensor.hpp>
#include <nn/data.hpp>
#include <nn/module.hpp>
#include <nn/optimizer.hpp>

namespace nn {

// What on_epoch receives after each epoch (NaN where it does not apply).
struct EpochReport {
  std::size_t epoch = 0;  // 1-based: epochs completed
  double loss = 0;        // mean training loss over the epoch's batches
  double val_loss = std::numeric_limits<double>::quiet_NaN();
  double accuracy = std::numeric_limits<double>::quiet_NaN();      // training, with labels
  double val_accuracy = std::numeric_limits<double>::quiet_NaN();  // validation, with labels
  double learning_rate = 0;  // group 0's at the epoch's start (a per-batch schedule changes it within)
  double seconds = 0;        // wall time of the epoch's training steps (not validation)
  double cpu_seconds = 0;    // CPU time of all threads during those steps
  double validation_seconds = 0;
  std::vector<std::pair<std::string, double>> metrics;  // FitOptions::metrics, in order
  // The value of the metric called `name`; throws std::out_of_range for none.
  double metric(std::string_view name) const;
};

// What on_batch receives after each optimiser step.
struct BatchReport {
  std::size_t epoch = 0;     // 1-based epoch the batch belongs to
  std::size_t batch = 0;     // 1-based within the epoch
  std::size_t batches = 0;   // per epoch
  std::size_t samples = 0;   // in this batch
  double loss = 0;           // this batch's loss (before the step)
  double learning_rate = 0;  // used for this step
};

// A user metric, evaluated after every epoch on the validation data (or on
// the training data when there is none) with the model in eval mode:
//   nn::Metric{"mae", [](const auto& outputs, const auto& data) { ... return double; }}
// `outputs` is the model's output tensor, `data` the nn::Batch evaluated.
struct Metric {
  std::string name;
  std::function<double(const ad::TensorT<float>&, const Batch<float>&)> f32 = {};
  std::function<double(const ad::TensorT<double>&, const Batch<double>&)> f64 = {};

  template <class F>
  Metric(std::string metric_name, F f) : name(std::move(metric_name)) {
    constexpr bool for_float =
        std::is_invocable_r_v<double, F&, const ad::TensorT<float>&, const Batch<float>&>;
    constexpr bool for_double =
        std::is_invocable_r_v<double, F&, const ad::TensorT<double>&, const Batch<double>&>;
    static_assert(
        for_float || for_double,
        "nn::Metric: the callable must take (const ad::TensorT<T>& outputs, const nn::Batch<T>& data) "
        "and return a number");
    if constexpr (for_float) f32 = f;
    if constexpr (for_double) f64 = f;
  }
};

// When FitOptions::schedule steps: once per optimiser step (batch) or once
// per epoch.
enum class ScheduleUnit { batch, epoch };

// Field order allows both designated-initialiser styles:
//   {.max_epochs, .batch_size, .shuffle, .tolerance, .patience, .validation_fraction, .progress, .seed, ...}
//   {.epochs, .batch_size, .validation, .on_epoch}
struct FitOptions {
  std::size_t max_epochs = 1000;
  std::size_t epochs = 0;  // when > 0, used instead of max_epochs (the same limit)
  // Samples per step; 0 means the whole training set (full-batch descent).
  std::size_t batch_size = 0;
  // Reshuffle the samples every epoch (mini-batches only).
  bool shuffle = true;
  // Leave out each epoch's last batch when it is smaller than batch_size.
  bool drop_last = false;
  // Stop when the monitored loss (validation if there is validation data,
  // else training) has not improved by a relative `tolerance` for `patience`
  // epochs in a row.
  double tolerance = 1e-6;
  std::size_t patience = 20;
  // Fraction of the samples (the last ones, before any shuffling) held out
  // for validation; 0 for none. Not together with `validation`.
  double validation_fraction = 0.0;
  // A validation data set (an nn::TensorDataset of the model's element type).
  const Dataset* validation = nullptr;
  // Called after every epoch / every step; returning false stops training.
  std::function<bool(const EpochReport&)> on_epoch = {};
  std::function<bool(const BatchReport&)> on_batch = {};
  // A learning-rate schedule (nn/optim/schedule.hpp) made for the optimiser
  // given to fit, stepped after every optimiser step (ScheduleUnit::batch,
  // with the batch loss as the metric) or after every epoch (epoch, with the
  // monitored loss: validation if any, else training), so nn::ReduceOnPlateau
  // works too. Its state goes into checkpoints and is restored on resume.
  Schedule* schedule = nullptr;
  ScheduleUnit schedule_unit = ScheduleUnit::epoch;
  // Gradient clipping by global 2-norm (nn::clip_grad_norm) between backward
  // and the step; 0: off. A non-finite norm stops training as "diverged"
  // without stepping.
  double clip_grad_norm = 0.0;
  // Called once per warning (a parameter the loss never reaches); by default
  // the message goes to stderr.
  std::function<void(const std::string&)> on_warning = {};
  // User metrics per epoch (EpochReport::metrics, History::metrics).
  std::vector<Metric> metrics = {};
  // At the end, put back the parameters of the epoch with the lowest
  // monitored loss (History::best_epoch).
  bool restore_best = false;
  // A batch loss above divergence_factor x the run's first batch loss (when
  // that is > 0) counts as diverged; 0 disables this test (NaN/Inf still stop).
  double divergence_factor = 1e6;
  // Check every gradient before it is applied and every parameter after its
  // update, block by block inside the update loop (Optimizer::guarded_step:
  // a failing block keeps its values; training stops as "diverged"). Costs
  // next to nothing; false keeps only the loss checks, and a non-finite
  // gradient may then reach the weights.
  bool guard_steps = true;
  // Print a live progress line (epoch, loss, samples/s) to stderr.
  bool progress = false;
  std::uint64_t seed = 0;  // for shuffling
  // Crash-safe training (nn/checkpoint.hpp): every `checkpoint_every` epochs
  // (0: never) and when training stops, the whole training state is written
  // atomically to `checkpoint_path`. With `resume`, a checkpoint found there
  // is loaded first and training continues from it, bit-identically to a run
  // that was never interrupted (a missing file starts from scratch; a
  // corrupt one throws). Resuming needs the same model (parameter names and
  // shapes are checked), optimiser kind, data and options.
  std::string checkpoint_path = {};  // an initializer, so designated initialisers may omit it
  std::size_t checkpoint_every = 0;
  bool resume = false;
  // For training in several processes that each see part of every batch
  // (data-parallel training, dist/): only a process with write_checkpoints
  // writes the checkpoint (all read it on resume), and combine_epoch, when
  // set, turns each epoch's training loss and accuracy, measured on this
  // process's part, into the whole run's before anything reads them (early
  // stopping, on_epoch, History), so that every process decides alike.
  bool write_checkpoints = true;
  std::function<void(EpochReport&)> combine_epoch = {};
  // Validation runs the model on this many samples at a time (0: all at
  // once) and measures the loss and metrics on the outputs put together, so
  // the figures do not depend on it; a convolutional network's activations
  // for 10000 images at once would take gigabytes.
  std::size_t validation_batch_size = 1000;
};

struct History {
  std::vector<double> loss;                 // mean training loss per epoch (over its batches)
  std::vector<double> validation_loss;      // per epoch, when there is validation data
  std::vector<double> accuracy;             // per epoch, with class labels
  std::vector<double> validation_accuracy;  // per epoch, with validation labels
  std::vector<std::pair<std::string, std::vector<double>>> metrics;  // per user metric, per epoch
  std::vector<EpochReport> reports;  // the epochs run by this call (a resumed run: since the resume)
  std::size_t epochs = 0;
  std::string stop_reason;             // see the top of this file
  std::string stop_detail;             // a sentence: which batch, which parameter, which callback
  std::size_t best_epoch = 0;          // 1-based epoch of the lowest monitored loss (0: none)
  std::vector<std::string> unreached;  // parameters that require a gradient and never received one
};

// The loss of one batch: a scalar tensor from the model's outputs and the
// batch's targets or labels.
template <class T>
using BatchLoss = std::function<ad::TensorT<T>(const ad::TensorT<T>&, const Batch<T>&)>;
template <class T>
using LossFunction = std::function<ad::TensorT<T>(const ad::TensorT<T>&, const ad::TensorT<T>&)>;

template <class T>
History fit_on(ModuleT<T>& model, const TensorDataset<T>& data, const BatchLoss<T>& loss,
               Optimizer<T>& optimizer, const FitOptions& options);
template <class T>
History fit_on(ModuleT<T>& model, DataLoader<T>& loader, const BatchLoss<T>& loss, Optimizer<T>& optimizer,
               const FitOptions& options);

namespace detail {
[[noreturn]] void throw_needs(const char* wanted, const char* got);
// Adapts a loss on (outputs, labels) or (outputs, targets) to a BatchLoss.
template <class T, class Loss>
BatchLoss<T> batch_loss(Loss loss) {
  if constexpr (std::is_invocable_r_v<ad::TensorT<T>, Loss&, const ad::TensorT<T>&,
                                      const std::vector<std::size_t>&>)
    return [loss = std::move(loss)](const ad::TensorT<T>& out, const Batch<T>& b) mutable {
      if (b.targets.defined()) throw_needs("class labels", "target tensors");
      return loss(out, b.labels);
    };
  else
    return [loss = std::move(loss)](const ad::TensorT<T>& out, const Batch<T>& b) mutable {
      if (!b.targets.defined()) throw_needs("target tensors", "class labels");
      return loss(out, b.targets);
    };
}
}  // namespace detail

template <class T, class Loss>
concept LossOn =
    std::is_invocable_r_v<ad::TensorT<T>, Loss&, const ad::TensorT<T>&, const ad::TensorT<T>&> ||
    std::is_invocable_r_v<ad::TensorT<T>, Loss&, const ad::TensorT<T>&, const std::vector<std::size_t>&>;

// Any module on a data set, with a loss on labels (nn::cross_entropy) or on
// targets (nn::mse_loss, a lambda).
template <class T, class Loss>
  requires LossOn<T, Loss>
History fit(ModuleT<T>& model, const TensorDataset<T>& data, Loss loss, Optimizer<T>& optimizer,
            const FitOptions& options = {}) {
  return fit_on<T>(model, data, detail::batch_loss<T>(std::move(loss)), optimizer, options);
}
template <class T>
History fit(ModuleT<T>& model, const TensorDataset<T>& data,
            ad::TensorT<T> (*loss)(const ad::TensorT<T>&, const ad::TensorT<T>&), Optimizer<T>& optimizer,
            const FitOptions& options = {}) {
  return fit_on<T>(model, data, detail::batch_loss<T>(loss), optimizer, options);
}

// Any module on the batches of a DataLoader (its own batch size, shuffling
// and generator: FitOptions' batch_size, shuffle, drop_last, seed and
// validation_fraction must stay unset). The loader's state carries over
// between calls, and into checkpoints.
template <class T, class Loss>
  requires LossOn<T, Loss>
History fit(ModuleT<T>& model, DataLoader<T>& loader, Loss loss, Optimizer<T>& optimizer,
            const FitOptions& options = {}) {
  return fit_on<T>(model, loader, detail::batch_loss<T>(std::move(loss)), optimizer, options);
}
template <class T>
History fit(ModuleT<T>& model, DataLoader<T>& loader,
            ad::TensorT<T> (*loss)(const ad::TensorT<T>&, const ad::TensorT<T>&), Optimizer<T>& optimizer,
            const FitOptions& options = {}) {
  return fit_on<T>(model, loader, detail::batch_loss<T>(loss), optimizer, options);
}

// Any module on inputs X [N, ...] and targets Y [N, ...] (the original form).
template <class T>
History fit_with(ModuleT<T>& model, const ad::TensorT<T>& X, const ad::TensorT<T>& Y,
                 const LossFunction<T>& loss, Optimizer<T>& optimizer, const FitOptions& options);

// A loss given by name (nn::mse_loss) or any callable (a lambda).
template <class T>
History fit(ModuleT<T>& model, const ad::TensorT<T>& X, const ad::TensorT<T>& Y,
            ad::TensorT<T> (*loss)(const ad::TensorT<T>&, const ad::TensorT<T>&), Optimizer<T>& optimizer,
            const FitOptions& options = {}) {
  return fit_with<T>(model, X, Y, LossFunction<T>(loss), optimizer, options);
}
template <class T, class Loss>
  requires std::is_invocable_r_v<ad::TensorT<T>, Loss, const ad::TensorT<T>&, const ad::TensorT<T>&>
History fit(ModuleT<T>& model, const ad::TensorT<T>& X, const ad::TensorT<T>& Y, Loss loss,
            Optimizer<T>& optimizer, const FitOptions& options = {}) {
  return fit_with<T>(model, X, Y, LossFunction<T>(std::move(loss)), optimizer, options);
}

extern template History fit_on(ModuleT<float>&, const TensorDataset<float>&, const BatchLoss<float>&,
                               Optimizer<float>&, const FitOptions&);
extern template History fit_on(ModuleT<double>&, const TensorDataset<double>&, const BatchLoss<double>&,
                               Optimizer<double>&, const FitOptions&);
extern template History fit_on(ModuleT<float>&, DataLoader<float>&, const BatchLoss<float>&,
                               Optimizer<float>&, const FitOptions&);
extern template History fit_on(ModuleT<double>&, DataLoader<double>&, const BatchLoss<double>&,
                               Optimizer<double>&, const FitOptions&);
extern template History fit_with(ModuleT<float>&, const ad::TensorT<float>&, const ad::TensorT<float>&,
                                 const LossFunction<float>&, Optimizer<float>&, const FitOptions&);
extern template History fit_with(ModuleT<double>&, const ad::TensorT<double>&, const ad::TensorT<double>&,
                                 const LossFunction<double>&, Optimizer<double>&, const FitOptions&);

}  // namespace nn
