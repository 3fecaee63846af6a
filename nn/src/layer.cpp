#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <autodiff/tensor_ops.hpp>
#include <nn/layer.hpp>

namespace nn {
namespace {

template <class T>
ad::TensorT<T> initial_weights(std::size_t inputs, std::size_t outputs, Init init, std::mt19937_64& rng) {
  ad::TensorT<T> w = ad::TensorT<T>::randn(ad::Shape{outputs, inputs}, rng);
  double scale = 1.0;
  if (init == Init::xavier) scale = std::sqrt(2.0 / double(inputs + outputs));
  if (init == Init::he) scale = std::sqrt(2.0 / double(inputs));
  if (scale != 1.0)
    for (T& v : w.mutable_values()) v = static_cast<T>(v * scale);
  return w;
}

template <class T>
ad::TensorT<T> initial_bias(std::size_t outputs, Init init, std::mt19937_64& rng) {
  if (init == Init::normal) return ad::TensorT<T>::randn(ad::Shape{outputs}, rng);
  return ad::TensorT<T>::zeros(ad::Shape{outputs});
}

}  // namespace

template <class T>
DenseT<T>::DenseT(std::size_t inputs, std::size_t outputs, Activation psi, std::mt19937_64& rng, Init init)
    : DenseT(inputs, outputs, std::vector<Activation>(outputs, psi), rng, init) {}

template <class T>
DenseT<T>::DenseT(std::size_t inputs, std::size_t outputs, std::vector<Activation> per_neuron,
                  std::mt19937_64& rng, Init init)
    : activations_(std::move(per_neuron)) {
  if (inputs == 0 || outputs == 0)
    throw std::invalid_argument(fmt::format(
        "nn::Dense: a layer needs at least one input and one output (got {} -> {})", inputs, outputs));
  if (activations_.size() != outputs)
    throw std::invalid_argument(
        fmt::format("nn::Dense: {} activations for {} neurons", activations_.size(), outputs));
  weights_ = initial_weights<T>(inputs, outputs, init, rng);
  bias_ = initial_bias<T>(outputs, init, rng);
  register_parameters();
}

template <class T>
void DenseT<T>::register_parameters() {
  this->register_parameter("W", weights_);
  this->register_parameter("b", bias_);
}

template <class T>
DenseT<T>::DenseT(ad::TensorT<T> weights, ad::TensorT<T> bias, std::vector<Activation> per_neuron)
    : weights_(std::move(weights)), bias_(std::move(bias)), activations_(std::move(per_neuron)) {
  if (weights_.rank() != 2 || bias_.rank() != 1 || bias_.shape()[0] != weights_.shape()[0])
    throw std::invalid_argument(
        fmt::format("nn::Dense: weights {} and bias {} do not form a layer (need [out, in], [out])",
                    weights_.shape().to_string(), bias_.shape().to_string()));
  if (activations_.size() != weights_.shape()[0])
    throw std::invalid_argument(
        fmt::format("nn::Dense: {} activations for {} neurons", activations_.size(), weights_.shape()[0]));
  register_parameters();
}

template <class T>
typename DenseT<T>::Output DenseT<T>::forward_trace(const ad::TensorT<T>& x) const {
  const ad::Shape& s = x.shape();
  const bool single = s.rank() == 1;
  if ((s.rank() != 1 && s.rank() != 2) || s[s.rank() - 1] != inputs())
    throw std::invalid_argument(
        fmt::format("nn::Dense: input of shape {} for a layer with {} inputs (expected [batch, {}] or [{}])",
                    s.to_string(), inputs(), inputs(), inputs()));
  const ad::TensorT<T> rows = single ? ad::reshape(x, ad::Shape{1, inputs()}) : x;
  // a = x W^T + b: each row of the batch is the textbook's W x + b.
  ad::TensorT<T> a = ad::linear(rows, weights_, bias_);
  if (single) a = ad::reshape(a, ad::Shape{outputs()});
  ad::TensorT<T> z = apply(activations_, a, heaviside_gradient_);
  return {a, z};
}

template <class T>
ad::TensorT<T> DenseT<T>::operator()(const ad::TensorT<T>& x) const {
  if (activations_.empty()) return forward_trace(x).z;
  const Activation psi = activations_.front();
  bool uniform = true;
  for (Activation each : activations_) uniform = uniform && each == psi;
  // The fused op keeps only z, so it takes the activations whose derivative is a function of z.
  const ad::OpCode op = op_code(psi);
  if (uniform && ad::linear_activation_supports(op) && x.rank() == 2 && x.shape()[1] == inputs())
    return ad::linear_activation(x, weights_, bias_, op);
  return forward_trace(x).z;  // other activations, one sample, or a shape error to report
}

template <class T>
DenseT<T> DenseT<T>::clone() const {
  DenseT copy(weights_.detach(), bias_.detach(), activations_);
  copy.heaviside_gradient_ = heaviside_gradient_;
  return copy;
}

template <class T>
std::string DenseT<T>::architecture() const {
  std::vector<std::string_view> names;
  for (Activation psi : activations_) names.push_back(name(psi));
  const bool uniform = std::all_of(names.begin(), names.end(), [&](auto n) { return n == names.front(); });
  const std::string psi = names.empty() ? std::string("none")
                          : uniform     ? std::string(names.front())
                                        : fmt::format("[{}]", fmt::join(names, ", "));
  const char* policy =
      heaviside_gradient_ == HeavisideGradient::straight_through     ? ", heaviside straight_through"
      : heaviside_gradient_ == HeavisideGradient::logistic_surrogate ? ", heaviside logistic_surrogate"
                                                                     : "";
  return fmt::format("Dense({}->{}, {}{})", inputs(), outputs(), psi, policy);
}

template class DenseT<float>;
template class DenseT<double>;

}  // namespace nn
