#include <limits>

#include <nn/loss.hpp>

namespace nn {
namespace {

template <class T>
void check_same_shape(const ad::TensorT<T>& prediction, const ad::TensorT<T>& target, const char* loss) {
  if (!(prediction.shape() == target.shape()))
    throw std::invalid_argument(fmt::format("nn::{}: prediction has shape {} but target has shape {}", loss,
                                            prediction.shape().to_string(), target.shape().to_string()));
  if (prediction.rank() == 0 || prediction.shape()[0] == 0)
    throw std::invalid_argument(
        fmt::format("nn::{}: needs at least one sample (prediction shape {})", loss, prediction.shape().to_string()));
}

template <class T>
T sample_count(const ad::TensorT<T>& x) {
  return static_cast<T>(x.shape()[0]);
}

}  // namespace

template <class T>
ad::TensorT<T> mse_loss(const ad::TensorT<T>& prediction, const ad::TensorT<T>& target) {
  check_same_shape(prediction, target, "mse_loss");
  return ad::sum_squared_difference(prediction, target, T(1) / (T(2) * sample_count(prediction)));
}

template <class T>
ad::TensorT<T> binary_cross_entropy(const ad::TensorT<T>& probability, const ad::TensorT<T>& target) {
  check_same_shape(probability, target, "binary_cross_entropy");
  const T eps = std::is_same_v<T, float> ? T(1e-7) : T(1e-12);
  const ad::TensorT<T> p = ad::clamp(probability, eps, T(1) - eps);
  return -ad::mean(target * ad::log(p) + (T(1) - target) * ad::log(T(1) - p));
}

template <class T>
ad::TensorT<T> binary_cross_entropy_with_logits(const ad::TensorT<T>& logits, const ad::TensorT<T>& target) {
  check_same_shape(logits, target, "binary_cross_entropy_with_logits");
  const ad::TensorT<T> softplus = ad::relu(logits) + ad::log1p(ad::exp(-ad::abs(logits)));
  return ad::mean(softplus - target * logits);
}

template <class T>
ad::TensorT<T> softmax_cross_entropy(const ad::TensorT<T>& logits, const std::vector<std::size_t>& labels) {
  if (logits.rank() != 2 || logits.shape()[0] != labels.size() || labels.empty())
    throw std::invalid_argument(fmt::format("nn::softmax_cross_entropy: logits {} need shape [N, classes] with N = {} labels",
                                            logits.shape().to_string(), labels.size()));
  const std::size_t classes = logits.shape()[1];
  std::vector<T> one_hot(labels.size() * classes, T(0));
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= classes)
      throw std::out_of_range(fmt::format("nn::softmax_cross_entropy: label {} of sample {} is out of range for {} classes",
                                          labels[i], i, classes));
    one_hot[i * classes + labels[i]] = T(1);
  }
  return softmax_cross_entropy(logits, ad::TensorT<T>::from(logits.shape(), std::move(one_hot)));
}

template <class T>
ad::TensorT<T> softmax_cross_entropy(const ad::TensorT<T>& logits, const ad::TensorT<T>& target) {
  check_same_shape(logits, target, "softmax_cross_entropy");
  if (logits.rank() != 2)
    throw std::invalid_argument(
        fmt::format("nn::softmax_cross_entropy: logits need shape [N, classes], got {}", logits.shape().to_string()));
  return -ad::sum(target * ad::log_softmax(logits, -1)) / sample_count(logits);
}

#define NN_INSTANTIATE_LOSSES(T)                                                                              \
  template ad::TensorT<T> mse_loss(const ad::TensorT<T>&, const ad::TensorT<T>&);                             \
  template ad::TensorT<T> binary_cross_entropy(const ad::TensorT<T>&, const ad::TensorT<T>&);                 \
  template ad::TensorT<T> binary_cross_entropy_with_logits(const ad::TensorT<T>&, const ad::TensorT<T>&);     \
  template ad::TensorT<T> softmax_cross_entropy(const ad::TensorT<T>&, const std::vector<std::size_t>&);      \
  template ad::TensorT<T> softmax_cross_entropy(const ad::TensorT<T>&, const ad::TensorT<T>&);
NN_INSTANTIATE_LOSSES(float)
NN_INSTANTIATE_LOSSES(double)
#undef NN_INSTANTIATE_LOSSES

}  // namespace nn
