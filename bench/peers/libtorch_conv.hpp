// LibTorch's side of bench_conv: one conv2d or max_pool2d forward and
// backward on fixed tensors, the way LibTorch's autograd runs it. Built into
// bench_libtorch_peer with libtorch_peer.cpp (bench/peers/libtorch.cmake).
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace bench::libtorch {

// Whether this LibTorch runs convolutions through oneDNN (MKL-DNN), for the report.
bool has_mkldnn();

struct ConvShape {
  std::size_t batch, in_channels, out_channels, height, width, kernel, padding;
  bool input_grad;  // the input needs a gradient (an inner layer) or not (the first layer)
};

// y = conv2d(x, w, b); backward from a fixed seed; x's gradient dropped and
// w's and b's zeroed after each step (an inner activation and an optimiser's
// zero_grad). Values are row-major doubles, converted to the chosen type.
class ConvStep {
 public:
  ConvStep(const ConvShape& shape, const std::vector<double>& x, const std::vector<double>& w,
           const std::vector<double>& b, const std::vector<double>& seed, bool use_double);
  ~ConvStep();
  ConvStep(const ConvStep&) = delete;
  ConvStep& operator=(const ConvStep&) = delete;
  void forward();
  void forward_backward();
  // The gradient of sum(seed * y) with respect to w after forward_backward(), as doubles.
  std::vector<double> weight_grad() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// y = max_pool2d(x, 2) on x [N, C, H, W] (requires grad), backward from a fixed seed.
class MaxPoolStep {
 public:
  MaxPoolStep(const std::array<std::size_t, 4>& shape, const std::vector<double>& x,
              const std::vector<double>& seed, bool use_double);
  ~MaxPoolStep();
  MaxPoolStep(const MaxPoolStep&) = delete;
  MaxPoolStep& operator=(const MaxPoolStep&) = delete;
  void forward();
  void forward_backward();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bench::libtorch
