#include <stdexcept>

#include <fmt/format.h>

#include <autodiff/shape.hpp>

namespace ad {

Shape::Shape(std::initializer_list<std::size_t> dims)
    : Shape(std::span<const std::size_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const std::size_t> dims) {
  if (dims.size() > max_rank)
    throw std::invalid_argument(
        fmt::format("ad::Shape: {} axes requested; at most {} are supported", dims.size(), max_rank));
  rank_ = dims.size();
  for (std::size_t i = 0; i < rank_; ++i) dims_[i] = dims[i];
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

std::string Shape::to_string() const { return fmt::format("[{}]", fmt::join(dims(), ", ")); }

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  if (a == b) return a;  // the common case: no broadcasting
  const std::size_t rank = a.rank() > b.rank() ? a.rank() : b.rank();
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
  return Shape(std::span<const std::size_t>(dims.data(), rank));
}

std::size_t normalize_axis(std::int64_t axis, std::size_t rank, const char* op) {
  const auto r = static_cast<std::int64_t>(rank);
  if (axis < -r || axis >= r)
    throw std::out_of_range(
        fmt::format("ad::{}: axis {} is out of range for a tensor of rank {}", op, axis, rank));
  return static_cast<std::size_t>(axis < 0 ? axis + r : axis);
}

}  // namespace ad
