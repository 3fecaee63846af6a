// The recorded reverse sweep: the same chain rule as src/sweep.cpp, but with
// adjoints and partial derivatives as Vars recorded on the tape, so the
// result can be swept again (Hessian-vector products, Hessians).
#include <stdexcept>

#include <fmt/format.h>

#include <autodiff/custom_op.hpp>
#include <autodiff/higher_order.hpp>
#include <autodiff/scalar_ops.hpp>

#include "reduction_operands.hpp"

namespace ad {

namespace detail {

void Recorder::throw_no_second_derivative(const char* what, const Tape& tape, std::uint32_t k) {
  throw std::logic_error(fmt::format(
      "{}: node {} is the user-defined op '{}', whose derivative is given as plain doubles: it has no "
      "second derivative",
      what, k, tape.custom_op(k).name));
}

std::vector<Var> Recorder::recorded_gradient(const Var& y, std::span<const Var> xs) {
  Tape& tape = owner(y, "gradient_recorded");
  if (active_tape != &tape)
    throw std::logic_error(
        "ad::gradient_recorded: the output's tape must be the one recording (not inside NoGrad or an inner "
        "tape): "
        "the gradient is recorded on it");
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (!tape.owns(xs[i]))
      throw std::logic_error(fmt::format(
          "ad::gradient_recorded: input {} (value {}) is not a Var of the output's tape", i, xs[i].value()));
  tape.mark_inputs(xs);
  const std::uint32_t root = y.id_;
  const std::uint32_t stamp = tape.stamp_;
  // The sweep records a few nodes per node it passes (a partial, a product,
  // a sum): room for them at once, instead of doublings that copy the tape.
  tape.reserve(tape.size() + 4 * (std::size_t{root} + 1));
  std::vector<Var> adj(std::size_t{root} + 1);
  std::vector<char> reached(std::size_t{root} + 1, 0);
  adj[root] = Var(1.0, 0, 0);  // the seed, a constant
  reached[root] = 1;
  // adj[input] += g * partial, recording as little as the partial allows:
  // constant partials of 0, 1 and -1 (sums, differences, steps) add no node.
  auto add = [&](std::uint32_t input, const Var& g, const Var& partial) {
    Var contribution;
    if (partial.is_constant()) {
      const double p = partial.value();
      if (p == 0.0) return;
      contribution = p == 1.0 ? g : (p == -1.0 ? -g : g * p);
    } else if (g.is_constant()) {
      // Adjoints stay constant along linear chains (sums, scalings): the
      // common `f += term` loop needs no node per multiplication by 1.
      const double c = g.value();
      contribution = c == 1.0 ? partial : (c == -1.0 ? -partial : partial * c);
    } else {
      contribution = g * partial;
    }
    adj[input] = reached[input] ? adj[input] + contribution : contribution;
    reached[input] = 1;
  };
  // A handle to an existing node. The tape grows while we sweep (the sweep
  // records), so nodes are read by index every time, never by pointer.
  auto node_var = [&](std::uint32_t id) { return Var(tape.nodes_[id].value, id, stamp); };
  for (std::uint32_t k = root + 1; k-- > 0;) {
    if (!reached[k]) continue;
    const Var g = adj[k];
    const detail::Node n = tape.nodes_[k];  // a copy: the tape may move while we record
    const Var yk = node_var(k);
    switch (n.op()) {
      case OpCode::leaf:
        break;
#define AD_RECORDED_UNARY(name, Struct)                          \
  case OpCode::name:                                             \
    add(n.a(), g, ops::Struct::derivative(node_var(n.a()), yk)); \
    break;
        AD_UNARY_OPS(AD_RECORDED_UNARY)
#undef AD_RECORDED_UNARY
#define AD_RECORDED_BINARY(name, Struct)                \
  case OpCode::name: {                                  \
    const Var a = node_var(n.a()), b = node_var(n.b()); \
    add(n.a(), g, ops::Struct::d_a(a, b, yk));          \
    add(n.b(), g, ops::Struct::d_b(a, b, yk));          \
    break;                                              \
  }                                                     \
  case OpCode::name##_vc: {                             \
    const Var a = node_var(n.a()), c(n.db, 0, 0);       \
    add(n.a(), g, ops::Struct::d_a(a, c, yk));          \
    break;                                              \
  }                                                     \
  case OpCode::name##_cv: {                             \
    const Var c(n.db, 0, 0), b = node_var(n.a());       \
    add(n.a(), g, ops::Struct::d_b(c, b, yk));          \
    break;                                              \
  }
        AD_BINARY_OPS(AD_RECORDED_BINARY)
#undef AD_RECORDED_BINARY
      case OpCode::custom_unary:
      case OpCode::custom_binary:
        throw_no_second_derivative("ad::gradient_recorded", tape, k);
      case OpCode::sum:
      case OpCode::dot:
      case OpCode::dot_constant:
      case OpCode::squared_norm:
      case OpCode::logsumexp: {
        // The lists are read by index: the partials below record ordinary
        // nodes, never reductions, so they do not move.
        const ReductionOperands operands(n, tape.many_inputs_, tape.many_partials_);
        const std::size_t count = operands.count();
        for (std::size_t i = 0; i < count; ++i) {
          const std::uint32_t input = operands.input(i);
          switch (n.op()) {
            case OpCode::sum:           // d/dx_i = 1 (a list's sum may hold -1s)
            case OpCode::dot_constant:  // d/dx_i = w_i, a constant
              add(input, g, Var(operands.stored_partial(i), 0, 0));
              break;
            case OpCode::dot: {  // operands x then y: d/dx_i = y_i, d/dy_i = x_i
              const std::size_t half = count / 2;
              add(input, g, node_var(operands.input(i < half ? i + half : i - half)));
              break;
            }
            case OpCode::squared_norm:  // d/dx_i = 2 x_i
              add(input, g, 2.0 * node_var(input));
              break;
            default:  // logsumexp: d/dx_i = exp(x_i - y)
              add(input, g, exp(node_var(input) - yk));
              break;
          }
        }
        break;
      }
      case OpCode::count_:
        break;
    }
  }
  std::vector<Var> out(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (xs[i].id_ <= root && reached[xs[i].id_]) out[i] = adj[xs[i].id_];
  return out;
}

}  // namespace detail

std::vector<Var> gradient_recorded(const Var& y, std::span<const Var> xs) {
  if (y.is_constant()) return std::vector<Var>(xs.size());
  return detail::Recorder::recorded_gradient(y, xs);
}

}  // namespace ad
