// nn::NetworkT<T>: a feed-forward network f = f^d o ... o f^1 with
// f^L(x) = psi^L(W^L x + b^L), built at run time from layer sizes.
//
//   std::mt19937_64 rng(42);
//   nn::Network net({2, 16, 16, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
//   ad::Tensor y = net(X);            // X: [batch, 2] -> y: [batch, 1]
//
// Copying a network shares its parameters (like copying tensors); clone()
// makes an independent copy.
#pragma once

#include <cstddef>
#include <random>
#include <span>
#include <vector>

#include <autodiff/tensor.hpp>
#include <nn/layer.hpp>

namespace nn {

template <class T = double>
class NetworkT : public ModuleT<T> {
 public:
  // sizes = {n_0 (inputs), n_1, ..., n_d (outputs)}: d layers; `hidden` for
  // layers 1 .. d-1, `output` for layer d.
  NetworkT(const std::vector<std::size_t>& sizes, Activation hidden, Activation output, std::mt19937_64& rng,
           Init init = Init::normal);
  explicit NetworkT(std::vector<DenseT<T>> layers);

  // The number of layers d (the input is not a layer).
  std::size_t depth() const noexcept { return layers_.size(); }
  // The number of non-zero weights (connections; biases not counted).
  std::size_t connectivity() const;
  // n_0, n_1, ..., n_d.
  std::vector<std::size_t> sizes() const;
  // Theta: W^1, b^1, ..., W^d, b^d (handles sharing the network's storage).
  std::vector<ad::TensorT<T>> parameters() const;
  std::size_t parameter_count() const;
  // Theta as one flat vector, in the order of parameters() (row-major), and back.
  std::vector<T> flat_parameters() const;
  void set_flat_parameters(std::span<const T> theta);

  ad::TensorT<T> operator()(const ad::TensorT<T>& x) const;
  // The Module interface: its layers are the children "layer1" .. "layer<d>",
  // so named_parameters() lists "layer1.W", "layer1.b", ...
  ad::TensorT<T> forward(const ad::TensorT<T>& x) override { return (*this)(x); }
  std::string type_name() const override { return "Network"; }

  // Forward propagation keeping every layer's a^L and z^L: z[0] is the input;
  // a[L] and z[L] for L = 1 .. d (a[0] is left empty).
  struct Trace {
    std::vector<ad::TensorT<T>> a;
    std::vector<ad::TensorT<T>> z;
  };
  Trace forward_trace(const ad::TensorT<T>& x) const;

  const std::vector<DenseT<T>>& layers() const noexcept { return layers_; }
  std::vector<DenseT<T>>& layers() noexcept { return layers_; }
  NetworkT clone() const;

 protected:
  void collect_children(typename ModuleT<T>::template Named<ModuleT<T>*>& out) override;

 private:
  // Names the parameters "layer<L>/W" and "layer<L>/b" (graph pictures group
  // a layer's nodes by that prefix; gradient reports list them by name).
  void name_parameters();

  std::vector<DenseT<T>> layers_;
};

using Network = NetworkT<double>;

extern template class NetworkT<float>;
extern template class NetworkT<double>;

}  // namespace nn
