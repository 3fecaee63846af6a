#include <sys/stat.h>
#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include <autodiff/guards.hpp>
#include <autodiff/tensor_ops.hpp>
#include <nn/checkpoint.hpp>
#include <nn/metrics.hpp>
#include <nn/optim/clip.hpp>
#include <nn/train.hpp>

namespace nn {

double EpochReport::metric(std::string_view name) const {
  for (const auto& [n, v] : metrics)
    if (n == name) return v;
  throw std::out_of_range(fmt::format("nn::EpochReport::metric: no metric named '{}'", name));
}

namespace detail {
void throw_needs(const char* wanted, const char* got) {
  throw std::invalid_argument(
      fmt::format("nn::fit: the loss takes {}, but the data set holds {}", wanted, got));
}
}  // namespace detail

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

void check_options(const FitOptions& o) {
  if (!(o.validation_fraction >= 0.0 && o.validation_fraction < 1.0))
    throw std::invalid_argument(
        fmt::format("nn::fit: validation_fraction must be in [0, 1), got {}", o.validation_fraction));
  if (o.validation_fraction > 0.0 && o.validation != nullptr)
    throw std::invalid_argument(
        "nn::fit: give either validation_fraction or a validation data set, not both");
  if (!(o.tolerance >= 0.0) || !std::isfinite(o.tolerance))
    throw std::invalid_argument(
        fmt::format("nn::fit: tolerance must be finite and >= 0, got {}", o.tolerance));
  if (!(o.divergence_factor >= 0.0))
    throw std::invalid_argument(
        fmt::format("nn::fit: divergence_factor must be >= 0 (0: off), got {}", o.divergence_factor));
  if (!(o.clip_grad_norm >= 0.0) || !std::isfinite(o.clip_grad_norm))
    throw std::invalid_argument(
        fmt::format("nn::fit: clip_grad_norm must be finite and >= 0 (0: off), got {}", o.clip_grad_norm));
  if ((o.checkpoint_every > 0 || o.resume) && o.checkpoint_path.empty())
    throw std::invalid_argument("nn::fit: checkpoint_every and resume need a checkpoint_path");
}

bool file_exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

std::size_t count_correct(const std::vector<std::size_t>& predicted, const std::vector<std::size_t>& labels) {
  std::size_t correct = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) correct += predicted[i] == labels[i];
  return correct;
}

// Accuracy of outputs [N, C] against labels; NaN when the outputs are not
// class scores for those labels.
template <class T>
double accuracy_or_nan(const ad::TensorT<T>& out, const Batch<T>& b) {
  if (b.labels.empty() || out.rank() != 2 || out.shape()[0] != b.labels.size()) return nan;
  return double(count_correct(argmax(out), b.labels)) / double(b.labels.size());
}

template <class T>
const std::function<double(const ad::TensorT<T>&, const Batch<T>&)>& metric_for(const Metric& m) {
  if constexpr (std::is_same_v<T, float>)
    return m.f32;
  else
    return m.f64;
}

// One training run's state, so that the loop below reads as the algorithm.
template <class T>
class Trainer {
 public:
  Trainer(ModuleT<T>& model, DataLoader<T>& loader, const TensorDataset<T>* validation,
          const BatchLoss<T>& loss, Optimizer<T>& optimizer, const FitOptions& options)
      : model_(model),
        data_(loader.dataset()),
        validation_(validation),
        loss_(loss),
        optimizer_(optimizer),
        options_(options),
        loader_(loader),
        named_(model.named_parameters()),
        max_epochs_(options.epochs > 0 ? options.epochs : options.max_epochs) {
    for (const Metric& m : options.metrics) {
      if (!metric_for<T>(m))
        throw std::invalid_argument(fmt::format("nn::fit: metric '{}' cannot take {} tensors", m.name,
                                                std::is_same_v<T, float> ? "float" : "double"));
      history_.metrics.emplace_back(m.name, std::vector<double>{});
    }
    if (options.schedule != nullptr && &options.schedule->optimizer() != &optimizer)
      throw std::invalid_argument(fmt::format(
          "nn::fit: the {} in FitOptions::schedule drives another optimiser than the one given to fit",
          options.schedule->kind()));
    for (const auto& p : optimizer.parameters()) {
      stepped_.push_back(p);
    }
  }

  History run();

 private:
  void resume();
  void checkpoint(const std::string& stop_reason);
  bool train_epoch(std::size_t epoch, EpochReport& report);  // false: stop (reason set)
  bool step(std::size_t epoch, std::size_t b, const Batch<T>& batch, double& loss_value,
            std::size_t& correct);
  void validate(EpochReport& report);
  // The model's outputs for `inputs`, computed options_.validation_batch_size rows at a time.
  ad::TensorT<T> outputs_in_chunks(const ad::TensorT<T>& inputs);
  void report_unreached();
  void stop(std::string reason, std::string detail) {
    history_.stop_reason = std::move(reason);
    history_.stop_detail = std::move(detail);
  }
  void snapshot_best();
  void restore_best();

  ModuleT<T>& model_;
  const TensorDataset<T>& data_;
  const TensorDataset<T>* validation_;
  const BatchLoss<T>& loss_;
  Optimizer<T>& optimizer_;
  const FitOptions& options_;
  DataLoader<T>& loader_;
  typename ModuleT<T>::template Named<ad::TensorT<T>> named_;
  std::vector<ad::TensorT<T>> stepped_;  // the optimiser's parameters
  std::size_t max_epochs_;

  History history_;
  std::size_t first_epoch_ = 0;
  double best_ = std::numeric_limits<double>::infinity();  // for early stopping (with tolerance)
  std::size_t epochs_without_improvement_ = 0;
  double best_loss_ = std::numeric_limits<double>::infinity();  // for restore_best (strict)
  std::vector<std::vector<double>> best_parameters_;
  double first_loss_ = nan;  // the run's first batch loss (the divergence scale)
  bool checked_reach_ = false;
};

template <class T>
void Trainer<T>::resume() {
  const TrainingState saved = load_checkpoint(options_.checkpoint_path, model_, optimizer_);
  const bool validating = validation_ != nullptr;
  if (saved.order.size() != data_.size() || saved.loss.size() != saved.epoch ||
      (validating ? saved.validation_loss.size() != saved.epoch : !saved.validation_loss.empty()))
    throw std::runtime_error(
        fmt::format("nn::fit: checkpoint '{}' was written for other data or options ({} training samples, {} "
                    "epochs of history)",
                    options_.checkpoint_path, saved.order.size(), saved.loss.size()));
  std::vector<std::size_t> order(saved.order.begin(), saved.order.end());
  try {
    loader_.restore(order, saved.rng);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(fmt::format("nn::fit: checkpoint '{}': {}", options_.checkpoint_path, e.what()));
  }
  Schedule* schedule = options_.schedule;
  if (saved.schedule.has_value() != (schedule != nullptr))
    throw std::runtime_error(
        fmt::format("nn::fit: checkpoint '{}' was written {} a learning-rate schedule, the "
                    "run resuming it has {}",
                    options_.checkpoint_path, saved.schedule ? "with" : "without",
                    schedule ? fmt::format("a {}", schedule->kind()) : "none"));
  if (schedule != nullptr) {
    try {
      schedule->load_state(*saved.schedule);
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("nn::fit: checkpoint '{}': the schedule does not match: {}",
                                           options_.checkpoint_path, e.what()));
    }
  }
  best_ = saved.best;
  epochs_without_improvement_ = static_cast<std::size_t>(saved.epochs_without_improvement);
  first_epoch_ = static_cast<std::size_t>(saved.epoch);
  first_loss_ = saved.first_loss;
  best_loss_ = saved.best_loss;
  best_parameters_ = saved.best_parameters;
  history_.best_epoch = static_cast<std::size_t>(saved.best_epoch);
  history_.loss = saved.loss;
  history_.validation_loss = saved.validation_loss;
  history_.accuracy = saved.accuracy;
  history_.validation_accuracy = saved.validation_accuracy;
  history_.epochs = first_epoch_;
  history_.stop_reason = saved.stop_reason;
}

template <class T>
void Trainer<T>::checkpoint(const std::string& stop_reason) {
  TrainingState state;
  state.epoch = history_.epochs;
  state.rng = loader_.rng_state();
  state.order.assign(loader_.order().begin(), loader_.order().end());
  state.best = best_;
  state.epochs_without_improvement = epochs_without_improvement_;
  state.loss = history_.loss;
  state.validation_loss = history_.validation_loss;
  state.accuracy = history_.accuracy;
  state.validation_accuracy = history_.validation_accuracy;
  state.first_loss = first_loss_;
  state.best_loss = best_loss_;
  state.best_epoch = history_.best_epoch;
  state.best_parameters = best_parameters_;
  state.stop_reason = stop_reason;
  if (options_.schedule != nullptr) state.schedule = options_.schedule->state();
  if (options_.write_checkpoints) save_checkpoint(options_.checkpoint_path, model_, optimizer_, state);
}

template <class T>
void Trainer<T>::report_unreached() {
  checked_reach_ = true;
  for (const auto& [name, p] : named_) {
    if (!p.requires_grad_enabled() || p.has_grad()) continue;
    history_.unreached.push_back(name);
    const std::string message = fmt::format(
        "nn::fit: warning: parameter '{}' {} requires a gradient but the loss does not depend on it; it "
        "stays "
        "as it is",
        name, p.shape().to_string());
    if (options_.on_warning)
      options_.on_warning(message);
    else
      fmt::print(stderr, "{}\n", message);
  }
}

// One optimiser step on `batch`; false (with the stop reason set) when the
// loss, a gradient or an updated parameter is not finite (no value is then
// stepped from a non-finite gradient or to a non-finite number).
template <class T>
bool Trainer<T>::step(std::size_t epoch, std::size_t b, const Batch<T>& batch, double& loss_value,
                      std::size_t& correct) {
  optimizer_.zero_grad();
  const ad::TensorT<T> out = model_(batch.inputs);
  ad::TensorT<T> value = loss_(out, batch);
  if (value.numel() != 1)
    throw std::invalid_argument(
        fmt::format("nn::fit: the loss returned shape {}, not one value", value.shape().to_string()));
  loss_value = double(value.item());
  auto where = [&] { return fmt::format("batch {} of epoch {}", b + 1, epoch + 1); };
  if (!std::isfinite(loss_value)) {
    stop("diverged", fmt::format("the loss of {} is {}", where(),
                                 std::isnan(loss_value) ? "NaN" : fmt::format("{}", loss_value)));
    return false;
  }
  if (std::isnan(first_loss_)) first_loss_ = loss_value;
  if (options_.divergence_factor > 0 && first_loss_ > 0 &&
      loss_value > options_.divergence_factor * first_loss_) {
    stop("diverged", fmt::format("the loss of {} is {:.6g}, more than {:g} times the first batch's {:.6g}",
                                 where(), loss_value, options_.divergence_factor, first_loss_));
    return false;
  }
  if (!batch.labels.empty() && out.rank() == 2 && out.shape()[0] == batch.labels.size())
    correct += count_correct(argmax(out), batch.labels);
  value.backward();
  if (!checked_reach_) report_unreached();
  if (options_.clip_grad_norm > 0) {
    const double norm = clip_grad_norm(stepped_, options_.clip_grad_norm);
    if (!std::isfinite(norm)) {
      stop("diverged", fmt::format("the gradients' norm in {} is {}; not stepping", where(), norm));
      return false;
    }
  }
  if (!options_.guard_steps) {
    optimizer_.step();
    return true;
  }
  // Guards (Optimizer::guarded_step): no value is updated from a non-finite
  // gradient or to a non-finite number, checked block by block inside the
  // update loop, where they cost next to nothing.
  const GuardedStepResult checked = optimizer_.guarded_step();
  if (checked.ok()) return true;
  const std::size_t i = checked.parameter;
  if (checked.problem == GuardedStepResult::Problem::gradient_not_finite)
    stop("diverged", fmt::format("a gradient in {} is not finite (parameter {} of the optimiser, shape {}); "
                                 "the values it reaches were not stepped",
                                 where(), i, stepped_[i].shape().to_string()));
  else if (checked.parameters_finite)
    stop("diverged",
         fmt::format("the step of {} would make parameter {} of the optimiser (shape {}) non-finite; "
                     "those values were not stepped",
                     where(), i, stepped_[i].shape().to_string()));
  else
    stop("diverged",
         fmt::format("the step of {} made parameter {} of the optimiser (shape {}) non-finite (the "
                     "optimiser's own step() is not guarded value by value)",
                     where(), i, stepped_[i].shape().to_string()));
  return false;
}

template <class T>
bool Trainer<T>::train_epoch(std::size_t epoch, EpochReport& report) {
  loader_.new_epoch();
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  report.learning_rate = optimizer_.learning_rate();
  double total = 0.0;
  std::size_t batches = 0, correct = 0, seen = 0;
  bool go_on = true;
  for (std::size_t b = 0; b < loader_.size() && go_on; ++b) {
    const Batch<T> batch = loader_.batch(b);
    double value = 0;
    const double rate = optimizer_.learning_rate();  // the step's (a per-batch schedule moves it after)
    if (!step(epoch, b, batch, value, correct)) return false;
    if (options_.schedule != nullptr && options_.schedule_unit == ScheduleUnit::batch)
      options_.schedule->step(value);
    total += value;
    ++batches;
    seen += batch.labels.size();
    if (options_.on_batch && !options_.on_batch({.epoch = epoch + 1,
                                                 .batch = b + 1,
                                                 .batches = loader_.size(),
                                                 .samples = batch.size(),
                                                 .loss = value,
                                                 .learning_rate = rate})) {
      stop("callback", fmt::format("on_batch returned false after batch {} of epoch {}", b + 1, epoch + 1));
      go_on = false;
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.cpu_seconds = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  report.epoch = epoch + 1;
  report.loss = total / double(batches);
  report.accuracy = seen > 0 && data_.has_labels() ? double(correct) / double(seen) : nan;
  if (options_.combine_epoch) options_.combine_epoch(report);
  return go_on;
}

template <class T>
ad::TensorT<T> Trainer<T>::outputs_in_chunks(const ad::TensorT<T>& inputs) {
  const std::size_t n = inputs.rank() == 0 ? 0 : inputs.shape()[0];
  const std::size_t chunk = options_.validation_batch_size;
  if (chunk == 0 || n <= chunk) return model_(inputs);
  std::vector<ad::TensorT<T>> parts;
  for (std::size_t first = 0; first < n; first += chunk)
    parts.push_back(model_(ad::slice_rows(inputs, first, std::min(n, first + chunk))));
  return ad::concat(parts, 0);
}

template <class T>
void Trainer<T>::validate(EpochReport& report) {
  const TensorDataset<T>* on = validation_ ? validation_ : (options_.metrics.empty() ? nullptr : &data_);
  if (on == nullptr) return;
  const auto start = std::chrono::steady_clock::now();
  ad::NoGrad off;
  const bool was_training = model_.is_training();
  model_.eval();
  const Batch<T> all = on->all();
  const ad::TensorT<T> out = outputs_in_chunks(all.inputs);
  if (validation_) {
    report.val_loss = double(loss_(out, all).item());
    report.val_accuracy = accuracy_or_nan(out, all);
  }
  for (const Metric& m : options_.metrics) report.metrics.emplace_back(m.name, metric_for<T>(m)(out, all));
  model_.train(was_training);
  report.validation_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

template <class T>
void Trainer<T>::snapshot_best() {
  best_parameters_.resize(named_.size());
  for (std::size_t i = 0; i < named_.size(); ++i) {
    const auto v = named_[i].second.values();
    best_parameters_[i].assign(v.begin(), v.end());
  }
}

template <class T>
void Trainer<T>::restore_best() {
  if (best_parameters_.size() != named_.size()) return;  // no epoch finished
  for (std::size_t i = 0; i < named_.size(); ++i) {
    const std::span<T> v = named_[i].second.mutable_values();
    for (std::size_t k = 0; k < v.size(); ++k) v[k] = T(best_parameters_[i][k]);  // exact: saved from T
  }
}

template <class T>
History Trainer<T>::run() {
  if (options_.resume && file_exists(options_.checkpoint_path)) {
    resume();
    // A run that had stopped by its own rule stays stopped.
    if (!history_.stop_reason.empty() && history_.stop_reason != "max_epochs") {
      history_.stop_detail = "the checkpoint's run had stopped";
      if (options_.restore_best) restore_best();
      return history_;
    }
  }
  history_.stop_reason = "max_epochs";
  history_.stop_detail = {};
  const bool was_training = model_.is_training();
  model_.train();
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t epoch = first_epoch_; epoch < max_epochs_; ++epoch) {
    EpochReport report;
    const bool go_on = train_epoch(epoch, report);
    if (report.epoch == 0) break;  // diverged inside the epoch: nothing to record
    validate(report);
    history_.loss.push_back(report.loss);
    if (!std::isnan(report.accuracy)) history_.accuracy.push_back(report.accuracy);
    if (validation_) history_.validation_loss.push_back(report.val_loss);
    if (!std::isnan(report.val_accuracy)) history_.validation_accuracy.push_back(report.val_accuracy);
    for (std::size_t m = 0; m < report.metrics.size(); ++m)
      history_.metrics[m].second.push_back(report.metrics[m].second);
    history_.epochs = epoch + 1;
    const double monitored = validation_ ? report.val_loss : report.loss;
    if (options_.progress) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      fmt::print(stderr, "\repoch {:>6}/{}  loss {:.6g}{}  {:.0f} samples/s   ", epoch + 1, max_epochs_,
                 report.loss, validation_ ? fmt::format("  validation {:.6g}", monitored) : std::string(),
                 double(data_.size()) * double(epoch + 1 - first_epoch_) / std::max(seconds, 1e-9));
    }
    if (!std::isfinite(monitored)) {
      history_.reports.push_back(std::move(report));
      stop("diverged", fmt::format("the {} loss of epoch {} is {}", validation_ ? "validation" : "training",
                                   epoch + 1, monitored));
      break;
    }
    if (options_.schedule != nullptr && options_.schedule_unit == ScheduleUnit::epoch)
      options_.schedule->step(monitored);
    if (monitored < best_loss_) {
      best_loss_ = monitored;
      history_.best_epoch = epoch + 1;
      if (options_.restore_best) snapshot_best();
    }
    bool stopping = !go_on;
    if (best_ == std::numeric_limits<double>::infinity() ||
        monitored < best_ - options_.tolerance * std::fabs(best_)) {
      best_ = monitored;
      epochs_without_improvement_ = 0;
    } else if (++epochs_without_improvement_ >= options_.patience && !stopping) {
      stop("no_improvement",
           fmt::format("the {} loss did not improve by a relative {:g} for {} epochs",
                       validation_ ? "validation" : "training", options_.tolerance, options_.patience));
      stopping = true;
    }
    if (options_.on_epoch && !stopping && !options_.on_epoch(report)) {
      stop("callback", fmt::format("on_epoch returned false after epoch {}", epoch + 1));
      stopping = true;
    }
    history_.reports.push_back(std::move(report));
    if (stopping) break;
    if (options_.checkpoint_every > 0 && (epoch + 1) % options_.checkpoint_every == 0 &&
        epoch + 1 < max_epochs_)
      checkpoint({});
  }
  if (options_.checkpoint_every > 0) checkpoint(history_.stop_reason);
  if (options_.restore_best) restore_best();
  model_.train(was_training);
  if (options_.progress) fmt::print(stderr, "\n");
  return history_;
}

// The validation data set of FitOptions, of the model's element type.
template <class T>
const TensorDataset<T>* validation_set(const FitOptions& options, bool labels) {
  if (options.validation == nullptr) return nullptr;
  const auto* validation = dynamic_cast<const TensorDataset<T>*>(options.validation);
  if (validation == nullptr)
    throw std::invalid_argument(fmt::format(
        "nn::fit: the validation data set holds {} (or is not an nn::TensorDataset), the model {}",
        options.validation->dtype(), std::is_same_v<T, float> ? "float32" : "float64"));
  if (validation->has_labels() != labels)
    throw std::invalid_argument(
        "nn::fit: the validation data set and the training data set must both hold labels or both hold "
        "target "
        "tensors");
  return validation;
}

}  // namespace

template <class T>
History fit_on(ModuleT<T>& model, const TensorDataset<T>& data, const BatchLoss<T>& loss,
               Optimizer<T>& optimizer, const FitOptions& options) {
  check_options(options);
  const TensorDataset<T>* validation = validation_set<T>(options, data.has_labels());
  const std::size_t n = data.size();
  const std::size_t n_validation =
      static_cast<std::size_t>(std::floor(options.validation_fraction * double(n)));
  const std::size_t n_train = n - n_validation;
  if (n_train == 0)
    throw std::invalid_argument(fmt::format("nn::fit: no training samples ({} in the data set)", n));
  const LoaderOptions loading{.batch_size = options.batch_size,
                              .shuffle = options.shuffle,
                              .drop_last = options.drop_last,
                              .seed = options.seed};
  if (n_validation == 0) {
    DataLoader<T> loader(data, loading);
    return Trainer<T>(model, loader, validation, loss, optimizer, options).run();
  }
  // The split: the last rows, before any shuffling.
  const Batch<T> head = data.slice(0, n_train), tail = data.slice(n_train, n);
  const TensorDataset<T> train = head.targets.defined() ? TensorDataset<T>(head.inputs, head.targets)
                                                        : TensorDataset<T>(head.inputs, head.labels);
  const TensorDataset<T> held_out = tail.targets.defined() ? TensorDataset<T>(tail.inputs, tail.targets)
                                                           : TensorDataset<T>(tail.inputs, tail.labels);
  DataLoader<T> loader(train, loading);
  return Trainer<T>(model, loader, &held_out, loss, optimizer, options).run();
}

template <class T>
History fit_on(ModuleT<T>& model, DataLoader<T>& loader, const BatchLoss<T>& loss, Optimizer<T>& optimizer,
               const FitOptions& options) {
  check_options(options);
  const FitOptions defaults;
  if (options.batch_size != defaults.batch_size || options.shuffle != defaults.shuffle ||
      options.drop_last != defaults.drop_last || options.seed != defaults.seed ||
      options.validation_fraction > 0)
    throw std::invalid_argument(
        "nn::fit: with a DataLoader, batching and shuffling are the loader's: leave batch_size, shuffle, "
        "drop_last, "
        "seed and validation_fraction out of FitOptions");
  const TensorDataset<T>* validation = validation_set<T>(options, loader.dataset().has_labels());
  return Trainer<T>(model, loader, validation, loss, optimizer, options).run();
}

template <class T>
History fit_with(ModuleT<T>& model, const ad::TensorT<T>& X, const ad::TensorT<T>& Y,
                 const LossFunction<T>& loss, Optimizer<T>& optimizer, const FitOptions& options) {
  check_options(options);
  if (!X.defined() || !Y.defined() || X.rank() == 0 || Y.rank() == 0 || X.shape()[0] != Y.shape()[0])
    throw std::invalid_argument(fmt::format("nn::fit: X {} and Y {} need the same number of samples (rows)",
                                            X.defined() ? X.shape().to_string() : "(undefined)",
                                            Y.defined() ? Y.shape().to_string() : "(undefined)"));
  if (X.shape()[0] == 0) throw std::invalid_argument("nn::fit: no training samples (X has 0 rows)");
  return fit_on<T>(model, TensorDataset<T>(X, Y), detail::batch_loss<T>(loss), optimizer, options);
}

template History fit_on(ModuleT<float>&, const TensorDataset<float>&, const BatchLoss<float>&,
                        Optimizer<float>&, const FitOptions&);
template History fit_on(ModuleT<double>&, const TensorDataset<double>&, const BatchLoss<double>&,
                        Optimizer<double>&, const FitOptions&);
template History fit_on(ModuleT<float>&, DataLoader<float>&, const BatchLoss<float>&, Optimizer<float>&,
                        const FitOptions&);
template History fit_on(ModuleT<double>&, DataLoader<double>&, const BatchLoss<double>&, Optimizer<double>&,
                        const FitOptions&);
template History fit_with(ModuleT<float>&, const ad::TensorT<float>&, const ad::TensorT<float>&,
                          const LossFunction<float>&, Optimizer<float>&, const FitOptions&);
template History fit_with(ModuleT<double>&, const ad::TensorT<double>&, const ad::TensorT<double>&,
                          const LossFunction<double>&, Optimizer<double>&, const FitOptions&);

}  // namespace nn
