// ad::Tape: the recording of scalar operations, in execution order.
//
// Layout (docs/decisions/0001-scalar-tape-layout.md, 0017-jacobian-records.md):
// one 32-byte record per node, {value, op code + two operand indices packed in
// 64 bits, the two local partial derivatives taken when the op was recorded},
// in one contiguous buffer that grows by doubling and keeps its capacity
// across clear(). Constant operands (the 2.0 in `x * 2.0`) are not nodes: the
// record keeps them in its second partial's place. Adjoints live in a
// separate array filled by the reverse sweep.
//
// A Tape is active on the thread that created it from construction until
// destruction; tapes nest (the innermost is active, outer Vars read as
// constants inside it). Tapes cannot be copied or moved: Vars refer to them.
// Tapes and the NoGrad / DetectAnomaly guards (guards.hpp) may end in any
// order, on any thread: whatever ends leaves the thread's recording state
// describing what is still alive (a tape ended on another thread must not be
// recording there at that moment, as for any object another thread uses).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <source_location>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <autodiff/detail/scalar_record.hpp>
#include <autodiff/guards.hpp>
#include <autodiff/op_code.hpp>

namespace ad {

class Var;
class Tape;

namespace detail {

// The tape that records on this thread (nullptr: none, or inside NoGrad).
// constinit: no dynamic initialisation, so reading it is a plain TLS load.
extern constinit thread_local Tape* active_tape;
// The innermost live tape of this thread, NoGrad or not: the top of the chain
// of nested tapes (linked through Tape::enclosing_), used to find the tape a
// Var belongs to.
extern constinit thread_local Tape* innermost_tape;

struct Recorder;        // the recording functions (var.hpp) and their slow paths
class TensorTape;       // the tensor recording (src/tensor_tape.hpp, not installed)
struct TensorAccess;    // the library's way into tensors and tapes (src/tensor_impl.hpp)
struct CustomScalarOp;  // a user-defined scalar op (custom_op.hpp)

// A stamp never given to a recording: the match stamp of a tape in anomaly
// mode, so that no Var takes the unchecked fast path.
inline constexpr std::uint32_t unmatchable_stamp = 0xFFFFFFFFu;

}  // namespace detail

// A read-only view of one recorded node, for walking and printing the graph.
struct NodeView {
  std::uint32_t id;
  OpCode op;
  std::string_view name;  // the op's name (a custom op's own name)
  double value;
  std::uint32_t input_count;  // 0 (leaf), 1 or 2 tape inputs; any number for a reduction (ad::sum, ...)
  std::uint32_t inputs[2];    // tape node ids of the first two inputs, in operand order
  // Every input of a reduction (ad::sum, ad::dot, ...), valid until the tape
  // records again; empty for other ops, and for a reduction over runs of
  // consecutive nodes, which keeps no list: its inputs are
  // run_starts[0] + i, then (dot) run_starts[1] + i, for i < run_length.
  // input(i) reads every kind.
  std::span<const std::uint32_t> many_inputs;
  std::uint32_t run_starts[2];
  std::uint32_t run_length;
  bool has_constant;          // one operand is a constant (not a node)
  double constant;
  bool constant_is_left;      // `c - x` rather than `x - c`
  std::string_view var_name;  // the user's name for the node (Var::name), "" if none
  bool is_input;              // a leaf that is an input (see Tape::is_input), not a literal

  // Input i < input_count, for every kind of node.
  std::uint32_t input(std::uint32_t i) const noexcept {
    if (!many_inputs.empty()) return many_inputs[i];
    if (run_length != 0) return i < run_length ? run_starts[0] + i : run_starts[1] + (i - run_length);
    return i == 0 ? inputs[0] : inputs[1];
  }
};

class Tape {
 public:
  Tape();
  ~Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // Nodes recorded since construction or the last clear().
  std::size_t size() const noexcept { return static_cast<std::size_t>(end_ - nodes_); }
  // Nodes the buffer holds without growing.
  std::size_t capacity() const noexcept { return static_cast<std::size_t>(limit_ - nodes_); }
  // Makes room for at least `nodes` nodes in all (as std::vector::reserve):
  // recording that many allocates and copies nothing more. Beyond the
  // tape's limit (2^28 - 9 nodes) it reserves the limit.
  void reserve(std::size_t nodes);
  // Forget every node, keep the memory. Vars recorded before are stale
  // afterwards: using one throws.
  void clear() noexcept;

  // One reverse sweep from `root` with seed d(root)/d(root) = 1: afterwards
  // adjoint(v) holds d(root)/d(v) for every node v recorded before root.
  void backward(const Var& root);
  // The adjoint of `v` from the last backward() (0 for nodes after its root).
  double adjoint(const Var& v) const;
  // All adjoints of the last backward(), indexed by node id (root + 1 of them).
  std::span<const double> adjoints() const noexcept {
    return adjoints_.empty() ? std::span<const double>()
                             : std::span<const double>(adjoints_).subspan(detail::scratch_slots);
  }

  // Bytes in use: node records and adjoints (the figure the benchmarks
  // report per recorded op), and bytes reserved.
  std::size_t bytes_used() const noexcept;
  std::size_t bytes_reserved() const noexcept;

  // Where node `id` was recorded, if it was recorded in anomaly mode.
  const std::source_location* location_of(std::uint32_t id) const noexcept;
  // The graph, read-only: node `id` as recorded.
  NodeView node(std::uint32_t id) const;
  // True when `v` was recorded on this tape since its last clear().
  bool owns(const Var& v) const noexcept;

  // The name a Var of node `id` was given (Var::name), or "".
  std::string_view name_of(std::uint32_t id) const noexcept;
  // Whether leaf `id` is an *input* of the recording rather than a literal.
  // Every Var made from a double while a tape records is a leaf, including
  // `T s = 0.0` in generic code; a leaf counts as an input once it is named
  // or a gradient is taken with respect to it (ad::gradient's list,
  // gradient_recorded, Tape::adjoint / Var::adjoint). describe and to_dot
  // show inputs as parameters and other leaves as constants.
  bool is_input(std::uint32_t id) const noexcept;

  // The tape recording on this thread, or nullptr (none, or inside NoGrad).
  static Tape* active() noexcept { return detail::active_tape; }
  // The next outer live tape of this thread, or nullptr.
  Tape* enclosing() const noexcept { return enclosing_; }
  // Identity of the current recording (changes at every clear()); Vars carry
  // the stamp of the recording they belong to.
  std::uint32_t stamp() const noexcept { return stamp_; }
  // The stamp this tape had before its last clear() (0 if never cleared).
  std::uint32_t previous_stamp() const noexcept { return previous_stamp_; }

 private:
  friend struct detail::Recorder;
  friend struct detail::TensorAccess;  // reaches tensor_tape()
  friend class Var;
  friend class NoGrad;
  friend class DetectAnomaly;
  friend void detail::refresh(detail::ThreadState&) noexcept;

  // Anomaly detection (DetectAnomaly): checks every value and adjoint and
  // keeps the source location of each op recorded meanwhile.
  bool anomaly_enabled() const noexcept { return anomaly_; }
  void set_anomaly(bool on) noexcept {
    anomaly_ = on;
    match_stamp_ = on ? detail::unmatchable_stamp : stamp_;
  }
  void remember_location(std::uint32_t id, std::source_location where) { locations_.emplace_back(id, where); }
  template <bool checked>
  void sweep(std::uint32_t root);
  // Node k, a reduction over runs (detail::many_operands), sends adjoint g
  // to its operands.
  template <bool checked>
  void sweep_runs(std::uint32_t k, double g);
  [[noreturn]] void report_adjoint_anomaly(std::uint32_t node, std::uint32_t input, double adjoint,
                                           double contribution) const;

  // Hot path of recording: append one node and return its id. `word` comes
  // from detail::pack, da and db are the local partials (see detail::Node).
  std::uint32_t push(double value, std::uint64_t word, double da, double db) {
    if (end_ == limit_) [[unlikely]]
      grow();
    *end_ = detail::Node{value, word, da, db};
    return static_cast<std::uint32_t>(end_++ - nodes_);
  }
  // The recording of tensor ops made while this tape is the innermost one
  // (created on the first tensor op; the library reaches it through
  // detail::TensorAccess).
  detail::TensorTape& tensor_tape();
  // The definition of the user-defined op recorded as node `id` (its name
  // reaches users through node(id).name).
  const detail::CustomScalarOp& custom_op(std::uint32_t id) const;
  void grow();
  void check_index(const Var& v, const char* what) const;
  void set_name(std::uint32_t id, std::string name);
  // Makes the leaves among xs inputs, as mark_input for each: a run of
  // consecutive ids (a function's inputs, recorded in one loop) is kept as
  // one (first, count) pair instead of a mark in every record, which
  // ad::gradient would otherwise write across the tape on every call.
  void mark_inputs(std::span<const Var> xs);
  // The same for the nodes first .. first + count - 1.
  void mark_input_run(std::uint32_t first, std::uint32_t count);
  // Makes leaf `id` an input (see is_input); nothing for other nodes. Marks
  // live in the leaf's unused operand field, so they cost no memory.
  void mark_input(std::uint32_t id) const noexcept;

  // The buffer as three pointers, not counts: stores of Var fields (uint32)
  // cannot alias a pointer member, so the compiler keeps end_ in a register
  // across a run of recordings instead of reloading it after every store.
  detail::Node* nodes_ = nullptr;
  detail::Node* end_ = nullptr;
  detail::Node* limit_ = nullptr;
  // Identifies this recording: a fresh stamp from a global counter at
  // construction and at every clear(); every Var carries the stamp of the
  // recording it belongs to, so stale and foreign Vars are caught by one
  // integer comparison.
  std::uint32_t stamp_ = 0;
  // What the recording fast paths compare operands' stamps with: stamp_,
  // or unmatchable_stamp in anomaly mode (every op then takes the checked
  // slow path; nothing is checked, and nothing costs, when it is off).
  std::uint32_t match_stamp_ = 0;
  bool anomaly_ = false;
  std::vector<std::pair<std::uint32_t, std::source_location>> locations_;  // anomaly mode only, by node id
  // The definitions of user-defined ops, by node id (recording order).
  std::vector<std::pair<std::uint32_t, std::shared_ptr<const detail::CustomScalarOp>>> custom_ops_;
  std::uint32_t previous_stamp_ = 0;  // the stamp before the last clear(), for error messages
  std::vector<std::pair<std::uint32_t, std::string>> names_;  // by node id
  // The operands (node ids) and partials of the reductions, each node's run
  // at the offset its record holds (detail::Node).
  std::vector<std::uint32_t> many_inputs_;
  std::vector<double> many_partials_;
  std::uint32_t leading_leaves_ = 0;                 // nodes 0 .. leading_leaves_-1 are all leaves
  // Runs of node ids marked as inputs (mark_inputs): (first, count), a few.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> input_runs_;
  // Filled by backward(): adjoints_[0 .. scratch_slots) are the scratch slots
  // of missing operands (detail::Node), adjoints_[id + scratch_slots] the
  // adjoint of node id.
  std::vector<double> adjoints_;
  Tape* enclosing_ = nullptr;                        // the next outer live tape of its thread
  detail::ThreadState* owner_;                       // the thread that made it (its chain of tapes)
  std::uint64_t opened_ = 0;                         // when, among that thread's tapes and NoGrads
  std::unique_ptr<detail::TensorTape> tensor_tape_;  // created on the first tensor op
};

}  // namespace ad
