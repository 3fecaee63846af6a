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
#include "node_partials.hpp"

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
      case OperandKinds::many: {            // a reduction keeps no partials when over runs: from the formulas
        const Dual1 unknown{n.value, 0.0};  // y's tangent: no reduction's partial reads it
        double t = 0.0;
        send_partials(
            n, unknown, value_of,
            [&](std::uint32_t input, const Dual1& partial) { t += partial.v * tangent[input]; },
            tape.many_inputs_, tape.many_partials_);
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
    auto send = [&](std::uint32_t input, const Dual1& partial) {
      adjoint[input] += g * partial.v;
      adjoint_tangent[input] += g_tangent * partial.v + g * partial.d;
    };
    if (!send_partials(nodes[k], value_of(k), value_of, send, tape.many_inputs_, tape.many_partials_))
      throw_no_second_derivative("ad::hvp", tape, k);
  }
  std::vector<double> out(xs.size(), 0.0);
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (xs[i].id_ <= root) out[i] = adjoint_tangent[xs[i].id_];
  return out;
}

}  // namespace ad::detail
