// Ops that pick or place elements by position along an axis: slice, pad,
// flatten, index_select, gather, and the running sum cumsum. Selections are
// take()s whose gradient is a put() (selection.hpp); pad and cumsum record
// their own backward beside their forward.
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <stdexcept>

#include <autodiff/tensor_indexing.hpp>
#include <autodiff/tensor_ops.hpp>

#include "selection.hpp"
#include "tensor_record.hpp"

namespace ad {
namespace {

using detail::AxisSelection;
using detail::ElementSelection;
using detail::grad_of;
using detail::Gradients;
using detail::TensorImpl;

// The extents before and after `axis`: an element's offset is
// (s * extent + k) * inner + j for slab s, entry k along the axis and j within the block.
struct AxisBlocks {
  std::size_t outer = 1, extent = 0, inner = 1;
};
AxisBlocks blocks_of(const Shape& shape, std::size_t axis) {
  AxisBlocks b;
  b.extent = shape[axis];
  for (std::size_t a = 0; a < axis; ++a) b.outer *= shape[a];
  for (std::size_t a = axis + 1; a < shape.rank(); ++a) b.inner *= shape[a];
  return b;
}

std::shared_ptr<const AxisSelection> select_along(const Shape& shape, std::size_t axis,
                                                  std::vector<std::size_t> indices) {
  const AxisBlocks b = blocks_of(shape, axis);
  return std::make_shared<const AxisSelection>(AxisSelection{b.outer, b.extent, b.inner, std::move(indices)});
}

// A rank-0 tensor has no axis: every op here that takes one says so by name.
std::size_t checked_axis(const Shape& shape, std::int64_t axis, const char* op) {
  if (shape.rank() == 0)
    throw std::invalid_argument(fmt::format("ad::{}: a rank-0 tensor has no axis {}", op, axis));
  return normalize_axis(axis, shape.rank(), op);
}

// Running sums along one axis of a [outer, extent, inner] block layout:
// y_k = x_0 + ... + x_k, or x_k + ... + x_(extent-1) when `reverse`; added
// into y when `accumulate` (a backward), written otherwise.
template <class T>
void running_sums(const T* x, T* y, const AxisBlocks& b, bool reverse, bool accumulate) {
  if (b.extent == 0 || b.inner == 0) return;  // nothing to sum (and `outer` may be huge)
  for (std::size_t s = 0; s < b.outer; ++s)
    for (std::size_t j = 0; j < b.inner; ++j) {
      T total = T(0);
      for (std::size_t step = 0; step < b.extent; ++step) {
        const std::size_t k = reverse ? b.extent - 1 - step : step;
        const std::size_t at = (s * b.extent + k) * b.inner + j;
        total += x[at];
        y[at] = accumulate ? y[at] + total : total;
      }
    }
}

// The running sum along `axis`, from the start or (reverse) from the end;
// the gradient of one is the other.
template <class T>
TensorT<T> running_sum(const TensorT<T>& x, std::size_t axis, bool reverse, const char* op,
                       std::source_location where) {
  TensorImpl<T>& in = detail::impl_of(x);
  const AxisBlocks b = blocks_of(in.shape, axis);
  std::vector<T> y = detail::take_buffer<T>(in.values.size(), false);
  running_sums(in.values.data(), y.data(), b, reverse, false);
  return detail::record(
      where, op, in.shape, std::move(y), {&x}, {},
      [px = &in, b, reverse](TensorImpl<T>& out) {
        if (T* gx = grad_of(*px)) running_sums(out.grad.data(), gx, b, !reverse, true);
      },
      [axis, reverse](const TensorT<T>&, const TensorT<T>& g, const Gradients<T>&) -> Gradients<T> {
        return {
            running_sum(g, axis, !reverse, reverse ? "cumsum" : "cumsum_reverse", std::source_location{})};
      });
}

// Calls f(i, o) for every element i of a tensor of shape `in` with o the
// offset of the same element placed at `before` in a tensor of shape `out`.
template <class F>
void for_each_placed(const Shape& in, const Shape& out, const std::vector<std::array<std::size_t, 2>>& before,
                     F&& f) {
  const std::size_t n = in.numel();
  if (n == 0) return;
  const auto so = out.strides();
  std::size_t o = 0;
  for (std::size_t a = 0; a < in.rank(); ++a) o += before[a][0] * so[a];
  std::array<std::size_t, Shape::max_rank> idx{};
  for (std::size_t i = 0; i < n; ++i) {
    f(i, o);
    for (std::size_t a = in.rank(); a-- > 0;) {
      ++idx[a];
      o += so[a];
      if (idx[a] < in[a]) break;
      o -= so[a] * idx[a];
      idx[a] = 0;
    }
  }
}

}  // namespace

// y = x[..., begin : end : step, ...] along `axis`; dx scatter-adds dy back
template <class T>
TensorT<T> slice(const TensorT<T>& x, std::int64_t axis_arg, std::int64_t begin, std::int64_t end,
                 std::size_t step, std::source_location where) {
  detail::check_input(x, "slice");
  const Shape& shape = x.shape();
  const std::size_t axis = checked_axis(shape, axis_arg, "slice");
  if (step == 0)
    throw std::invalid_argument(
        fmt::format("ad::slice: step 0 along axis {} of shape {}; the step must be at least 1", axis_arg,
                    shape.to_string()));
  // Python's rule: a negative bound counts from the end, then both are
  // clamped to [0, extent]. Extents are below 2^60: no overflow in int64.
  const auto extent = static_cast<std::int64_t>(shape[axis]);
  const auto clamped = [extent](std::int64_t bound) {
    return static_cast<std::size_t>(std::clamp<std::int64_t>(bound < 0 ? bound + extent : bound, 0, extent));
  };
  const std::size_t first = clamped(begin), last = clamped(end);
  const std::size_t count = last > first ? (last - first - 1) / step + 1 : 0;
  std::vector<std::size_t> indices(count);
  for (std::size_t k = 0; k < count; ++k) indices[k] = first + k * step;
  return detail::take(x, select_along(shape, axis, std::move(indices)),
                      shape.with_extent(axis, count, "slice"), "slice", where);
}

// y = x surrounded by `value`; dx = the interior of dy
template <class T>
TensorT<T> pad(const TensorT<T>& x, const std::vector<std::array<std::size_t, 2>>& before_after,
               std::type_identity_t<T> value, std::source_location where) {
  detail::check_input(x, "pad");
  TensorImpl<T>& in = detail::impl_of(x);
  const Shape& shape = in.shape;
  if (before_after.size() != shape.rank())
    throw std::invalid_argument(fmt::format(
        "ad::pad: {} {{before, after}} pairs for a tensor of shape {}; give one pair per axis ({})",
        before_after.size(), shape.to_string(), shape.rank()));
  std::array<std::size_t, Shape::max_rank> dims{};
  for (std::size_t a = 0; a < shape.rank(); ++a) {
    std::size_t padded = 0;
    if (__builtin_add_overflow(shape[a], before_after[a][0], &padded) ||
        __builtin_add_overflow(padded, before_after[a][1], &padded))
      throw std::length_error(
          fmt::format("ad::pad: padding axis {} of shape {} by {{{}, {}}}: 2^64 or more entries", a,
                      shape.to_string(), before_after[a][0], before_after[a][1]));
    dims[a] = padded;
  }
  const Shape out_shape(std::span<const std::size_t>(dims.data(), shape.rank()), "pad");
  std::vector<T> y(out_shape.numel(), value);
  for_each_placed(shape, out_shape, before_after, [&](std::size_t i, std::size_t o) { y[o] = in.values[i]; });
  return detail::record(
      where, "pad", out_shape, std::move(y), {&x}, {},
      [px = &in, before_after](TensorImpl<T>& out) {
        if (T* gx = grad_of(*px))
          for_each_placed(px->shape, out.shape, before_after,
                          [&](std::size_t i, std::size_t o) { gx[i] += out.grad[o]; });
      },
      [before_after](const TensorT<T>&, const TensorT<T>& g, const Gradients<T>& in) -> Gradients<T> {
        // The interior, one slice per padded axis (each differentiable again).
        TensorT<T> interior = g;
        for (std::size_t a = 0; a < before_after.size(); ++a) {
          if (before_after[a][0] == 0 && before_after[a][1] == 0) continue;
          const auto begin = static_cast<std::int64_t>(before_after[a][0]);
          interior = slice(interior, static_cast<std::int64_t>(a), begin,
                           begin + static_cast<std::int64_t>(in[0].shape()[a]), 1, std::source_location{});
        }
        return {interior};
      });
}

template <class T>
TensorT<T> flatten(const TensorT<T>& x, std::int64_t start_axis, std::int64_t end_axis,
                   std::source_location where) {
  detail::check_input(x, "flatten");
  const Shape& shape = x.shape();
  // A rank-0 tensor counts as one axis here, as in torch.flatten.
  const std::size_t rank = std::max<std::size_t>(shape.rank(), 1);
  const std::size_t start = normalize_axis(start_axis, rank, "flatten");
  const std::size_t end = normalize_axis(end_axis, rank, "flatten");
  if (start > end)
    throw std::invalid_argument(fmt::format("ad::flatten: start_axis {} comes after end_axis {} for shape {}",
                                            start_axis, end_axis, shape.to_string()));
  if (shape.rank() == 0) return reshape(x, Shape{1}, where);
  std::array<std::size_t, Shape::max_rank> dims{};
  std::size_t out_rank = 0;
  for (std::size_t a = 0; a < shape.rank(); ++a) {
    if (a <= start || a > end)
      dims[out_rank++] = shape[a];
    else
      dims[out_rank - 1] *= shape[a];  // a sub-product of a valid shape: no overflow
  }
  return reshape(x, Shape(std::span<const std::size_t>(dims.data(), out_rank), "flatten"), where);
}

// y = the entries `indices` along `axis`; dx[indices[k]] += dy[k] (repeats add up)
template <class T>
TensorT<T> index_select(const TensorT<T>& x, std::int64_t axis_arg, const std::vector<std::size_t>& indices,
                        std::source_location where) {
  detail::check_input(x, "index_select");
  const Shape& shape = x.shape();
  const std::size_t axis = checked_axis(shape, axis_arg, "index_select");
  for (std::size_t k = 0; k < indices.size(); ++k)
    if (indices[k] >= shape[axis])
      throw std::out_of_range(
          fmt::format("ad::index_select: index {} (entry {}) is out of range for axis {} of shape {}",
                      indices[k], k, axis_arg, shape.to_string()));
  const Shape out_shape = shape.with_extent(axis, indices.size(), "index_select");
  return detail::take(x, select_along(shape, axis, indices), out_shape, "index_select", where);
}

// y[..i..] = x[..i.. with index[..i..] along axis]; dx scatter-adds dy, no gradient to the index
template <class T>
TensorT<T> gather(const TensorT<T>& x, std::int64_t axis_arg, const TensorT<T>& index,
                  std::source_location where) {
  detail::check_input(x, "gather");
  detail::check_input(index, "gather");
  const Shape& shape = x.shape();
  const Shape& index_shape = index.shape();
  if (index_shape.rank() != shape.rank())
    throw std::invalid_argument(
        fmt::format("ad::gather: the index has shape {} and x has shape {}; they need the same rank",
                    index_shape.to_string(), shape.to_string()));
  const std::size_t axis = checked_axis(shape, axis_arg, "gather");
  for (std::size_t a = 0; a < shape.rank(); ++a)
    if (a != axis && index_shape[a] > shape[a])
      throw std::invalid_argument(fmt::format(
          "ad::gather: the index has shape {}, larger than x's shape {} along axis {} (gathering along "
          "axis {})",
          index_shape.to_string(), shape.to_string(), a, axis_arg));
  // Source offsets: the index's multi-index walked with x's strides, the
  // stride of `axis` replaced by the index value.
  const auto strides = shape.strides();
  const std::span<const T> values = index.values();
  std::vector<std::size_t> sources(values.size());
  std::array<std::size_t, Shape::max_rank> idx{};
  std::size_t base = 0;  // the offset in x without the gathered axis
  for (std::size_t o = 0; o < values.size(); ++o) {
    const T v = values[o];
    if (!(std::isfinite(v) && v == std::floor(v)))
      throw std::invalid_argument(
          fmt::format("ad::gather: index value {} (element {} of the index, shape {}) is not an integer", v,
                      o, index_shape.to_string()));
    if (v < T(0) || v >= static_cast<T>(shape[axis]))
      throw std::out_of_range(
          fmt::format("ad::gather: index value {} (element {} of the index) is out of range for "
                      "axis {} of shape {}",
                      v, o, axis_arg, shape.to_string()));
    sources[o] = base + static_cast<std::size_t>(v) * strides[axis];
    for (std::size_t a = shape.rank(); a-- > 0;) {
      const std::size_t stride = a == axis ? 0 : strides[a];
      ++idx[a];
      base += stride;
      if (idx[a] < index_shape[a]) break;
      base -= stride * idx[a];
      idx[a] = 0;
    }
  }
  return detail::take(x, std::make_shared<const ElementSelection>(ElementSelection{std::move(sources)}),
                      index_shape, "gather", where);
}

// y_k = x_0 + ... + x_k along `axis`; dx_j = dy_j + ... + dy_(n-1)
template <class T>
TensorT<T> cumsum(const TensorT<T>& x, std::int64_t axis, std::source_location where) {
  detail::check_input(x, "cumsum");
  return running_sum(x, checked_axis(x.shape(), axis, "cumsum"), false, "cumsum", where);
}

#define AD_INSTANTIATE_INDEXING(T)                                                                      \
  template TensorT<T> slice(const TensorT<T>&, std::int64_t, std::int64_t, std::int64_t, std::size_t,   \
                            std::source_location);                                                      \
  template TensorT<T> pad(const TensorT<T>&, const std::vector<std::array<std::size_t, 2>>&, T,         \
                          std::source_location);                                                        \
  template TensorT<T> flatten(const TensorT<T>&, std::int64_t, std::int64_t, std::source_location);     \
  template TensorT<T> index_select(const TensorT<T>&, std::int64_t, const std::vector<std::size_t>&,    \
                                   std::source_location);                                               \
  template TensorT<T> gather(const TensorT<T>&, std::int64_t, const TensorT<T>&, std::source_location); \
  template TensorT<T> cumsum(const TensorT<T>&, std::int64_t, std::source_location);
AD_INSTANTIATE_INDEXING(float)
AD_INSTANTIATE_INDEXING(double)
#undef AD_INSTANTIATE_INDEXING

}  // namespace ad
