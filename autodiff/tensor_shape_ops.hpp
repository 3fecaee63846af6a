// Tensor ops that move elements without arithmetic (implemented in
// src/tensor_shape_ops.cpp): reshape, transpose, row selection, concat and
// stack. Each backward routes the gradient back to where the element came
// from, written beside its forward there.
//
// Every named op takes a trailing std::source_location (defaulted to the
// caller's line), kept on the recorded node so that anomaly detection can
// point at the line that produced a NaN; operators pass none. Instantiated
// for float and double.
#pragma once

#include <cstddef>
#include <cstdint>
#include <source_location>
#include <vector>

#include <autodiff/shape.hpp>
#include <autodiff/tensor.hpp>

namespace ad {

template <class T>
TensorT<T> reshape(const TensorT<T>& x, const Shape& shape,
                   std::source_location where = std::source_location::current());
template <class T>
TensorT<T> transpose(const TensorT<T>& x, std::int64_t axis0 = -2, std::int64_t axis1 = -1,
                     std::source_location where = std::source_location::current());
// Rows (entries along axis 0) at the given indices, in that order (a gather;
// repeated indices accumulate their gradients).
template <class T>
TensorT<T> rows(const TensorT<T>& x, const std::vector<std::size_t>& indices,
                std::source_location where = std::source_location::current());
// Rows begin .. end-1.
template <class T>
TensorT<T> slice_rows(const TensorT<T>& x, std::size_t begin, std::size_t end,
                      std::source_location where = std::source_location::current());
// Joins tensors along an existing axis (concat) or a new one (stack).
template <class T>
TensorT<T> concat(const std::vector<TensorT<T>>& xs, std::int64_t axis = 0,
                  std::source_location where = std::source_location::current());
template <class T>
TensorT<T> stack(const std::vector<TensorT<T>>& xs, std::int64_t axis = 0,
                 std::source_location where = std::source_location::current());

}  // namespace ad
