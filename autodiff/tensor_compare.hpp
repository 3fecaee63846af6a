// Element-wise comparisons of tensors (implemented in
// src/tensor_compare.cpp): masks of 1 where the comparison holds and 0
// where it does not, of the operands' element type and their broadcast
// shape (NumPy's rules), for ad::where and for masking by multiplication:
//
//   ad::Tensor y = ad::where(x < 1.0, ad::square(x), 2.0 * x - 1.0);
//
// A mask is a constant: it has no history and never requires a gradient (a
// comparison is flat almost everywhere), whatever its operands. Comparisons
// with NaN follow IEEE 754 (false, except != which is true). Unlike ad::Var,
// whose comparisons give a bool by value, these give a tensor.
#pragma once

#include <type_traits>

#include <autodiff/tensor.hpp>

namespace ad {

#define AD_DECLARE_TENSOR_COMPARISON(op)                                  \
  template <class T>                                                      \
  TensorT<T> operator op(const TensorT<T>& a, const TensorT<T>& b);       \
  template <class T>                                                      \
  TensorT<T> operator op(const TensorT<T>& a, std::type_identity_t<T> b); \
  template <class T>                                                      \
  TensorT<T> operator op(std::type_identity_t<T> a, const TensorT<T>& b);
AD_DECLARE_TENSOR_COMPARISON(<)
AD_DECLARE_TENSOR_COMPARISON(<=)
AD_DECLARE_TENSOR_COMPARISON(>)
AD_DECLARE_TENSOR_COMPARISON(>=)
AD_DECLARE_TENSOR_COMPARISON(==)
AD_DECLARE_TENSOR_COMPARISON(!=)
#undef AD_DECLARE_TENSOR_COMPARISON

}  // namespace ad
