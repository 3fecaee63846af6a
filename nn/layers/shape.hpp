// Layers that only rearrange a batch, without arithmetic, so that
// convolutional and dense layers can follow one another in a Sequential:
//
//   nn::Sequential model;
//   model.add<nn::Reshape>(std::vector<std::size_t>{1, 28, 28})   // N x 784 -> N x 1 x 28 x 28
//        .add<nn::Conv2d>(...) ... .add<nn::Flatten>()            // N x C x H x W -> N x (C H W)
//        .add<nn::Dense>(...);
//
// Both are ad::reshape underneath: the gradient is the output's gradient
// with the input's shape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <autodiff/tensor.hpp>
#include <nn/module.hpp>

namespace nn {

// PyTorch's nn.Flatten: axes start_axis .. end_axis (inclusive; negative
// axes count from the end) merged into one, the others kept, so the default
// keeps the batch axis and flattens each sample. An axis outside the input's
// rank, or start after end, throws std::invalid_argument "nn::Flatten: ..."
// naming the axes and the input's shape.
template <class T>
class FlattenT : public ModuleT<T> {
 public:
  explicit FlattenT(std::int64_t start_axis = 1, std::int64_t end_axis = -1)
      : start_axis_(start_axis), end_axis_(end_axis) {}

  ad::TensorT<T> forward(const ad::TensorT<T>& x) override;
  std::string type_name() const override { return "Flatten"; }
  std::string architecture() const override;  // "Flatten(1, -1)"

  std::int64_t start_axis() const noexcept { return start_axis_; }
  std::int64_t end_axis() const noexcept { return end_axis_; }

 private:
  std::int64_t start_axis_;
  std::int64_t end_axis_;
};

// Each sample of a batch viewed with `shape`: N x ... -> N x shape, the
// batch axis kept (Reshape({1, 28, 28}) turns N x 784 into N x 1 x 28 x 28).
// The constructor throws std::invalid_argument "nn::Reshape: ..." for a zero
// extent or more than 7 axes; forward for an input whose samples do not
// have prod(shape) elements, naming both shapes.
template <class T>
class ReshapeT : public ModuleT<T> {
 public:
  explicit ReshapeT(std::vector<std::size_t> shape);

  ad::TensorT<T> forward(const ad::TensorT<T>& x) override;
  std::string type_name() const override { return "Reshape"; }
  std::string architecture() const override;  // "Reshape([1, 28, 28])"

  const std::vector<std::size_t>& shape() const noexcept { return shape_; }

 private:
  std::vector<std::size_t> shape_;
};

using Flatten = FlattenT<double>;
using FlattenF = FlattenT<float>;
using Reshape = ReshapeT<double>;
using ReshapeF = ReshapeT<float>;

extern template class FlattenT<float>;
extern template class FlattenT<double>;
extern template class ReshapeT<float>;
extern template class ReshapeT<double>;

}  // namespace nn
