// LibTorch's side of bench_cnn: the Fashion-MNIST CNN of BENCHMARKS.md
// written the way a LibTorch user writes it (torch::nn::Sequential of
// Conv2d, ReLU, MaxPool2d, Flatten, Linear, Dropout; cross_entropy; Adam).
// Only peers/libtorch_*.cpp include <torch/torch.h>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace bench::libtorch {

// conv(1->32, 3x3)-relu-maxpool(2)-conv(32->64, 3x3)-relu-maxpool(2)-
// dense(1600->128)-relu-dropout(p)-dense(128->10) on 28x28 images.
// `parameters` are row-major double arrays in the order conv1 weight
// [32,1,3,3], conv1 bias, conv2 weight [64,32,3,3], conv2 bias, dense1 weight
// [128,1600], bias, dense2 weight [10,128], bias (ours, and torch's).
class CnnTrainer {
 public:
  CnnTrainer(const std::vector<std::vector<double>>& parameters, double dropout, double learning_rate);
  ~CnnTrainer();
  CnnTrainer(const CnnTrainer&) = delete;
  CnnTrainer& operator=(const CnnTrainer&) = delete;
  // One epoch over the images listed in `order` (rows of `images`, [count,
  // 784] in [0, 1]), in mini-batches of `batch`; returns the mean training loss.
  double epoch(const std::vector<float>& images, const std::vector<std::int64_t>& labels,
               const std::vector<std::size_t>& order, std::size_t batch);
  // The fraction of `images` whose largest logit is at their label (eval mode).
  double accuracy(const std::vector<float>& images, const std::vector<std::int64_t>& labels);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bench::libtorch
