// Data for training: a data set of tensors (inputs with regression targets or
// integer class labels) and a loader that cuts it into mini-batches.
//
//   nn::TensorDataset<float> train{images, labels};          // [N, 784], N labels
//   nn::DataLoader<float> loader(train, {.batch_size = 128, .shuffle = true, .seed = 1});
//   for (const nn::Batch<float>& b : loader) { ... b.inputs, b.labels ... }   // reshuffles each pass
//
// The loader is deterministic: the same seed gives the same batches, on any
// machine. Shuffling permutes a persistent sample order in place with
// std::shuffle and a std::mt19937_64, once per epoch (as nn::fit always did),
// so a checkpoint needs only the order and the generator's state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <autodiff/tensor.hpp>

namespace nn {

// What fit needs to know about a data set without its element type (so that
// FitOptions::validation can point at a float or a double one).
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::size_t size() const = 0;   // samples
  virtual bool has_labels() const = 0;    // integer class labels (else target tensors)
  virtual const char* dtype() const = 0;  // "float32" or "float64"
};

// Samples i = 0 .. N-1: inputs row i with either targets row i or labels[i].
template <class T>
struct Batch {
  ad::TensorT<T> inputs;
  ad::TensorT<T> targets;           // undefined when the data set has labels
  std::vector<std::size_t> labels;  // empty when the data set has targets
  std::size_t size() const { return inputs.defined() && inputs.rank() > 0 ? inputs.shape()[0] : 0; }
};

template <class T>
class TensorDataset final : public Dataset {
 public:
  // Inputs [N, ...] and targets [N, ...] (regression, or one-hot targets).
  TensorDataset(ad::TensorT<T> inputs, ad::TensorT<T> targets);
  // Inputs [N, ...] and N integer class labels (for nn::cross_entropy).
  TensorDataset(ad::TensorT<T> inputs, std::vector<std::size_t> labels);

  std::size_t size() const override { return inputs_.shape()[0]; }
  bool has_labels() const override { return !targets_.defined(); }
  const char* dtype() const override;
  const ad::TensorT<T>& inputs() const noexcept { return inputs_; }
  const ad::TensorT<T>& targets() const noexcept { return targets_; }
  const std::vector<std::size_t>& labels() const noexcept { return labels_; }

  // Every sample, sharing the data set's tensors (no copy).
  Batch<T> all() const;
  // Samples at the given indices (a gather, in that order) / in [begin, end).
  Batch<T> gather(const std::vector<std::size_t>& indices) const;
  Batch<T> slice(std::size_t begin, std::size_t end) const;

 private:
  ad::TensorT<T> inputs_, targets_;
  std::vector<std::size_t> labels_;
};

template <class T>
TensorDataset(ad::TensorT<T>, ad::TensorT<T>) -> TensorDataset<T>;
template <class T>
TensorDataset(ad::TensorT<T>, std::vector<std::size_t>) -> TensorDataset<T>;

struct LoaderOptions {
  std::size_t batch_size = 0;  // samples per batch; 0: the whole data set
  bool shuffle = true;         // reshuffle at every epoch (only when batches are smaller than the data)
  bool drop_last = false;      // leave out a last batch smaller than batch_size
  std::uint64_t seed = 0;      // of the shuffling generator
  // Sharding, for data-parallel training: every batch of the epoch is cut
  // into `shards` contiguous parts of near-equal size (they differ by at most
  // one sample), and this loader yields part `shard`. Workers with the same
  // seed and options shuffle alike, so their parts are disjoint and together
  // make the batch a single loader would give; batch_size is the global batch.
  std::size_t shards = 1;
  std::size_t shard = 0;
};

// Mini-batches over a TensorDataset, which must outlive the loader.
template <class T>
class DataLoader {
 public:
  explicit DataLoader(const TensorDataset<T>& data, LoaderOptions options = {});

  std::size_t size() const noexcept { return batches_; }      // batches per epoch
  std::size_t batch_size() const noexcept { return batch_; }  // the global batch, of every shard
  std::size_t shards() const noexcept { return options_.shards; }
  std::size_t shard() const noexcept { return options_.shard; }
  const TensorDataset<T>& dataset() const noexcept { return *data_; }
  // Starts an epoch: reshuffles the sample order when shuffling.
  void new_epoch();
  // Batch b (0 <= b < size()) of the current epoch (this loader's shard of
  // it). A single batch of the whole unshuffled data shares the data set's
  // tensors.
  Batch<T> batch(std::size_t b) const;

  // The loader's state, for checkpoints: the sample order and the generator.
  const std::vector<std::size_t>& order() const noexcept { return order_; }
  std::string rng_state() const;
  // Throws std::invalid_argument unless `order` is a permutation of 0..N-1
  // and `rng_state` a valid std::mt19937_64 state.
  void restore(const std::vector<std::size_t>& order, const std::string& rng_state);

  // Range-for over one epoch; begin() starts a new epoch.
  class iterator {
   public:
    iterator(const DataLoader* loader, std::size_t b) : loader_(loader), b_(b) {}
    Batch<T> operator*() const { return loader_->batch(b_); }
    iterator& operator++() {
      ++b_;
      return *this;
    }
    bool operator==(const iterator& other) const { return b_ == other.b_; }

   private:
    const DataLoader* loader_;
    std::size_t b_;
  };
  iterator begin() {
    new_epoch();
    return {this, 0};
  }
  iterator end() const { return {this, batches_}; }

 private:
  const TensorDataset<T>* data_;
  LoaderOptions options_;
  std::size_t batch_ = 0, batches_ = 0;
  std::vector<std::size_t> order_;
  std::mt19937_64 rng_;
};

extern template class TensorDataset<float>;
extern template class TensorDataset<double>;
extern template class DataLoader<float>;
extern template class DataLoader<double>;

}  // namespace nn
