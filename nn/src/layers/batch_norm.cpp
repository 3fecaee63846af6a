#include <nn/layers/norm.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include <fmt/format.h>

#include <autodiff/tensor_ops.hpp>

namespace nn {

template <class T>
BatchNormBaseT<T>::BatchNormBaseT(std::string kind, std::vector<std::size_t> ranks, std::string expected,
                                  std::size_t num_features, T eps, T momentum, bool affine)
    : kind_(std::move(kind)),
      ranks_(std::move(ranks)),
      expected_(std::move(expected)),
      num_features_(num_features),
      eps_(eps),
      momentum_(momentum),
      affine_(affine) {
  if (num_features == 0)
    throw std::invalid_argument(fmt::format("nn::{}: num_features must be at least 1", kind_));
  if (!(eps >= T(0) && std::isfinite(eps)))
    throw std::invalid_argument(fmt::format("nn::{}: eps = {} must be finite and >= 0", kind_, eps));
  if (!(momentum >= T(0) && momentum <= T(1)))
    throw std::invalid_argument(fmt::format("nn::{}: momentum = {} is not in [0, 1]", kind_, momentum));
  const ad::Shape channels{num_features};
  if (affine_) {
    weight_ = ad::TensorT<T>::ones(channels);
    bias_ = ad::TensorT<T>::zeros(channels);
    this->register_parameter("weight", weight_);
    this->register_parameter("bias", bias_);
  }
  running_mean_ = ad::TensorT<T>::zeros(channels);
  running_var_ = ad::TensorT<T>::ones(channels);
  this->register_buffer("running_mean", running_mean_);
  this->register_buffer("running_var", running_var_);
}

template <class T>
void BatchNormBaseT<T>::check_input(const ad::Shape& s) const {
  if (std::find(ranks_.begin(), ranks_.end(), s.rank()) == ranks_.end() || s[1] != num_features_)
    throw std::invalid_argument(
        fmt::format("nn::{}: input of shape {} for {} features (expected {} with C = {})", kind_,
                    s.to_string(), num_features_, expected_, num_features_));
}

template <class T>
ad::TensorT<T> BatchNormBaseT<T>::forward(const ad::TensorT<T>& x) {
  const ad::Shape& s = x.shape();
  check_input(s);
  // Per channel: reduce over every axis but 1; the statistics and the
  // parameters take the shape [C, 1, ...] so they broadcast along axis 1.
  std::vector<std::int64_t> axes{0};
  std::vector<std::size_t> channel_dims{num_features_};
  for (std::size_t a = 2; a < s.rank(); ++a) {
    axes.push_back(static_cast<std::int64_t>(a));
    channel_dims.push_back(1);
  }
  const ad::Shape channel_shape{std::span<const std::size_t>(channel_dims)};
  const std::size_t count = s.numel() / num_features_;

  ad::TensorT<T> normalised;
  if (this->is_training()) {
    if (count < 2)
      throw std::invalid_argument(fmt::format(
          "nn::{}: input of shape {} has {} value(s) per channel; training needs at least 2 (a variance)",
          kind_, s.to_string(), count));
    // y = (x - mu) / sqrt(var + eps), mu and the biased var of the batch.
    const ad::TensorT<T> mean = ad::mean(x, axes, /*keepdim=*/true);
    const ad::TensorT<T> centred = x - mean;
    const ad::TensorT<T> var = ad::mean(ad::square(centred), axes, /*keepdim=*/true);
    normalised = centred / ad::sqrt(var + eps_);
    update_running_statistics(mean, var, count);
  } else {
    // The running statistics are constants here: y = (x - running_mean) * s,
    // s = 1 / sqrt(running_var + eps). Copies, so that a later training step
    // (which writes the buffers) leaves this graph's backward valid.
    std::vector<T> mean(running_mean_.values().begin(), running_mean_.values().end());
    std::vector<T> scale(num_features_);
    const auto var = running_var_.values();
    for (std::size_t c = 0; c < num_features_; ++c) scale[c] = T(1) / std::sqrt(var[c] + eps_);
    normalised = (x - ad::TensorT<T>::from(channel_shape, std::move(mean))) *
                 ad::TensorT<T>::from(channel_shape, std::move(scale));
  }
  if (!affine_) return normalised;
  if (s.rank() == 2) return normalised * weight_ + bias_;
  return normalised * ad::reshape(weight_, channel_shape) + ad::reshape(bias_, channel_shape);
}

template <class T>
void BatchNormBaseT<T>::update_running_statistics(const ad::TensorT<T>& mean, const ad::TensorT<T>& var,
                                                  std::size_t count) {
  // PyTorch's rule: the running variance follows the unbiased batch variance.
  const T unbias = static_cast<T>(count) / static_cast<T>(count - 1);
  const auto batch_mean = mean.values();
  const auto batch_var = var.values();
  auto running_mean = running_mean_.mutable_values();
  for (std::size_t c = 0; c < num_features_; ++c)
    running_mean[c] = (T(1) - momentum_) * running_mean[c] + momentum_ * batch_mean[c];
  auto running_var = running_var_.mutable_values();
  for (std::size_t c = 0; c < num_features_; ++c)
    running_var[c] = (T(1) - momentum_) * running_var[c] + momentum_ * batch_var[c] * unbias;
}

template <class T>
std::string BatchNormBaseT<T>::architecture() const {
  return fmt::format("{}({}, eps={}, momentum={}, affine={})", kind_, num_features_, eps_, momentum_,
                     affine_);
}

template <class T>
BatchNorm1dT<T>::BatchNorm1dT(std::size_t num_features, T eps, T momentum, bool affine)
    : BatchNormBaseT<T>("BatchNorm1d", {2, 3}, "[N, C] or [N, C, L]", num_features, eps, momentum, affine) {}

template <class T>
BatchNorm2dT<T>::BatchNorm2dT(std::size_t num_features, T eps, T momentum, bool affine)
    : BatchNormBaseT<T>("BatchNorm2d", {4}, "[N, C, H, W]", num_features, eps, momentum, affine) {}

template class BatchNormBaseT<float>;
template class BatchNormBaseT<double>;
template class BatchNorm1dT<float>;
template class BatchNorm1dT<double>;
template class BatchNorm2dT<float>;
template class BatchNorm2dT<double>;

}  // namespace nn
