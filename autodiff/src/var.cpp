// The slow paths of recording: no active tape, constant operands, Vars of
// enclosing tapes (read as constants), and stale or foreign Vars (errors).
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <source_location>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <autodiff/custom_op.hpp>
#include <autodiff/tape.hpp>
#include <autodiff/var.hpp>

namespace ad::detail {
namespace {

enum class Operand { recorded, constant };

const Tape* find_live_tape(std::uint32_t stamp) noexcept {
  for (const Tape* t = innermost_tape; t != nullptr; t = t->enclosing())
    if (t->stamp() == stamp) return t;
  return nullptr;
}

// True when a live tape of this thread had `stamp` before its last clear().
bool cleared_on_this_thread(std::uint32_t stamp) noexcept {
  for (const Tape* t = innermost_tape; t != nullptr; t = t->enclosing())
    if (t->previous_stamp() == stamp) return true;
  return false;
}

[[noreturn]] void throw_stale(OpCode code, const Var& v) {
  const std::string op(op_info(code).name);
  if (cleared_on_this_thread(v.stamp()))
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
  throw_stale(code, v);
}

// With nothing recording (no tape on this thread, or inside NoGrad) an operand
// is read as a constant, but it still must not be stale: a Var of a cleared or
// destroyed recording, or of another thread's tape, is an error here too.
void check_not_stale(OpCode code, const Var& v) {
  if (v.stamp() != 0 && find_live_tape(v.stamp()) == nullptr) throw_stale(code, v);
}

OpCode constant_rhs_form(OpCode var_var) { return static_cast<OpCode>(static_cast<int>(var_var) + 1); }
OpCode constant_lhs_form(OpCode var_var) { return static_cast<OpCode>(static_cast<int>(var_var) + 2); }
// The both-operands form of a `_vc` or `_cv` code.
OpCode var_var_form(OpCode code) {
  return static_cast<OpCode>(static_cast<int>(code) -
                             (op_info(code).operands == OperandKinds::var_constant ? 1 : 2));
}

std::string location_text(std::source_location where) {
  if (where.line() == 0) return "an operator (operators cannot report a source line)";
  return fmt::format("{}:{}", where.file_name(), where.line());
}

}  // namespace

// Anomaly mode checks every value an op produces, recorded or not: an op on
// constants (or on an enclosing tape's Vars) gives a constant, and a tensor op
// on constants is checked too.
void check_constant_result(std::string_view op, double y, std::initializer_list<double> inputs,
                           std::source_location where) {
  if (anomaly_depth > 0 && !std::isfinite(y)) [[unlikely]]
    throw AnomalyError(
        fmt::format("ad::DetectAnomaly: {} produced {} from constant input{} {} (not recorded), at {}", op, y,
                    inputs.size() > 1 ? "s" : "", fmt::join(inputs, ", "), location_text(where)));
}

std::string source_text(std::source_location where) { return location_text(where); }

// Anomaly mode: the op just recorded as node `id` must have a finite value.
Var Recorder::checked(Tape& t, Var result, OpCode code, std::initializer_list<double> inputs,
                      std::source_location where) {
  t.remember_location(result.id(), where);
  if (!std::isfinite(result.value())) {
    // A user-defined op is named by its definition, not by its op code.
    const bool custom = code == OpCode::custom_unary || code == OpCode::custom_binary;
    const std::string_view name =
        custom ? std::string_view(t.custom_op(result.id()).name) : op_info(code).name;
    throw AnomalyError(fmt::format(
        "ad::DetectAnomaly: {} produced {} from input{} {} (node #{}), recorded at {}", name, result.value(),
        inputs.size() > 1 ? "s" : "", fmt::join(inputs, ", "), result.id(), location_text(where)));
  }
  return result;
}

Var Recorder::leaf_slow(Tape& t, double v) {
  if (!std::isfinite(v))
    throw AnomalyError(fmt::format("ad::DetectAnomaly: a leaf (an input Var) was made from the value {}", v));
  const std::uint32_t id = t.push(v, pack(OpCode::leaf, no_operand, no_operand), 0.0, 0.0);
  if (id == t.leading_leaves_) ++t.leading_leaves_;
  return Var(v, id, t.stamp_);
}

Var Recorder::unary_slow(OpCode code, Var x, double y, std::source_location where) {
  Tape* t = active_tape;
  if (t == nullptr || classify(code, x, *t) == Operand::constant) {  // a constant in, a constant out
    if (t == nullptr) check_not_stale(code, x);
    check_constant_result(op_info(code).name, y, {x.value_}, where);
    return Var(y, 0, 0);
  }
  // Recorded operand on the slow path: anomaly mode.
  const double dy = unary_derivative(code, x.value_, y);
  return Recorder::checked(*t, Var(y, t->push(y, pack(code, link(x.id_), no_operand), dy, 0.0), t->stamp_),
                           code, {x.value_}, where);
}

Var Recorder::binary_slow(OpCode code, Var a, Var b, double y, std::source_location where) {
  Tape* t = active_tape;
  if (t == nullptr) {
    check_not_stale(code, a);
    check_not_stale(code, b);
    check_constant_result(op_info(code).name, y, {a.value_, b.value_}, where);
    return Var(y, 0, 0);
  }
  const Operand ka = classify(code, a, *t);
  const Operand kb = classify(code, b, *t);
  Var result;
  if (ka == Operand::recorded && kb == Operand::recorded) {
    const Partials d = binary_partials(code, a.value_, b.value_, y);
    result = Var(y, t->push(y, pack(code, link(a.id_), link(b.id_)), d.a, d.b), t->stamp_);
  } else if (ka == Operand::recorded)
    result = record_with_constant(*t, constant_rhs_form(code), a.id_, a.value_, b.value_, y);
  else if (kb == Operand::recorded)
    result = record_with_constant(*t, constant_lhs_form(code), b.id_, b.value_, a.value_, y);
  else {
    check_constant_result(op_info(code).name, y, {a.value_, b.value_}, where);
    return Var(y, 0, 0);
  }
  return t->anomaly_enabled() ? Recorder::checked(*t, result, code, {a.value_, b.value_}, where) : result;
}

Var Recorder::constant_operand_slow(OpCode code, Var x, double c, double y, std::source_location where) {
  Tape* t = active_tape;
  const bool constant_left = op_info(code).operands == OperandKinds::constant_var;
  if (t == nullptr || classify(code, x, *t) == Operand::constant) {
    if (t == nullptr) check_not_stale(code, x);
    check_constant_result(op_info(code).name, y, {constant_left ? c : x.value_, constant_left ? x.value_ : c},
                          where);
    return Var(y, 0, 0);
  }
  // Recorded operand on the slow path: anomaly mode.
  const Var result = record_with_constant(*t, code, x.id_, x.value_, c, y);
  return Recorder::checked(*t, result, code, {constant_left ? c : x.value_, constant_left ? x.value_ : c},
                           where);
}

Var Recorder::record_with_constant(Tape& t, OpCode code, std::uint32_t var_id, double x, double c, double y) {
  const bool constant_left = op_info(code).operands == OperandKinds::constant_var;
  const Partials d = constant_left ? binary_partials(var_var_form(code), c, x, y)
                                   : binary_partials(var_var_form(code), x, c, y);
  return Var(y, t.push(y, pack(code, link(var_id), no_operand), constant_left ? d.b : d.a, c), t.stamp_);
}

void Recorder::check_operand_not_stale(OpCode code, const Var& v) {
  if (v.stamp_ != 0 && find_live_tape(v.stamp_) == nullptr) throw_stale(code, v);
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
      throw std::logic_error(
          fmt::format("ad::{}: the Var (node {}, value {}) was recorded before tape.clear(); it is stale",
                      what, v.id_, v.value_));
  throw std::logic_error(fmt::format(
      "ad::{}: the Var (node {}, value {}) belongs to a tape that was destroyed or cleared, or that is "
      "not live on this thread",
      what, v.id_, v.value_));
}

}  // namespace ad::detail

namespace ad {

void Var::backward() const { detail::Recorder::owner(*this, "Var::backward").backward(*this); }

double Var::adjoint() const { return detail::Recorder::owner(*this, "Var::adjoint").adjoint(*this); }

Var& Var::name(std::string name) {
  if (!is_constant()) detail::Recorder::owner(*this, "Var::name").set_name(id_, std::move(name));
  return *this;
}

std::string_view Var::name() const {
  return is_constant() ? std::string_view() : detail::Recorder::owner(*this, "Var::name").name_of(id_);
}

void gradient(const Var& y, std::span<const Var> xs, std::span<double> out) {
  if (out.size() != xs.size())
    throw std::invalid_argument(
        fmt::format("ad::gradient: the output span holds {} values for {} inputs", out.size(), xs.size()));
  if (y.is_constant()) {
    // A constant does not depend on anything: every derivative is 0, but the
    // inputs must still be Vars of a live tape.
    for (const Var& x : xs) detail::Recorder::owner(x, "gradient");
    std::fill(out.begin(), out.end(), 0.0);
    return;
  }
  Tape& tape = detail::Recorder::owner(y, "gradient");
  const std::uint32_t stamp = tape.stamp();
  // Inputs that are one run of consecutive nodes of this recording (a
  // function's inputs made in one loop: Recorder::is_run, one pass) have
  // their gradient read as one copy of the adjoints and their input mark
  // kept as one (first, count) pair.
  const bool one_run = detail::Recorder::is_run(xs, stamp);
  if (!one_run)
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
  if (one_run) {
    const std::uint32_t first = xs[0].id();
    const std::size_t swept = first < adjoints.size() ? std::min(xs.size(), adjoints.size() - first) : 0;
    if (swept != 0) std::copy_n(adjoints.data() + first, swept, out.data());
    std::fill(out.begin() + static_cast<std::ptrdiff_t>(swept), out.end(), 0.0);
    detail::Recorder::mark_input_run(tape, first, static_cast<std::uint32_t>(xs.size()));
    return;
  }
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const std::uint32_t id = xs[i].id();
    out[i] = id < adjoints.size() ? adjoints[id] : 0.0;
  }
  detail::Recorder::mark_inputs(tape, xs);
}

std::vector<double> gradient(const Var& y, std::span<const Var> xs) {
  std::vector<double> g(xs.size());
  gradient(y, xs, g);
  return g;
}

Var apply_unary(OpCode code, const Var& x, std::source_location where) {
  switch (code) {
#define AD_APPLY_UNARY(name, Struct) \
  case OpCode::name:                 \
    return detail::Recorder::unary<ops::Struct>(OpCode::name, x, where);
    AD_UNARY_OPS(AD_APPLY_UNARY)
#undef AD_APPLY_UNARY
    default:
      break;
  }
  throw std::invalid_argument(
      fmt::format("ad::apply_unary: '{}' (op code {}) is not a unary op of the op table", op_info(code).name,
                  static_cast<int>(code)));
}

}  // namespace ad
