#include <stdexcept>

#include <fmt/format.h>

#include <nn/reference.hpp>

namespace nn {

template <class T>
std::vector<LayerGradient> backprop_reference(const NetworkT<T>& net, const ad::TensorT<T>& X,
                                              const ad::TensorT<T>& Y) {
  const auto& layers = net.layers();
  const std::size_t d = layers.size();
  const std::size_t n_in = layers.front().inputs(), n_out = layers.back().outputs();
  std::size_t y_count = 0;  // X's rows times n_out, checked: X [huge, 0] has no elements
  if (X.rank() != 2 || X.shape()[1] != n_in || __builtin_mul_overflow(X.shape()[0], n_out, &y_count) ||
      Y.numel() != y_count)
    throw std::invalid_argument(fmt::format("nn::backprop_reference: X {} and Y {} do not fit a {} -> {} network",
                                            X.shape().to_string(), Y.shape().to_string(), n_in, n_out));
  const std::size_t N = X.shape()[0];
  std::vector<LayerGradient> grads(d);
  for (std::size_t L = 0; L < d; ++L) {
    grads[L].weights.assign(layers[L].outputs() * layers[L].inputs(), 0.0);
    grads[L].bias.assign(layers[L].outputs(), 0.0);
  }
  // Per sample: forward storing a^L and z^L, then the delta recursion down.
  std::vector<std::vector<double>> a(d + 1), z(d + 1);
  for (std::size_t i = 0; i < N; ++i) {
    z[0].assign(X.values().begin() + static_cast<std::ptrdiff_t>(i * n_in),
                X.values().begin() + static_cast<std::ptrdiff_t>((i + 1) * n_in));
    for (std::size_t L = 1; L <= d; ++L) {
      const auto& layer = layers[L - 1];
      const auto W = layer.weights().values();
      const auto b = layer.bias().values();
      const std::size_t rows = layer.outputs(), cols = layer.inputs();
      a[L].assign(rows, 0.0);
      z[L].assign(rows, 0.0);
      for (std::size_t r = 0; r < rows; ++r) {
        double s = double(b[r]);
        for (std::size_t c = 0; c < cols; ++c) s += double(W[r * cols + c]) * z[L - 1][c];
        a[L][r] = s;
        z[L][r] = value(layer.activations()[r], s);
      }
    }
    // delta^d = (z^d - y) * psi'(a^d)
    std::vector<double> delta(n_out);
    const auto& out = layers.back();
    for (std::size_t r = 0; r < n_out; ++r)
      delta[r] = (z[d][r] - double(Y.values()[i * n_out + r])) *
                 derivative(out.activations()[r], a[d][r], out.heaviside_gradient());
    for (std::size_t L = d; L >= 1; --L) {
      const auto& layer = layers[L - 1];
      const std::size_t rows = layer.outputs(), cols = layer.inputs();
      // dC/dW^L += delta^L (z^(L-1))^T / N,  dC/db^L += delta^L / N
      for (std::size_t r = 0; r < rows; ++r) {
        grads[L - 1].bias[r] += delta[r] / double(N);
        for (std::size_t c = 0; c < cols; ++c) grads[L - 1].weights[r * cols + c] += delta[r] * z[L - 1][c] / double(N);
      }
      if (L == 1) break;
      // delta^(L-1) = ((W^L)^T delta^L) * psi'(a^(L-1))
      const auto W = layer.weights().values();
      const auto& below = layers[L - 2];
      std::vector<double> next(cols, 0.0);
      for (std::size_t c = 0; c < cols; ++c) {
        double s = 0.0;
        for (std::size_t r = 0; r < rows; ++r) s += double(W[r * cols + c]) * delta[r];
        next[c] = s * derivative(below.activations()[c], a[L - 1][c], below.heaviside_gradient());
      }
      delta = std::move(next);
    }
  }
  return grads;
}

template std::vector<LayerGradient> backprop_reference(const NetworkT<float>&, const ad::TensorT<float>&,
                                                       const ad::TensorT<float>&);
template std::vector<LayerGradient> backprop_reference(const NetworkT<double>&, const ad::TensorT<double>&,
                                                       const ad::TensorT<double>&);

}  // namespace nn
