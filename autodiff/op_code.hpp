// Op identity on the scalar tape: one byte per recorded node, generated from the
// op lists in scalar_ops.hpp. Keeping the identity (and not only partial
// derivatives) is what lets the graph be walked, printed and exported, and a
// backward sweep be recorded for higher-order derivatives.
#pragma once

#include <cstdint>
#include <string_view>

#include <autodiff/scalar_ops.hpp>

namespace ad {

// Binary ops come in three forms: both operands on the tape, a constant right
// operand (`x * 2.0`, code `mul_vc`) and a constant left operand (`1.0 - x`,
// code `sub_cv`). Constants are not tape nodes; they are kept beside the tape.
enum class OpCode : std::uint8_t {
  leaf,  // an independent variable: a Var made from a double on an active tape
#define AD_UNARY_CODE(name, Struct) name,
  AD_UNARY_OPS(AD_UNARY_CODE)
#undef AD_UNARY_CODE
#define AD_BINARY_CODE(name, Struct) name, name##_vc, name##_cv,
  AD_BINARY_OPS(AD_BINARY_CODE)
#undef AD_BINARY_CODE
  custom_unary,   // a user-defined op (ad::CustomOp), one operand
  custom_binary,  // a user-defined op, two operands
  // Reductions over any number of Vars, one node each (scalar_reductions.hpp).
  // Their codes start at 64: the sweep tells them from the two-operand ops
  // by one bit (detail::Node).
  sum = 64,      // x_0 + x_1 + ...
  dot,           // x . y, both spans of Vars
  dot_constant,  // x . w, w constant weights
  squared_norm,  // x_0^2 + x_1^2 + ...
  logsumexp,     // log(e^x_0 + e^x_1 + ...)
  count_
};
static_assert(static_cast<int>(OpCode::custom_binary) < static_cast<int>(OpCode::sum),
              "the two-operand op codes must stay below 64 (detail::Node)");

inline constexpr int op_code_count = static_cast<int>(OpCode::count_);

#define AD_COUNT_ONE(name, Struct) +1
inline constexpr int unary_op_count = 0 AD_UNARY_OPS(AD_COUNT_ONE);
#undef AD_COUNT_ONE

// True for the codes of the op table's unary list (they follow leaf).
constexpr bool is_unary(OpCode code) noexcept {
  const int i = static_cast<int>(code);
  return i >= 1 && i <= unary_op_count;
}

// How an op reads its operands.
enum class OperandKinds : std::uint8_t {
  none,            // leaf
  var,             // unary
  var_var,         // binary, both on the tape
  var_constant,    // binary, constant right operand
  constant_var,    // binary, constant left operand
  many,            // a reduction: any number of operands, its partials kept beside the tape
};

struct OpInfo {
  std::string_view name;  // the maths name: "mul" for mul, mul_vc and mul_cv
  OperandKinds operands;
};

// Name and operand layout of an op code (constexpr table, no allocation).
OpInfo op_info(OpCode code) noexcept;

// A unary op chosen at run time (nn's activations): its value y = op(x) and
// its derivative dy/dx at x (given y = op(x)), from the op table on doubles.
// Throw std::invalid_argument for a code that is not a unary op of the table.
double unary_value(OpCode code, double x);
double unary_derivative(OpCode code, double x, double y);

}  // namespace ad
