// ad::Shape: the extents of a row-major n-d array (up to 8 axes, stored inline
// so shapes never allocate), and NumPy's broadcasting rule.
//
// Every Shape that exists is valid, checked once when it is made (numel()
// stays a plain product):
// - at most max_rank (8) axes, else std::invalid_argument;
// - the product of its non-zero extents is at most max_numel, else
//   std::length_error. So numel(), the strides and the product of any subset
//   of the extents never overflow std::size_t, and a tensor of the shape can be
//   addressed (a std::vector<double> holds at most PTRDIFF_MAX bytes). Zero
//   extents do not lift the limit: [0, 2^62, 4] is refused like [2^62, 4].
// Both messages begin with "ad::<op>:" and show the shape; ops that compute a
// result shape (broadcasting, matmul, concat, stack, eye, arange, ...) pass
// their own name.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

namespace ad {

class Shape {
 public:
  static constexpr std::size_t max_rank = 8;
  // The most elements a shape may describe: the most a std::vector<double>
  // can hold (PTRDIFF_MAX bytes), 2^60 - 1 on 64-bit systems.
  static constexpr std::size_t max_numel = static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(double);

  Shape() noexcept = default;  // rank 0: a scalar (one element)
  // Throw std::invalid_argument (more than max_rank axes) or std::length_error
  // (too many elements) naming "ad::Shape".
  Shape(std::initializer_list<std::size_t> dims)
      : Shape(std::span<const std::size_t>(dims.begin(), dims.size()), "Shape") {}
  explicit Shape(std::span<const std::size_t> dims) : Shape(dims, "Shape") {}
  // The same checks, the messages naming `op` ("ad::<op>: ..."). Inline, as
  // every op makes its result's shape: the usual shape is accepted after one
  // pass that copies the extents, the exact count is taken only when the
  // extents' bit widths add up to more than 60.
  Shape(std::span<const std::size_t> dims, const char* op) {
    if (dims.size() > max_rank) [[unlikely]]
      throw_too_many_axes(dims, op);
    std::size_t bits = 0;
    for (std::size_t i = 0; i < dims.size(); ++i) {
      dims_[i] = dims[i];
      bits |= dims[i];
    }
    rank_ = dims.size();
    // rank_ extents below 2^w each multiply to less than 2^(w rank_), and
    // 2^60 - 1 <= max_numel.
    if (static_cast<std::size_t>(std::bit_width(bits)) * rank_ > 60) [[unlikely]]
      check_numel(op);
  }

  std::size_t rank() const noexcept { return rank_; }
  std::size_t numel() const noexcept {
    std::size_t n = 1;
    for (std::size_t i = 0; i < rank_; ++i) n *= dims_[i];
    return n;
  }
  // Read-only: a shape changes only through a constructor or with_extent(),
  // which check it.
  std::size_t operator[](std::size_t axis) const noexcept { return dims_[axis]; }
  const std::size_t* begin() const noexcept { return dims_.data(); }
  const std::size_t* end() const noexcept { return dims_.data() + rank_; }
  std::span<const std::size_t> dims() const noexcept { return {dims_.data(), rank_}; }

  // This shape with axis `axis` (< rank()) of extent `extent`, checked like a
  // new shape (errors name `op`).
  Shape with_extent(std::size_t axis, std::size_t extent, const char* op = "Shape") const;

  // Row-major strides in elements.
  std::array<std::size_t, max_rank> strides() const noexcept;

  // Inline: every op compares shapes on its fast path.
  friend bool operator==(const Shape& a, const Shape& b) noexcept {
    if (a.rank_ != b.rank_) return false;
    for (std::size_t i = 0; i < a.rank_; ++i)
      if (a.dims_[i] != b.dims_[i]) return false;
    return true;
  }
  std::string to_string() const;  // "[4, 2]"

 private:
  [[noreturn]] static void throw_too_many_axes(std::span<const std::size_t> dims, const char* op);
  void check_numel(const char* op) const;  // the exact count; throws std::length_error naming op

  std::array<std::size_t, max_rank> dims_{};
  std::size_t rank_ = 0;
};

// The broadcast shape of a and b (NumPy rules: align trailing axes; extents
// must match or one of them be 1). Throws std::invalid_argument naming `op`
// and both shapes when they do not broadcast, std::length_error when the
// result has too many elements.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Normalises a possibly negative axis for a tensor of rank `rank`; throws
// std::out_of_range naming `op` when it is out of range.
std::size_t normalize_axis(std::int64_t axis, std::size_t rank, const char* op);

}  // namespace ad
