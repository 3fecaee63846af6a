#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include <nn/metrics.hpp>

namespace nn {

template <class T>
std::vector<std::size_t> argmax(const ad::TensorT<T>& x) {
  if (!x.defined() || x.rank() == 0 || x.shape()[x.rank() - 1] == 0)
    throw std::invalid_argument(fmt::format("nn::argmax: needs a tensor with a non-empty last axis, got {}",
                                            x.defined() ? x.shape().to_string() : "(undefined)"));
  const std::size_t c = x.shape()[x.rank() - 1], rows = x.numel() / c;
  const auto v = x.values();
  std::vector<std::size_t> best(rows, 0);
  for (std::size_t r = 0; r < rows; ++r) {
    const T* row = v.data() + r * c;
    std::size_t k = 0;
    for (std::size_t j = 0; j < c && !std::isnan(row[k]); ++j)
      if (std::isnan(row[j]) || row[j] > row[k]) k = j;
    best[r] = k;
  }
  return best;
}

template <class T>
double accuracy(const ad::TensorT<T>& scores, const std::vector<std::size_t>& labels) {
  if (!scores.defined() || scores.rank() != 2 || scores.shape()[0] != labels.size() || labels.empty())
    throw std::invalid_argument(
        fmt::format("nn::accuracy: scores {} need shape [N, classes] with N = {} labels",
                    scores.defined() ? scores.shape().to_string() : "(undefined)", labels.size()));
  const std::size_t classes = scores.shape()[1];
  const std::vector<std::size_t> predicted = argmax(scores);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= classes)
      throw std::out_of_range(fmt::format(
          "nn::accuracy: label {} of sample {} is out of range for {} classes", labels[i], i, classes));
    correct += predicted[i] == labels[i];
  }
  return double(correct) / double(labels.size());
}

template std::vector<std::size_t> argmax(const ad::TensorT<float>&);
template std::vector<std::size_t> argmax(const ad::TensorT<double>&);
template double accuracy(const ad::TensorT<float>&, const std::vector<std::size_t>&);
template double accuracy(const ad::TensorT<double>&, const std::vector<std::size_t>&);

}  // namespace nn
