#include <algorithm>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include <fmt/format.h>

#include <autodiff/tensor_ops.hpp>
#include <nn/data.hpp>

namespace nn {

template <class T>
TensorDataset<T>::TensorDataset(ad::TensorT<T> inputs, ad::TensorT<T> targets)
    : inputs_(std::move(inputs)), targets_(std::move(targets)) {
  if (!inputs_.defined() || !targets_.defined() || inputs_.rank() == 0 || targets_.rank() == 0 ||
      inputs_.shape()[0] != targets_.shape()[0])
    throw std::invalid_argument(
        fmt::format("nn::TensorDataset: inputs {} and targets {} need the same number of samples (rows)",
                    inputs_.defined() ? inputs_.shape().to_string() : "(undefined)",
                    targets_.defined() ? targets_.shape().to_string() : "(undefined)"));
}

template <class T>
TensorDataset<T>::TensorDataset(ad::TensorT<T> inputs, std::vector<std::size_t> labels)
    : inputs_(std::move(inputs)), labels_(std::move(labels)) {
  if (!inputs_.defined() || inputs_.rank() == 0 || inputs_.shape()[0] != labels_.size())
    throw std::invalid_argument(fmt::format("nn::TensorDataset: inputs {} need one row per label ({} labels)",
                                            inputs_.defined() ? inputs_.shape().to_string() : "(undefined)",
                                            labels_.size()));
}

template <class T>
const char* TensorDataset<T>::dtype() const {
  return std::is_same_v<T, float> ? "float32" : "float64";
}

template <class T>
Batch<T> TensorDataset<T>::all() const {
  return {inputs_, targets_, labels_};
}

template <class T>
Batch<T> TensorDataset<T>::gather(const std::vector<std::size_t>& indices) const {
  Batch<T> b{ad::rows(inputs_, indices), {}, {}};
  if (targets_.defined()) {
    b.targets = ad::rows(targets_, indices);
  } else {
    b.labels.reserve(indices.size());
    for (std::size_t i : indices) b.labels.push_back(labels_[i]);  // in range: rows() checked them
  }
  return b;
}

template <class T>
Batch<T> TensorDataset<T>::slice(std::size_t begin, std::size_t end) const {
  Batch<T> b{ad::slice_rows(inputs_, begin, end), {}, {}};  // checks begin <= end <= N
  if (targets_.defined())
    b.targets = ad::slice_rows(targets_, begin, end);
  else
    b.labels.assign(labels_.begin() + std::ptrdiff_t(begin), labels_.begin() + std::ptrdiff_t(end));
  return b;
}

template <class T>
DataLoader<T>::DataLoader(const TensorDataset<T>& data, LoaderOptions options)
    : data_(&data), options_(options), rng_(options.seed) {
  const std::size_t n = data.size();
  batch_ = options.batch_size == 0 ? n : std::min(options.batch_size, n);
  if (n == 0) throw std::invalid_argument("nn::DataLoader: the data set has no samples");
  batches_ = options.drop_last && options.batch_size > n
                 ? 0
                 : (options.drop_last ? n / batch_ : (n + batch_ - 1) / batch_);
  if (batches_ == 0)
    throw std::invalid_argument(
        fmt::format("nn::DataLoader: drop_last with batch_size {} leaves no batch of the {} samples",
                    options.batch_size, n));
  if (options.shards == 0 || options.shard >= options.shards)
    throw std::invalid_argument(
        fmt::format("nn::DataLoader: shard {} of {} (shards must be at least 1, shard below shards)",
                    options.shard, options.shards));
  if (batch_ < options.shards)
    throw std::invalid_argument(fmt::format(
        "nn::DataLoader: a batch of {} samples cannot give each of {} shards one", batch_, options.shards));
  if (const std::size_t last = n - (batches_ - 1) * batch_; last < options.shards)
    throw std::invalid_argument(fmt::format(
        "nn::DataLoader: the epoch's last batch of {} samples cannot give each of {} shards one (use "
        "drop_last, or another batch size)",
        last, options.shards));
  order_.resize(n);
  std::iota(order_.begin(), order_.end(), std::size_t{0});
}

template <class T>
void DataLoader<T>::new_epoch() {
  // A single batch of everything is the same set whatever the order: no
  // shuffle, so full-batch training never draws from the generator.
  if (options_.shuffle && batch_ < order_.size()) std::shuffle(order_.begin(), order_.end(), rng_);
}

template <class T>
Batch<T> DataLoader<T>::batch(std::size_t b) const {
  if (b >= batches_)
    throw std::out_of_range(fmt::format("nn::DataLoader::batch: batch {} of {}", b, batches_));
  const std::size_t whole_first = b * batch_, whole_last = std::min(whole_first + batch_, order_.size());
  // This shard's part of the batch: parts differ by at most one sample.
  const std::size_t whole = whole_last - whole_first, shards = options_.shards, shard = options_.shard;
  const std::size_t first = whole_first + whole * shard / shards;
  const std::size_t last = whole_first + whole * (shard + 1) / shards;
  if (batch_ == order_.size())  // never shuffled (see new_epoch)
    return shards == 1 ? data_->all() : data_->slice(first, last);
  return data_->gather(std::vector<std::size_t>(order_.begin() + std::ptrdiff_t(first),
                                                order_.begin() + std::ptrdiff_t(last)));
}

template <class T>
std::string DataLoader<T>::rng_state() const {
  std::ostringstream out;
  out << rng_;
  return out.str();
}

template <class T>
void DataLoader<T>::restore(const std::vector<std::size_t>& order, const std::string& rng_state) {
  std::vector<bool> seen(order_.size(), false);
  if (order.size() != order_.size())
    throw std::invalid_argument(fmt::format(
        "nn::DataLoader::restore: an order of {} samples for a data set of {}", order.size(), order_.size()));
  for (std::size_t i : order) {
    if (i >= seen.size() || seen[i])
      throw std::invalid_argument("nn::DataLoader::restore: the sample order is not a permutation of 0..N-1");
    seen[i] = true;
  }
  std::mt19937_64 rng;
  std::istringstream in(rng_state);
  in >> rng;
  if (in.fail()) throw std::invalid_argument("nn::DataLoader::restore: not a std::mt19937_64 state");
  order_ = order;
  rng_ = rng;
}

template class TensorDataset<float>;
template class TensorDataset<double>;
template class DataLoader<float>;
template class DataLoader<double>;

}  // namespace nn
