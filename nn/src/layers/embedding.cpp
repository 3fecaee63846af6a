#include <nn/layers/embedding.hpp>

#include <cmath>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include <autodiff/tensor_shape_ops.hpp>

namespace nn {

template <class T>
EmbeddingT<T>::EmbeddingT(std::size_t num_embeddings, std::size_t embedding_dim, std::mt19937_64& rng) {
  if (num_embeddings == 0 || embedding_dim == 0)
    throw std::invalid_argument(
        fmt::format("nn::Embedding: a table needs at least one embedding of at least one entry (got {} x {})",
                    num_embeddings, embedding_dim));
  weight_ = ad::TensorT<T>::randn(ad::Shape{num_embeddings, embedding_dim}, rng);
  this->register_parameter("weight", weight_);
}

template <class T>
EmbeddingT<T>::EmbeddingT(ad::TensorT<T> weight) : weight_(std::move(weight)) {
  if (!weight_.defined() || weight_.rank() != 2 || weight_.numel() == 0)
    throw std::invalid_argument(fmt::format(
        "nn::Embedding: a table must be a non-empty [num_embeddings, embedding_dim] tensor (got {})",
        weight_.defined() ? weight_.shape().to_string() : std::string("an empty handle")));
  this->register_parameter("weight", weight_);
}

template <class T>
ad::TensorT<T> EmbeddingT<T>::forward(const ad::TensorT<T>& indices) {
  const ad::Shape& s = indices.shape();
  if (s.rank() + 1 > ad::Shape::max_rank)
    throw std::invalid_argument(fmt::format(
        "nn::Embedding: indices of shape {} leave no room for the embedding axis (at most {} axes)",
        s.to_string(), ad::Shape::max_rank - 1));
  const std::size_t n = num_embeddings();
  std::vector<std::size_t> rows;
  rows.reserve(indices.numel());
  const auto values = indices.values();
  for (std::size_t k = 0; k < values.size(); ++k) {
    const T v = values[k];
    // The comparisons are false for NaN, so it is refused too.
    if (!(v >= T(0) && v < static_cast<T>(n) && std::floor(v) == v))
      throw std::invalid_argument(
          fmt::format("nn::Embedding: index {} at position {} is not an integer in [0, {})", v, k, n));
    rows.push_back(static_cast<std::size_t>(v));
  }
  std::vector<std::size_t> dims(s.begin(), s.end());
  dims.push_back(embedding_dim());
  const ad::Shape out{std::span<const std::size_t>(dims)};
  // No index: nothing to gather (ad::rows of an empty list), the result is
  // an empty tensor of the right shape that depends on no parameter.
  if (rows.empty()) return ad::TensorT<T>::zeros(out);
  return ad::reshape(ad::rows(weight_, rows), out);
}

template <class T>
std::string EmbeddingT<T>::architecture() const {
  return fmt::format("Embedding({}, {})", num_embeddings(), embedding_dim());
}

template class EmbeddingT<float>;
template class EmbeddingT<double>;

}  // namespace nn
