// LibTorch (C++ frontend), the peer of bench_mlp and bench_fashion. Only
// peers/libtorch_*.cpp include <torch/torch.h>; the bench programs see this
// plain interface and are built with AD_BENCH_HAVE_LIBTORCH when
// bench/peers/libtorch.cmake found LibTorch.
//
// Parameters cross the boundary as row-major double arrays in the order
// W^1, b^1, ..., W^d, b^d with W^L of shape [outputs, inputs] (ours, and
// torch::nn::Linear's), so every contestant starts from the same weights.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bench::libtorch {

// "LibTorch 1.13.1, OpenBLAS ..." for the report.
std::string description();

// LibTorch's intra-op threads (ATen's OpenMP pool) and OpenBLAS's threads:
// torch::set_num_threads does not reach OpenBLAS (BENCHMARKS.md).
void set_threads(int torch_threads, int blas_threads);

using Parameters = std::vector<std::vector<double>>;

// One training step of an MLP with tanh hidden layers and an identity
// output on a fixed batch: zero_grad, forward, loss 1/(2B) sum (f(x) - y)^2,
// backward, torch::optim::SGD (plain, lr) step.
class MlpTrainer {
 public:
  MlpTrainer(const std::vector<std::size_t>& sizes, const Parameters& parameters,
             const std::vector<double>& x, const std::vector<double>& y, bool use_double,
             double learning_rate);
  ~MlpTrainer();
  MlpTrainer(const MlpTrainer&) = delete;
  MlpTrainer& operator=(const MlpTrainer&) = delete;
  // The loss of this step's forward pass when `want_loss` (reading it back is
  // not free), NaN otherwise.
  double step(bool want_loss);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// An MLP with ReLU hidden layers trained by Adam on softmax cross-entropy,
// for bench_fashion. Images are rows of `features` floats.
class ClassifierTrainer {
 public:
  ClassifierTrainer(const std::vector<std::size_t>& sizes, const Parameters& parameters,
                    double learning_rate);
  ~ClassifierTrainer();
  ClassifierTrainer(const ClassifierTrainer&) = delete;
  ClassifierTrainer& operator=(const ClassifierTrainer&) = delete;
  // One epoch over `images` ([count, features]) in the order given, in
  // mini-batches of `batch`; returns the mean training loss.
  double epoch(const std::vector<float>& images, const std::vector<std::int64_t>& labels,
               const std::vector<std::size_t>& order, std::size_t batch);
  // The fraction of `images` whose largest logit is at their label.
  double accuracy(const std::vector<float>& images, const std::vector<std::int64_t>& labels);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bench::libtorch
