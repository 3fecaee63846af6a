// ad::Shape: the extents of a row-major n-d array (up to 8 axes, stored inline
// so shapes never allocate), and NumPy's broadcasting rule.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

namespace ad {

class Shape {
 public:
  static constexpr std::size_t max_rank = 8;

  Shape() noexcept = default;  // rank 0: a scalar (one element)
  Shape(std::initializer_list<std::size_t> dims);
  explicit Shape(std::span<const std::size_t> dims);

  std::size_t rank() const noexcept { return rank_; }
  std::size_t numel() const noexcept {
    std::size_t n = 1;
    for (std::size_t i = 0; i < rank_; ++i) n *= dims_[i];
    return n;
  }
  std::size_t operator[](std::size_t axis) const noexcept { return dims_[axis]; }
  std::size_t& operator[](std::size_t axis) noexcept { return dims_[axis]; }
  const std::size_t* begin() const noexcept { return dims_.data(); }
  const std::size_t* end() const noexcept { return dims_.data() + rank_; }
  std::span<const std::size_t> dims() const noexcept { return {dims_.data(), rank_}; }

  // Row-major strides in elements (0 for axes of extent 1 when `broadcast` is
  // true, so an index walk re-reads the single element).
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
  std::array<std::size_t, max_rank> dims_{};
  std::size_t rank_ = 0;
};

// The broadcast shape of a and b (NumPy rules: align trailing axes; extents
// must match or one of them be 1). Throws std::invalid_argument naming `op`
// and both shapes when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Normalises a possibly negative axis for a tensor of rank `rank`; throws
// std::out_of_range naming `op` when it is out of range.
std::size_t normalize_axis(std::int64_t axis, std::size_t rank, const char* op);

}  // namespace ad
