// Tensor ops that pick, place or accumulate elements by position
// (implemented in src/tensor_indexing.cpp and src/tensor_indexing_diagonal.cpp):
// slicing along any axis, constant padding, flatten, index_select, gather,
// the triangles and diagonals of matrices, and the cumulative sum. Their
// gradients are linear in the incoming gradient and are themselves recorded
// ops, so every one of them can be differentiated again: the gradient of a
// selection scatter-adds, and the gradient of that scatter-add is the
// selection again.
//
// Axes may be negative (counted from the end). An axis out of range or an
// index out of range throws std::out_of_range, any other bad argument
// std::invalid_argument; each message names the op, the shape and the bad
// value. Every op takes a trailing std::source_location (defaulted to the
// caller's line) kept on the recorded node for anomaly detection.
// Instantiated for float and double.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <source_location>
#include <type_traits>
#include <vector>

#include <autodiff/tensor.hpp>

namespace ad {

// Elements begin, begin + step, ... below end along `axis` (PyTorch's
// x.narrow, NumPy's x[:, begin:end:step]). Negative begin and end count from
// the end; both are then clamped to [0, extent] as Python does, so a range
// that ends before it begins is an empty slice, not an error. step must be
// at least 1.
template <class T>
TensorT<T> slice(const TensorT<T>& x, std::int64_t axis, std::int64_t begin, std::int64_t end,
                 std::size_t step = 1, std::source_location where = std::source_location::current());

// Constant padding: before_after[a] = {before, after} elements of `value`
// added on either side of axis a, one pair per axis from axis 0 (PyTorch's
// F.pad lists them from the last axis instead). The gradient is the
// unpadded part of the incoming one.
template <class T>
TensorT<T> pad(const TensorT<T>& x, const std::vector<std::array<std::size_t, 2>>& before_after,
               std::type_identity_t<T> value = T(0),
               std::source_location where = std::source_location::current());

// Axes start_axis ..= end_axis merged into one (torch.flatten; a reshape).
// A rank-0 tensor flattens to shape [1].
template <class T>
TensorT<T> flatten(const TensorT<T>& x, std::int64_t start_axis = 0, std::int64_t end_axis = -1,
                   std::source_location where = std::source_location::current());

// The entries at `indices` along `axis`, in that order (torch.index_select);
// indices may repeat, and the gradient of a repeated entry adds up.
template <class T>
TensorT<T> index_select(const TensorT<T>& x, std::int64_t axis, const std::vector<std::size_t>& indices,
                        std::source_location where = std::source_location::current());

// torch.gather: `index` has x's rank and, on every axis other than `axis`,
// an extent no larger than x's; its values are integers in
// [0, x.shape[axis]). The result has index's shape, with (for axis 0)
// out[i][j][k] = x[index[i][j][k]][j][k]. The gradient scatter-adds into x;
// the index gets none.
template <class T>
TensorT<T> gather(const TensorT<T>& x, std::int64_t axis, const TensorT<T>& index,
                  std::source_location where = std::source_location::current());

// The lower (tril: column - row <= k) or upper (triu: column - row >= k)
// triangle of the matrices on the last two axes, zeros elsewhere
// (torch.tril/triu; k = 0 keeps the main diagonal, k > 0 moves the boundary
// up and right). Needs at least 2 axes.
template <class T>
TensorT<T> tril(const TensorT<T>& x, std::int64_t k = 0,
                std::source_location where = std::source_location::current());
template <class T>
TensorT<T> triu(const TensorT<T>& x, std::int64_t k = 0,
                std::source_location where = std::source_location::current());

// torch.diag: a 1-d x of n elements becomes an (n + |k|) x (n + |k|) matrix
// with x on diagonal k (k > 0 above the main one) and zeros elsewhere; a 2-d
// x gives its diagonal k as a 1-d tensor (empty when k is past the matrix).
template <class T>
TensorT<T> diag(const TensorT<T>& x, std::int64_t k = 0,
                std::source_location where = std::source_location::current());
// torch.diag_embed: the last axis (n elements) becomes the diagonal k of
// (n + |k|) x (n + |k|) matrices on the last two axes, batched over the others.
template <class T>
TensorT<T> diag_embed(const TensorT<T>& x, std::int64_t k = 0,
                      std::source_location where = std::source_location::current());

// Running sum along `axis` (torch.cumsum): y_k = x_0 + ... + x_k. The
// gradient is the running sum of the incoming gradient taken from the end.
template <class T>
TensorT<T> cumsum(const TensorT<T>& x, std::int64_t axis,
                  std::source_location where = std::source_location::current());

}  // namespace ad
