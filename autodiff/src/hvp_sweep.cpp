// Hessian-vector products by forward over reverse on the recorded tape,
// recording nothing: a forward pass carries each node's derivative along the
// direction v (its tangent), then one reverse sweep carries each adjoint and
// the adjoint's own derivative along v. A node's partial and the partial's
// derivative along v come from the op table's formula run on dual numbers
// (dual_scalar.hpp), so no second-derivative formula is written anywhere.
// The recorded backward (higher_order.cpp) gives the same numbers by
// recording the sweep and sweeping it again, at the cost of ~4 nodes per node
// (docs/decisions/0020-hvp-forward-over-reverse.md).
#include <stdexcept>

#include <fmt/format.h>

#include <autodiff/custom_op.hpp>
#include <autodiff/higher_order.hpp>

#include "dual_scalar.hpp"
#include "reduction_operands.hpp"

namespace ad::detail {

std::vector<double> Recorder::hvp_sweep(const Var& y, std::span<const Var> xs, std::span<const double> v) {
  if (v.size() != xs.size())
    throw std::invalid_argument(
        fmt::format("ad::hvp: direction has {} entries for {} inputs", v.size(), xs.size()));
  Tape& tape = owner(y, "hvp");
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (!tape.owns(xs[i]))
      throw std::logic_error(
          fmt::format("ad::hvp: input {} (value {}) is not a Var of the output's tape", i, xs[i].value()));
  const std::uint32_t root = y.id_;
  const std::size_t count = std::size_t{root} + 1;
  const Node* nodes = tape.nodes_;  // nothing is recorded below: the records stay put
  const std::uint32_t first_op = std::min(tape.leading_leaves_, root);

  // Forward: the tangent of every node, from the stored partials (the
  // inputs' tangents are v; every other leaf is a constant).
  std::vector<double> tangent(count, 0.0);
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (xs[i].id_ <= root) tangent[xs[i].id_] += v[i];
  auto value_of = [&](std::uint32_t id) { return Dual1{nodes[id].value, tangent[id]}; };
  // The partial of reduction k with respect to its operand i, with its
  // derivative along v (needs node k's tangent: in the reverse sweep only).
  auto reduction_partial = [&](const Node& n, const ReductionOperands& operands, std::size_t i,
                               const Dual1& yk) -> Dual1 {
    switch (n.op()) {
      case OpCode::sum:           // d/dx_i = 1 (a list's sum may hold -1s)
      case OpCode::dot_constant:  // d/dx_i = w_i, a constant
        return Dual1::constant(operands.stored_partial(i));
      case OpCode::dot: {  // operands x then y: d/dx_i = y_i, d/dy_i = x_i
        const std::size_t half = operands.count() / 2;
        return value_of(operands.input(i < half ? i + half : i - half));
      }
      case OpCode::squared_norm:  // d/dx_i = 2 x_i
        return 2.0 * value_of(operands.input(i));
      default:  // logsumexp: d/dx_i = exp(x_i - y)
        return exp(value_of(operands.input(i)) - yk);
    }
  };
  for (std::uint32_t k = first_op; k <= root; ++k) {
    const Node& n = nodes[k];
    switch (op_info(n.op()).operands) {
      case OperandKinds::none:  // a leaf
        break;
      case OperandKinds::var:  // unary ops, user-defined ones included
      case OperandKinds::var_constant:
      case OperandKinds::constant_var:
        tangent[k] = n.da * tangent[n.a()];
        break;
      case OperandKinds::var_var:
        tangent[k] = n.da * tangent[n.a()] + n.db * tangent[n.b()];
        break;
      case OperandKinds::many: {
        const ReductionOperands operands(n, tape.many_inputs_, tape.many_partials_);
        const Dual1 unused{n.value, 0.0};  // no partial below reads y's tangent
        double t = 0.0;
        for (std::size_t i = 0; i < operands.count(); ++i)
          t += reduction_partial(n, operands, i, unused).v * tangent[operands.input(i)];
        tangent[k] = t;
        break;
      }
    }
  }

  // Reverse: adjoint[i] += g p, adjoint_tangent[i] += g' p + g p', where p is
  // the partial of node k in operand i and ' the derivative along v.
  std::vector<double> adjoint(count, 0.0), adjoint_tangent(count, 0.0);
  adjoint[root] = 1.0;
  for (std::uint32_t k = root + 1; k-- > first_op;) {
    const double g = adjoint[k], g_tangent = adjoint_tangent[k];
    if (g == 0.0 && g_tangent == 0.0) continue;  // nothing reaches the root through k
    const Node& n = nodes[k];
    const Dual1 yk = value_of(k);
    auto send = [&](std::uint32_t input, const Dual1& partial) {
      adjoint[input] += g * partial.v;
      adjoint_tangent[input] += g_tangent * partial.v + g * partial.d;
    };
    switch (n.op()) {
      case OpCode::leaf:
        break;
#define AD_HVP_UNARY(name, Struct)                             \
  case OpCode::name:                                           \
    send(n.a(), ops::Struct::derivative(value_of(n.a()), yk)); \
    break;
        AD_UNARY_OPS(AD_HVP_UNARY)
#undef AD_HVP_UNARY
#define AD_HVP_BINARY(name, Struct)                                            \
  case OpCode::name: {                                                         \
    const Dual1 a = value_of(n.a()), b = value_of(n.b());                      \
    send(n.a(), ops::Struct::d_a(a, b, yk));                                   \
    send(n.b(), ops::Struct::d_b(a, b, yk));                                   \
    break;                                                                     \
  }                                                                            \
  case OpCode::name##_vc:                                                      \
    send(n.a(), ops::Struct::d_a(value_of(n.a()), Dual1::constant(n.db), yk)); \
    break;                                                                     \
  case OpCode::name##_cv:                                                      \
    send(n.a(), ops::Struct::d_b(Dual1::constant(n.db), value_of(n.a()), yk)); \
    break;
        AD_BINARY_OPS(AD_HVP_BINARY)
#undef AD_HVP_BINARY
      case OpCode::custom_unary:
      case OpCode::custom_binary:
        throw_no_second_derivative("ad::hvp", tape, k);
      case OpCode::sum:
      case OpCode::dot:
      case OpCode::dot_constant:
      case OpCode::squared_norm:
      case OpCode::logsumexp: {
        const ReductionOperands operands(n, tape.many_inputs_, tape.many_partials_);
        for (std::size_t i = 0; i < operands.count(); ++i)
          send(operands.input(i), reduction_partial(n, operands, i, yk));
        break;
      }
      case OpCode::count_:
        break;
    }
  }
  std::vector<double> out(xs.size(), 0.0);
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (xs[i].id_ <= root) out[i] = adjoint_tangent[xs[i].id_];
  return out;
}

}  // namespace ad::detail
