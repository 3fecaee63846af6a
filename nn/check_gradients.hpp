// nn::check_gradients: ad::gradcheck for a whole model: the tape's gradient
// of loss(model(X), Y) with respect to every parameter, against central
// differences.
//
//   auto report = nn::check_gradients(model, X, Y);                // mean squared loss
//   auto report = nn::check_gradients(model, X, Y, nn::softmax_cross_entropy);
//   fmt::print("{}", report);   // one row per parameter: "0.fc1.W", "0.fc1.b", ...
//
// Any nn::Module: the rows are its named_parameters() ("0.fc1.W"; a tensor
// registered under several names, tied weights, is one row under its first
// name), custom ops (ad::custom_op) and anything else its forward records
// included. The
// numeric side evaluates the module itself with each parameter moved by +-h
// (written into the parameter's storage and put back afterwards, also when
// the forward or the loss throws; the parameters' gradients are restored as
// well). So it runs in the module's own element type: a double module in
// double; a float module in float, where the default step 1e-6 would drown
// in rounding, so when `options` are left at their defaults a float module
// is checked with float_gradcheck_options() (h = 1e-3, pass if |analytic -
// numeric| <= 1e-3 + 2e-2 |numeric|). Build the model in double for a tight
// check.
//
// nn::Network keeps its own path (its rows are the tensors' display names
// "layer1/W", ...): the network is rebuilt in double around the parameters,
// so a float network is checked in double whenever the loss can be called
// with double tensors (the default, or a generic lambda `const auto&`); a
// loss that only takes float (nn::mse_loss given by name for a float
// network) is evaluated in float, with the float defaults above.
//
// For large models set options.directional = true: a few random directions
// instead of one pair of evaluations per parameter entry.
//
// Every check runs at the model's own values and at a random second point
// (options.perturbation, 0.1 unless set; each row counts both points): a model
// checked after training has small gradients, where a wrong derivative can
// pass. The model is left exactly as it was found: parameters, their gradients
// and buffers (batch norm updates its running statistics in training mode).
#pragma once

#include <functional>
#include <type_traits>
#include <vector>

#include <autodiff/gradcheck.hpp>
#include <autodiff/tensor_ops.hpp>
#include <nn/loss.hpp>
#include <nn/module.hpp>
#include <nn/network.hpp>

namespace nn {

// The options a float evaluation gets when left at the defaults (see above).
inline ad::GradcheckOptions float_gradcheck_options() {
  ad::GradcheckOptions o;
  o.step = 1e-3;
  o.abs_tolerance = 1e-3;
  o.rel_tolerance = 2e-2;
  return o;
}

template <class T>
using ModelLoss = std::function<ad::TensorT<T>(const ad::TensorT<T>&, const ad::TensorT<T>&)>;

namespace detail {

// `options`, or float_gradcheck_options() when they are the defaults and the
// numeric side runs in float.
// nn::check_gradients checks at a random second point by default (see
// ad::GradcheckOptions::perturbation): a model is often checked after
// training, where its gradients are small.
inline constexpr double default_perturbation = 0.1;

template <class U>
ad::GradcheckOptions gradcheck_options_for(const ad::GradcheckOptions& options) {
  const ad::GradcheckOptions d;
  const bool defaults = options.step == d.step && options.abs_tolerance == d.abs_tolerance &&
                        options.rel_tolerance == d.rel_tolerance;
  ad::GradcheckOptions o = options;
  if constexpr (std::is_same_v<U, float>) {
    if (defaults) {
      o = float_gradcheck_options();
      o.directional = options.directional;
      o.directions = options.directions;
      o.seed = options.seed;
      o.perturbation = options.perturbation;
    }
  }
  if (!o.perturbation) o.perturbation = default_perturbation;
  return o;
}

template <class T>
ad::GradcheckReport check_module_gradients(ModuleT<T>& model, const ad::TensorT<T>& X,
                                           const ad::TensorT<T>& Y, const ModelLoss<T>& loss,
                                           const ad::GradcheckOptions& options);

extern template ad::GradcheckReport check_module_gradients(ModuleT<float>&, const ad::TensorT<float>&,
                                                           const ad::TensorT<float>&, const ModelLoss<float>&,
                                                           const ad::GradcheckOptions&);
extern template ad::GradcheckReport check_module_gradients(ModuleT<double>&, const ad::TensorT<double>&,
                                                           const ad::TensorT<double>&,
                                                           const ModelLoss<double>&,
                                                           const ad::GradcheckOptions&);

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

// ---- any Module ----

template <class T, class Loss>
  requires std::is_invocable_r_v<ad::TensorT<T>, Loss&, const ad::TensorT<T>&, const ad::TensorT<T>&>
ad::GradcheckReport check_gradients(ModuleT<T>& model, const ad::TensorT<T>& X, const ad::TensorT<T>& Y,
                                    Loss loss, const ad::GradcheckOptions& options = {}) {
  return detail::check_module_gradients<T>(model, X, Y, ModelLoss<T>(std::move(loss)), options);
}
// A loss given by name: nn::check_gradients(model, X, Y, nn::mse_loss).
template <class T>
ad::GradcheckReport check_gradients(ModuleT<T>& model, const ad::TensorT<T>& X, const ad::TensorT<T>& Y,
                                    ad::TensorT<T> (*loss)(const ad::TensorT<T>&, const ad::TensorT<T>&),
                                    const ad::GradcheckOptions& options = {}) {
  return detail::check_module_gradients<T>(model, X, Y, ModelLoss<T>(loss), options);
}
template <class T>
ad::GradcheckReport check_gradients(ModuleT<T>& model, const ad::TensorT<T>& X, const ad::TensorT<T>& Y,
                                    const ad::GradcheckOptions& options = {}) {
  return detail::check_module_gradients<T>(model, X, Y, ModelLoss<T>(&mse_loss<T>), options);
}

// ---- nn::Network (chosen over the Module overloads for a Network) ----

template <class T, class Loss>
ad::GradcheckReport check_gradients(const NetworkT<T>& net, const ad::TensorT<T>& X, const ad::TensorT<T>& Y,
                                    Loss loss, const ad::GradcheckOptions& options = {}) {
  // Callable with double tensors only where the loss is (the constraint keeps
  // ad::gradcheck from instantiating a double copy a float-only loss refuses).
  auto f = [&]<class U>(const std::vector<ad::TensorT<U>>& theta) -> ad::TensorT<U>
    requires std::is_invocable_v<Loss&, const ad::TensorT<U>&, const ad::TensorT<U>&>
  {
    const NetworkT<U> copy = detail::with_parameters(net, theta);
    return loss(copy(detail::converted<U>(X)), detail::converted<U>(Y));
  };
  using Numeric =
      std::conditional_t<std::is_invocable_v<Loss&, const ad::TensorT<double>&, const ad::TensorT<double>&>,
                         double, T>;
  std::vector<ad::TensorT<T>> theta;
  for (const auto& p : net.parameters()) theta.push_back(p.detach().name(p.name()));
  return ad::gradcheck(f, theta, detail::gradcheck_options_for<Numeric>(options));
}
template <class T>
ad::GradcheckReport check_gradients(const NetworkT<T>& net, const ad::TensorT<T>& X, const ad::TensorT<T>& Y,
                                    ad::TensorT<T> (*loss)(const ad::TensorT<T>&, const ad::TensorT<T>&),
                                    const ad::GradcheckOptions& options = {}) {
  return check_gradients<T, decltype(loss)>(net, X, Y, loss, options);
}
template <class T>
ad::GradcheckReport check_gradients(const NetworkT<T>& net, const ad::TensorT<T>& X, const ad::TensorT<T>& Y,
                                    const ad::GradcheckOptions& options = {}) {
  return check_gradients(
      net, X, Y, [](const auto& prediction, const auto& target) { return mse_loss(prediction, target); },
      options);
}

}  // namespace nn
