// Fashion-MNIST, data-parallel over MPI: the MLP 784-256-128-10 of
// fashion_mnist.cpp (float, He init, Adam 1e-3 with cosine decay, batch 128),
// trained by every process of an mpirun job on its shard of each batch
// (nn::distributed::DataParallel). With the same global batch it follows
// the one-process run step for step (to rounding), so it reaches the same
// accuracy; each step's gradients, ~0.9 MB, are averaged in buckets while the
// backward sweep runs.
//
//   mpirun -np 2 fashion_mnist_mpi --quick     3 epochs (> 84% test accuracy)
//   fashion_mnist_mpi --smoke                  a few hundred samples, 1 epoch (CTest; one process)
//   --epochs N  --threads N (matmul threads per process)  --data DIR  --batch B
//   --bucket-kb K  (gradient bucket size)  --no-overlap  (reduce after the sweep)
//   --plain        train the bare model, no wrapper (the one-process baseline)
//
// Per epoch, rank 0 prints the time per step split into compute (forward,
// backward, optimiser step), time inside MPI calls during the sweep
// (starting and advancing the early buckets) and the wait at the sweep's end
// (the last bucket's allreduce, and waiting for a slower rank). At the end it
// times bare allreduces of one step's gradients, for comparison.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <autodiff/autodiff.hpp>
#include <autodiff/gemm.hpp>
#include <dist/distributed.hpp>
#include <nn/idx.hpp>
#include <nn/nn.hpp>

#include "fashion_data.hpp"
#include "tour.hpp"

namespace {

namespace fs = std::filesystem;
namespace dist = nn::distributed;

// Seconds per bare MPI_Allreduce of `count` floats (after a barrier, so no
// rank waits for another): what one step's communication costs unhidden.
double allreduce_seconds(const dist::Environment& env, std::size_t count) {
  std::vector<float> buffer(count, 1.0f);
  double total = 0;
  constexpr int rounds = 20;
  for (int r = 0; r < rounds; ++r) {
    env.barrier();
    const auto start = std::chrono::steady_clock::now();
    dist::check(MPI_Allreduce(MPI_IN_PLACE, buffer.data(), int(count), MPI_FLOAT, MPI_SUM, env.comm()),
                "MPI_Allreduce");
    total += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return total / rounds;
}

// Rank 0 prints; the others train quietly.
template <class... Args>
void say(const dist::Environment& env, fmt::format_string<Args...> format, Args&&... args) {
  if (!env.is_root()) return;
  fmt::print(format, std::forward<Args>(args)...);
  std::fflush(stdout);
}

int train(dist::Environment& env, const tour::Args& args) {
  const fs::path data_dir = args.get("--data", "/usr/share/datasets/fashion-mnist");
  const std::size_t epochs = std::size_t(args.get_int("--epochs", args.smoke() ? 1 : args.quick() ? 3 : 20));
  const std::size_t batch = std::size_t(args.get_int("--batch", 128));
  const bool plain = args.has("--plain");
  if (plain && env.size() > 1)
    throw std::invalid_argument("--plain is the one-process baseline: run it alone");
  ad::linalg::set_gemm_threads(int(args.get_int("--threads", 1)));
  ad::set_flush_denormal(true);

  const fs::path files[4] = {
      fashion::find(data_dir, "train-images-idx3-ubyte"), fashion::find(data_dir, "train-labels-idx1-ubyte"),
      fashion::find(data_dir, "t10k-images-idx3-ubyte"), fashion::find(data_dir, "t10k-labels-idx1-ubyte")};
  if (std::any_of(std::begin(files), std::end(files), [](const fs::path& p) { return p.empty(); })) {
    say(env,
        "Fashion-MNIST not found in {} (apt-get install dataset-fashion-mnist, or --data DIR): skipped.\n",
        data_dir.string());
    return 0;
  }
  // Every rank reads the whole set (60 000 images, 188 MB as floats) and
  // trains on its shard of each batch; the loaders shuffle alike.
  const nn::TensorDataset<float> train = fashion::load(files[0], files[1], args.smoke() ? 512 : 60000);
  const nn::TensorDataset<float> test = fashion::load(files[2], files[3], args.smoke() ? 256 : 10000);

  std::mt19937_64 rng(2024);
  nn::NetworkT<float> net({784, 256, 128, 10}, nn::Activation::relu, nn::Activation::identity, rng,
                          nn::Init::he);
  const dist::DataParallelOptions options{
      .bucket_bytes = std::size_t(args.get_int("--bucket-kb", 256)) * 1024,
      .overlap = !args.has("--no-overlap")};
  std::optional<dist::DataParallelF> dp;
  if (!plain) dp.emplace(net, env, options);
  nn::ModuleT<float>& model = plain ? static_cast<nn::ModuleT<float>&>(net) : *dp;
  nn::Adam<float> opt(model.parameters(), 1e-3f);
  opt.set_learning_rate(1e-3);
  nn::CosineSchedule cosine(opt, /*total_steps=*/epochs);
  const nn::LoaderOptions loading{.batch_size = batch, .seed = 2024};
  nn::DataLoader<float> loader(train, plain ? loading : dp->loader_options(loading));
  say(env, "MLP 784-256-128-10, {} parameters; {} process(es) x {} matmul thread(s); global batch {}; {}\n",
      net.parameter_count(), env.size(), ad::linalg::get_gemm_threads(), batch,
      plain ? std::string("no wrapper")
            : fmt::format("{} bucket(s) of <= {} KiB, {} B of gradients per step{}", dp->stats().buckets,
                          options.bucket_bytes / 1024, dp->stats().bytes_per_step,
                          options.overlap ? ", overlapped" : ", after the sweep"));

  nn::FitOptions fit_options{
      .epochs = epochs,
      .patience = epochs,
      .validation = &test,
      .on_epoch =
          [&](const nn::EpochReport& r) {
            const double wait = dp ? dp->stats().wait_seconds : 0.0;
            const double during = dp ? dp->stats().overlapped_mpi_seconds : 0.0;
            const double per_step = 1e3 / double(loader.size());
            say(env,
                "epoch {:>2}/{}: train loss {:.4f}  test accuracy {:.2f}%  epoch {:.2f} s; per step {:.2f} "
                "ms = "
                "compute {:.2f} + MPI during the sweep {:.2f} + wait at its end {:.2f}\n",
                r.epoch, epochs, r.loss, 100 * r.val_accuracy, r.seconds, per_step * r.seconds,
                per_step * (r.seconds - wait - during), per_step * during, per_step * wait);
            if (dp) dp->reset_stats();
            return true;
          },
      .schedule = &cosine};
  const nn::History h =
      nn::fit(model, loader, nn::cross_entropy, opt, dp ? dp->fit_options(fit_options) : fit_options);
  if (h.stop_reason != "max_epochs") throw std::runtime_error("training stopped early: " + h.stop_detail);
  say(env, "final test accuracy {:.2f}%\n", 100 * h.validation_accuracy.back());
  if (dp && env.size() > 1)
    say(env, "a bare MPI_Allreduce of one step's {} gradient floats: {:.3f} ms\n", net.parameter_count(),
        1e3 * allreduce_seconds(env, net.parameter_count()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return dist::run(argc, argv, [&](dist::Environment& env) {
    const tour::Args args(argc, argv, {"--epochs", "--threads", "--data", "--batch", "--bucket-kb"},
                          {"--no-overlap", "--plain"});
    return train(env, args);
  });
}
