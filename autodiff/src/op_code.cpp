#include <array>
#include <stdexcept>

#include <fmt/format.h>

#include <autodiff/detail/scalar_record.hpp>
#include <autodiff/op_code.hpp>

namespace ad {
namespace {

constexpr std::array<OpInfo, op_code_count> make_op_table() {
  std::array<OpInfo, op_code_count> table{};
  std::size_t i = 0;
  table[i++] = {"leaf", OperandKinds::none};
#define AD_UNARY_INFO(name, Struct) table[i++] = {#name, OperandKinds::var};
  AD_UNARY_OPS(AD_UNARY_INFO)
#undef AD_UNARY_INFO
#define AD_BINARY_INFO(name, Struct)                \
  table[i++] = {#name, OperandKinds::var_var};      \
  table[i++] = {#name, OperandKinds::var_constant}; \
  table[i++] = {#name, OperandKinds::constant_var};
  AD_BINARY_OPS(AD_BINARY_INFO)
#undef AD_BINARY_INFO
  table[i++] = {"custom", OperandKinds::var};
  table[i++] = {"custom", OperandKinds::var_var};
  while (i < static_cast<std::size_t>(OpCode::sum)) table[i++] = {"invalid", OperandKinds::none};
  table[i++] = {"sum", OperandKinds::many};
  table[i++] = {"dot", OperandKinds::many};
  table[i++] = {"dot", OperandKinds::many};
  table[i++] = {"squared_norm", OperandKinds::many};
  table[i++] = {"logsumexp", OperandKinds::many};
  return table;
}

constexpr std::array<OpInfo, op_code_count> op_table = make_op_table();

}  // namespace

OpInfo op_info(OpCode code) noexcept {
  const auto i = static_cast<std::size_t>(code);
  return i < op_table.size() ? op_table[i] : OpInfo{"invalid", OperandKinds::none};
}

namespace {
[[noreturn]] void throw_not_unary(const char* function, OpCode code) {
  throw std::invalid_argument(fmt::format("ad::{}: '{}' (op code {}) is not a unary op of the op table",
                                          function, op_info(code).name, static_cast<int>(code)));
}
}  // namespace

double unary_value(OpCode code, double x) {
  switch (code) {
#define AD_UNARY_VALUE(name, Struct) \
  case OpCode::name:                 \
    return ops::Struct::value(x);
    AD_UNARY_OPS(AD_UNARY_VALUE)
#undef AD_UNARY_VALUE
    default:
      break;
  }
  throw_not_unary("unary_value", code);
}

double unary_derivative(OpCode code, double x, double y) {
  switch (code) {
#define AD_UNARY_DERIVATIVE(name, Struct) \
  case OpCode::name:                      \
    return ops::Struct::derivative(x, y);
    AD_UNARY_OPS(AD_UNARY_DERIVATIVE)
#undef AD_UNARY_DERIVATIVE
    default:
      break;
  }
  throw_not_unary("unary_derivative", code);
}

namespace detail {

Partials binary_partials(OpCode var_var, double a, double b, double y) {
  switch (var_var) {
#define AD_BINARY_PARTIALS(name, Struct) \
  case OpCode::name:                     \
    return {ops::Struct::d_a(a, b, y), ops::Struct::d_b(a, b, y)};
    AD_BINARY_OPS(AD_BINARY_PARTIALS)
#undef AD_BINARY_PARTIALS
    default:
      break;
  }
  throw std::invalid_argument(
      fmt::format("ad::detail::binary_partials: '{}' (op code {}) is not a binary op of the op table",
                  op_info(var_var).name, static_cast<int>(var_var)));
}

}  // namespace detail

}  // namespace ad
