// nn::Conv2dT<T>: a 2-d convolution layer (PyTorch's torch.nn.Conv2d),
//   y = psi(conv2d(x, W) + b)   on x [N, C_in, H, W] (or [C_in, H, W]),
// with W [C_out, C_in / groups, kH, kW] and b [C_out] registered as
// parameters "W" and "b" (no "b" without a bias). Stride, padding, dilation
// and groups as ad::conv2d (autodiff/tensor_conv.hpp). The activation psi is
// the identity unless given, as for Dense; relu, tanh, logistic and the other
// activations whose derivative is a function of their output are fused into
// the convolution (ad::conv2d_activation: no pre-activation tensor, no pass
// of its own).
//
// Initial values as PyTorch's default: W and b uniform in
// [-1/sqrt(fan_in), 1/sqrt(fan_in)], fan_in = C_in / groups * kH * kW
// (kaiming_uniform with a = sqrt(5), which works out to this bound).
#pragma once

#include <array>
#include <cstddef>
#include <random>
#include <string>

#include <autodiff/tensor.hpp>
#include <autodiff/tensor_conv.hpp>
#include <nn/activation.hpp>
#include <nn/module.hpp>

namespace nn {

template <class T>
class Conv2dT : public ModuleT<T> {
 public:
  // A square kernel_size x kernel_size filter, or kernel {kH, kW}. Throws
  // std::invalid_argument naming the layer for zero channels or kernel
  // extents, a zero stride or dilation, or groups that do not divide both
  // channel counts.
  Conv2dT(std::size_t in_channels, std::size_t out_channels, std::size_t kernel_size, std::mt19937_64& rng,
          ad::Conv2dOptions options = {}, bool bias = true);
  Conv2dT(std::size_t in_channels, std::size_t out_channels, std::array<std::size_t, 2> kernel_size,
          std::mt19937_64& rng, ad::Conv2dOptions options = {}, bool bias = true);
  // With the activation psi (Conv2d(1, 32, 3, nn::Activation::relu, rng)).
  Conv2dT(std::size_t in_channels, std::size_t out_channels, std::size_t kernel_size, Activation psi,
          std::mt19937_64& rng, ad::Conv2dOptions options = {}, bool bias = true);
  Conv2dT(std::size_t in_channels, std::size_t out_channels, std::array<std::size_t, 2> kernel_size,
          Activation psi, std::mt19937_64& rng, ad::Conv2dOptions options = {}, bool bias = true);

  ad::TensorT<T> forward(const ad::TensorT<T>& x) override;
  std::string type_name() const override { return "Conv2d"; }
  // "Conv2d(1->32, 3x3, stride 1x1, padding 0x0, dilation 1x1, groups 1, bias)", ", relu" after
  // "bias" when there is an activation.
  std::string architecture() const override;

  std::size_t in_channels() const { return weights_.shape()[1] * options_.groups; }
  std::size_t out_channels() const { return weights_.shape()[0]; }
  std::array<std::size_t, 2> kernel_size() const { return {weights_.shape()[2], weights_.shape()[3]}; }
  const ad::Conv2dOptions& options() const { return options_; }
  bool has_bias() const { return bias_.defined(); }
  Activation activation() const { return psi_; }
  const ad::TensorT<T>& weights() const { return weights_; }
  const ad::TensorT<T>& bias() const { return bias_; }  // undefined without a bias

 private:
  ad::TensorT<T> weights_;
  ad::TensorT<T> bias_;
  ad::Conv2dOptions options_;
  Activation psi_ = Activation::identity;
};

using Conv2d = Conv2dT<double>;
using Conv2dF = Conv2dT<float>;

extern template class Conv2dT<float>;
extern template class Conv2dT<double>;

}  // namespace nn
