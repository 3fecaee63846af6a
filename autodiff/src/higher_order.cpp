// The recorded reverse sweep: the same chain rule as src/sweep.cpp, but with
// adjoints and partial derivatives as Vars recorded on the tape, so the
// result can be swept again (Hessian-vector products, Hessians).
#include <stdexcept>

#include <fmt/format.h>

#include <autodiff/custom_op.hpp>
#include <autodiff/higher_order.hpp>
#include <autodiff/scalar_ops.hpp>

#include "node_partials.hpp"

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
    // The partials record ordinary nodes, never reductions: the reduction
    // lists do not move.
    if (!send_partials(
            n, node_var(k), node_var,
            [&](std::uint32_t input, const Var& partial) { add(input, g, partial); }, tape.many_inputs_,
            tape.many_partials_))
      throw_no_second_derivative("ad::gradient_recorded", tape, k);
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
