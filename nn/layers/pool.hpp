// Pooling layers (PyTorch's torch.nn.MaxPool2d, AvgPool2d and
// AdaptiveAvgPool2d(1)) on x [N, C, H, W] (or [C, H, W]); no parameters.
// The ops and their rules are in autodiff/tensor_pool.hpp: max pool pads
// with -inf, average pool counts the padding in its divisor, the adaptive
// pool averages each channel to 1x1.
#pragma once

#include <cstddef>
#include <string>

#include <autodiff/tensor.hpp>
#include <autodiff/tensor_pool.hpp>
#include <nn/module.hpp>

namespace nn {

// kernel x kernel windows, `stride` apart (0: the kernel size), `padding` on
// each side. Throws std::invalid_argument naming the layer for a zero kernel
// or padding above half the kernel.
template <class T>
class MaxPool2dT : public ModuleT<T> {
 public:
  explicit MaxPool2dT(std::size_t kernel, std::size_t stride = 0, std::size_t padding = 0);
  explicit MaxPool2dT(const ad::Pool2dOptions& options);
  ad::TensorT<T> forward(const ad::TensorT<T>& x) override;
  std::string type_name() const override { return "MaxPool2d"; }
  std::string architecture() const override;  // "MaxPool2d(2x2, stride 2x2, padding 0x0)"
  const ad::Pool2dOptions& options() const { return options_; }

 private:
  ad::Pool2dOptions options_;
};

template <class T>
class AvgPool2dT : public ModuleT<T> {
 public:
  explicit AvgPool2dT(std::size_t kernel, std::size_t stride = 0, std::size_t padding = 0);
  explicit AvgPool2dT(const ad::Pool2dOptions& options);
  ad::TensorT<T> forward(const ad::TensorT<T>& x) override;
  std::string type_name() const override { return "AvgPool2d"; }
  std::string architecture() const override;  // "AvgPool2d(2x2, stride 2x2, padding 0x0)"
  const ad::Pool2dOptions& options() const { return options_; }

 private:
  ad::Pool2dOptions options_;
};

// [N, C, H, W] -> [N, C, 1, 1]: the mean of each channel (global average pooling).
template <class T>
class AdaptiveAvgPool2dT : public ModuleT<T> {
 public:
  ad::TensorT<T> forward(const ad::TensorT<T>& x) override;
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string architecture() const override { return "AdaptiveAvgPool2d(1x1)"; }
};

using MaxPool2d = MaxPool2dT<double>;
using MaxPool2dF = MaxPool2dT<float>;
using AvgPool2d = AvgPool2dT<double>;
using AvgPool2dF = AvgPool2dT<float>;
using AdaptiveAvgPool2d = AdaptiveAvgPool2dT<double>;
using AdaptiveAvgPool2dF = AdaptiveAvgPool2dT<float>;

extern template class MaxPool2dT<float>;
extern template class MaxPool2dT<double>;
extern template class AvgPool2dT<float>;
extern template class AvgPool2dT<double>;
extern template class AdaptiveAvgPool2dT<float>;
extern template class AdaptiveAvgPool2dT<double>;

}  // namespace nn
