// nn::check_gradients: ad::gradcheck for a whole model: the tape's gradient
// of loss(net(X), Y) with respect to every parameter (W^L, b^L), against
// central differences.
//
//   auto report = nn::check_gradients(net, X, Y);                 // mean squared loss
//   auto report = nn::check_gradients(net, X, Y, [](const auto& p, const auto& y) {
//     return nn::softmax_cross_entropy(p, y); });
//   fmt::print("{}", report);   // one row per parameter: "layer1/W", "layer1/b", ...
//
// The numeric side always runs in double: a float model is copied to double
// (a loss given as a generic lambda, as above, is then evaluated in double
// too). For large models set options.directional = true: a few random
// directions instead of one pair of evaluations per parameter.
#pragma once

#include <vector>

#include <autodiff/gradcheck.hpp>
#include <autodiff/tensor_ops.hpp>
#include <nn/loss.hpp>
#include <nn/network.hpp>

namespace nn {

namespace detail {

// The network's layers rebuilt around the given parameters (W1, b1, W2, ...),
// with the same activations.
template <class U, class T>
NetworkT<U> with_parameters(const NetworkT<T>& net, const std::vector<ad::TensorT<U>>& theta) {
  std::vector<DenseT<U>> layers;
  for (std::size_t L = 0; L < net.depth(); ++L) {
    DenseT<U> layer(theta[2 * L], theta[2 * L + 1], net.layers()[L].activations());
    layer.set_heaviside_gradient(net.layers()[L].heaviside_gradient());
    layers.push_back(std::move(layer));
  }
  return NetworkT<U>(std::move(layers));
}

template <class U, class T>
ad::TensorT<U> converted(const ad::TensorT<T>& x) {
  return ad::TensorT<U>::from(x.shape(), std::vector<U>(x.values().begin(), x.values().end()));
}

}  // namespace detail

template <class T, class Loss>
ad::GradcheckReport check_gradients(const NetworkT<T>& net, const ad::TensorT<T>& X, const ad::TensorT<T>& Y,
                                    Loss loss, const ad::GradcheckOptions& options = {}) {
  auto f = [&]<class U>(const std::vector<ad::TensorT<U>>& theta) {
    const NetworkT<U> copy = detail::with_parameters(net, theta);
    return loss(copy(detail::converted<U>(X)), detail::converted<U>(Y));
  };
  std::vector<ad::TensorT<T>> theta;
  for (const auto& p : net.parameters()) theta.push_back(p.detach().name(p.name()));
  return ad::gradcheck(f, theta, options);
}

template <class T>
ad::GradcheckReport check_gradients(const NetworkT<T>& net, const ad::TensorT<T>& X, const ad::TensorT<T>& Y,
                                    const ad::GradcheckOptions& options = {}) {
  return check_gradients(
      net, X, Y, [](const auto& prediction, const auto& target) { return mse_loss(prediction, target); }, options);
}

}  // namespace nn
