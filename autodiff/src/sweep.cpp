// The reverse sweep: one pass over the tape from the root down to node 0.
// Nothing here knows any op: the partials were taken from the op table
// (scalar_ops.hpp) when each op was recorded.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include <autodiff/cpu_dispatch.hpp>
#include <autodiff/tape.hpp>
#include <autodiff/var.hpp>

namespace ad {

// adj[k + scratch] holds d(root)/d(node k) once every node after k has been
// swept (adj[0 .. scratch) are the scratch slots of missing operands,
// detail::Node); the loop
// pushes it to k's operands with the partials recorded beside the node (the
// chain rule): two multiply-adds per node, whatever the op, no dispatch and
// no recomputation. A node whose adjoint is exactly 0 pushes nothing, so an
// infinite partial on a branch the root does not depend on (sqrt at 0, say)
// yields 0, not NaN. `checked` (anomaly mode) also verifies every adjoint it
// produces.
template <bool checked>
void Tape::sweep(std::uint32_t root) {
  constexpr std::uint32_t scratch = detail::scratch_slots;
  const detail::Node* nodes = nodes_;
  double* adj = adjoints_.data();
  // Below leading_leaves_ every node is a leaf: nothing to push.
  const std::uint32_t stop = std::min(leading_leaves_, root);
  // Most ops read the op recorded just before them (s += x, p *= x, f(g(x))),
  // so what node k sends to node k - 1 would be stored and read back by the
  // very next iteration: a chain through store-to-load forwarding on every
  // node. Instead it is kept in registers (`pending` contributions, 1 or 2,
  // x * x sending two) and added to the adjoint read from memory when the
  // loop reaches k - 1, in the order memory would have added them: the same
  // bits. The branches are on operand distances, which repeat with the
  // user's loop and predict well (docs/decisions/0021-sweep-carry.md).
  int pending = 0;
  double carry_first = 0.0, carry_second = 0.0;
  for (std::uint32_t k = root + 1; k-- > stop;) {
    double g = adj[std::size_t{k} + scratch];
    if (pending != 0) {
      g += carry_first;
      if (pending == 2) g += carry_second;
      adj[std::size_t{k} + scratch] = g;
      pending = 0;
    }
    if ((std::bit_cast<std::uint64_t>(g) << 1) == 0) [[unlikely]]  // +0 or -0, tested on the bits
      continue;
    const detail::Node& n = nodes[k];
    if (n.word & detail::many_operands)
        [[unlikely]] {  // a reduction: its operands and partials beside the tape, or runs
      if (n.word & detail::operand_mask << detail::operand_bits) {
        sweep_runs<checked>(k, g);
        continue;
      }
      const auto first = static_cast<std::size_t>(n.da), count = static_cast<std::size_t>(n.db);
      for (std::size_t i = first; i < first + count; ++i) {
        const std::uint32_t input = many_inputs_[i];
        const double contribution = g * many_partials_[i];
        adj[std::size_t{input} + scratch] += contribution;
        if constexpr (checked)
          if (!std::isfinite(adj[std::size_t{input} + scratch])) [[unlikely]]
            report_adjoint_anomaly(k, input, g, contribution);
      }
      continue;
    }
    const auto field_a = static_cast<std::uint32_t>((n.word >> detail::operand_bits) & detail::operand_mask);
    const auto field_b = static_cast<std::uint32_t>(n.word & detail::operand_mask);
    const std::uint32_t spare = k % scratch;  // compiled to selects, not branches
    const std::uint32_t slot_a = field_a != detail::no_operand ? field_a : spare;
    const std::uint32_t slot_b = field_b != detail::no_operand ? field_b : spare;
    if constexpr (!checked) {
      // What goes to node k - 1, the next node swept, stays in registers
      // (see `pending`); the rest goes through memory.
      const std::uint32_t previous = k - 1 + scratch;
      if (slot_a == previous) {
        carry_first = g * n.da;
        pending = 1;
        if (slot_b == previous) {
          carry_second = g * n.db;
          pending = 2;
        } else {
          adj[slot_b] += g * n.db;
        }
      } else if (slot_b == previous) {
        adj[slot_a] += g * n.da;
        carry_first = g * n.db;
        pending = 1;
      } else {
        adj[slot_a] += g * n.da;
        adj[slot_b] += g * n.db;
      }
      continue;
    }
    adj[slot_a] += g * n.da;
    adj[slot_b] += g * n.db;
    if constexpr (checked) {
      if (field_a != detail::no_operand && !std::isfinite(adj[slot_a])) [[unlikely]]
        report_adjoint_anomaly(k, field_a - scratch, g, g * n.da);
      if (field_b != detail::no_operand && !std::isfinite(adj[slot_b])) [[unlikely]]
        report_adjoint_anomaly(k, field_b - scratch, g, g * n.db);
    }
  }
  if (pending != 0) {  // the last node swept sent to the leaf before it
    double& last = adj[std::size_t{stop} - 1 + scratch];
    last += carry_first;
    if (pending == 2) last += carry_second;
  }
}

namespace {

// adj[i] += g * from[i].value for i < count: a dot's sweep over one run. The
// adjoints are not the records (restrict), so the loop runs several adjoints
// per instruction, in the widest vectors the CPU has (AD_CPU_CLONES); each
// adjoint gets the same product and sum as one at a time.
AD_CPU_CLONES void add_scaled_values(double* __restrict adj, const detail::Node* __restrict from,
                                     std::uint32_t count, double g) {
  for (std::uint32_t i = 0; i < count; ++i) adj[i] += g * from[i].value;
}

// adj[i] += g * (2 x_i) for i < count: squared_norm's sweep over a run, in
// the widest vectors as above (2 x_i exact, as the list form's partial).
AD_CPU_CLONES void add_scaled_doubled_values(double* __restrict adj, const detail::Node* __restrict from,
                                             std::uint32_t count, double g) {
  for (std::uint32_t i = 0; i < count; ++i) adj[i] += g * (2.0 * from[i].value);
}

// Both halves of a dot's sweep over two runs that share no node, in one pass:
// adj_x[i] += g * y[i].value and adj_y[i] += g * x[i].value. Each adjoint
// gets the product and sum the two calls above would give it (no adjoint is
// in both runs, so the order between the halves changes no bit), for one
// call and one loop instead of two.
AD_CPU_CLONES void add_scaled_value_pairs(double* __restrict adj_x, double* __restrict adj_y,
                                          const detail::Node* __restrict x, const detail::Node* __restrict y,
                                          std::uint32_t count, double g) {
  for (std::uint32_t i = 0; i < count; ++i) {
    adj_x[i] += g * y[i].value;
    adj_y[i] += g * x[i].value;
  }
}

// Runs shorter than this are swept inline: the vector clones' indirect call
// and prologue cost more than a few scalar updates (bench_gmm at d = 2).
constexpr std::uint32_t short_run = 8;

}  // namespace

// The partials of a reduction over runs, computed from the operands' values
// as its recording computed the stored ones (scalar_reductions.cpp): the same
// bits, sent in the same operand order as the list form would.
template <bool checked>
void Tape::sweep_runs(std::uint32_t k, double g) {
  const detail::Node& n = nodes_[k];
  double* adj = adjoints_.data() + detail::scratch_slots;  // adj[id]
  const std::uint32_t a = n.a(), count = static_cast<std::uint32_t>(n.da);
  const detail::Node* x = nodes_ + a;
  auto send = [&](std::uint32_t input, double contribution) {
    adj[input] += contribution;
    if constexpr (checked)
      if (!std::isfinite(adj[input])) [[unlikely]]
        report_adjoint_anomaly(k, input, g, contribution);
  };
  switch (n.op()) {
    case OpCode::dot: {  // operands x then y: d/dx_i = y_i, d/dy_i = x_i
      const std::uint32_t b = n.b();
      const detail::Node* y = nodes_ + b;
      // The hot loop of a dot of long runs. x's half first, as the list form
      // sends: the order matters only where the runs overlap (dot(x, x)).
      if (!checked && count >= short_run) {
        if (a + count <= b || b + count <= a) {
          add_scaled_value_pairs(adj + a, adj + b, x, y, count, g);
        } else {
          add_scaled_values(adj + a, y, count, g);
          add_scaled_values(adj + b, x, count, g);
        }
      } else {
        for (std::uint32_t i = 0; i < count; ++i) send(a + i, g * y[i].value);
        for (std::uint32_t i = 0; i < count; ++i) send(b + i, g * x[i].value);
      }
      break;
    }
    case OpCode::sum:  // d/dx_i = 1
      for (std::uint32_t i = 0; i < count; ++i) send(a + i, g * 1.0);
      break;
    case OpCode::squared_norm:  // d/dx_i = 2 x_i
      if (!checked && count >= short_run)
        add_scaled_doubled_values(adj + a, x, count, g);
      else
        for (std::uint32_t i = 0; i < count; ++i) send(a + i, g * (2.0 * x[i].value));
      break;
    case OpCode::logsumexp:  // d/dx_i = exp(x_i - y)
      for (std::uint32_t i = 0; i < count; ++i) send(a + i, g * std::exp(x[i].value - n.value));
      break;
    default:
      throw std::logic_error(
          fmt::format("ad::Tape::backward: node #{} ({}) is recorded over runs, which only "
                      "sum, dot, squared_norm and logsumexp are",
                      k, op_info(n.op()).name));
  }
}

void Tape::report_adjoint_anomaly(std::uint32_t node, std::uint32_t input, double adjoint,
                                  double contribution) const {
  const NodeView v = this->node(node);
  std::string inputs;
  for (std::uint32_t i = 0; i < v.input_count; ++i)
    inputs += fmt::format("{}#{} = {}", i ? ", " : "", v.input(i), nodes_[v.input(i)].value);
  if (v.has_constant) inputs += fmt::format(", constant {}", v.constant);
  const std::source_location* where = location_of(node);
  throw AnomalyError(
      fmt::format("ad::DetectAnomaly: the backward of {} (node #{}, value {}, inputs {}) sent {} to node #{} "
                  "(adjoint of the "
                  "output {}), recorded at {}",
                  v.name, node, nodes_[node].value, inputs, contribution, input, adjoint,
                  where ? detail::source_text(*where)
                        : std::string("an unknown place (recorded before anomaly detection was on)")));
}

void Tape::backward(const Var& root) {
  check_index(root, "backward");
  adjoints_.assign(std::size_t{root.id_} + 1 + detail::scratch_slots, 0.0);
  adjoints_[std::size_t{root.id_} + detail::scratch_slots] = 1.0;
  if (anomaly_)
    sweep<true>(root.id_);
  else
    sweep<false>(root.id_);
}

double Tape::adjoint(const Var& v) const {
  check_index(v, "adjoint");
  mark_input(v.id_);
  const std::size_t slot = std::size_t{v.id_} + detail::scratch_slots;
  return slot < adjoints_.size() ? adjoints_[slot] : 0.0;
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
