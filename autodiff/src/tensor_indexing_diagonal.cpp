// The parts of matrices: triangles (tril, triu) and diagonals (diag,
// diag_embed). A triangle is a fixed mask, its own gradient; a diagonal is a
// selection (selection.hpp) read from a matrix or placed into zeros.
#include <algorithm>
#include <memory>
#include <stdexcept>

#include <autodiff/tensor_indexing.hpp>
#include <autodiff/tensor_ops.hpp>

#include "selection.hpp"
#include "tensor_record.hpp"

namespace ad {
namespace {

using detail::ElementSelection;
using detail::grad_of;
using detail::Gradients;
using detail::TensorImpl;

// |k| as an unsigned count (|INT64_MIN| included).
std::size_t magnitude(std::int64_t k) {
  return k < 0 ? std::size_t{0} - static_cast<std::size_t>(k) : static_cast<std::size_t>(k);
}

// Whether element (row, column) lies in the kept triangle.
bool in_triangle(std::size_t row, std::size_t column, std::int64_t k, bool lower) {
  // Extents are below 2^60: the difference fits in int64.
  const std::int64_t offset = static_cast<std::int64_t>(column) - static_cast<std::int64_t>(row);
  return lower ? offset <= k : offset >= k;
}

// Calls f(i, kept) for every element i of the matrices on the last two axes of `shape`.
template <class F>
void for_each_in_matrices(const Shape& shape, std::int64_t k, bool lower, F&& f) {
  const std::size_t rows = shape[shape.rank() - 2], columns = shape[shape.rank() - 1];
  const std::size_t n = shape.numel();
  if (n == 0) return;
  for (std::size_t i = 0; i < n;)
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < columns; ++c, ++i) f(i, in_triangle(r, c, k, lower));
}

// y = x inside the triangle, 0 outside; dx = dy masked the same way (the
// mask is its own transpose: the gradient is the same op again).
template <class T>
TensorT<T> triangle(const TensorT<T>& x, std::int64_t k, bool lower, const char* op,
                    std::source_location where) {
  detail::check_input(x, op);
  TensorImpl<T>& in = detail::impl_of(x);
  if (in.shape.rank() < 2)
    throw std::invalid_argument(
        fmt::format("ad::{}: needs at least 2 axes (matrices on the last two), the tensor has shape {}", op,
                    in.shape.to_string()));
  std::vector<T> y = detail::take_buffer<T>(in.values.size(), false);
  for_each_in_matrices(in.shape, k, lower,
                       [&](std::size_t i, bool kept) { y[i] = kept ? in.values[i] : T(0); });
  return detail::record(
      where, op, in.shape, std::move(y), {&x}, {},
      [px = &in, k, lower](TensorImpl<T>& out) {
        if (T* gx = grad_of(*px))
          for_each_in_matrices(out.shape, k, lower, [&](std::size_t i, bool kept) {
            if (kept) gx[i] += out.grad[i];
          });
      },
      [k, lower, op](const TensorT<T>&, const TensorT<T>& g, const Gradients<T>&) -> Gradients<T> {
        return {triangle(g, k, lower, op, std::source_location{})};
      });
}

// The offsets of diagonal k of a [rows, columns] matrix, `count` of them
// (at most its length), shifted by `base`, appended to `out`.
void append_diagonal(std::vector<std::size_t>& out, std::size_t base, std::size_t columns, std::int64_t k,
                     std::size_t count) {
  const std::size_t row0 = k < 0 ? magnitude(k) : 0, column0 = k < 0 ? 0 : magnitude(k);
  for (std::size_t t = 0; t < count; ++t) out.push_back(base + (row0 + t) * columns + column0 + t);
}

}  // namespace

template <class T>
TensorT<T> tril(const TensorT<T>& x, std::int64_t k, std::source_location where) {
  return triangle(x, k, true, "tril", where);
}
template <class T>
TensorT<T> triu(const TensorT<T>& x, std::int64_t k, std::source_location where) {
  return triangle(x, k, false, "triu", where);
}

// 1-d: y = zeros(m, m) with y[r][r + k] = x[r] (a put, dx = the diagonal of dy);
// 2-d: y = diagonal k of x (a take, dx = dy placed on that diagonal)
template <class T>
TensorT<T> diag(const TensorT<T>& x, std::int64_t k, std::source_location where) {
  detail::check_input(x, "diag");
  const Shape& shape = x.shape();
  auto selection = std::make_shared<ElementSelection>();
  if (shape.rank() == 1) {
    const std::size_t n = shape[0];
    const std::size_t m = n + magnitude(k);  // n < 2^60, |k| <= 2^63: no wrap
    const std::size_t dims[] = {m, m};
    const Shape out_shape(dims, "diag");  // m * m checked before anything is allocated
    selection->sources.reserve(n);
    append_diagonal(selection->sources, 0, m, k, n);
    return detail::put(x, std::shared_ptr<const ElementSelection>(std::move(selection)), out_shape, "diag",
                       where);
  }
  if (shape.rank() == 2) {
    const std::size_t rows = shape[0], columns = shape[1], shift = magnitude(k);
    // The diagonal starts at row -k (k < 0) or column k, and runs to the first edge.
    const std::size_t length = k >= 0 ? (shift >= columns ? 0 : std::min(rows, columns - shift))
                                      : (shift >= rows ? 0 : std::min(rows - shift, columns));
    selection->sources.reserve(length);
    append_diagonal(selection->sources, 0, columns, k, length);
    return detail::take(x, std::shared_ptr<const ElementSelection>(std::move(selection)), Shape{length},
                        "diag", where);
  }
  throw std::invalid_argument(fmt::format(
      "ad::diag: needs a 1-d tensor (to make a matrix) or a 2-d one (to read a diagonal), got shape {}",
      shape.to_string()));
}

// y[..., r, r + k] = x[..., r], zeros elsewhere; dx = those diagonals of dy
template <class T>
TensorT<T> diag_embed(const TensorT<T>& x, std::int64_t k, std::source_location where) {
  detail::check_input(x, "diag_embed");
  const Shape& shape = x.shape();
  if (shape.rank() == 0 || shape.rank() >= Shape::max_rank)
    throw std::invalid_argument(
        fmt::format("ad::diag_embed: needs 1 to {} axes (the last becomes two), got shape {}",
                    Shape::max_rank - 1, shape.to_string()));
  const std::size_t n = shape[shape.rank() - 1];
  const std::size_t m = n + magnitude(k);  // n < 2^60, |k| <= 2^63: no wrap
  std::array<std::size_t, Shape::max_rank> dims{};
  std::copy(shape.begin(), shape.end(), dims.begin());
  dims[shape.rank() - 1] = m;
  dims[shape.rank()] = m;
  const Shape out_shape(std::span<const std::size_t>(dims.data(), shape.rank() + 1), "diag_embed");
  auto selection = std::make_shared<ElementSelection>();
  const std::size_t count = x.numel();
  selection->sources.reserve(count);
  // count = matrices * n, and each output matrix holds m * m elements.
  for (std::size_t b = 0; n > 0 && b < count / n; ++b)
    append_diagonal(selection->sources, b * m * m, m, k, n);
  return detail::put(x, std::shared_ptr<const ElementSelection>(std::move(selection)), out_shape,
                     "diag_embed", where);
}

#define AD_INSTANTIATE_DIAGONAL(T)                                                 \
  template TensorT<T> tril(const TensorT<T>&, std::int64_t, std::source_location); \
  template TensorT<T> triu(const TensorT<T>&, std::int64_t, std::source_location); \
  template TensorT<T> diag(const TensorT<T>&, std::int64_t, std::source_location); \
  template TensorT<T> diag_embed(const TensorT<T>&, std::int64_t, std::source_location);
AD_INSTANTIATE_DIAGONAL(float)
AD_INSTANTIATE_DIAGONAL(double)
#undef AD_INSTANTIATE_DIAGONAL

}  // namespace ad
