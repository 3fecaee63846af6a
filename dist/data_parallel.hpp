// nn::distributed::DataParallel: any nn::Module trained by several processes
// at once, each on its own part of every batch (data parallelism). The
// wrapper is a Module with the wrapped model's parameters under the same
// names, so nn::fit, optimisers, save/load and checkpoints work unchanged.
//
//   nn::distributed::run(argc, argv, [&](nn::distributed::Environment& env) {
//     nn::Sequential model = ...;                         // the same seed on every rank, or not:
//     nn::distributed::DataParallel dp(model, env);       // rank 0's parameters are broadcast
//     nn::Adam opt(dp.parameters());
//     nn::DataLoader<double> loader(train, dp.loader_options({.batch_size = 128, .seed = 1}));
//     auto history = nn::fit(dp, loader, nn::cross_entropy, opt, dp.fit_options({.epochs = 5}));
//     return 0;
//   });
//
// What happens per step. Each rank runs forward and backward on its shard of
// the batch. As the reverse sweep makes a parameter's gradient final
// (ad::GradientReadyHook), it is copied into its bucket; a full bucket is
// summed over the ranks with MPI_Iallreduce while the sweep goes on with the
// layers below, so communication overlaps the backward. At the sweep's end
// the last buckets go, all are awaited, and each rank's gradient becomes the
// gradient of the whole batch's mean loss: the shards' gradients weighted by
// their sample counts (shards of a batch may differ by one sample).
//
// Determinism (docs/decisions/0014-data-parallel.md): buckets are fixed at
// construction (parameters in reverse registration order, the order the
// sweep finishes them) and launched in bucket order on every rank, so for a
// given world size each step reduces the same buffers in the same order:
// repeated runs give the same bits, and every rank the same parameters.
//
// Needs: every rank runs the same model with the same number of steps, and
// reaches the same parameters (a parameter that receives no gradient on one
// rank but does on another is an error); the loss is a mean over the batch's
// samples (nn::cross_entropy, nn::mse_loss); one thread per process calls
// MPI (the one that constructed the wrapper runs forward and backward).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <autodiff/tensor.hpp>
#include <dist/environment.hpp>
#include <nn/data.hpp>
#include <nn/module.hpp>
#include <nn/train.hpp>

namespace nn::distributed {

struct DataParallelOptions {
  // Gradient bytes per bucket (per MPI_Iallreduce). Smaller buckets start
  // sooner (more overlap) but pay the per-message latency more often; see
  // docs/distributed.md for the choice.
  std::size_t bucket_bytes = std::size_t{256} * 1024;
  // false: every bucket is reduced after the sweep (the same buckets in the
  // same order: the same bits), for measuring what overlap gains.
  bool overlap = true;
  // true: after every training forward that records (a step), rank 0's
  // buffers (BatchNorm's running statistics) are copied to the other ranks,
  // so that every rank evaluates, and checkpoints, with the same ones (as
  // PyTorch's DistributedDataParallel does with broadcast_buffers). false:
  // each rank's buffers follow its own shards after the first broadcast.
  bool broadcast_buffers = true;
  // A watchdog: when > 0, a step's reductions that have not completed this
  // many seconds after the sweep's end throw std::runtime_error on this rank
  // (which nn::distributed::run turns into the end of the job). For a rank
  // that hangs rather than dies (a dead one ends the job anyway). The last
  // bucket then goes non-blocking too, so that it can be watched.
  double timeout_seconds = 0;
};

// Where a step's time went, summed since construction or reset_stats().
struct DataParallelStats {
  std::size_t steps = 0;
  double wait_seconds = 0;  // at the sweep's end: the last buckets' allreduce, and waiting for the others
  double overlapped_mpi_seconds = 0;     // inside MPI calls during the sweep (starting and advancing buckets)
  std::size_t started_during_sweep = 0;  // buckets whose allreduce began before the sweep ended
  std::size_t buckets = 0;               // per step
  std::size_t bytes_per_step = 0;        // gradient bytes each rank contributes per step
};

template <class T>
class DataParallelT final : public nn::ModuleT<T> {
 public:
  using Tensor = ad::TensorT<T>;
  template <class Item>
  using Named = typename nn::ModuleT<T>::template Named<Item>;

  // Collective: every rank constructs it with the same kind of model. Checks
  // that the ranks hold the same parameter names and shapes (else throws
  // std::runtime_error on every rank), then copies rank 0's parameters and
  // buffers to the others.
  DataParallelT(nn::ModuleT<T>& model, const Environment& env, DataParallelOptions options = {});
  ~DataParallelT() override;
  DataParallelT(const DataParallelT&) = delete;
  DataParallelT& operator=(const DataParallelT&) = delete;

  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return model_.type_name(); }
  // The wrapped model's: a checkpoint of the wrapper loads into the bare
  // model and back, with any number of processes.
  std::string architecture() const override { return model_.architecture(); }

  nn::ModuleT<T>& module() noexcept { return model_; }
  const Environment& environment() const noexcept { return env_; }

  // Options for this rank's shard of every batch (same seed everywhere).
  nn::LoaderOptions loader_options(nn::LoaderOptions base) const;
  // FitOptions for nn::fit: checkpoints written by rank 0 only (read by
  // all), and each epoch's training loss and accuracy combined over the
  // ranks (so early stopping and callbacks see the same numbers everywhere).
  nn::FitOptions fit_options(nn::FitOptions base);
  // The combination fit_options installs: the loss averaged over the ranks,
  // the accuracy weighted by the samples each rank saw in the epoch.
  void combine(nn::EpochReport& report);

  // Copies rank 0's parameters and buffers to every rank (collective).
  void broadcast_from_root();
  // Copies rank 0's buffers to every rank, in one message (collective).
  void broadcast_buffers();

  const DataParallelStats& stats() const noexcept { return stats_; }
  void reset_stats() noexcept;

 protected:
  void collect_parameters(Named<Tensor>& out) const override;
  void collect_buffers(Named<Tensor>& out) const override;
  void on_mode_change() override { model_.train(this->is_training()); }

 private:
  struct Reducer;  // buckets and requests (data_parallel.cpp)
  nn::ModuleT<T>& model_;
  const Environment& env_;
  std::unique_ptr<Reducer> reducer_;
  DataParallelStats stats_;
  std::size_t epoch_samples_ = 0;  // since the last combine(), in training forwards
  std::vector<T> buffer_values_;   // broadcast_buffers' message, kept between steps
};

using DataParallel = DataParallelT<double>;
using DataParallelF = DataParallelT<float>;

extern template class DataParallelT<float>;
extern template class DataParallelT<double>;

}  // namespace nn::distributed
