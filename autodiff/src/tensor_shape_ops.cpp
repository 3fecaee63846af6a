// Ops that move elements without arithmetic: reshape, transpose, row
// selection, concat and stack. Each backward routes the gradient back to
// where the element came from.
#include <algorithm>
#include <numeric>
#include <stdexcept>

#include <autodiff/parallel.hpp>
#include <autodiff/tensor_ops.hpp>
#include <autodiff/tensor_shape_ops.hpp>

#include "tensor_record.hpp"

namespace ad {
namespace {

using detail::grad_of;
using detail::Gradients;
using detail::TensorImpl;
using detail::wants_grad;

// `in` with axes a0 and a1 swapped (the same extents: no new check needed,
// but a Shape is only made through its checked constructor).
Shape transposed_shape(const Shape& in, std::size_t a0, std::size_t a1) {
  std::array<std::size_t, Shape::max_rank> dims{};
  std::copy(in.begin(), in.end(), dims.begin());
  std::swap(dims[a0], dims[a1]);
  return Shape(std::span<const std::size_t>(dims.data(), in.rank()), "transpose");
}

// Calls f(o, i) for every element o of the transposed output with i its
// source index in the input (axes a0 and a1 swapped).
template <class F>
void for_each_transposed(const Shape& in, std::size_t a0, std::size_t a1, F&& f) {
  std::array<std::size_t, Shape::max_rank> out{};
  std::copy(in.begin(), in.end(), out.begin());
  std::swap(out[a0], out[a1]);
  auto src = in.strides();
  std::swap(src[a0], src[a1]);  // stepping along output axis a0 moves along input axis a1
  std::array<std::size_t, Shape::max_rank> idx{};
  std::size_t i = 0;
  const std::size_t n = in.numel();
  for (std::size_t o = 0; o < n; ++o) {
    f(o, i);
    for (std::size_t axis = in.rank(); axis-- > 0;) {
      ++idx[axis];
      i += src[axis];
      if (idx[axis] < out[axis]) break;
      i -= src[axis] * idx[axis];
      idx[axis] = 0;
    }
  }
}

// y = zeros(shape) with y[indices[r]] += x[r] along axis 0: the gradient of
// rows(), itself recorded so that it can be differentiated again
// (d/dx = rows(dy, indices)).
template <class T>
TensorT<T> scatter_rows(const TensorT<T>& x, const std::vector<std::size_t>& indices, const Shape& shape) {
  TensorImpl<T>& in = detail::impl_of(x);
  const std::size_t width = indices.empty() ? 0 : in.values.size() / indices.size();
  std::vector<T> y(shape.numel(), T(0));
  for (std::size_t r = 0; r < indices.size(); ++r)
    for (std::size_t j = 0; j < width; ++j) y[indices[r] * width + j] += in.values[r * width + j];
  return detail::record(
      std::source_location{}, "scatter_rows", shape, std::move(y), {&x}, {},
      [px = &in, indices, width](TensorImpl<T>& out) {
        if (T* gx = grad_of(*px))
          for (std::size_t r = 0; r < indices.size(); ++r)
            for (std::size_t j = 0; j < width; ++j) gx[r * width + j] += out.grad[indices[r] * width + j];
      },
      [indices](const TensorT<T>&, const TensorT<T>& g, const Gradients<T>&) -> Gradients<T> {
        return {rows(g, indices, std::source_location{})};
      });
}

// Elements begin .. end-1 along `axis` (the gradient of concat), a slice
// so that it is differentiable again.
template <class T>
TensorT<T> slice_axis(const TensorT<T>& x, std::size_t axis, std::size_t begin, std::size_t end) {
  return slice(x, static_cast<std::int64_t>(axis), static_cast<std::int64_t>(begin),
               static_cast<std::int64_t>(end), 1, std::source_location{});
}

}  // namespace

// Same elements in the same order, another shape; dx = dy reshaped
template <class T>
TensorT<T> reshape(const TensorT<T>& x, const Shape& shape, std::source_location where) {
  detail::check_input(x, "reshape");
  TensorImpl<T>& in = detail::impl_of(x);
  if (shape.numel() != in.values.size())
    throw std::invalid_argument(
        fmt::format("ad::reshape: cannot reshape {} ({} elements) to {} ({} elements)", in.shape.to_string(),
                    in.values.size(), shape.to_string(), shape.numel()));
  std::vector<T> y = detail::take_buffer<T>(in.values.size(), false);
  std::copy(in.values.begin(), in.values.end(), y.begin());
  return detail::record(
      where, "reshape", shape, std::move(y), {&x}, {},
      [px = &in](TensorImpl<T>& out) {
        if (T* gx = grad_of(*px))
          for (std::size_t i = 0; i < out.grad.size(); ++i) gx[i] += out.grad[i];
      },
      [](const TensorT<T>&, const TensorT<T>& g, const Gradients<T>& in) -> Gradients<T> {
        return {reshape(g, in[0].shape(), std::source_location{})};
      });
}

template <class T>
TensorT<T> transpose(const TensorT<T>& x, std::int64_t axis0, std::int64_t axis1,
                     std::source_location where) {
  detail::check_input(x, "transpose");
  TensorImpl<T>& in = detail::impl_of(x);
  if (in.shape.rank() < 2)
    throw std::invalid_argument(
        fmt::format("ad::transpose: needs at least 2 axes, the tensor has shape {}", in.shape.to_string()));
  const std::size_t a0 = normalize_axis(axis0, in.shape.rank(), "transpose");
  const std::size_t a1 = normalize_axis(axis1, in.shape.rank(), "transpose");
  const Shape shape = transposed_shape(in.shape, a0, a1);
  std::vector<T> y = detail::take_buffer<T>(in.values.size(), false);
  for_each_transposed(in.shape, a0, a1, [&](std::size_t o, std::size_t i) { y[o] = in.values[i]; });
  return detail::record(
      where, "transpose", shape, std::move(y), {&x}, {},
      [px = &in, a0, a1](TensorImpl<T>& out) {
        if (T* gx = grad_of(*px))
          for_each_transposed(px->shape, a0, a1, [&](std::size_t o, std::size_t i) { gx[i] += out.grad[o]; });
      },
      [a0, a1](const TensorT<T>&, const TensorT<T>& g, const Gradients<T>&) -> Gradients<T> {
        return {transpose(g, static_cast<std::int64_t>(a0), static_cast<std::int64_t>(a1),
                          std::source_location{})};
      });
}

template <class T>
TensorT<T> TensorT<T>::t() const {
  if (rank() != 2)
    throw std::invalid_argument(fmt::format(
        "ad::Tensor::t: needs a 2-d tensor, this one has shape {} (use transpose())", shape().to_string()));
  return transpose(*this, 0, 1, std::source_location{});
}

// y[r] = x[indices[r]] along axis 0; dx[indices[r]] += dy[r]
template <class T>
TensorT<T> rows(const TensorT<T>& x, const std::vector<std::size_t>& indices, std::source_location where) {
  detail::check_input(x, "rows");
  TensorImpl<T>& in = detail::impl_of(x);
  if (in.shape.rank() == 0) throw std::invalid_argument("ad::rows: a rank-0 tensor has no rows");
  const std::size_t n_rows = in.shape[0];
  const std::size_t width = n_rows == 0 ? 0 : in.values.size() / n_rows;
  for (std::size_t r : indices)
    if (r >= n_rows)
      throw std::out_of_range(
          fmt::format("ad::rows: row index {} is out of range for shape {}", r, in.shape.to_string()));
  const Shape shape = in.shape.with_extent(0, indices.size(), "rows");  // checked before the buffer
  std::vector<T> y = detail::take_buffer<T>(shape.numel(), false);
  const T* source = in.values.data();
  T* target = y.data();
  // A mini-batch gathers random rows of a data set far larger than the
  // caches: the copy waits on memory, so large gathers are split over the
  // gemm's threads, and the next row is requested while this one is copied
  // (a Fashion-MNIST batch: gather time down by about a quarter on one thread).
  // A copy does less per element than an update: twice the usual grain per thread.
  const std::size_t min_rows = std::max<std::size_t>(1, 2 * parallel_grain / std::max<std::size_t>(width, 1));
  parallel_for(indices.size(), min_rows, [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) {
      if (r + 1 < end) {
        const char* next = reinterpret_cast<const char*>(source + indices[r + 1] * width);
        for (std::size_t byte = 0; byte < width * sizeof(T); byte += 64) __builtin_prefetch(next + byte);
      }
      std::copy_n(source + indices[r] * width, width, target + r * width);
    }
  });
  return detail::record(
      where, "rows", shape, std::move(y), {&x}, {},
      [px = &in, indices, width](TensorImpl<T>& out) {
        if (T* gx = grad_of(*px))
          for (std::size_t r = 0; r < indices.size(); ++r)
            for (std::size_t j = 0; j < width; ++j) gx[indices[r] * width + j] += out.grad[r * width + j];
      },
      [indices](const TensorT<T>&, const TensorT<T>& g, const Gradients<T>& in) -> Gradients<T> {
        return {scatter_rows(g, indices, in[0].shape())};
      });
}

template <class T>
TensorT<T> slice_rows(const TensorT<T>& x, std::size_t begin, std::size_t end, std::source_location where) {
  const Shape& s = x.shape();
  if (s.rank() == 0 || begin > end || end > s[0])
    throw std::out_of_range(
        fmt::format("ad::slice_rows: rows [{}, {}) are not within shape {}", begin, end, s.to_string()));
  // Rows of nothing (a zero extent after axis 0) may be as many as the shape
  // allows: no index list for them, the empty result is a reshape.
  if (x.numel() == 0) return reshape(x, s.with_extent(0, end - begin, "slice_rows"), where);
  std::vector<std::size_t> indices(end - begin);
  std::iota(indices.begin(), indices.end(), begin);
  return rows(x, indices, where);
}

// Joins along `axis`: each input is a block of `extent * inner` elements in
// each of the `outer` slabs of the output; dx_i is its block of dy
template <class T>
TensorT<T> concat(const std::vector<TensorT<T>>& xs, std::int64_t axis_arg, std::source_location where) {
  if (xs.empty()) throw std::invalid_argument("ad::concat: no tensors to join");
  for (const auto& x : xs) detail::check_input(x, "concat");
  const Shape& first = xs[0].shape();
  const std::size_t axis = normalize_axis(axis_arg, first.rank(), "concat");
  std::size_t joined = 0;  // the result's extent along `axis`
  bool overflow = false;
  for (const auto& x : xs) {
    const Shape& s = x.shape();
    bool compatible = s.rank() == first.rank();
    for (std::size_t a = 0; compatible && a < s.rank(); ++a) compatible = a == axis || s[a] == first[a];
    if (!compatible)
      throw std::invalid_argument(fmt::format("ad::concat: shapes {} and {} differ outside axis {}",
                                              first.to_string(), s.to_string(), axis));
    overflow |= __builtin_add_overflow(joined, s[axis], &joined);
  }
  if (overflow)
    throw std::length_error(fmt::format(
        "ad::concat: joining {} tensors of shapes like {} along axis {}: the extents along it add up "
        "to 2^64 or more",
        xs.size(), first.to_string(), axis));
  const Shape shape = first.with_extent(axis, joined, "concat");  // checked before the buffer
  std::size_t outer = 1, inner = 1;
  for (std::size_t a = 0; a < axis; ++a) outer *= first[a];
  for (std::size_t a = axis + 1; a < first.rank(); ++a) inner *= first[a];
  std::vector<T> y = detail::take_buffer<T>(shape.numel(), false);
  std::vector<std::size_t> offsets;  // where each input's block starts within a slab
  std::size_t offset = 0;
  const std::size_t slab = shape[axis] * inner;
  // An empty result has empty inputs: nothing to copy (and `outer` may be
  // huge when a later axis is 0).
  const bool empty = y.empty();
  for (const auto& x : xs) {
    const std::size_t block = x.shape()[axis] * inner;
    const auto& v = detail::impl_of(x).values;
    for (std::size_t o = 0; o < (empty ? 0 : outer); ++o)
      std::copy_n(v.begin() + static_cast<std::ptrdiff_t>(o * block), block,
                  y.begin() + static_cast<std::ptrdiff_t>(o * slab + offset));
    offsets.push_back(offset);
    offset += block;
  }
  std::vector<TensorImpl<T>*> inputs;
  std::vector<const TensorT<T>*> handles;
  for (const auto& x : xs) {
    inputs.push_back(&detail::impl_of(x));
    handles.push_back(&x);
  }
  return detail::record_with_inputs<T>(
      where, "concat", shape, std::move(y), handles, std::span<const TensorT<T>* const>{},
      [inputs, offsets, outer, slab, axis, inner](TensorImpl<T>& o) {
        if (o.grad.empty()) return;  // empty inputs: no gradient to route
        for (std::size_t k = 0; k < inputs.size(); ++k) {
          T* gx = grad_of(*inputs[k]);
          if (gx == nullptr) continue;
          const std::size_t block = inputs[k]->shape[axis] * inner;
          for (std::size_t s = 0; s < outer; ++s)
            for (std::size_t j = 0; j < block; ++j) gx[s * block + j] += o.grad[s * slab + offsets[k] + j];
        }
      },
      [axis](const TensorT<T>&, const TensorT<T>& g, const Gradients<T>& in) -> Gradients<T> {
        Gradients<T> r(in.size());
        std::size_t begin = 0;
        for (std::size_t k = 0; k < in.size(); ++k) {
          const std::size_t end = begin + in[k].shape()[axis];
          if (wants_grad(in[k])) r[k] = slice_axis(g, axis, begin, end);
          begin = end;
        }
        return r;
      });
}

// Inserts a new axis of extent 1 at `axis` in each input, then concatenates.
template <class T>
TensorT<T> stack(const std::vector<TensorT<T>>& xs, std::int64_t axis_arg, std::source_location where) {
  if (xs.empty()) throw std::invalid_argument("ad::stack: no tensors to stack");
  const Shape& first = xs[0].shape();
  // The new axis must fit before anything is written (dims has max_rank entries).
  if (first.rank() >= Shape::max_rank)
    throw std::invalid_argument(
        fmt::format("ad::stack: stacking tensors of shape {} adds an axis: the result would have {} axes; at "
                    "most {} are supported (Shape::max_rank)",
                    first.to_string(), first.rank() + 1, Shape::max_rank));
  const std::size_t axis = normalize_axis(axis_arg, first.rank() + 1, "stack");
  for (const auto& x : xs)
    if (!(x.shape() == first))
      throw std::invalid_argument(fmt::format("ad::stack: all tensors need the same shape; got {} and {}",
                                              first.to_string(), x.shape().to_string()));
  std::array<std::size_t, Shape::max_rank> dims{};
  for (std::size_t a = 0, b = 0; a <= first.rank(); ++a) dims[a] = a == axis ? xs.size() : first[b++];
  // The result's shape, checked here so that its errors name stack (concat
  // below then cannot fail).
  (void)Shape(std::span<const std::size_t>(dims.data(), first.rank() + 1), "stack");
  dims[axis] = 1;
  const Shape expanded_shape(std::span<const std::size_t>(dims.data(), first.rank() + 1), "stack");
  std::vector<TensorT<T>> expanded;
  for (const auto& x : xs) expanded.push_back(reshape(x, expanded_shape, where));
  return concat(expanded, static_cast<std::int64_t>(axis), where);
}

#define AD_INSTANTIATE_SHAPE_OPS(T)                                                                   \
  template TensorT<T> reshape(const TensorT<T>&, const Shape&, std::source_location);                 \
  template TensorT<T> transpose(const TensorT<T>&, std::int64_t, std::int64_t, std::source_location); \
  template TensorT<T> rows(const TensorT<T>&, const std::vector<std::size_t>&, std::source_location); \
  template TensorT<T> slice_rows(const TensorT<T>&, std::size_t, std::size_t, std::source_location);  \
  template TensorT<T> concat(const std::vector<TensorT<T>>&, std::int64_t, std::source_location);     \
  template TensorT<T> stack(const std::vector<TensorT<T>>&, std::int64_t, std::source_location);      \
  template TensorT<T> TensorT<T>::t() const;
AD_INSTANTIATE_SHAPE_OPS(float)
AD_INSTANTIATE_SHAPE_OPS(double)
#undef AD_INSTANTIATE_SHAPE_OPS

}  // namespace ad
