// A job in which rank 1 fails during training, in one of three ways: it is
// killed (SIGKILL, as by the OOM killer or a node lost), it throws, or it
// hangs (the others' watchdog, DataParallelOptions::timeout_seconds, must
// end the job). The others are inside a gradient reduction waiting for it;
// the job must end with a message naming the rank, not hang (the tests give
// it a time limit).
//   ranks_fail kill | ranks_fail throw | ranks_fail hang
#include <chrono>
#include <csignal>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <autodiff/autodiff.hpp>
#include <dist/distributed.hpp>
#include <nn/nn.hpp>

int main(int argc, char** argv) {
  const std::string how = argc > 1 ? argv[1] : "kill";
  return nn::distributed::run(argc, argv, [&](nn::distributed::Environment& env) {
    std::mt19937_64 rng(1);
    nn::Sequential m;
    m.add<nn::Dense>(4, 8, nn::Activation::tanh, rng).add<nn::Dense>(8, 2, nn::Activation::identity, rng);
    nn::distributed::DataParallel dp(m, env, {.timeout_seconds = how == "hang" ? 2.0 : 0.0});
    nn::SGD<double> opt(dp.parameters(), 0.1);
    nn::TensorDataset<double> data(ad::Tensor::randn({64, 4}, rng), std::vector<std::size_t>(64, 1));
    nn::DataLoader<double> loader(data, dp.loader_options({.batch_size = 8}));
    nn::FitOptions o = dp.fit_options({.epochs = 1000, .patience = 100000});
    o.on_batch = [&](const nn::BatchReport& r) {
      if (env.rank() == 1 && r.epoch == 2 && r.batch == 3) {
        if (how == "kill") std::raise(SIGKILL);
        if (how == "hang") std::this_thread::sleep_for(std::chrono::minutes(10));
        throw std::runtime_error("rank 1 fails on purpose");
      }
      return true;
    };
    nn::fit(dp, loader, nn::cross_entropy, opt, o);
    std::puts("finished: the failure was not noticed");
    return 0;
  });
}
