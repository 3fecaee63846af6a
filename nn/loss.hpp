// Loss functions C(Theta) on a batch: prediction and target are [N, outputs]
// (or [N] for one output), one row per sample i.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include <autodiff/tensor_ops.hpp>

namespace nn {

// The textbook's mean squared loss: C = 1/(2N) sum_i ||f(x_i) - y_i||^2.
template <class T>
ad::TensorT<T> mse_loss(const ad::TensorT<T>& prediction, const ad::TensorT<T>& target);

// Binary cross-entropy of probabilities p in (0, 1) against targets y in
// [0, 1]: mean of -(y log p + (1 - y) log(1 - p)); p is clamped to
// [eps, 1 - eps] (eps = 1e-7 for float, 1e-12 for double) so log never sees 0.
template <class T>
ad::TensorT<T> binary_cross_entropy(const ad::TensorT<T>& probability, const ad::TensorT<T>& target);
// The same from logits s (p = sigma(s)), stable for any s:
// mean of softplus(s) - y s, with softplus(s) = max(s, 0) + log1p(exp(-|s|)).
template <class T>
ad::TensorT<T> binary_cross_entropy_with_logits(const ad::TensorT<T>& logits, const ad::TensorT<T>& target);

// Softmax cross-entropy of logits [N, C]: mean over samples of
// -log softmax(logits_i)[label_i], via the stable log_softmax.
template <class T>
ad::TensorT<T> softmax_cross_entropy(const ad::TensorT<T>& logits, const std::vector<std::size_t>& labels);
// The same with one-hot (or any probability) targets [N, C]:
// mean over samples of -sum_c y_ic log softmax(logits_i)_c.
template <class T>
ad::TensorT<T> softmax_cross_entropy(const ad::TensorT<T>& logits, const ad::TensorT<T>& target);

// nn::cross_entropy(logits, labels): the softmax cross-entropy of logits
// [N, C] against N integer class labels (or [N, C] probability targets), as
// torch.nn.functional.cross_entropy. One object rather than a function
// template, so it can be passed to nn::fit by name for float and double.
struct CrossEntropy {
  template <class T>
  ad::TensorT<T> operator()(const ad::TensorT<T>& logits, const std::vector<std::size_t>& labels) const {
    return softmax_cross_entropy(logits, labels);
  }
  template <class T>
  ad::TensorT<T> operator()(const ad::TensorT<T>& logits, const ad::TensorT<T>& target) const {
    return softmax_cross_entropy(logits, target);
  }
};
inline constexpr CrossEntropy cross_entropy{};

// C = sum_i d(f(x_i), y_i) for a user-given metric d on one sample's
// prediction and target rows (each of shape [outputs]).
template <class T, class Metric>
ad::TensorT<T> sum_of_losses(const ad::TensorT<T>& prediction, const ad::TensorT<T>& target, Metric d) {
  if (prediction.rank() == 0 || !(prediction.shape() == target.shape()))
    throw std::invalid_argument(fmt::format("nn::sum_of_losses: prediction {} and target {} need the same shape [N, ...]",
                                            prediction.shape().to_string(), target.shape().to_string()));
  const std::size_t n = prediction.shape()[0];
  ad::TensorT<T> total = ad::TensorT<T>::scalar(T(0));
  for (std::size_t i = 0; i < n; ++i) {
    const ad::TensorT<T> row_prediction = ad::slice_rows(prediction, i, i + 1);
    const ad::TensorT<T> row_target = ad::slice_rows(target, i, i + 1);
    total = total + ad::sum(d(row_prediction, row_target));
  }
  return total;
}

}  // namespace nn
