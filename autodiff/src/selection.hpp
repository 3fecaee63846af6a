// Internal: ops that read each output element from one input element (a
// selection), and the scatter-add that is their gradient. The pair is closed
// under differentiation: the gradient of take() is put() with the same
// selection, and the gradient of put() is take(), so selections built on
// them (slice, index_select, gather, diag) have derivatives of any order.
//
// A Selection lists pairs (o, i): output element o of take() reads input
// element i. It provides count() (the number of pairs) and for_each(f),
// calling f(o, i) for each pair. Two kinds:
// - AxisSelection: entries chosen along one axis, whole blocks of `inner`
//   contiguous elements at a time (slice, index_select);
// - ElementSelection: one source offset per output element (gather, diag).
#pragma once

#include <cstddef>
#include <memory>
#include <source_location>
#include <type_traits>
#include <utility>
#include <vector>

#include <autodiff/tensor.hpp>

#include "tensor_record.hpp"

namespace ad::detail {

struct AxisSelection {
  std::size_t outer = 1;             // product of the extents before the axis
  std::size_t extent = 0;            // the input's extent along the axis
  std::size_t inner = 1;             // product of the extents after the axis
  std::vector<std::size_t> indices;  // the chosen entries along the axis, each < extent

  template <class F>
  void for_each(F&& f) const {
    // An empty block: nothing to visit (and `outer` may be huge when a later axis is 0).
    if (inner == 0 || indices.empty()) return;
    const std::size_t n = indices.size();
    for (std::size_t s = 0; s < outer; ++s)
      for (std::size_t k = 0; k < n; ++k) {
        const std::size_t o = (s * n + k) * inner, i = (s * extent + indices[k]) * inner;
        for (std::size_t j = 0; j < inner; ++j) f(o + j, i + j);
      }
  }
};

struct ElementSelection {
  std::vector<std::size_t> sources;  // output element o reads input element sources[o]

  template <class F>
  void for_each(F&& f) const {
    for (std::size_t o = 0; o < sources.size(); ++o) f(o, sources[o]);
  }
};

// The names the pair records under when a gradient builds them.
template <class Selection>
constexpr const char* take_name() {
  return std::is_same_v<Selection, AxisSelection> ? "index_select" : "gather";
}
template <class Selection>
constexpr const char* put_name() {
  return std::is_same_v<Selection, AxisSelection> ? "index_add" : "scatter_add";
}

template <class T, class Selection>
TensorT<T> put(const TensorT<T>& x, std::shared_ptr<const Selection> selection, const Shape& shape,
               const char* op, std::source_location where);

// y[o] = x[i] for each pair (o, i), y of shape `shape`; dx[i] += dy[o].
template <class T, class Selection>
TensorT<T> take(const TensorT<T>& x, std::shared_ptr<const Selection> selection, const Shape& shape,
                const char* op, std::source_location where) {
  TensorImpl<T>& in = impl_of(x);
  std::vector<T> y = take_buffer<T>(shape.numel(), false);
  selection->for_each([&](std::size_t o, std::size_t i) { y[o] = in.values[i]; });
  return record(
      where, op, shape, std::move(y), {&x}, {},
      [px = &in, selection](TensorImpl<T>& out) {
        if (T* gx = grad_of(*px))
          selection->for_each([&](std::size_t o, std::size_t i) { gx[i] += out.grad[o]; });
      },
      [selection](const TensorT<T>&, const TensorT<T>& g, const Gradients<T>& in) -> Gradients<T> {
        return {put(g, selection, in[0].shape(), put_name<Selection>(), std::source_location{})};
      });
}

// y = zeros(shape), then y[i] += x[o] for each pair (o, i): the transpose of
// take(); dx[o] += dy[i].
template <class T, class Selection>
TensorT<T> put(const TensorT<T>& x, std::shared_ptr<const Selection> selection, const Shape& shape,
               const char* op, std::source_location where) {
  TensorImpl<T>& in = impl_of(x);
  std::vector<T> y = take_buffer<T>(shape.numel(), true);
  selection->for_each([&](std::size_t o, std::size_t i) { y[i] += in.values[o]; });
  return record(
      where, op, shape, std::move(y), {&x}, {},
      [px = &in, selection](TensorImpl<T>& out) {
        if (T* gx = grad_of(*px))
          selection->for_each([&](std::size_t o, std::size_t i) { gx[o] += out.grad[i]; });
      },
      [selection](const TensorT<T>&, const TensorT<T>& g, const Gradients<T>& in) -> Gradients<T> {
        return {take(g, selection, in[0].shape(), take_name<Selection>(), std::source_location{})};
      });
}

}  // namespace ad::detail
