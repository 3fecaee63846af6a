// Internal: index walks for broadcasting and axis reductions.
#pragma once

#include <array>
#include <cstddef>

#include <autodiff/shape.hpp>

namespace ad::detail {

// Strides of `in` as seen from an output of shape `out` it broadcasts to:
// axes aligned from the right, stride 0 where `in` has extent 1 or no axis.
inline std::array<std::size_t, Shape::max_rank> broadcast_strides(const Shape& in, const Shape& out) {
  std::array<std::size_t, Shape::max_rank> s{};
  const auto own = in.strides();
  const std::size_t offset = out.rank() - in.rank();
  for (std::size_t axis = 0; axis < in.rank(); ++axis)
    s[offset + axis] = in[axis] == 1 ? 0 : own[axis];
  return s;
}

// Calls f(i, ia, ib) for every element i of `out` (row-major), with ia and ib
// the indices of the elements of a and b that broadcast to it.
template <class F>
void for_each_broadcast(const Shape& out, const Shape& a, const Shape& b, F&& f) {
  const std::size_t n = out.numel();
  const std::size_t na = a.numel(), nb = b.numel();
  // Fast paths: equal shapes, a scalar side, and a trailing-block repeat (the
  // bias of a layer: [B, N] op [N]).
  if (na == n && nb == n && a == out && b == out) {
    for (std::size_t i = 0; i < n; ++i) f(i, i, i);
    return;
  }
  if (a == out && nb == 1) {
    for (std::size_t i = 0; i < n; ++i) f(i, i, std::size_t{0});
    return;
  }
  if (b == out && na == 1) {
    for (std::size_t i = 0; i < n; ++i) f(i, std::size_t{0}, i);
    return;
  }
  auto is_suffix = [&](const Shape& s) {
    if (s.rank() > out.rank()) return false;
    for (std::size_t k = 0; k < s.rank(); ++k)
      if (s[s.rank() - 1 - k] != out[out.rank() - 1 - k]) return false;
    return true;
  };
  if (a == out && nb > 0 && is_suffix(b)) {
    for (std::size_t i = 0; i < n; i += nb)
      for (std::size_t j = 0; j < nb; ++j) f(i + j, i + j, j);
    return;
  }
  if (b == out && na > 0 && is_suffix(a)) {
    for (std::size_t i = 0; i < n; i += na)
      for (std::size_t j = 0; j < na; ++j) f(i + j, j, i + j);
    return;
  }
  // General case: an odometer over the output's multi-index.
  const auto sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
  std::array<std::size_t, Shape::max_rank> idx{};
  std::size_t ia = 0, ib = 0;
  const std::size_t rank = out.rank();
  for (std::size_t i = 0; i < n; ++i) {
    f(i, ia, ib);
    for (std::size_t axis = rank; axis-- > 0;) {
      ++idx[axis];
      ia += sa[axis];
      ib += sb[axis];
      if (idx[axis] < out[axis]) break;
      ia -= sa[axis] * idx[axis];
      ib -= sb[axis] * idx[axis];
      idx[axis] = 0;
    }
  }
}

// For a reduction over the axes marked in `reduced`: calls f(i, o) for every
// element i of `in` with o the index of the output element it reduces into.
template <class F>
void for_each_reduce(const Shape& in, const std::array<bool, Shape::max_rank>& reduced, F&& f) {
  // Output strides over the kept axes, 0 on reduced ones.
  std::array<std::size_t, Shape::max_rank> so{};
  std::size_t step = 1;
  for (std::size_t axis = in.rank(); axis-- > 0;) {
    if (reduced[axis]) continue;
    so[axis] = step;
    step *= in[axis];
  }
  std::array<std::size_t, Shape::max_rank> idx{};
  std::size_t o = 0;
  const std::size_t n = in.numel();
  for (std::size_t i = 0; i < n; ++i) {
    f(i, o);
    for (std::size_t axis = in.rank(); axis-- > 0;) {
      ++idx[axis];
      o += so[axis];
      if (idx[axis] < in[axis]) break;
      o -= so[axis] * idx[axis];
      idx[axis] = 0;
    }
  }
}

}  // namespace ad::detail
