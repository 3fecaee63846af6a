// Internal: the product of two matrices with either operand read transposed
// in place (implemented in tensor_matmul_transposed.cpp). The recorded
// backward of matmul and linear writes its gradients with it (dW = g^T x,
// dA = g B^T), so a Hessian-vector product records no transpose copies and
// its second sweep goes back through none.
#pragma once

#include <autodiff/tensor.hpp>

namespace ad::detail {

// op(a) op(b), where op(x) is x^T if its flag is set, else x; a and b are
// 2-d. Recorded as "matmul" (no flag), "matmul_nt" (b^T), "matmul_tn" (a^T)
// or "matmul_tt" (both), with derivatives of the same kind, so every order
// is available. Throws std::invalid_argument naming the shapes when they
// are not 2-d or the contracted extents differ.
template <class T>
TensorT<T> matmul_transposed(const TensorT<T>& a, const TensorT<T>& b, bool trans_a, bool trans_b);

}  // namespace ad::detail
