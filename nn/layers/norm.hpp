// Normalisation layers (PyTorch's nn.LayerNorm, nn.BatchNorm1d and
// nn.BatchNorm2d, same defaults, same rules):
//
//   y = (x - mean) / sqrt(var + eps) * weight + bias
//
// with the mean and the biased variance (divided by the count, not count - 1)
// taken over
//   LayerNorm:   the trailing axes given by normalized_shape, per sample;
//   BatchNorm:   every axis but the channel axis 1 (the batch and the
//                length / height and width), per channel.
// weight starts at ones and bias at zeros (parameters "weight", "bias",
// present when affine).
//
// Batch norm in training mode normalises with the batch's statistics and
// updates its buffers, without recording anything:
//   running_mean <- (1 - momentum) running_mean + momentum mean
//   running_var  <- (1 - momentum) running_var  + momentum var * m / (m - 1)
// (the unbiased variance of the m = N L or N H W values of each channel, as
// PyTorch does); in evaluation mode it normalises with the running
// statistics, so each output depends on its own sample only. The buffers
// ("running_mean", zeros, and "running_var", ones) are saved, loaded and
// checkpointed with the parameters.
//
// Composed of recorded ops (mean over axes, subtraction with broadcasting,
// square, sqrt, division), so gradients, and second derivatives, are
// those of the formula, exactly; the cost is a few tensors of the input's
// size per call, where a fused kernel would keep one.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <autodiff/tensor.hpp>
#include <nn/module.hpp>

namespace nn {

// Normalises each sample over its trailing axes, whose extents must be
// normalized_shape: an input [..., d_1, ..., d_k] for normalized_shape
// [d_1, ..., d_k]; weight and bias have shape normalized_shape. Other input
// shapes throw std::invalid_argument "nn::LayerNorm: input of shape ... does
// not end in ..."; an empty normalized_shape, a zero extent, or an eps that
// is negative or not finite throw std::invalid_argument at construction.
template <class T>
class LayerNormT : public ModuleT<T> {
 public:
  explicit LayerNormT(std::vector<std::size_t> normalized_shape, T eps = T(1e-5),
                      bool elementwise_affine = true);

  ad::TensorT<T> forward(const ad::TensorT<T>& x) override;
  std::string type_name() const override { return "LayerNorm"; }
  // "LayerNorm([4, 5], eps=1e-05, elementwise_affine=true)"
  std::string architecture() const override;

  const std::vector<std::size_t>& normalized_shape() const noexcept { return normalized_shape_; }
  T eps() const noexcept { return eps_; }
  bool elementwise_affine() const noexcept { return affine_; }
  // Empty (undefined) tensors when not elementwise_affine.
  const ad::TensorT<T>& weight() const noexcept { return weight_; }
  const ad::TensorT<T>& bias() const noexcept { return bias_; }

 private:
  std::vector<std::size_t> normalized_shape_;
  T eps_;
  bool affine_;
  ad::TensorT<T> weight_;
  ad::TensorT<T> bias_;
};

// What BatchNorm1d and BatchNorm2d share: per-channel statistics over every
// axis but axis 1, for inputs of the ranks the kind accepts. An input of
// another rank or another channel count throws std::invalid_argument
// "nn::BatchNorm1d: input of shape ... for 3 features (expected ...)"; in
// training mode, a channel with a single value (nothing to take a variance
// of) throws std::invalid_argument as well ("... has 1 value(s) per channel ..."). At construction, zero
// features, an eps that is negative or not finite, or a momentum outside [0, 1] throw std::invalid_argument.
template <class T>
class BatchNormBaseT : public ModuleT<T> {
 public:
  ad::TensorT<T> forward(const ad::TensorT<T>& x) override;
  std::string type_name() const override { return kind_; }
  // "BatchNorm1d(16, eps=1e-05, momentum=0.1, affine=true)"
  std::string architecture() const override;

  std::size_t num_features() const noexcept { return num_features_; }
  T eps() const noexcept { return eps_; }
  T momentum() const noexcept { return momentum_; }
  bool affine() const noexcept { return affine_; }
  // Empty (undefined) tensors when not affine.
  const ad::TensorT<T>& weight() const noexcept { return weight_; }
  const ad::TensorT<T>& bias() const noexcept { return bias_; }
  const ad::TensorT<T>& running_mean() const noexcept { return running_mean_; }
  const ad::TensorT<T>& running_var() const noexcept { return running_var_; }

 protected:
  // kind: "BatchNorm1d"; ranks: the input ranks accepted, and how an input
  // is described in errors ("[N, C] or [N, C, L]").
  BatchNormBaseT(std::string kind, std::vector<std::size_t> ranks, std::string expected,
                 std::size_t num_features, T eps, T momentum, bool affine);

 private:
  void check_input(const ad::Shape& s) const;
  void update_running_statistics(const ad::TensorT<T>& mean, const ad::TensorT<T>& var, std::size_t count);

  std::string kind_;
  std::vector<std::size_t> ranks_;
  std::string expected_;
  std::size_t num_features_;
  T eps_;
  T momentum_;
  bool affine_;
  ad::TensorT<T> weight_;
  ad::TensorT<T> bias_;
  ad::TensorT<T> running_mean_;
  ad::TensorT<T> running_var_;
};

// Input [N, C] or [N, C, L].
template <class T>
class BatchNorm1dT : public BatchNormBaseT<T> {
 public:
  explicit BatchNorm1dT(std::size_t num_features, T eps = T(1e-5), T momentum = T(0.1), bool affine = true);
};

// Input [N, C, H, W].
template <class T>
class BatchNorm2dT : public BatchNormBaseT<T> {
 public:
  explicit BatchNorm2dT(std::size_t num_features, T eps = T(1e-5), T momentum = T(0.1), bool affine = true);
};

using LayerNorm = LayerNormT<double>;
using LayerNormF = LayerNormT<float>;
using BatchNorm1d = BatchNorm1dT<double>;
using BatchNorm1dF = BatchNorm1dT<float>;
using BatchNorm2d = BatchNorm2dT<double>;
using BatchNorm2dF = BatchNorm2dT<float>;

extern template class LayerNormT<float>;
extern template class LayerNormT<double>;
extern template class BatchNormBaseT<float>;
extern template class BatchNormBaseT<double>;
extern template class BatchNorm1dT<float>;
extern template class BatchNorm1dT<double>;
extern template class BatchNorm2dT<float>;
extern template class BatchNorm2dT<double>;

}  // namespace nn
