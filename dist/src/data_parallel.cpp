// nn::distributed::DataParallelT (data_parallel.hpp): the bucketed, overlapped
// gradient averaging. Why buckets, why this order:
// docs/decisions/0014-data-parallel.md.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include <autodiff/gradient_hooks.hpp>
#include <dist/data_parallel.hpp>

namespace nn::distributed {

namespace {

template <class T>
MPI_Datatype mpi_type() {
  return std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE;
}

// FNV-1a over the model's parameter names and shapes: equal on every rank
// when the ranks built the same model.
std::uint64_t fingerprint(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

template <class T>
struct DataParallelT<T>::Reducer {
  struct Slot {
    Tensor parameter;
    std::string name;
    std::size_t bucket = 0, offset = 0;
    std::span<T> target;  // this sweep's gradient of the parameter (empty: none reached it)
    bool ready = false;
  };
  struct Bucket {
    std::vector<T> values;    // the summed gradients, then (last bucket) the sample count
    std::size_t waiting = 0;  // parameters not yet ready this step
    MPI_Request request = MPI_REQUEST_NULL;
    bool launched = false;
  };

  const Environment& env;
  DataParallelOptions options;
  DataParallelStats& stats;
  std::vector<Slot> slots;  // in the sweep's order: the last registered parameter first
  std::unordered_map<const void*, std::size_t> index;
  std::vector<Bucket> buckets;
  std::size_t next_launch = 0;
  bool armed = false;                                   // a training forward ran: the next sweep is a step
  std::thread::id thread = std::this_thread::get_id();  // whose sweeps the hook hears
  T samples = 0;                                        // of this rank's part of the step's batch
  std::unique_ptr<ad::GradientReadyHook> hook;

  Reducer(const Named<Tensor>& named, const Environment& environment, DataParallelOptions o,
          DataParallelStats& step_stats)
      : env(environment), options(o), stats(step_stats) {
    if (options.bucket_bytes == 0)
      throw std::invalid_argument("nn::distributed::DataParallel: bucket_bytes must be positive");
    const std::size_t per_bucket = std::max<std::size_t>(1, options.bucket_bytes / sizeof(T));
    for (std::size_t i = named.size(); i-- > 0;) {
      const Tensor& p = named[i].second;
      if (!p.requires_grad_enabled()) continue;
      if (buckets.empty() ||
          (buckets.back().values.size() > 0 && buckets.back().values.size() + p.numel() > per_bucket))
        buckets.emplace_back();
      Bucket& b = buckets.back();
      index.emplace(ad::GradientReadyHook::key(p), slots.size());
      slots.push_back({p, named[i].first, buckets.size() - 1, b.values.size(), {}, false});
      b.values.resize(b.values.size() + p.numel());
    }
    if (buckets.empty()) buckets.emplace_back();
    buckets.back().values.push_back(0);  // the step's sample count rides with the last bucket
    reset_step();
    ad::GradientReadyHook::Handlers handlers;
    handlers.sweep_done = [this] { finish(); };
    if constexpr (std::is_same_v<T, float>)
      handlers.ready_f32 = [this](const void* leaf, std::span<float> g) { ready(leaf, g); };
    else
      handlers.ready_f64 = [this](const void* leaf, std::span<double> g) { ready(leaf, g); };
    hook = std::make_unique<ad::GradientReadyHook>(std::move(handlers));
  }

  ~Reducer() {
    // Unwinding (the job is about to be aborted, maybe because a rank is
    // gone): waiting could hang, and MPI may still write into the buckets,
    // so they are left alive.
    if (std::uncaught_exceptions() > 0) {
      new std::vector<Bucket>(std::move(buckets));  // NOLINT: deliberately never freed
      return;
    }
    // A step abandoned mid-way (its sweep threw): its reductions must still
    // complete before their buffers go.
    for (Bucket& b : buckets)
      if (b.request != MPI_REQUEST_NULL) MPI_Wait(&b.request, MPI_STATUS_IGNORE);
  }

  void reset_step() {
    for (Bucket& b : buckets) {
      if (b.request != MPI_REQUEST_NULL) check(MPI_Wait(&b.request, MPI_STATUS_IGNORE), "MPI_Wait");
      b.waiting = 0;
      b.launched = false;
    }
    for (Slot& s : slots) {
      s.ready = false;
      s.target = {};
      ++buckets[s.bucket].waiting;
    }
    next_launch = 0;
  }

  void arm(std::size_t rows) {
    if (!armed || next_launch > 0) reset_step();  // a new step (or one whose sweep never finished)
    armed = true;
    samples = T(rows);  // the latest forward's batch is the step's
  }

  // Buckets go in index order on every rank, as MPI needs for collectives,
  // each as soon as it and every bucket before it are full. At the sweep's
  // end (`now`) nothing is left to overlap: the rest go as blocking
  // MPI_Allreduce, which Open MPI runs with its tuned algorithms (the
  // non-blocking ones come from its simpler libnbc component).
  void launch_ready(bool now = false) {
    // The last bucket (the first layer's gradients, final when the sweep
    // ends) always waits for the end.
    const std::size_t until = now ? buckets.size() : buckets.size() - 1;
    while (next_launch < until && buckets[next_launch].waiting == 0) {
      Bucket& b = buckets[next_launch];
      if (next_launch + 1 == buckets.size()) b.values.back() = samples;
      if (now)
        check(MPI_Allreduce(MPI_IN_PLACE, b.values.data(), int(b.values.size()), mpi_type<T>(), MPI_SUM,
                            env.comm()),
              "MPI_Allreduce");
      else {
        check(MPI_Iallreduce(MPI_IN_PLACE, b.values.data(), int(b.values.size()), mpi_type<T>(), MPI_SUM,
                             env.comm(), &b.request),
              "MPI_Iallreduce");
        ++stats.started_during_sweep;
      }
      b.launched = true;
      ++next_launch;
    }
  }

  // Open MPI advances a non-blocking collective only inside MPI calls: a
  // test per reported gradient keeps the launched ones moving.
  void progress() {
    for (std::size_t k = 0; k < next_launch; ++k)
      if (buckets[k].request != MPI_REQUEST_NULL) {
        int done = 0;
        check(MPI_Test(&buckets[k].request, &done, MPI_STATUS_IGNORE), "MPI_Test");
      }
  }

  void put(Slot& s, std::span<const T> g) {
    Bucket& b = buckets[s.bucket];
    T* out = b.values.data() + s.offset;
    // Each shard's mean gradient, weighted by its samples: the sum over the
    // ranks is the batch's summed gradient.
    if (g.empty())
      std::fill(out, out + s.parameter.numel(), T(0));
    else
      for (std::size_t k = 0; k < g.size(); ++k) out[k] = g[k] * samples;
    s.ready = true;
    --b.waiting;
  }

  void ready(const void* leaf, std::span<T> g) {
    if (!armed) return;
    const auto it = index.find(leaf);
    if (it == index.end()) return;  // a leaf of some other graph
    Slot& s = slots[it->second];
    if (s.ready) return;
    s.target = g;
    put(s, g);
    if (options.overlap) {
      const auto start = std::chrono::steady_clock::now();
      launch_ready();
      progress();
      stats.overlapped_mpi_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  }

  // The watchdog (DataParallelOptions::timeout_seconds): every bucket
  // started and polled until done or the deadline passes.
  void await_all(std::chrono::steady_clock::time_point start) {
    while (next_launch < buckets.size()) {  // the last one too
      Bucket& b = buckets[next_launch];
      if (next_launch + 1 == buckets.size()) b.values.back() = samples;
      check(MPI_Iallreduce(MPI_IN_PLACE, b.values.data(), int(b.values.size()), mpi_type<T>(), MPI_SUM,
                           env.comm(), &b.request),
            "MPI_Iallreduce");
      ++next_launch;
    }
    const auto deadline = start + std::chrono::duration<double>(options.timeout_seconds);
    for (;;) {
      int done = 1;
      for (Bucket& b : buckets) {
        int one = 0;
        check(MPI_Test(&b.request, &one, MPI_STATUS_IGNORE), "MPI_Test");
        done = done && one;
      }
      if (done) return;
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error(fmt::format(
            "nn::distributed::DataParallel: the gradient reduction did not complete within {} s of rank {}'s "
            "backward sweep: another rank stopped or hangs",
            options.timeout_seconds, env.rank()));
      std::this_thread::yield();
    }
  }

  // At the sweep's end: what no op used contributes zeros, the rest of the
  // buckets go, and every gradient becomes the batch's mean.
  void finish() {
    if (!armed) return;
    armed = false;
    for (Slot& s : slots)
      if (!s.ready) put(s, {});
    const auto start = std::chrono::steady_clock::now();
    if (options.timeout_seconds > 0) {
      launch_ready();
      await_all(start);
    }
    launch_ready(/*now=*/true);
    for (Bucket& b : buckets) check(MPI_Wait(&b.request, MPI_STATUS_IGNORE), "MPI_Wait");
    stats.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++stats.steps;
    const T total = buckets.back().values.back();
    for (Slot& s : slots) {
      const T* sum = buckets[s.bucket].values.data() + s.offset;
      if (s.target.empty()) {
        for (std::size_t k = 0; k < s.parameter.numel(); ++k)
          if (sum[k] != T(0))
            throw std::logic_error(fmt::format(
                "nn::distributed::DataParallel: parameter '{}' received no gradient on rank {} but did on "
                "another rank; every rank must reach the same parameters",
                s.name, env.rank()));
        continue;
      }
      for (std::size_t k = 0; k < s.target.size(); ++k) s.target[k] = sum[k] / total;
    }
    next_launch = 0;
  }
};

template <class T>
DataParallelT<T>::DataParallelT(nn::ModuleT<T>& model, const Environment& env, DataParallelOptions options)
    : model_(model), env_(env) {
  const Named<Tensor> named = model_.named_parameters();
  std::string layout = model_.architecture();
  for (const auto& [name, p] : named) layout += fmt::format(";{}{}", name, p.shape().to_string());
  const std::uint64_t h = fingerprint(layout);
  std::uint64_t both[2] = {h, ~h};  // max of h and of ~h: all equal exactly when min h == max h
  check(MPI_Allreduce(MPI_IN_PLACE, both, 2, MPI_UINT64_T, MPI_MAX, env_.comm()), "MPI_Allreduce");
  if (both[0] != h || both[1] != ~h)
    throw std::runtime_error(fmt::format(
        "nn::distributed::DataParallel: the {} ranks do not all hold the same model (parameter names, shapes "
        "or architecture differ; rank {} holds {})",
        env_.size(), env_.rank(), layout));
  broadcast_from_root();
  reducer_ = std::make_unique<Reducer>(named, env_, options, stats_);
  stats_.buckets = reducer_->buckets.size();
  for (const auto& b : reducer_->buckets) stats_.bytes_per_step += b.values.size() * sizeof(T);
  this->train(model_.is_training());
}

template <class T>
DataParallelT<T>::~DataParallelT() = default;

template <class T>
void DataParallelT<T>::broadcast_from_root() {
  auto send = [&](const Named<Tensor>& tensors) {
    for (const auto& [name, t] : tensors) {
      std::span<T> v = Tensor(t).mutable_values();
      check(MPI_Bcast(v.data(), int(v.size()), mpi_type<T>(), 0, env_.comm()), "MPI_Bcast");
    }
  };
  send(model_.named_parameters());
  broadcast_buffers();
}

template <class T>
void DataParallelT<T>::broadcast_buffers() {
  const Named<Tensor> buffers = model_.named_buffers();
  if (buffers.empty()) return;
  buffer_values_.clear();
  for (const auto& [name, t] : buffers)
    buffer_values_.insert(buffer_values_.end(), t.values().begin(), t.values().end());
  check(MPI_Bcast(buffer_values_.data(), int(buffer_values_.size()), mpi_type<T>(), 0, env_.comm()),
        "MPI_Bcast");
  if (env_.rank() == 0) return;
  std::size_t at = 0;
  for (const auto& [name, t] : buffers) {
    std::span<T> v = Tensor(t).mutable_values();
    std::copy_n(buffer_values_.begin() + std::ptrdiff_t(at), v.size(), v.begin());
    at += v.size();
  }
}

template <class T>
auto DataParallelT<T>::forward(const Tensor& x) -> Tensor {
  if (std::this_thread::get_id() != reducer_->thread)
    throw std::logic_error(
        "nn::distributed::DataParallel: forward on another thread than the one that built the wrapper (its "
        "gradient hook listens to that thread's backward sweeps)");
  Tensor out = model_(x);
  // A training forward that recorded (not under ad::NoGrad) starts a step:
  // the next backward's gradients are averaged.
  if (this->is_training() && out.requires_grad_enabled()) {
    const std::size_t rows = x.rank() > 0 ? x.shape()[0] : 1;
    reducer_->arm(rows);
    epoch_samples_ += rows;
    // After the forward, which in training mode normalises with the batch's
    // own statistics and updates the running ones: every rank leaves the
    // step with rank 0's (every rank makes the same steps, so this is as
    // collective as the step's gradient reduction).
    if (reducer_->options.broadcast_buffers) broadcast_buffers();
  }
  return out;
}

template <class T>
void DataParallelT<T>::collect_parameters(Named<Tensor>& out) const {
  for (auto& entry : model_.named_parameters()) out.push_back(std::move(entry));
}

template <class T>
void DataParallelT<T>::collect_buffers(Named<Tensor>& out) const {
  for (auto& entry : model_.named_buffers()) out.push_back(std::move(entry));
}

template <class T>
nn::LoaderOptions DataParallelT<T>::loader_options(nn::LoaderOptions base) const {
  base.shards = std::size_t(env_.size());
  base.shard = std::size_t(env_.rank());
  return base;
}

template <class T>
nn::FitOptions DataParallelT<T>::fit_options(nn::FitOptions base) {
  base.write_checkpoints = base.write_checkpoints && env_.is_root();
  base.combine_epoch = [this](nn::EpochReport& r) { combine(r); };
  return base;
}

template <class T>
void DataParallelT<T>::combine(nn::EpochReport& report) {
  // Every rank ran the same number of batches: the mean of the ranks' mean
  // batch losses is the mean over all. Accuracy: correct answers over samples.
  const double n = double(epoch_samples_);
  const bool accuracy = !std::isnan(report.accuracy);
  double sums[3] = {report.loss, accuracy ? report.accuracy * n : 0.0, n};
  check(MPI_Allreduce(MPI_IN_PLACE, sums, 3, MPI_DOUBLE, MPI_SUM, env_.comm()), "MPI_Allreduce");
  report.loss = sums[0] / env_.size();
  if (accuracy) report.accuracy = sums[1] / sums[2];
  epoch_samples_ = 0;
}

template <class T>
void DataParallelT<T>::reset_stats() noexcept {
  stats_.steps = 0;
  stats_.wait_seconds = 0;
  stats_.overlapped_mpi_seconds = 0;
  stats_.started_during_sweep = 0;
}

template class DataParallelT<float>;
template class DataParallelT<double>;

}  // namespace nn::distributed
