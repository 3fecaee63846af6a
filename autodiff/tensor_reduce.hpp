// Reductions of tensors (implemented in src/tensor_reduce.cpp): sum, mean,
// max and min over all elements or chosen axes, argmax and argmin along one,
// the fused squared-error sum, and the normalisations built on them (logsumexp, softmax, log_softmax). Each
// op's backward is written beside its forward there.
//
// Every named op takes a trailing std::source_location (defaulted to the
// caller's line), kept on the recorded node so that anomaly detection can
// point at the line that produced a NaN; operators pass none. Instantiated
// for float and double.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <source_location>
#include <type_traits>
#include <vector>

#include <autodiff/tensor.hpp>

namespace ad {

// Over all elements (a rank-0 result) or over the given axes (negative axes
// count from the end); keepdim keeps reduced axes with extent 1.
template <class T>
TensorT<T> sum(const TensorT<T>& x, std::source_location where = std::source_location::current());
template <class T>
TensorT<T> sum(const TensorT<T>& x, const std::vector<std::int64_t>& axes, bool keepdim = false,
               std::source_location where = std::source_location::current());
template <class T>
TensorT<T> mean(const TensorT<T>& x, std::source_location where = std::source_location::current());
template <class T>
TensorT<T> mean(const TensorT<T>& x, const std::vector<std::int64_t>& axes, bool keepdim = false,
                std::source_location where = std::source_location::current());
// The maximum and the minimum; the gradient goes to the first maximal
// (minimal) element of each group. A NaN element makes its group's result NaN.
template <class T>
TensorT<T> max(const TensorT<T>& x, std::source_location where = std::source_location::current());
template <class T>
TensorT<T> max(const TensorT<T>& x, const std::vector<std::int64_t>& axes, bool keepdim = false,
               std::source_location where = std::source_location::current());
template <class T>
TensorT<T> min(const TensorT<T>& x, std::source_location where = std::source_location::current());
template <class T>
TensorT<T> min(const TensorT<T>& x, const std::vector<std::int64_t>& axes, bool keepdim = false,
               std::source_location where = std::source_location::current());
// The position along `axis` of the maximum (minimum): the first one on ties
// (as PyTorch), the first NaN if there is one. The positions come as T
// values, a constant without history (float holds them exactly up to 2^24,
// double up to 2^53).
template <class T>
TensorT<T> argmax(const TensorT<T>& x, std::int64_t axis, bool keepdim = false);
template <class T>
TensorT<T> argmin(const TensorT<T>& x, std::int64_t axis, bool keepdim = false);
// Braced axis lists (`ad::sum(x, {0})`, of int or int64_t) pick these
// overloads: without them `{1}` would convert to the scalar of the
// element-wise max(x, 1.0).
template <class T>
TensorT<T> sum(const TensorT<T>& x, std::initializer_list<int> axes, bool keepdim = false,
               std::source_location where = std::source_location::current()) {
  return sum(x, std::vector<std::int64_t>(axes.begin(), axes.end()), keepdim, where);
}
template <class T>
TensorT<T> sum(const TensorT<T>& x, std::initializer_list<std::int64_t> axes, bool keepdim = false,
               std::source_location where = std::source_location::current()) {
  return sum(x, std::vector<std::int64_t>(axes), keepdim, where);
}
template <class T>
TensorT<T> mean(const TensorT<T>& x, std::initializer_list<int> axes, bool keepdim = false,
                std::source_location where = std::source_location::current()) {
  return mean(x, std::vector<std::int64_t>(axes.begin(), axes.end()), keepdim, where);
}
template <class T>
TensorT<T> mean(const TensorT<T>& x, std::initializer_list<std::int64_t> axes, bool keepdim = false,
                std::source_location where = std::source_location::current()) {
  return mean(x, std::vector<std::int64_t>(axes), keepdim, where);
}
template <class T>
TensorT<T> max(const TensorT<T>& x, std::initializer_list<int> axes, bool keepdim = false,
               std::source_location where = std::source_location::current()) {
  return max(x, std::vector<std::int64_t>(axes.begin(), axes.end()), keepdim, where);
}
template <class T>
TensorT<T> max(const TensorT<T>& x, std::initializer_list<std::int64_t> axes, bool keepdim = false,
               std::source_location where = std::source_location::current()) {
  return max(x, std::vector<std::int64_t>(axes), keepdim, where);
}
template <class T>
TensorT<T> min(const TensorT<T>& x, std::initializer_list<int> axes, bool keepdim = false,
               std::source_location where = std::source_location::current()) {
  return min(x, std::vector<std::int64_t>(axes.begin(), axes.end()), keepdim, where);
}
template <class T>
TensorT<T> min(const TensorT<T>& x, std::initializer_list<std::int64_t> axes, bool keepdim = false,
               std::source_location where = std::source_location::current()) {
  return min(x, std::vector<std::int64_t>(axes), keepdim, where);
}
// scale * sum((a - b)^2) over all elements of two tensors of the same shape,
// as one node (a rank-0 result): the squared-error loss without the three
// intermediate tensors of sum(square(a - b)) * scale. The gradient is
// 2 scale (a - b) to a and its negative to b.
template <class T>
TensorT<T> sum_squared_difference(const TensorT<T>& a, const TensorT<T>& b,
                                  std::type_identity_t<T> scale = T(1),
                                  std::source_location where = std::source_location::current());
// log(sum(exp(x))) along one axis, computed without overflow.
template <class T>
TensorT<T> logsumexp(const TensorT<T>& x, std::int64_t axis = -1, bool keepdim = false,
                     std::source_location where = std::source_location::current());
template <class T>
TensorT<T> softmax(const TensorT<T>& x, std::int64_t axis = -1,
                   std::source_location where = std::source_location::current());
template <class T>
TensorT<T> log_softmax(const TensorT<T>& x, std::int64_t axis = -1,
                       std::source_location where = std::source_location::current());

}  // namespace ad
