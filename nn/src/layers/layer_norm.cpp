#include <nn/layers/norm.hpp>

#include <cmath>
#include <cstdint>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <autodiff/tensor_ops.hpp>

namespace nn {

template <class T>
LayerNormT<T>::LayerNormT(std::vector<std::size_t> normalized_shape, T eps, bool elementwise_affine)
    : normalized_shape_(std::move(normalized_shape)), eps_(eps), affine_(elementwise_affine) {
  const std::string shape = fmt::format("[{}]", fmt::join(normalized_shape_, ", "));
  if (normalized_shape_.empty() || normalized_shape_.size() > ad::Shape::max_rank)
    throw std::invalid_argument(
        fmt::format("nn::LayerNorm: normalized_shape {} must have 1 to {} axes", shape, ad::Shape::max_rank));
  for (std::size_t d : normalized_shape_)
    if (d == 0)
      throw std::invalid_argument(fmt::format("nn::LayerNorm: normalized_shape {} has a zero extent", shape));
  if (!(eps >= T(0) && std::isfinite(eps)))
    throw std::invalid_argument(fmt::format("nn::LayerNorm: eps = {} must be finite and >= 0", eps));
  if (affine_) {
    const ad::Shape s{std::span<const std::size_t>(normalized_shape_)};
    weight_ = ad::TensorT<T>::ones(s);
    bias_ = ad::TensorT<T>::zeros(s);
    this->register_parameter("weight", weight_);
    this->register_parameter("bias", bias_);
  }
}

template <class T>
ad::TensorT<T> LayerNormT<T>::forward(const ad::TensorT<T>& x) {
  const ad::Shape& s = x.shape();
  const std::size_t k = normalized_shape_.size();
  bool fits = s.rank() >= k;
  for (std::size_t i = 0; fits && i < k; ++i) fits = s[s.rank() - k + i] == normalized_shape_[i];
  if (!fits)
    throw std::invalid_argument(fmt::format("nn::LayerNorm: input of shape {} does not end in [{}]",
                                            s.to_string(), fmt::join(normalized_shape_, ", ")));
  std::vector<std::int64_t> axes;
  for (std::size_t i = 0; i < k; ++i) axes.push_back(-static_cast<std::int64_t>(i) - 1);
  // y = (x - mu) / sqrt(var + eps), mu and the biased var over the trailing axes.
  const ad::TensorT<T> centred = x - ad::mean(x, axes, /*keepdim=*/true);
  const ad::TensorT<T> var = ad::mean(ad::square(centred), axes, /*keepdim=*/true);
  const ad::TensorT<T> normalised = centred / ad::sqrt(var + eps_);
  // weight and bias have the trailing shape, so they broadcast over the leading axes.
  return affine_ ? normalised * weight_ + bias_ : normalised;
}

template <class T>
std::string LayerNormT<T>::architecture() const {
  return fmt::format("LayerNorm([{}], eps={}, elementwise_affine={})", fmt::join(normalized_shape_, ", "),
                     eps_, affine_);
}

template class LayerNormT<float>;
template class LayerNormT<double>;

}  // namespace nn
