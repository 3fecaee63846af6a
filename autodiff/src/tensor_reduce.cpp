// Reductions: sum, mean, max, min over all elements or chosen axes, argmax
// and argmin, and the normalisations built on them (logsumexp, softmax, log_softmax).
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

#include <autodiff/tensor_ops.hpp>
#include <autodiff/tensor_reduce.hpp>
#include <autodiff/var.hpp>

#include "broadcast.hpp"
#include "row_ops.hpp"
#include "tensor_record.hpp"

namespace ad {
namespace {

using detail::grad_of;
using detail::Gradients;
using detail::TensorImpl;
using detail::wants_grad;

struct Reduction {
  std::array<bool, Shape::max_rank> reduced{};
  Shape out;              // the result's shape (reduced axes dropped or kept as 1)
  std::size_t group = 1;  // elements reduced into each output element
};

Reduction plan_reduction(const Shape& in, const std::vector<std::int64_t>& axes, bool keepdim,
                         const char* op) {
  Reduction r;
  for (std::int64_t a : axes) {
    const std::size_t axis = normalize_axis(a, in.rank(), op);
    if (r.reduced[axis]) throw std::invalid_argument(fmt::format("ad::{}: axis {} is listed twice", op, a));
    r.reduced[axis] = true;
  }
  std::array<std::size_t, Shape::max_rank> dims{};
  std::size_t rank = 0;
  for (std::size_t axis = 0; axis < in.rank(); ++axis) {
    if (r.reduced[axis]) {
      r.group *= in[axis];
      if (keepdim) dims[rank++] = 1;
    } else {
      dims[rank++] = in[axis];
    }
  }
  r.out = Shape(std::span<const std::size_t>(dims.data(), rank), op);
  return r;
}

std::vector<std::int64_t> all_axes(std::size_t rank) {
  std::vector<std::int64_t> axes(rank);
  for (std::size_t i = 0; i < rank; ++i) axes[i] = static_cast<std::int64_t>(i);
  return axes;
}

// A reduction over consecutive axes: the input is [outer, group, inner] with
// the middle reduced (the bias gradient's sum over the batch: outer = 1; a
// row sum: inner = 1).
struct Block {
  std::size_t outer = 1, group = 1, inner = 1;
};

std::optional<Block> contiguous_block(const Shape& in, const std::array<bool, Shape::max_rank>& reduced) {
  std::size_t first = in.rank(), last = 0;
  for (std::size_t axis = 0; axis < in.rank(); ++axis)
    if (reduced[axis]) {
      first = std::min(first, axis);
      last = axis;
    }
  if (first == in.rank()) return std::nullopt;
  for (std::size_t axis = first; axis <= last; ++axis)
    if (!reduced[axis]) return std::nullopt;
  Block b;
  for (std::size_t axis = 0; axis < in.rank(); ++axis)
    (axis < first ? b.outer : axis <= last ? b.group : b.inner) *= in[axis];
  return b;
}

// y[o][c] += x[o][g][c], g = 0, 1, ... in order: each output element adds its
// inputs in the order of the general walk (for_each_reduce), so the sums are
// the same to the bit; rows of `inner` elements go through the vectorised
// add_rows.
template <class T>
void sum_block(const Block& b, const T* x, T* y) {
  for (std::size_t o = 0; o < b.outer; ++o) {
    const T* src = x + o * b.group * b.inner;
    T* dst = y + o * b.inner;
    if (b.inner == 1) {
      T total = dst[0];
      for (std::size_t g = 0; g < b.group; ++g) total += src[g];
      dst[0] = total;
    } else {
      detail::add_rows(src, dst, b.group, b.inner);
    }
  }
}

// The adjoint: dx[o][g][c] += dy[o][c] * scale.
template <class T>
void spread_block(const Block& b, const T* dy, T scale, T* dx) {
  for (std::size_t o = 0; o < b.outer; ++o)
    for (std::size_t g = 0; g < b.group; ++g) {
      T* __restrict d = dx + (o * b.group + g) * b.inner;
      const T* __restrict s = dy + o * b.inner;
      for (std::size_t c = 0; c < b.inner; ++c) d[c] += s[c] * scale;
    }
}

// y = scale * sum over the group; dx += dy * scale (mean is sum with scale 1/group)
template <class T>
TensorT<T> scaled_sum(const char* op, const TensorT<T>& x, const std::vector<std::int64_t>& axes,
                      bool keepdim, bool average, std::source_location where) {
  detail::check_input(x, op);
  TensorImpl<T>& in = detail::impl_of(x);
  const Reduction r = plan_reduction(in.shape, axes, keepdim, op);
  if (average && r.group == 0)
    throw std::invalid_argument(
        fmt::format("ad::{}: the mean of zero elements (shape {})", op, in.shape.to_string()));
  const T scale = average ? T(1) / static_cast<T>(r.group) : T(1);
  std::vector<T> y = detail::take_buffer<T>(r.out.numel(), true);
  const bool everything = r.out.numel() == 1;  // a full reduction (a loss): one plain loop
  // The block loops run over outer x group x inner = numel elements; with no element they would
  // still count through the other extents (a [0, 2^40] input), so empty inputs take the walk.
  const std::optional<Block> block =
      everything || in.values.empty() ? std::nullopt : contiguous_block(in.shape, r.reduced);
  if (everything) {
    T total = T(0);
    for (const T v : in.values) total += v;
    y[0] = total;
  } else if (block) {
    sum_block(*block, in.values.data(), y.data());
  } else {
    detail::for_each_reduce(in.shape, r.reduced, [&](std::size_t i, std::size_t o) { y[o] += in.values[i]; });
  }
  if (average)
    for (T& v : y) v *= scale;
  return detail::record(
      where, op, r.out, std::move(y), {&x}, {},
      [px = &in, reduced = r.reduced, scale, everything, block](TensorImpl<T>& out) {
        T* gx = grad_of(*px);
        if (gx == nullptr) return;
        if (everything) {
          const T g = out.grad[0] * scale;
          for (std::size_t i = 0; i < px->values.size(); ++i) gx[i] += g;
          return;
        }
        if (block) {
          spread_block(*block, out.grad.data(), scale, gx);
          return;
        }
        detail::for_each_reduce(px->shape, reduced,
                                [&](std::size_t i, std::size_t o) { gx[i] += out.grad[o] * scale; });
      },
      [reduced = r.reduced, scale, average](const TensorT<T>&, const TensorT<T>& g,
                                            const Gradients<T>& in) -> Gradients<T> {
        const TensorT<T> spread = detail::expand_reduced(g, in[0].shape(), reduced);
        return {average ? spread * scale : spread};
      });
}

}  // namespace

template <class T>
TensorT<T> sum(const TensorT<T>& x, const std::vector<std::int64_t>& axes, bool keepdim,
               std::source_location where) {
  return scaled_sum("sum", x, axes, keepdim, false, where);
}
template <class T>
TensorT<T> sum(const TensorT<T>& x, std::source_location where) {
  return sum(x, all_axes(x.rank()), false, where);
}
template <class T>
TensorT<T> mean(const TensorT<T>& x, const std::vector<std::int64_t>& axes, bool keepdim,
                std::source_location where) {
  return scaled_sum("mean", x, axes, keepdim, true, where);
}
template <class T>
TensorT<T> mean(const TensorT<T>& x, std::source_location where) {
  return mean(x, all_axes(x.rank()), false, where);
}

// y = scale * sum (a - b)^2; da += 2 scale dy (a - b), db -= the same. The
// differences are recomputed in the backward rather than kept: one pass
// over two small arrays costs less than a buffer per step.
template <class T>
TensorT<T> sum_squared_difference(const TensorT<T>& a, const TensorT<T>& b, std::type_identity_t<T> scale,
                                  std::source_location where) {
  detail::check_input(a, "sum_squared_difference");
  detail::check_input(b, "sum_squared_difference");
  TensorImpl<T>& ia = detail::impl_of(a);
  TensorImpl<T>& ib = detail::impl_of(b);
  if (ia.shape != ib.shape)
    throw std::invalid_argument(
        fmt::format("ad::sum_squared_difference: a {} and b {} need the same shape ({})",
                    ia.shape.to_string(), ib.shape.to_string(), detail::source_text(where)));
  const std::size_t n = ia.values.size();
  const T* __restrict pa = ia.values.data();
  const T* __restrict pb = ib.values.data();
  T total = T(0);
  for (std::size_t i = 0; i < n; ++i) {
    const T d = pa[i] - pb[i];
    total += d * d;
  }
  std::vector<T> y = detail::take_buffer<T>(1, false);
  y[0] = total * scale;
  return detail::record(
      where, "sum_squared_difference", Shape{}, std::move(y), {&a, &b}, {&a, &b},
      [pia = &ia, pib = &ib, scale](TensorImpl<T>& out) {
        const T factor = T(2) * scale * out.grad[0];
        const T* __restrict va = pia->values.data();
        const T* __restrict vb = pib->values.data();
        const std::size_t count = pia->values.size();
        if (T* __restrict ga = grad_of(*pia))
          for (std::size_t i = 0; i < count; ++i) ga[i] += factor * (va[i] - vb[i]);
        if (T* __restrict gb = grad_of(*pib))
          for (std::size_t i = 0; i < count; ++i) gb[i] -= factor * (va[i] - vb[i]);
      },
      [scale](const TensorT<T>&, const TensorT<T>& g, const Gradients<T>& in) -> Gradients<T> {
        const TensorT<T> da = (in[0] - in[1]) * (g * (T(2) * scale));
        Gradients<T> r(2);
        if (wants_grad(in[0])) r[0] = da;
        if (wants_grad(in[1])) r[1] = -da;
        return r;
      });
}

namespace {

// The largest (or smallest) element of each group and its flat index in
// x: the first one on ties; a NaN element wins and stays (NaN propagates).
template <class T>
struct Extremes {
  Reduction plan;
  std::vector<T> values;
  std::vector<std::size_t> at;  // the flat index in x of each group's extreme
};
template <class T>
Extremes<T> find_extremes(const TensorImpl<T>& in, const std::vector<std::int64_t>& axes, bool keepdim,
                          bool largest, const char* op) {
  Extremes<T> e{plan_reduction(in.shape, axes, keepdim, op), {}, {}};
  if (e.plan.group == 0)
    throw std::invalid_argument(fmt::format("ad::{}: the {} of zero elements (shape {})", op,
                                            largest ? "maximum" : "minimum", in.shape.to_string()));
  constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
  e.values.assign(e.plan.out.numel(), T(0));
  e.at.assign(e.plan.out.numel(), none);
  detail::for_each_reduce(in.shape, e.plan.reduced, [&](std::size_t i, std::size_t o) {
    const T v = in.values[i];
    if (e.at[o] != none && std::isnan(e.values[o])) return;
    if (e.at[o] == none || (largest ? v > e.values[o] : v < e.values[o]) || std::isnan(v)) {
      e.values[o] = v;
      e.at[o] = i;
    }
  });
  return e;
}

// y = the extreme of each group; dx += dy at that element (the first on ties)
template <class T>
TensorT<T> extreme(const TensorT<T>& x, const std::vector<std::int64_t>& axes, bool keepdim, bool largest,
                   const char* op, std::source_location where) {
  detail::check_input(x, op);
  TensorImpl<T>& in = detail::impl_of(x);
  Extremes<T> e = find_extremes(in, axes, keepdim, largest, op);
  return detail::record(
      where, op, e.plan.out, std::move(e.values), {&x}, {},  // the positions, not the values
      [px = &in, at = e.at](TensorImpl<T>& out) {
        if (T* gx = grad_of(*px))
          for (std::size_t o = 0; o < at.size(); ++o) gx[at[o]] += out.grad[o];
      },
      [reduced = e.plan.reduced, at = e.at](const TensorT<T>&, const TensorT<T>& g,
                                            const Gradients<T>& in) -> Gradients<T> {
        // The gradient at each group's chosen element: a constant one-hot mask.
        std::vector<T> one_hot(in[0].numel(), T(0));
        for (std::size_t i : at) one_hot[i] = T(1);
        return {detail::expand_reduced(g, in[0].shape(), reduced) *
                TensorT<T>::from(in[0].shape(), std::move(one_hot))};
      });
}

// The position along `axis` of each group's extreme, as T values (no history)
template <class T>
TensorT<T> arg_extreme(const TensorT<T>& x, std::int64_t axis, bool keepdim, bool largest, const char* op) {
  detail::check_input(x, op);
  const TensorImpl<T>& in = detail::impl_of(x);
  const Extremes<T> e = find_extremes(in, {axis}, keepdim, largest, op);
  const std::size_t a = normalize_axis(axis, in.shape.rank(), op);
  const std::size_t stride = in.shape.strides()[a], extent = in.shape[a];
  std::vector<T> positions(e.at.size());
  for (std::size_t o = 0; o < e.at.size(); ++o) positions[o] = static_cast<T>(e.at[o] / stride % extent);
  return TensorT<T>::from(e.plan.out, std::move(positions));
}

}  // namespace

template <class T>
TensorT<T> max(const TensorT<T>& x, const std::vector<std::int64_t>& axes, bool keepdim,
               std::source_location where) {
  return extreme(x, axes, keepdim, true, "max", where);
}
template <class T>
TensorT<T> max(const TensorT<T>& x, std::source_location where) {
  return max(x, all_axes(x.rank()), false, where);
}
template <class T>
TensorT<T> min(const TensorT<T>& x, const std::vector<std::int64_t>& axes, bool keepdim,
               std::source_location where) {
  return extreme(x, axes, keepdim, false, "min", where);
}
template <class T>
TensorT<T> min(const TensorT<T>& x, std::source_location where) {
  return min(x, all_axes(x.rank()), false, where);
}
template <class T>
TensorT<T> argmax(const TensorT<T>& x, std::int64_t axis, bool keepdim) {
  return arg_extreme(x, axis, keepdim, true, "argmax");
}
template <class T>
TensorT<T> argmin(const TensorT<T>& x, std::int64_t axis, bool keepdim) {
  return arg_extreme(x, axis, keepdim, false, "argmin");
}

// y = m + log(sum exp(x - m)) with m the group maximum (no overflow);
// dx += dy * exp(x - y) (the softmax). A NaN element makes m, and so y, NaN
// (a NaN m is not finite: y = m).
template <class T>
TensorT<T> logsumexp(const TensorT<T>& x, std::int64_t axis, bool keepdim, std::source_location where) {
  detail::check_input(x, "logsumexp");
  TensorImpl<T>& in = detail::impl_of(x);
  const Reduction r = plan_reduction(in.shape, {axis}, keepdim, "logsumexp");
  const std::size_t n_out = r.out.numel();
  std::vector<T> m(n_out, -std::numeric_limits<T>::infinity());
  detail::for_each_reduce(in.shape, r.reduced, [&](std::size_t i, std::size_t o) {
    if (in.values[i] > m[o] || std::isnan(in.values[i])) m[o] = in.values[i];
  });
  std::vector<T> s(n_out, T(0));
  detail::for_each_reduce(in.shape, r.reduced, [&](std::size_t i, std::size_t o) {
    if (std::isfinite(m[o])) s[o] += std::exp(in.values[i] - m[o]);
  });
  std::vector<T> y(n_out);
  for (std::size_t o = 0; o < n_out; ++o) y[o] = std::isfinite(m[o]) ? m[o] + std::log(s[o]) : m[o];
  return detail::record(
      where, "logsumexp", r.out, std::move(y), {&x}, {&x},
      [px = &in, reduced = r.reduced](TensorImpl<T>& out) {
        if (T* gx = grad_of(*px))
          detail::for_each_reduce(px->shape, reduced, [&](std::size_t i, std::size_t o) {
            gx[i] += out.grad[o] * std::exp(px->values[i] - out.values[o]);
          });
      },
      [reduced = r.reduced](const TensorT<T>& y, const TensorT<T>& g,
                            const Gradients<T>& in) -> Gradients<T> {
        const Shape& shape = in[0].shape();
        return {detail::expand_reduced(g, shape, reduced) *
                exp(in[0] - detail::expand_reduced(y, shape, reduced))};
      });
}

// y = exp(x - logsumexp(x)); dx += y * (dy - sum(dy * y)) along the axis
template <class T>
TensorT<T> softmax(const TensorT<T>& x, std::int64_t axis, std::source_location where) {
  detail::check_input(x, "softmax");
  TensorImpl<T>& in = detail::impl_of(x);
  // Planned first, so that a bad axis is reported by softmax, not by logsumexp.
  const Reduction r = plan_reduction(in.shape, {axis}, false, "softmax");
  // A constant (not recorded). Not computed for an empty x: reduced along an
  // axis of extent 0 it would have an element for each of the others,
  // however many (a [2^32, 0] x would ask for 2^32 of them).
  const TensorT<T> lse =
      in.values.empty() ? TensorT<T>::zeros(Shape{0}) : logsumexp(x.detach(), axis, false, where);
  const auto& l = detail::impl_of(lse).values;
  std::vector<T> y = detail::take_buffer<T>(in.values.size(), false);
  detail::for_each_reduce(in.shape, r.reduced,
                          [&](std::size_t i, std::size_t o) { y[i] = std::exp(in.values[i] - l[o]); });
  return detail::record(
      where, "softmax", in.shape, std::move(y), {&x}, {},  // the output only
      [px = &in, reduced = r.reduced, n = l.size()](TensorImpl<T>& out) {
        T* gx = grad_of(*px);
        if (gx == nullptr) return;
        std::vector<T> dot(n, T(0));
        detail::for_each_reduce(out.shape, reduced,
                                [&](std::size_t i, std::size_t o) { dot[o] += out.grad[i] * out.values[i]; });
        detail::for_each_reduce(out.shape, reduced, [&](std::size_t i, std::size_t o) {
          gx[i] += out.values[i] * (out.grad[i] - dot[o]);
        });
      },
      [reduced = r.reduced, axis](const TensorT<T>& y, const TensorT<T>& g,
                                  const Gradients<T>&) -> Gradients<T> {
        if (y.numel() == 0) return {g};  // nothing to route (and no huge sum along an empty axis)
        return {y * (g - detail::expand_reduced(sum(g * y, std::vector<std::int64_t>{axis}, false), y.shape(),
                                                reduced))};
      });
}

// y = x - logsumexp(x); dx += dy - softmax(x) * sum(dy) along the axis
template <class T>
TensorT<T> log_softmax(const TensorT<T>& x, std::int64_t axis, std::source_location where) {
  detail::check_input(x, "log_softmax");
  TensorImpl<T>& in = detail::impl_of(x);
  // Planned first, so that a bad axis is reported by log_softmax, not by logsumexp.
  const Reduction r = plan_reduction(in.shape, {axis}, false, "log_softmax");
  // A constant (not recorded). Not computed for an empty x: reduced along an
  // axis of extent 0 it would have an element for each of the others,
  // however many (a [2^32, 0] x would ask for 2^32 of them).
  const TensorT<T> lse =
      in.values.empty() ? TensorT<T>::zeros(Shape{0}) : logsumexp(x.detach(), axis, false, where);
  const auto& l = detail::impl_of(lse).values;
  std::vector<T> y = detail::take_buffer<T>(in.values.size(), false);
  detail::for_each_reduce(in.shape, r.reduced,
                          [&](std::size_t i, std::size_t o) { y[i] = in.values[i] - l[o]; });
  return detail::record(
      where, "log_softmax", in.shape, std::move(y), {&x}, {},  // the output only
      [px = &in, reduced = r.reduced, n = l.size()](TensorImpl<T>& out) {
        T* gx = grad_of(*px);
        if (gx == nullptr) return;
        std::vector<T> total(n, T(0));
        detail::for_each_reduce(out.shape, reduced,
                                [&](std::size_t i, std::size_t o) { total[o] += out.grad[i]; });
        detail::for_each_reduce(out.shape, reduced, [&](std::size_t i, std::size_t o) {
          gx[i] += out.grad[i] - std::exp(out.values[i]) * total[o];
        });
      },
      [reduced = r.reduced, axis](const TensorT<T>& y, const TensorT<T>& g,
                                  const Gradients<T>&) -> Gradients<T> {
        if (y.numel() == 0) return {g};  // nothing to route (and no huge sum along an empty axis)
        const TensorT<T> total = sum(g, std::vector<std::int64_t>{axis}, false);
        return {g - exp(y) * detail::expand_reduced(total, y.shape(), reduced)};
      });
}

#define AD_INSTANTIATE_REDUCTIONS(T)                                                                         \
  template TensorT<T> sum(const TensorT<T>&, std::source_location);                                          \
  template TensorT<T> sum(const TensorT<T>&, const std::vector<std::int64_t>&, bool, std::source_location);  \
  template TensorT<T> mean(const TensorT<T>&, std::source_location);                                         \
  template TensorT<T> mean(const TensorT<T>&, const std::vector<std::int64_t>&, bool, std::source_location); \
  template TensorT<T> max(const TensorT<T>&, std::source_location);                                          \
  template TensorT<T> max(const TensorT<T>&, const std::vector<std::int64_t>&, bool, std::source_location);  \
  template TensorT<T> min(const TensorT<T>&, std::source_location);                                          \
  template TensorT<T> min(const TensorT<T>&, const std::vector<std::int64_t>&, bool, std::source_location);  \
  template TensorT<T> argmax(const TensorT<T>&, std::int64_t, bool);                                         \
  template TensorT<T> argmin(const TensorT<T>&, std::int64_t, bool);                                         \
  template TensorT<T> logsumexp(const TensorT<T>&, std::int64_t, bool, std::source_location);                \
  template TensorT<T> softmax(const TensorT<T>&, std::int64_t, std::source_location);                        \
  template TensorT<T> log_softmax(const TensorT<T>&, std::int64_t, std::source_location);                    \
  template TensorT<T> sum_squared_difference(const TensorT<T>&, const TensorT<T>&, std::type_identity_t<T>,  \
                                             std::source_location);
AD_INSTANTIATE_REDUCTIONS(float)
AD_INSTANTIATE_REDUCTIONS(double)
#undef AD_INSTANTIATE_REDUCTIONS

}  // namespace ad
