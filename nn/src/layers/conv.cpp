#include <nn/layers/conv.hpp>

#include <cmath>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include <autodiff/tensor_conv.hpp>
#include <autodiff/tensor_linalg.hpp>

namespace nn {

namespace {

// U(-bound, bound) values for a tensor of `shape`.
template <class T>
ad::TensorT<T> uniform(const ad::Shape& shape, double bound, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-bound, bound);
  std::vector<T> v(shape.numel());
  for (T& x : v) x = static_cast<T>(u(rng));
  return ad::TensorT<T>::from(shape, std::move(v));
}

}  // namespace

template <class T>
Conv2dT<T>::Conv2dT(std::size_t in_channels, std::size_t out_channels, std::size_t kernel_size,
                    std::mt19937_64& rng, ad::Conv2dOptions options, bool bias)
    : Conv2dT(in_channels, out_channels, std::array<std::size_t, 2>{kernel_size, kernel_size}, rng, options,
              bias) {}

template <class T>
Conv2dT<T>::Conv2dT(std::size_t in_channels, std::size_t out_channels, std::size_t kernel_size,
                    Activation psi, std::mt19937_64& rng, ad::Conv2dOptions options, bool bias)
    : Conv2dT(in_channels, out_channels, std::array<std::size_t, 2>{kernel_size, kernel_size}, psi, rng,
              options, bias) {}

template <class T>
Conv2dT<T>::Conv2dT(std::size_t in_channels, std::size_t out_channels, std::array<std::size_t, 2> kernel,
                    std::mt19937_64& rng, ad::Conv2dOptions options, bool bias)
    : Conv2dT(in_channels, out_channels, kernel, Activation::identity, rng, options, bias) {}

template <class T>
Conv2dT<T>::Conv2dT(std::size_t in_channels, std::size_t out_channels, std::array<std::size_t, 2> kernel,
                    Activation psi, std::mt19937_64& rng, ad::Conv2dOptions options, bool bias)
    : options_(options), psi_(psi) {
  const auto fail = [&](const char* why) {
    throw std::invalid_argument(
        fmt::format("nn::Conv2d({}->{}, {}x{}, stride {}x{}, dilation {}x{}, groups {}): {}", in_channels,
                    out_channels, kernel[0], kernel[1], options.stride[0], options.stride[1],
                    options.dilation[0], options.dilation[1], options.groups, why));
  };
  if (find(psi) == nullptr) fail("unknown activation");
  if (in_channels == 0 || out_channels == 0) fail("the channel counts must be at least 1");
  if (kernel[0] == 0 || kernel[1] == 0) fail("the kernel must be at least 1x1");
  if (options.stride[0] == 0 || options.stride[1] == 0) fail("the stride must be at least 1");
  if (options.dilation[0] == 0 || options.dilation[1] == 0) fail("the dilation must be at least 1");
  if (options.groups == 0 || in_channels % options.groups != 0 || out_channels % options.groups != 0)
    fail("groups must divide both channel counts");
  const std::size_t fan_in = in_channels / options.groups * kernel[0] * kernel[1];
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  weights_ = uniform<T>({out_channels, in_channels / options.groups, kernel[0], kernel[1]}, bound, rng);
  this->register_parameter("W", weights_);
  if (bias) {
    bias_ = uniform<T>({out_channels}, bound, rng);
    this->register_parameter("b", bias_);
  }
}

template <class T>
ad::TensorT<T> Conv2dT<T>::forward(const ad::TensorT<T>& x) {
  if (psi_ == Activation::identity) return ad::conv2d(x, weights_, bias_, options_);
  const ad::OpCode op = find(psi_)->op;
  if (ad::linear_activation_supports(op)) return ad::conv2d_activation(x, weights_, bias_, op, options_);
  return apply(psi_, ad::conv2d(x, weights_, bias_, options_));  // gelu, silu, heaviside, ...: two ops
}

template <class T>
std::string Conv2dT<T>::architecture() const {
  const auto& o = options_;
  return fmt::format("Conv2d({}->{}, {}x{}, stride {}x{}, padding {}x{}, dilation {}x{}, groups {}, {}{}{})",
                     in_channels(), out_channels(), weights_.shape()[2], weights_.shape()[3], o.stride[0],
                     o.stride[1], o.padding[0], o.padding[1], o.dilation[0], o.dilation[1], o.groups,
                     has_bias() ? "bias" : "no bias", psi_ == Activation::identity ? "" : ", ",
                     psi_ == Activation::identity ? std::string_view() : name(psi_));
}

template class Conv2dT<float>;
template class Conv2dT<double>;

}  // namespace nn
