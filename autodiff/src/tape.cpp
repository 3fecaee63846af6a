#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include <autodiff/custom_op.hpp>
#include <autodiff/tape.hpp>
#include <autodiff/var.hpp>

#include "tensor_tape.hpp"
#include "thread_state.hpp"

namespace ad {
namespace detail {

constinit thread_local Tape* active_tape = nullptr;
constinit thread_local Tape* innermost_tape = nullptr;

namespace {
// Stamps identify recordings process-wide. 0 is reserved for constants. A
// 32-bit counter wraps after 4 billion recordings; a Var would have to survive
// that many clear() calls to be mistaken for a fresh one.
std::atomic<std::uint32_t> next_stamp{1};

std::uint32_t fresh_stamp() noexcept {
  std::uint32_t s = next_stamp.fetch_add(1, std::memory_order_relaxed);
  while (s == 0 || s == unmatchable_stamp) s = next_stamp.fetch_add(1, std::memory_order_relaxed);
  return s;
}
}  // namespace

}  // namespace detail

Tape::Tape() : stamp_(detail::fresh_stamp()), owner_(&detail::this_thread_state()) {
  std::lock_guard guard(owner_->lock);
  opened_ = ++owner_->opened;
  enclosing_ = owner_->innermost;
  owner_->innermost = this;
  set_anomaly(owner_->anomaly_count > 0);  // a tape opened inside DetectAnomaly is checked too
  detail::refresh(*owner_);
}

Tape::~Tape() {
  {
    // Normally tapes end in reverse order of creation (scopes). A tape that
    // is not the innermost (a heap-allocated one), or one ended on another
    // thread, unlinks itself from its thread's chain; the thread's active
    // tape is then re-derived from what is still alive.
    std::lock_guard guard(owner_->lock);
    if (owner_->innermost == this) {
      owner_->innermost = enclosing_;
    } else {
      for (Tape* t = owner_->innermost; t != nullptr; t = t->enclosing_)
        if (t->enclosing_ == this) {
          t->enclosing_ = enclosing_;
          break;
        }
    }
    detail::refresh(*owner_);
  }
  std::free(nodes_);
}

void Tape::clear() noexcept {
  previous_stamp_ = stamp_;
  stamp_ = detail::fresh_stamp();
  set_anomaly(anomaly_);
  locations_.clear();
  custom_ops_.clear();
  names_.clear();
  many_inputs_.clear();
  many_partials_.clear();
  input_runs_.clear();
  end_ = nodes_;
  leading_leaves_ = 0;
  if (tensor_tape_) tensor_tape_->clear();
  adjoints_.clear();
}

void Tape::reserve(std::size_t nodes) {
  const std::size_t wanted = std::min<std::size_t>(nodes, detail::max_nodes);
  if (wanted <= capacity()) return;
  const std::size_t size = this->size();
  void* grown = std::realloc(nodes_, wanted * sizeof(detail::Node));
  if (grown == nullptr) throw std::bad_alloc();
  nodes_ = static_cast<detail::Node*>(grown);
  end_ = nodes_ + size;
  limit_ = nodes_ + wanted;
}

void Tape::grow() {
  const std::size_t size = this->size(), capacity = this->capacity();
  if (capacity >= detail::max_nodes)
    throw std::length_error("ad::Tape: recording more than " + std::to_string(detail::max_nodes) +
                            " nodes on one tape (the operand fields hold 28 bits)");
  // Start at 128 KiB of nodes and double: few reallocations, and realloc can
  // often extend in place for large tapes.
  std::uint64_t wanted = capacity == 0 ? 4096 : std::uint64_t{capacity} * 2;
  if (wanted > detail::max_nodes) wanted = detail::max_nodes;
  void* grown = std::realloc(nodes_, wanted * sizeof(detail::Node));
  if (grown == nullptr) throw std::bad_alloc();
  nodes_ = static_cast<detail::Node*>(grown);
  end_ = nodes_ + size;
  limit_ = nodes_ + wanted;
}

const detail::CustomScalarOp& Tape::custom_op(std::uint32_t id) const {
  auto it = std::lower_bound(custom_ops_.begin(), custom_ops_.end(), id,
                             [](const auto& entry, std::uint32_t key) { return entry.first < key; });
  if (it == custom_ops_.end() || it->first != id)
    throw std::logic_error(fmt::format("ad::Tape: node {} is not a user-defined op", id));
  return *it->second;
}

const std::source_location* Tape::location_of(std::uint32_t id) const noexcept {
  // Appended in recording order, so sorted by node id.
  auto it = std::lower_bound(locations_.begin(), locations_.end(), id,
                             [](const auto& entry, std::uint32_t key) { return entry.first < key; });
  return it != locations_.end() && it->first == id ? &it->second : nullptr;
}

detail::TensorTape& Tape::tensor_tape() {
  if (!tensor_tape_) tensor_tape_ = std::make_unique<detail::TensorTape>(*owner_);
  return *tensor_tape_;
}

std::size_t Tape::bytes_used() const noexcept {
  return size() * sizeof(detail::Node) + adjoints_.size() * sizeof(double) +
         many_inputs_.size() * sizeof(std::uint32_t) + many_partials_.size() * sizeof(double);
}

std::size_t Tape::bytes_reserved() const noexcept {
  return capacity() * sizeof(detail::Node) + adjoints_.capacity() * sizeof(double) +
         many_inputs_.capacity() * sizeof(std::uint32_t) + many_partials_.capacity() * sizeof(double);
}

bool Tape::owns(const Var& v) const noexcept { return v.stamp_ == stamp_ && v.stamp_ != 0; }

namespace {
// names_ is sorted by node id (names are usually given in recording order,
// so inserting is appending).
template <class Names>
auto find_name(Names& names, std::uint32_t id) {
  return std::lower_bound(names.begin(), names.end(), id,
                          [](const auto& entry, std::uint32_t key) { return entry.first < key; });
}
}  // namespace

std::string_view Tape::name_of(std::uint32_t id) const noexcept {
  const auto it = find_name(names_, id);
  return it != names_.end() && it->first == id ? std::string_view(it->second) : std::string_view();
}

void Tape::set_name(std::uint32_t id, std::string name) {
  const auto it = find_name(names_, id);
  if (it != names_.end() && it->first == id)
    it->second = std::move(name);
  else
    names_.emplace(it, id, std::move(name));
  mark_input(id);
}

bool Tape::is_input(std::uint32_t id) const noexcept {
  if (id >= size() || nodes_[id].op() != OpCode::leaf) return false;
  if (nodes_[id].is_marked_input()) return true;
  return std::any_of(input_runs_.begin(), input_runs_.end(),
                     [id](const auto& run) { return id - run.first < run.second; });
}

void Tape::mark_inputs(std::span<const Var> xs) {
  for (std::size_t i = 0; i < xs.size();) {
    const std::uint32_t first = xs[i].id_;
    std::size_t end = i + 1;
    while (end < xs.size() && xs[end].id_ - first == end - i) ++end;
    mark_input_run(first, static_cast<std::uint32_t>(end - i));
    i = end;
  }
}

void Tape::mark_input_run(std::uint32_t first, std::uint32_t count) {
  // Runs shorter than this are marked in their records; past this many
  // runs, too (a bound on the list and on is_input's scan).
  constexpr std::size_t shortest_run = 16, most_runs = 32;
  const bool covered = std::any_of(input_runs_.begin(), input_runs_.end(), [&](const auto& run) {
    return first - run.first < run.second && count <= run.second - (first - run.first);
  });
  if (covered) return;
  if (count >= shortest_run && input_runs_.size() < most_runs)
    input_runs_.emplace_back(first, count);
  else
    for (std::uint32_t k = 0; k < count; ++k) mark_input(first + k);
}

void Tape::mark_input(std::uint32_t id) const noexcept {
  if (id < size() && nodes_[id].op() == OpCode::leaf) nodes_[id].word |= detail::input_mark;
}

NodeView Tape::node(std::uint32_t id) const {
  if (id >= size())
    throw std::out_of_range("ad::Tape::node: id " + std::to_string(id) + " is past the last node (size " +
                            std::to_string(size()) + ")");
  const detail::Node& n = nodes_[id];
  NodeView v{};
  v.id = id;
  v.op = n.op();
  v.name = op_info(n.op()).name;
  if (n.op() == OpCode::custom_unary || n.op() == OpCode::custom_binary) v.name = custom_op(id).name;
  v.value = n.value;
  v.var_name = name_of(id);
  v.is_input = is_input(id);
  switch (op_info(n.op()).operands) {
    case OperandKinds::none:
      break;
    case OperandKinds::var:
      v.input_count = 1;
      v.inputs[0] = n.a();
      break;
    case OperandKinds::var_var:
      v.input_count = 2;
      v.inputs[0] = n.a();
      v.inputs[1] = n.b();
      break;
    case OperandKinds::var_constant:
    case OperandKinds::constant_var:
      v.input_count = 1;
      v.inputs[0] = n.a();
      v.has_constant = true;
      v.constant = n.db;
      v.constant_is_left = op_info(n.op()).operands == OperandKinds::constant_var;
      break;
    case OperandKinds::many: {
      if (n.word & detail::operand_mask << detail::operand_bits) {  // runs (detail::many_operands)
        v.run_length = static_cast<std::uint32_t>(n.da);
        v.run_starts[0] = n.a();
        v.run_starts[1] = n.op() == OpCode::dot ? n.b() : 0;
        v.input_count = n.op() == OpCode::dot ? 2 * v.run_length : v.run_length;
        v.inputs[0] = v.input(0);
        if (v.input_count > 1) v.inputs[1] = v.input(1);
        break;
      }
      const auto first = static_cast<std::size_t>(n.da);
      v.input_count = static_cast<std::uint32_t>(n.db);
      v.many_inputs = std::span<const std::uint32_t>(many_inputs_).subspan(first, v.input_count);
      v.inputs[0] = v.many_inputs[0];
      if (v.input_count > 1) v.inputs[1] = v.many_inputs[1];
      break;
    }
  }
  return v;
}

}  // namespace ad
