// Not API: the scalar tape's record layout, here only because recording is
// inline (ad::Var's operators append a record without a call, which is what
// keeps scalar recording as fast as the fastest operator-overloading tapes;
// docs/decisions/0001-scalar-tape-layout.md). User code never names these;
// they may change in any release.
#pragma once

#include <cstdint>

#include <autodiff/op_code.hpp>

namespace ad::detail {

// Operand indices get 28 bits each and the op code 8: 2^28 (268 million)
// nodes per tape, about 6.4 GB of tape. Recording beyond that throws.
inline constexpr unsigned operand_bits = 28;
inline constexpr std::uint64_t operand_mask = (std::uint64_t{1} << operand_bits) - 1;
inline constexpr std::uint32_t max_nodes = static_cast<std::uint32_t>(operand_mask);

// One 16-byte record per node: its value, and {op code, operand a, operand b}
// packed in 64 bits. A leaf has no operands; its b field says whether it is
// an input (named, or differentiated with respect to) rather than a literal.
struct Node {
  double value;
  std::uint64_t word;  // op code << 56 | a << 28 | b

  OpCode op() const noexcept { return static_cast<OpCode>(word >> 56); }
  std::uint32_t a() const noexcept {
    return static_cast<std::uint32_t>((word >> operand_bits) & operand_mask);
  }
  std::uint32_t b() const noexcept { return static_cast<std::uint32_t>(word & operand_mask); }
};
static_assert(sizeof(Node) == 16);

constexpr std::uint64_t pack(OpCode op, std::uint32_t a, std::uint32_t b) noexcept {
  return (std::uint64_t{static_cast<std::uint8_t>(op)} << 56) | (std::uint64_t{a} << operand_bits) | b;
}

// The b field of a leaf that is an input (see Node).
inline constexpr std::uint32_t leaf_is_input = 1;

}  // namespace ad::detail
