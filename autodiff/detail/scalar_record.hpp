// Not API: the scalar tape's record layout, here only because recording is
// inline (ad::Var's operators append a record without a call, which is what
// keeps scalar recording as fast as the fastest operator-overloading tapes;
// docs/decisions/0001-scalar-tape-layout.md, 0017-jacobian-records.md). User
// code never names these; they may change in any release.
#pragma once

#include <cstdint>

#include <autodiff/op_code.hpp>

// Recording an op is a stamp check, one record and a call on the slow path
// only; the compiler's own inlining budget runs out in long functions of many
// ops, and a call per op then costs more than the op (the operands go through
// memory to be passed by reference). So the recording functions and the
// operators over them are always inlined.
#if defined(__GNUC__) || defined(__clang__)
#define AD_RECORDING_INLINE [[gnu::always_inline]] inline
#else
#define AD_RECORDING_INLINE inline
#endif

namespace ad::detail {

// Operand fields get 28 bits each, the op code 7 and a leaf's input mark 1.
// A field holds the operand's node id + scratch_slots: 0 names no operand,
// and the sweep's adjoint array starts with scratch slots that absorb what a
// node sends to a missing operand (node k uses slot k % scratch_slots, so
// that consecutive unary ops do not queue on one memory location). Every
// node then sends two contributions and the sweep never branches on the op.
// 2^28 - 9 nodes per tape (about 8.6 GB of records); recording beyond that
// throws.
inline constexpr unsigned operand_bits = 28;
inline constexpr std::uint64_t operand_mask = (std::uint64_t{1} << operand_bits) - 1;
inline constexpr std::uint32_t scratch_slots = 8;
inline constexpr std::uint32_t max_nodes = static_cast<std::uint32_t>(operand_mask) - scratch_slots;
inline constexpr std::uint32_t no_operand = 0;
inline constexpr std::uint64_t op_mask = 0x7F;
inline constexpr std::uint64_t input_mark = std::uint64_t{1} << 63;  // on a leaf: an input, not a literal
// Set for the reductions (op codes >= 64). Two layouts:
// - a list: both operand fields no_operand; the operands and partials are
//   kept beside the tape, `da` holds the offset of the first and `db` the count;
// - runs: the operands are consecutive nodes (ad::dot of two spans each
//   recorded in one go, a squared norm of the results of a loop): field a
//   links the first of the run, field b the first of dot's second run, `da`
//   holds the run's length, and the sweep computes each partial from the
//   operands' values (y_i for x_i in a dot, 2 x_i in a squared norm, ...),
//   the same bits as the stored ones, so a dot of two d-vectors costs 32
//   bytes instead of 24 d. Recorder::run_reduction; Tape::sweep_runs.
inline constexpr std::uint64_t many_operands = std::uint64_t{1} << 62;

// The operand field that names node `id`.
constexpr std::uint32_t link(std::uint32_t id) noexcept { return id + scratch_slots; }

// One 32-byte record per node: its value and {op code, operand a, operand b}
// (what inspection and the recorded backward read), and the two local
// partial derivatives computed when the op was recorded (what the sweep
// reads: adj[a] += g * da, adj[b] += g * db, with no dispatch and no
// recomputation). An op without a second operand has db = 0, except an op
// with a constant operand (`x * 2.0`, `1.0 - x`), which keeps the constant
// there: the sweep sends g * c to the scratch slot, harmlessly, and the
// constant costs no side array.
struct Node {
  double value;
  std::uint64_t word;  // input mark << 63 | op code << 56 | link(a) << 28 | link(b)
  double da;           // d value / d operand a
  double db;           // d value / d operand b, or the constant operand

  OpCode op() const noexcept { return static_cast<OpCode>((word >> 56) & op_mask); }
  // Node ids of the operands (meaningful for the op's operands only).
  std::uint32_t a() const noexcept {
    return static_cast<std::uint32_t>((word >> operand_bits) & operand_mask) - scratch_slots;
  }
  std::uint32_t b() const noexcept { return static_cast<std::uint32_t>(word & operand_mask) - scratch_slots; }
  bool is_marked_input() const noexcept { return (word & input_mark) != 0; }
};
static_assert(sizeof(Node) == 32);
static_assert(op_code_count <= 128, "the op code has 7 bits in Node::word");

// The word of an op: `a` and `b` are operand fields (link(id) or no_operand).
constexpr std::uint64_t pack(OpCode op, std::uint32_t a, std::uint32_t b) noexcept {
  return (std::uint64_t{static_cast<std::uint8_t>(op)} << 56) | (std::uint64_t{a} << operand_bits) | b;
}

// The local partials (dy/da, dy/db) of the binary op `var_var` (the form
// with both operands on the tape) at a, b with y = op(a, b): for the slow
// paths, which know the op only at run time. Throws std::invalid_argument
// for a code that is not a binary op of the table.
struct Partials {
  double a, b;
};
Partials binary_partials(OpCode var_var, double a, double b, double y);

}  // namespace ad::detail
