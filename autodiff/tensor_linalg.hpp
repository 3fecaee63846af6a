// Linear algebra on tensors (implemented in src/tensor_linalg.cpp): matmul,
// the fused dense-layer ops linear and linear_activation, and dot. Products go
// through ad::linalg::gemm (gemm.hpp); each backward is written beside its
// forward there.
//
// Every named op takes a trailing std::source_location (defaulted to the
// caller's line), kept on the recorded node so that anomaly detection can
// point at the line that produced a NaN; operators pass none. Instantiated
// for float and double.
#pragma once

#include <source_location>

#include <autodiff/op_code.hpp>
#include <autodiff/tensor.hpp>

namespace ad {

// [m, k] x [k, n] -> [m, n]; with more axes, a batch of products over the
// leading axes (which must match, or one operand be 2-d and shared).
template <class T>
TensorT<T> matmul(const TensorT<T>& a, const TensorT<T>& b,
                  std::source_location where = std::source_location::current());
// x W^T + b for x [batch, in], W [out, in], b [out] (b may be empty): a
// fully connected layer's pre-activation as one op (PyTorch's F.linear): one
// product reading W in place (no transposed copy) with the bias added in the
// same pass; backward: dx = dy W, dW = dy^T x, db = column sums of dy.
template <class T>
TensorT<T> linear(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias,
                  std::source_location where = std::source_location::current());
// act(x W^T + b) as one node, for act a unary op whose derivative is a
// function of its output (ops::DerivativeOfOutput in scalar_ops.hpp: tanh,
// logistic, relu, softplus, leaky_relu, elu; linear_activation_supports()
// says which; others throw std::invalid_argument): a dense layer when its
// pre-activation is not wanted as a tensor of its own. The same values and
// gradients as linear() followed by the activation, one recorded op instead
// of two (it keeps only the output, z, so the derivative must be one of z:
// 1 - z^2, z (1 - z), z > 0, ...). nn's layers use it when called without
// forward_trace.
template <class T>
TensorT<T> linear_activation(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias,
                             OpCode activation, std::source_location where = std::source_location::current());
// Whether linear_activation takes `activation`.
bool linear_activation_supports(OpCode activation) noexcept;
// The inner product of two 1-d tensors of equal length.
template <class T>
TensorT<T> dot(const TensorT<T>& a, const TensorT<T>& b,
               std::source_location where = std::source_location::current());

}  // namespace ad
