// nn::backprop_reference: the textbook's backpropagation written out by hand,
// without a tape, for the mean squared loss C = 1/(2N) sum_i ||f(x_i) - y_i||^2:
//
//   delta^d     = (z^d - y) * psi'(a^d)                 (output layer)
//   delta^(L-1) = ((W^L)^T delta^L) * psi'(a^(L-1))     (one layer down)
//   dC/dW^L     = delta^L (z^(L-1))^T,   dC/db^L = delta^L
//
// averaged over the N samples. It exists to check the generic reverse sweep
// (tests compare the two) and to show the recursion the sweep reproduces.
#pragma once

#include <vector>

#include <autodiff/tensor.hpp>
#include <nn/network.hpp>

namespace nn {

struct LayerGradient {
  std::vector<double> weights;  // dC/dW^L, row-major [outputs, inputs]
  std::vector<double> bias;     // dC/db^L
};

// X: [N, n_0], Y: [N, n_d]. Evaluated in double whatever T is.
template <class T>
std::vector<LayerGradient> backprop_reference(const NetworkT<T>& net, const ad::TensorT<T>& X,
                                              const ad::TensorT<T>& Y);

extern template std::vector<LayerGradient> backprop_reference(const NetworkT<float>&, const ad::TensorT<float>&,
                                                              const ad::TensorT<float>&);
extern template std::vector<LayerGradient> backprop_reference(const NetworkT<double>&, const ad::TensorT<double>&,
                                                              const ad::TensorT<double>&);

}  // namespace nn
