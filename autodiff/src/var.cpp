// The slow paths of recording: no active tape, constant operands, Vars of
// enclosing tapes (read as constants), and stale or foreign Vars (errors).
#include <cmath>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include <autodiff/var.hpp>

namespace ad::detail {
namespace {

enum class Operand { recorded, constant };

const Tape* find_live_tape(std::uint32_t stamp) noexcept {
  for (const Tape* t = innermost_tape; t != nullptr; t = t->enclosing())
    if (t->stamp() == stamp) return t;
  return nullptr;
}

[[noreturn]] void throw_stale(OpCode code, const Var& v, const Tape& active) {
  const std::string op(op_info(code).name);
  if (active.previous_stamp() == v.stamp())
    throw std::logic_error(fmt::format(
        "ad::{}: an operand (node {}, value {}) was recorded before tape.clear(); Vars do not survive "
        "clear(): record them again",
        op, v.id(), v.value()));
  throw std::logic_error(fmt::format(
      "ad::{}: an operand (node {}, value {}) belongs to a tape that was cleared or destroyed, or that is "
      "not live on this thread; operands of one op must come from the active tape (or an enclosing one, "
      "where they read as constants)",
      op, v.id(), v.value()));
}

// How an operand enters an op recorded on `active`.
Operand classify(OpCode code, const Var& v, const Tape& active) {
  const std::uint32_t stamp = v.stamp();
  if (stamp == 0) return Operand::constant;
  if (stamp == active.stamp()) return Operand::recorded;
  if (find_live_tape(stamp) != nullptr) return Operand::constant;  // an enclosing tape's Var
  throw_stale(code, v, active);
}

OpCode constant_rhs_form(OpCode var_var) { return static_cast<OpCode>(static_cast<int>(var_var) + 1); }
OpCode constant_lhs_form(OpCode var_var) { return static_cast<OpCode>(static_cast<int>(var_var) + 2); }

}  // namespace

Var Recorder::unary_slow(OpCode code, const Var& x, double y) {
  Tape* t = active_tape;
  if (t != nullptr) classify(code, x, *t);  // throws for stale operands
  return Var(y, 0, 0);                      // a constant in, a constant out
}

Var Recorder::binary_slow(OpCode code, const Var& a, const Var& b, double y) {
  Tape* t = active_tape;
  if (t == nullptr) return Var(y, 0, 0);
  const Operand ka = classify(code, a, *t);
  const Operand kb = classify(code, b, *t);
  if (ka == Operand::recorded && kb == Operand::recorded)
    return Var(y, t->push(y, pack(code, a.id_, b.id_)), t->stamp_);
  if (ka == Operand::recorded) return record_with_constant(*t, constant_rhs_form(code), a.id_, b.value_, y);
  if (kb == Operand::recorded) return record_with_constant(*t, constant_lhs_form(code), b.id_, a.value_, y);
  return Var(y, 0, 0);
}

Var Recorder::constant_operand_slow(OpCode code, const Var& x, double, double y) {
  Tape* t = active_tape;
  if (t != nullptr) classify(code, x, *t);
  return Var(y, 0, 0);
}

Tape& Recorder::owner(const Var& v, const char* what) {
  if (v.stamp_ == 0)
    throw std::logic_error(fmt::format(
        "ad::{}: the Var (value {}) is a constant: it was made with no tape recording, or computed from "
        "constants only",
        what, v.value_));
  for (Tape* t = innermost_tape; t != nullptr; t = t->enclosing_)
    if (t->stamp_ == v.stamp_) return *t;
  for (Tape* t = innermost_tape; t != nullptr; t = t->enclosing_)
    if (t->previous_stamp_ == v.stamp_)
      throw std::logic_error(fmt::format(
          "ad::{}: the Var (node {}, value {}) was recorded before tape.clear(); it is stale", what, v.id_,
          v.value_));
  throw std::logic_error(fmt::format(
      "ad::{}: the Var (node {}, value {}) belongs to a tape that was destroyed or cleared, or that is "
      "not live on this thread",
      what, v.id_, v.value_));
}

}  // namespace ad::detail

namespace ad {

void Var::backward() const { detail::Recorder::owner(*this, "Var::backward").backward(*this); }

double Var::adjoint() const { return detail::Recorder::owner(*this, "Var::adjoint").adjoint(*this); }

void gradient(const Var& y, std::span<const Var> xs, std::span<double> out) {
  if (out.size() != xs.size())
    throw std::invalid_argument(fmt::format("ad::gradient: the output span holds {} values for {} inputs",
                                            out.size(), xs.size()));
  if (y.is_constant()) {
    // A constant does not depend on anything: every derivative is 0, but the
    // inputs must still be Vars of a live tape.
    for (const Var& x : xs) detail::Recorder::owner(x, "gradient");
    std::fill(out.begin(), out.end(), 0.0);
    return;
  }
  Tape& tape = detail::Recorder::owner(y, "gradient");
  const std::uint32_t stamp = tape.stamp();
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (xs[i].stamp() != stamp) [[unlikely]] {
      detail::Recorder::owner(xs[i], "gradient");  // explains a stale or foreign input
      throw std::logic_error(fmt::format(
          "ad::gradient: input {} (node {}, value {}) is a Var of another tape than the output's; "
          "gradients are taken within one tape",
          i, xs[i].id(), xs[i].value()));
    }
  tape.backward(y);
  // Every x is a node of this tape (checked above); nodes recorded after y get 0.
  const std::span<const double> adjoints = tape.adjoints();
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const std::uint32_t id = xs[i].id();
    out[i] = id < adjoints.size() ? adjoints[id] : 0.0;
  }
}

std::vector<double> gradient(const Var& y, std::span<const Var> xs) {
  std::vector<double> g(xs.size());
  gradient(y, xs, g);
  return g;
}

}  // namespace ad
