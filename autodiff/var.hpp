// ad::Var: a scalar whose operations are recorded on the active ad::Tape.
//
// A Var is a 16-byte handle {value, node id, recording stamp}. It carries its
// own value, so reading a value never goes through the tape. Made from a
// double while a tape is active it is a *leaf* (an independent variable);
// default-constructed, or made while no tape records (no tape, or inside
// NoGrad), it is a *constant*, and so is any result computed only from
// constants. Every operation with at least one recorded operand appends one
// node to the active tape.
//
// Rules for Vars of other recordings (each checked by one integer comparison
// on the fast path, explained on the slow path):
// - a Var of an *enclosing* live tape on this thread reads as a constant
//   inside an inner tape (an inner tape is an independent sub-computation);
// - a Var recorded before its tape's clear(), or on a tape that is gone or
//   belongs to another thread, is stale: using it throws std::logic_error
//   naming the op.
#pragma once

#include <compare>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <source_location>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <autodiff/op_code.hpp>
#include <autodiff/scalar_ops.hpp>
#include <autodiff/tape.hpp>

namespace ad {

class Var {
 public:
  // The constant 0 (records nothing), so Var can be used like double in
  // containers and generic code.
  Var() noexcept = default;
  // A leaf on the active tape holding `v`; a constant when nothing records.
  Var(double v);  // NOLINT(google-explicit-constructor): `Var x = 0.5` is the point

  // A constant holding `v`: records nothing, even while a tape is active.
  static Var constant(double v) noexcept { return Var(v, 0, 0); }

  double value() const noexcept { return value_; }
  // Node id on its tape (meaningless for a constant).
  std::uint32_t id() const noexcept { return id_; }
  // True for constants: default-constructed, made outside a recording, or
  // computed from constants only.
  bool is_constant() const noexcept { return stamp_ == 0; }
  // The stamp of the recording this Var belongs to (0 for constants).
  std::uint32_t stamp() const noexcept { return stamp_; }

  // A name for describe/to_dot (`A`, `gamma` rather than `#3`), kept by the
  // tape until its clear(). Naming a leaf makes it an input of the recording
  // (Tape::is_input). A constant records nothing and keeps no name: naming
  // one does nothing, so model code may name its Vars under NoGrad too.
  // Throws for a stale Var, as every use of one does.
  Var& name(std::string name);
  // The Var's name, or "" (always "" for a constant).
  std::string_view name() const;

  // Sweep backwards from this Var (its tape must be live on this thread);
  // afterwards x.adjoint() is d(this)/dx for every x recorded before it.
  void backward() const;
  // d(root)/d(this) from the last backward() of this Var's tape.
  double adjoint() const;

  Var operator+() const noexcept { return *this; }
  Var operator-() const;

  Var& operator+=(const Var& b);
  Var& operator-=(const Var& b);
  Var& operator*=(const Var& b);
  Var& operator/=(const Var& b);
  Var& operator+=(double b);
  Var& operator-=(double b);
  Var& operator*=(double b);
  Var& operator/=(double b);

  // Comparisons are by value (control flow on values is allowed; it is not
  // differentiated). Mixed Var/double forms follow from C++20 rewriting.
  friend bool operator==(const Var& a, const Var& b) noexcept { return a.value_ == b.value_; }
  friend bool operator==(const Var& a, double b) noexcept { return a.value_ == b; }
  friend std::partial_ordering operator<=>(const Var& a, const Var& b) noexcept {
    return a.value_ <=> b.value_;
  }
  friend std::partial_ordering operator<=>(const Var& a, double b) noexcept { return a.value_ <=> b; }

 private:
  friend struct detail::Recorder;
  friend class Tape;
  Var(double v, std::uint32_t id, std::uint32_t stamp) noexcept : value_(v), id_(id), stamp_(stamp) {}

  double value_ = 0.0;
  std::uint32_t id_ = 0;
  std::uint32_t stamp_ = 0;  // 0: constant; else the stamp of the recording it belongs to
};
static_assert(sizeof(Var) == 16);

namespace detail {

// "file:line" of a recorded op, or a note that operators carry no location.
std::string source_text(std::source_location where);

// Recording. The fast paths are inline and do one stamp comparison per
// operand against the tape's match_stamp_; everything unusual (no tape,
// constants, Vars of other tapes, stale Vars, and every op while anomaly
// detection is on, which makes match_stamp_ unmatchable) goes to the
// out-of-line slow paths in src/var.cpp. `where` is where the op was written
// (empty for operators, which cannot take a defaulted argument); only the
// slow path reads it, so passing it costs nothing on the fast path.
struct Recorder {
  AD_RECORDING_INLINE static Var leaf(double v) {
    Tape* t = active_tape;
    if (t == nullptr) return Var(v, 0, 0);
    if (t->anomaly_) [[unlikely]]
      return leaf_slow(*t, v);
    const std::uint32_t id = t->push(v, pack(OpCode::leaf, no_operand, no_operand), 0.0, 0.0);
    // Leaves recorded before any op (a function's inputs) form a prefix the
    // sweep never needs to visit: a leaf passes nothing on.
    if (id == t->leading_leaves_) ++t->leading_leaves_;
    return Var(v, id, t->stamp_);
  }

  // Each op records its value and its local partials (from the op table),
  // so the sweep needs neither the op nor the operands' values. On the fast
  // path an operand's stamp equals match_stamp_, hence stamp_ (match_stamp_
  // is either, and no recording gets unmatchable_stamp): the result takes
  // the operand's, already in a register, instead of loading the tape's.
  template <class Op>
  AD_RECORDING_INLINE static Var unary(OpCode code, const Var& x, std::source_location where) {
    const double y = Op::value(x.value_);
    Tape* t = active_tape;
    if (t != nullptr && x.stamp_ == t->match_stamp_) [[likely]]
      return Var(y, t->push(y, pack(code, link(x.id_), no_operand), Op::derivative(x.value_, y), 0.0), x.stamp_);
    return unary_slow(code, x, y, where);
  }

  template <class Op>
  AD_RECORDING_INLINE static Var binary(OpCode code, const Var& a, const Var& b, std::source_location where) {
    const double y = Op::value(a.value_, b.value_);
    Tape* t = active_tape;
    if (t != nullptr && a.stamp_ == t->match_stamp_ && b.stamp_ == t->match_stamp_) [[likely]]
      return Var(y,
                 t->push(y, pack(code, link(a.id_), link(b.id_)), Op::d_a(a.value_, b.value_, y),
                         Op::d_b(a.value_, b.value_, y)),
                 a.stamp_);
    return binary_slow(code, a, b, y, where);
  }

  // Var op constant (code is the op's `_vc` form) and constant op Var (`_cv`).
  // The constant sits in the record's second partial (see detail::Node).
  template <class Op>
  AD_RECORDING_INLINE static Var with_constant_rhs(OpCode code_vc, const Var& a, double c,
                                                   std::source_location where) {
    const double y = Op::value(a.value_, c);
    Tape* t = active_tape;
    if (t != nullptr && a.stamp_ == t->match_stamp_) [[likely]]
      return Var(y, t->push(y, pack(code_vc, link(a.id_), no_operand), Op::d_a(a.value_, c, y), c), a.stamp_);
    return constant_operand_slow(code_vc, a, c, y, where);
  }
  template <class Op>
  AD_RECORDING_INLINE static Var with_constant_lhs(OpCode code_cv, double c, const Var& b,
                                                   std::source_location where) {
    const double y = Op::value(c, b.value_);
    Tape* t = active_tape;
    if (t != nullptr && b.stamp_ == t->match_stamp_) [[likely]]
      return Var(y, t->push(y, pack(code_cv, link(b.id_), no_operand), Op::d_b(c, b.value_, y), c), b.stamp_);
    return constant_operand_slow(code_cv, b, c, y, where);
  }

  // The slow paths' recording of an op with a constant operand, the op known
  // at run time: `code` is its `_vc` or `_cv` form, `var_id` the recorded operand.
  static Var record_with_constant(Tape& t, OpCode code, std::uint32_t var_id, double x, double c, double y);

  static Var leaf_slow(Tape& t, double v);
  // Anomaly mode: remembers where `result` was recorded and throws
  // AnomalyError if its value is not finite.
  static Var checked(Tape& t, Var result, OpCode code, std::initializer_list<double> inputs, std::source_location where);
  // Operands by value: taking their address would force the caller to keep
  // a loop's running Var (`s += x`) in memory instead of registers.
  static Var unary_slow(OpCode code, Var x, double y, std::source_location where);
  static Var binary_slow(OpCode code, Var a, Var b, double y, std::source_location where);
  static Var constant_operand_slow(OpCode code, Var x, double c, double y, std::source_location where);
  // A user-defined op (custom_op.hpp): recorded with its definition kept
  // beside the tape.
  static Var custom(const std::shared_ptr<const CustomScalarOp>& def, Var x, std::source_location where);
  static Var custom(const std::shared_ptr<const CustomScalarOp>& def, Var a, Var b, std::source_location where);
  // A reduction (scalar_reductions.hpp): one node whose operands are the
  // recorded Vars among `operands`, each with its partial; the others are
  // constants (stale ones throw).
  static Var reduction(OpCode code, std::span<const Var> operands, std::span<const double> partials, double y,
                       std::source_location where);
  // The same reduction over runs of consecutive nodes of the active tape
  // (every operand recorded, in order): no operand list and no partials are
  // stored; the sweep reads the operands' values (scalar_record.hpp, "runs").
  // `second` is the first node of dot's y run (ignored for the one-run ops).
  static Var run_reduction(OpCode code, std::uint32_t first, std::uint32_t second, std::uint32_t count, double y,
                           std::source_location where);
  // True when xs are consecutive nodes of the recording `stamp` (stamp 0:
  // never), in order.
  static bool is_run(std::span<const Var> xs, std::uint32_t stamp) noexcept;
  // v's recording stamp and node id as one word (stamp high), and the word of
  // node `id` of the recording `stamp`. Operand i of a run has the first
  // one's tag plus i, so a run test is one load and one xor per operand,
  // branch-free (is_run, and ad::dot's pass that also adds the products).
  static std::uint64_t tag(const Var& v) noexcept { return std::uint64_t{v.stamp_} << 32 | v.id_; }
  static constexpr std::uint64_t tag(std::uint32_t stamp, std::uint32_t id) noexcept {
    return std::uint64_t{stamp} << 32 | id;
  }
  // The checks and the handle of a reduction node just pushed as `id`.
  static Var recorded_reduction(Tape& t, OpCode code, std::uint32_t id, double y, std::size_t operand_count,
                                std::source_location where);
  // Throws std::logic_error naming `code` when v is stale (of a cleared,
  // destroyed or foreign recording).
  static void check_operand_not_stale(OpCode code, const Var& v);
  // The reverse sweep recorded on the tape (higher_order.hpp).
  static std::vector<Var> recorded_gradient(const Var& y, std::span<const Var> xs);
  // H v for the recording of y, by forward over reverse on the tape, without
  // recording (hvp_sweep.cpp; ad::hvp).
  static std::vector<double> hvp_sweep(const Var& y, std::span<const Var> xs, std::span<const double> v);
  // What both second-order sweeps say on reaching the user-defined op recorded
  // as node k of `tape` (its derivative is plain doubles); `what` names the caller.
  [[noreturn]] static void throw_no_second_derivative(const char* what, const Tape& tape, std::uint32_t k);
  // Makes the leaves among xs inputs of `t` (Tape::is_input): what
  // gradients are taken with respect to.
  static void mark_inputs(Tape& t, std::span<const Var> xs) { t.mark_inputs(xs); }
  static void mark_input_run(Tape& t, std::uint32_t first, std::uint32_t count) { t.mark_input_run(first, count); }
  // The live tape of this thread that `v` belongs to; throws when there is none.
  static Tape& owner(const Var& v, const char* what);
};

}  // namespace detail

AD_RECORDING_INLINE Var::Var(double v) : Var(detail::Recorder::leaf(v)) {}

// ---- arithmetic -------------------------------------------------------------
#define AD_DEFINE_OPERATOR(sym, name, Struct)                                             \
  AD_RECORDING_INLINE Var operator sym(const Var& a, const Var& b) {                      \
    return detail::Recorder::binary<ops::Struct>(OpCode::name, a, b, {});                 \
  }                                                                                       \
  AD_RECORDING_INLINE Var operator sym(const Var& a, double b) {                          \
    return detail::Recorder::with_constant_rhs<ops::Struct>(OpCode::name##_vc, a, b, {}); \
  }                                                                                       \
  AD_RECORDING_INLINE Var operator sym(double a, const Var& b) {                          \
    return detail::Recorder::with_constant_lhs<ops::Struct>(OpCode::name##_cv, a, b, {}); \
  }
AD_DEFINE_OPERATOR(+, add, Add)
AD_DEFINE_OPERATOR(-, sub, Sub)
AD_DEFINE_OPERATOR(*, mul, Mul)
AD_DEFINE_OPERATOR(/, div, Div)
#undef AD_DEFINE_OPERATOR

AD_RECORDING_INLINE Var Var::operator-() const {
  return detail::Recorder::unary<ops::Neg>(OpCode::neg, *this, {});
}
AD_RECORDING_INLINE Var& Var::operator+=(const Var& b) { return *this = *this + b; }
AD_RECORDING_INLINE Var& Var::operator-=(const Var& b) { return *this = *this - b; }
AD_RECORDING_INLINE Var& Var::operator*=(const Var& b) { return *this = *this * b; }
AD_RECORDING_INLINE Var& Var::operator/=(const Var& b) { return *this = *this / b; }
AD_RECORDING_INLINE Var& Var::operator+=(double b) { return *this = *this + b; }
AD_RECORDING_INLINE Var& Var::operator-=(double b) { return *this = *this - b; }
AD_RECORDING_INLINE Var& Var::operator*=(double b) { return *this = *this * b; }
AD_RECORDING_INLINE Var& Var::operator/=(double b) { return *this = *this / b; }

// ---- maths functions ----------------------------------------------------------
// Each has a double overload too, so code written with `ad::tanh(x)` works for
// T = double, and unqualified calls find the Var overload by ADL.
#define AD_DEFINE_UNARY_FUNCTION(name, Struct)                                                               \
  AD_RECORDING_INLINE Var name(const Var& x, std::source_location where = std::source_location::current()) { \
    return detail::Recorder::unary<ops::Struct>(OpCode::name, x, where);                                     \
  }                                                                                                          \
  inline double name(double x) { return ops::Struct::value(x); }
AD_UNARY_OPS(AD_DEFINE_UNARY_FUNCTION)
#undef AD_DEFINE_UNARY_FUNCTION

// The unary op `code` of the op table on x, for code that picks the op at run
// time (nn's activations); the same node as calling the function by name.
// Throws std::invalid_argument for a code that is not a unary op.
Var apply_unary(OpCode code, const Var& x, std::source_location where = std::source_location::current());

#define AD_DEFINE_BINARY_FUNCTION(name, Struct)                                                \
  AD_RECORDING_INLINE Var name(const Var& a, const Var& b,                                     \
                               std::source_location where = std::source_location::current()) { \
    return detail::Recorder::binary<ops::Struct>(OpCode::name, a, b, where);                   \
  }                                                                                            \
  AD_RECORDING_INLINE Var name(const Var& a, double b,                                         \
                               std::source_location where = std::source_location::current()) { \
    return detail::Recorder::with_constant_rhs<ops::Struct>(OpCode::name##_vc, a, b, where);   \
  }                                                                                            \
  AD_RECORDING_INLINE Var name(double a, const Var& b,                                         \
                               std::source_location where = std::source_location::current()) { \
    return detail::Recorder::with_constant_lhs<ops::Struct>(OpCode::name##_cv, a, b, where);   \
  }                                                                                            \
  inline double name(double a, double b) { return ops::Struct::value(a, b); }
AD_DEFINE_BINARY_FUNCTION(pow, Pow)
AD_DEFINE_BINARY_FUNCTION(atan2, Atan2)
AD_DEFINE_BINARY_FUNCTION(hypot, Hypot)
AD_DEFINE_BINARY_FUNCTION(min, Min)
AD_DEFINE_BINARY_FUNCTION(max, Max)
#undef AD_DEFINE_BINARY_FUNCTION

// C's names for max and min, for ported code: the same ops and nodes as
// ad::max / ad::min. One difference from std::fmax / std::fmin, which return
// the other operand when one is NaN: these propagate NaN, like every op of
// the table (docs/conventions.md), so a NaN cannot vanish from a value or a
// gradient; the double overloads do the same, so that generic code gives one
// answer for T = double and T = ad::Var.
#define AD_DEFINE_ALIAS(alias, op)                                                              \
  AD_RECORDING_INLINE Var alias(const Var& a, const Var& b,                                     \
                                std::source_location where = std::source_location::current()) { \
    return op(a, b, where);                                                                     \
  }                                                                                             \
  AD_RECORDING_INLINE Var alias(const Var& a, double b,                                         \
                                std::source_location where = std::source_location::current()) { \
    return op(a, b, where);                                                                     \
  }                                                                                             \
  AD_RECORDING_INLINE Var alias(double a, const Var& b,                                         \
                                std::source_location where = std::source_location::current()) { \
    return op(a, b, where);                                                                     \
  }                                                                                             \
  inline double alias(double a, double b) { return op(a, b); }
AD_DEFINE_ALIAS(fmax, max)
AD_DEFINE_ALIAS(fmin, min)
#undef AD_DEFINE_ALIAS

// ---- gradients ------------------------------------------------------------------

// d y / d x_i for each x_i, from one reverse sweep over y's tape. The primary
// idiom. Each x must be a Var of y's tape (a Var y does not depend on gets 0).
std::vector<double> gradient(const Var& y, std::span<const Var> xs);
inline std::vector<double> gradient(const Var& y, std::initializer_list<Var> xs) {
  return gradient(y, std::span<const Var>(xs.begin(), xs.size()));
}
// The same, writing into `out` (out.size() == xs.size()) without allocating:
// for loops that take many gradients.
void gradient(const Var& y, std::span<const Var> xs, std::span<double> out);

}  // namespace ad
