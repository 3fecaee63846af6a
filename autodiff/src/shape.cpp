#include <stdexcept>

#include <fmt/format.h>

#include <autodiff/shape.hpp>

namespace ad {
namespace {

std::string dims_text(std::span<const std::size_t> dims) {
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

}  // namespace

void Shape::throw_too_many_axes(std::span<const std::size_t> dims, const char* op) {
  throw std::invalid_argument(
      fmt::format("ad::{}: shape {} has {} axes; at most {} are supported (Shape::max_rank)", op,
                  dims_text(dims), dims.size(), max_rank));
}

void Shape::check_numel(const char* op) const {
  std::size_t product = 1;  // of the non-zero extents
  bool overflow = false, empty = false;
  for (const std::size_t d : dims()) {
    if (d == 0)
      empty = true;
    else
      overflow |= __builtin_mul_overflow(product, d, &product);
  }
  if (!overflow && product <= max_numel) return;
  throw std::length_error(fmt::format(
      "ad::{}: shape {} is too large: {}{} elements, and a tensor holds at most {} (Shape::max_numel)", op,
      to_string(), empty ? "its non-zero extents alone multiply to " : "",
      overflow ? std::string("2^64 or more") : fmt::format("{}", product), max_numel));
}

Shape Shape::with_extent(std::size_t axis, std::size_t extent, const char* op) const {
  if (axis >= rank_)
    throw std::out_of_range(
        fmt::format("ad::{}: axis {} is out of range for shape {} (rank {})", op, axis, to_string(), rank_));
  std::array<std::size_t, max_rank> dims = dims_;
  dims[axis] = extent;
  return Shape(std::span<const std::size_t>(dims.data(), rank_), op);
}

std::array<std::size_t, Shape::max_rank> Shape::strides() const noexcept {
  std::array<std::size_t, max_rank> s{};
  std::size_t step = 1;
  for (std::size_t i = rank_; i-- > 0;) {
    s[i] = step;
    step *= dims_[i];
  }
  return s;
}

std::string Shape::to_string() const { return dims_text(dims()); }

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  if (a == b) return a;  // the common case: no broadcasting
  const std::size_t rank = a.rank() > b.rank() ? a.rank() : b.rank();  // <= max_rank: no axis is added
  std::array<std::size_t, Shape::max_rank> dims{};
  for (std::size_t i = 0; i < rank; ++i) {
    // Axis i counted from the right.
    const std::size_t da = i < a.rank() ? a[a.rank() - 1 - i] : 1;
    const std::size_t db = i < b.rank() ? b[b.rank() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument(fmt::format(
          "ad::{}: shapes {} and {} do not broadcast (axis {} from the right has extents {} and {})", op,
          a.to_string(), b.to_string(), i, da, db));
    dims[rank - 1 - i] = da == 1 ? db : da;
  }
  try {
    return Shape(std::span<const std::size_t>(dims.data(), rank), op);
  } catch (const std::length_error& e) {
    throw std::length_error(
        fmt::format("{} (broadcasting {} and {})", e.what(), a.to_string(), b.to_string()));
  }
}

std::size_t normalize_axis(std::int64_t axis, std::size_t rank, const char* op) {
  const auto r = static_cast<std::int64_t>(rank);
  if (axis < -r || axis >= r)
    throw std::out_of_range(
        fmt::format("ad::{}: axis {} is out of range for a tensor of rank {}", op, axis, rank));
  return static_cast<std::size_t>(axis < 0 ? axis + r : axis);
}

}  // namespace ad
