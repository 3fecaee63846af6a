// The reverse sweep: one pass over the tape from the root down to node 0.
// Each case is generated from the op table (scalar_ops.hpp); nothing here
// knows any op's derivative.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cmath>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include <autodiff/custom_op.hpp>
#include <autodiff/scalar_ops.hpp>
#include <autodiff/tape.hpp>
#include <autodiff/var.hpp>

namespace ad {

// adj[k] holds d(root)/d(node k) once every node after k has been swept; the
// loop pushes it to k's inputs with the local partials (the chain rule). A
// node whose adjoint is exactly 0 pushes nothing, so an infinite partial on a
// branch the root does not depend on (sqrt at 0, say) yields 0, not NaN.
// `checked` (anomaly mode) also verifies every adjoint it produces.
template <bool checked>
void Tape::sweep(std::uint32_t root) {
  const detail::Node* nodes = nodes_;
  const double* constants = constants_.data();
  double* adj = adjoints_.data();
  // Below leading_leaves_ every node is a leaf: nothing to push.
  const std::uint32_t stop = std::min(leading_leaves_, root);
  for (std::uint32_t k = root + 1; k-- > stop;) {
    const double g = adj[k];
    if ((std::bit_cast<std::uint64_t>(g) << 1) == 0) [[unlikely]]  // +0 or -0, tested on the bits
      continue;
    const detail::Node& n = nodes[k];
    const double y = n.value;
    // adj[input] += contribution, verified in anomaly mode.
    auto push = [&](std::uint32_t input, double contribution) {
      adj[input] += contribution;
      if constexpr (checked)
        if (!std::isfinite(adj[input])) [[unlikely]]
          report_adjoint_anomaly(k, input, g, contribution);
    };
    switch (n.op()) {
      case OpCode::leaf:
        break;
#define AD_SWEEP_UNARY(name, Struct)                                          \
  case OpCode::name:                                                          \
    push(n.a(), g * ops::Struct::derivative(nodes[n.a()].value, y));          \
    break;
        AD_UNARY_OPS(AD_SWEEP_UNARY)
#undef AD_SWEEP_UNARY
#define AD_SWEEP_BINARY(name, Struct)                                         \
  case OpCode::name: {                                                        \
    const double a = nodes[n.a()].value, b = nodes[n.b()].value;              \
    push(n.a(), g * ops::Struct::d_a(a, b, y));                               \
    push(n.b(), g * ops::Struct::d_b(a, b, y));                               \
    break;                                                                    \
  }                                                                           \
  case OpCode::name##_vc: {                                                   \
    const double a = nodes[n.a()].value, c = constants[n.b()];                \
    push(n.a(), g * ops::Struct::d_a(a, c, y));                               \
    break;                                                                    \
  }                                                                           \
  case OpCode::name##_cv: {                                                   \
    const double c = constants[n.b()], b = nodes[n.a()].value;                \
    push(n.a(), g * ops::Struct::d_b(c, b, y));                               \
    break;                                                                    \
  }
        AD_BINARY_OPS(AD_SWEEP_BINARY)
#undef AD_SWEEP_BINARY
      case OpCode::custom_unary: {
        const detail::CustomScalarOp& op = custom_op(k);
        push(n.a(), g * op.derivative1(nodes[n.a()].value, y));
        break;
      }
      case OpCode::custom_binary: {
        const detail::CustomScalarOp& op = custom_op(k);
        const double a = nodes[n.a()].value, b = nodes[n.b()].value;
        push(n.a(), g * op.d_a(a, b, y));
        push(n.b(), g * op.d_b(a, b, y));
        break;
      }
      case OpCode::count_:
        break;
    }
  }
}

void Tape::report_adjoint_anomaly(std::uint32_t node, std::uint32_t input, double adjoint, double contribution) const {
  const NodeView v = this->node(node);
  std::string inputs;
  for (std::uint32_t i = 0; i < v.input_count; ++i)
    inputs += fmt::format("{}#{} = {}", i ? ", " : "", v.inputs[i], nodes_[v.inputs[i]].value);
  if (v.has_constant) inputs += fmt::format(", constant {}", v.constant);
  const std::source_location* where = location_of(node);
  throw AnomalyError(fmt::format(
      "ad::DetectAnomaly: the backward of {} (node #{}, value {}, inputs {}) sent {} to node #{} (adjoint of the "
      "output {}), recorded at {}",
      v.name, node, nodes_[node].value, inputs, contribution, input, adjoint,
      where ? detail::source_text(*where) : std::string("an unknown place (recorded before anomaly detection was on)")));
}

void Tape::backward(const Var& root) {
  check_index(root, "backward");
  adjoints_.assign(std::size_t{root.id_} + 1, 0.0);
  adjoints_[root.id_] = 1.0;
  if (anomaly_)
    sweep<true>(root.id_);
  else
    sweep<false>(root.id_);
}

double Tape::adjoint(const Var& v) const {
  check_index(v, "adjoint");
  mark_input(v.id_);
  return v.id_ < adjoints_.size() ? adjoints_[v.id_] : 0.0;
}

void Tape::check_index(const Var& v, const char* what) const {
  if (v.stamp_ == stamp_ && v.id_ < size()) [[likely]]
    return;
  if (v.stamp_ == 0)
    throw std::logic_error(std::string("ad::Tape::") + what +
                           ": the Var is a constant (made with no tape recording, or computed from constants "
                           "only), not a node of this tape");
  if (v.stamp_ == previous_stamp_)
    throw std::logic_error(std::string("ad::Tape::") + what + ": the Var (node " + std::to_string(v.id_) +
                           ") was recorded before this tape's clear(); it is stale");
  throw std::logic_error(std::string("ad::Tape::") + what + ": the Var (node " + std::to_string(v.id_) +
                         ") belongs to another tape, or to a recording that was cleared or destroyed");
}

}  // namespace ad
