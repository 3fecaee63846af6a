// nn::EmbeddingT<T>: a lookup table of num_embeddings vectors of
// embedding_dim entries (PyTorch's nn.Embedding). forward(indices) takes a
// tensor of any shape whose values are integers in [0, num_embeddings) and
// returns the rows they select, with shape indices.shape + [embedding_dim]:
//
//   y[i..., :] = weight[indices[i...], :]
//
// The gradient adds each output row's gradient into the row it came from
// (an index used twice receives both), through ad::rows. The indices get no
// gradient.
#pragma once

#include <cstddef>
#include <random>
#include <string>

#include <autodiff/tensor.hpp>
#include <nn/module.hpp>

namespace nn {

template <class T>
class EmbeddingT : public ModuleT<T> {
 public:
  // The parameter "weight" [num_embeddings, embedding_dim], i.i.d. N(0, 1)
  // as in PyTorch. Zero sizes throw std::invalid_argument "nn::Embedding: ...".
  EmbeddingT(std::size_t num_embeddings, std::size_t embedding_dim, std::mt19937_64& rng);
  // Around a given table [num_embeddings, embedding_dim] (it becomes a leaf
  // that requires a gradient).
  explicit EmbeddingT(ad::TensorT<T> weight);

  // A value that is not an integer in [0, num_embeddings) throws
  // std::invalid_argument "nn::Embedding: index <value> at position <k> is
  // not an integer in [0, <num_embeddings>)"; an input of rank 8 (no room
  // for the embedding axis) throws naming its shape.
  ad::TensorT<T> forward(const ad::TensorT<T>& indices) override;
  std::string type_name() const override { return "Embedding"; }
  std::string architecture() const override;  // "Embedding(10, 3)"

  std::size_t num_embeddings() const { return weight_.shape()[0]; }
  std::size_t embedding_dim() const { return weight_.shape()[1]; }
  const ad::TensorT<T>& weight() const noexcept { return weight_; }

 private:
  ad::TensorT<T> weight_;
};

using Embedding = EmbeddingT<double>;
using EmbeddingF = EmbeddingT<float>;

extern template class EmbeddingT<float>;
extern template class EmbeddingT<double>;

}  // namespace nn
