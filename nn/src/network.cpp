#include <stdexcept>

#include <fmt/format.h>

#include <nn/network.hpp>

namespace nn {

template <class T>
NetworkT<T>::NetworkT(const std::vector<std::size_t>& sizes, Activation hidden, Activation output,
                      std::mt19937_64& rng, Init init) {
  if (sizes.size() < 2)
    throw std::invalid_argument(
        fmt::format("nn::Network: needs at least an input and an output size, got {} sizes", sizes.size()));
  for (std::size_t L = 1; L < sizes.size(); ++L)
    layers_.emplace_back(sizes[L - 1], sizes[L], L + 1 == sizes.size() ? output : hidden, rng, init);
  name_parameters();
}

template <class T>
void NetworkT<T>::name_parameters() {
  for (std::size_t L = 0; L < layers_.size(); ++L) {
    auto p = layers_[L].parameters();
    if (p[0].name().empty()) p[0].name(fmt::format("layer{}/W", L + 1));
    if (p[1].name().empty()) p[1].name(fmt::format("layer{}/b", L + 1));
  }
}

template <class T>
NetworkT<T>::NetworkT(std::vector<DenseT<T>> layers) : layers_(std::move(layers)) {
  if (layers_.empty()) throw std::invalid_argument("nn::Network: a network needs at least one layer");
  for (std::size_t L = 1; L < layers_.size(); ++L)
    if (layers_[L].inputs() != layers_[L - 1].outputs())
      throw std::invalid_argument(fmt::format("nn::Network: layer {} has {} outputs but layer {} expects {} inputs", L,
                                              layers_[L - 1].outputs(), L + 1, layers_[L].inputs()));
  name_parameters();
}

template <class T>
void NetworkT<T>::collect_children(typename ModuleT<T>::template Named<ModuleT<T>*>& out) {
  // Read from layers_ on every call (not registered once): layers() hands out
  // the vector, so its elements may move.
  for (std::size_t L = 0; L < layers_.size(); ++L) out.emplace_back(fmt::format("layer{}", L + 1), &layers_[L]);
}

template <class T>
std::size_t NetworkT<T>::connectivity() const {
  std::size_t n = 0;
  for (const auto& layer : layers_)
    for (T w : layer.weights().values()) n += w != T(0);
  return n;
}

template <class T>
std::vector<std::size_t> NetworkT<T>::sizes() const {
  std::vector<std::size_t> s{layers_.front().inputs()};
  for (const auto& layer : layers_) s.push_back(layer.outputs());
  return s;
}

template <class T>
std::vector<ad::TensorT<T>> NetworkT<T>::parameters() const {
  std::vector<ad::TensorT<T>> p;
  for (const auto& layer : layers_) {
    p.push_back(layer.weights());
    p.push_back(layer.bias());
  }
  return p;
}

template <class T>
std::size_t NetworkT<T>::parameter_count() const {
  std::size_t n = 0;
  for (const auto& t : parameters()) n += t.numel();
  return n;
}

template <class T>
std::vector<T> NetworkT<T>::flat_parameters() const {
  std::vector<T> theta;
  theta.reserve(parameter_count());
  for (const auto& t : parameters()) theta.insert(theta.end(), t.values().begin(), t.values().end());
  return theta;
}

template <class T>
void NetworkT<T>::set_flat_parameters(std::span<const T> theta) {
  if (theta.size() != parameter_count())
    throw std::invalid_argument(fmt::format("nn::Network::set_flat_parameters: {} values for {} parameters",
                                            theta.size(), parameter_count()));
  std::size_t offset = 0;
  for (auto t : parameters()) {
    auto v = t.mutable_values();
    std::copy(theta.begin() + static_cast<std::ptrdiff_t>(offset),
              theta.begin() + static_cast<std::ptrdiff_t>(offset + v.size()), v.begin());
    offset += v.size();
  }
}

template <class T>
ad::TensorT<T> NetworkT<T>::operator()(const ad::TensorT<T>& x) const {
  ad::TensorT<T> z = x;
  for (const auto& layer : layers_) z = layer(z);
  return z;
}

template <class T>
typename NetworkT<T>::Trace NetworkT<T>::forward_trace(const ad::TensorT<T>& x) const {
  Trace trace;
  trace.a.push_back(ad::TensorT<T>());
  trace.z.push_back(x);
  for (std::size_t L = 0; L < layers_.size(); ++L) {
    auto out = layers_[L].forward_trace(trace.z.back());
    out.a.name(fmt::format("layer{}/a", L + 1));
    out.z.name(fmt::format("layer{}/z", L + 1));
    trace.a.push_back(out.a);
    trace.z.push_back(out.z);
  }
  return trace;
}

template <class T>
NetworkT<T> NetworkT<T>::clone() const {
  std::vector<DenseT<T>> copies;
  for (const auto& layer : layers_) copies.push_back(layer.clone());
  return NetworkT(std::move(copies));
}

template class NetworkT<float>;
template class NetworkT<double>;

}  // namespace nn
