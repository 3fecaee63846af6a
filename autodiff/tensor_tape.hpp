// The tensor recording: what a Tensor holds underneath, the record of one op
// (a TensorNode), and the per-thread tape those records are appended to.
//
// Ownership (docs/decisions/0003-tensor-tape.md): a tensor's storage
// (TensorImpl) owns the node that produced it, and a node holds its inputs, so
// whatever a live tensor depends on stays alive and nothing else does. The
// tape itself holds only non-owning pointers, in execution order: backward()
// is one pass down that list (no graph search), and a temporary that nobody
// references any more simply leaves an empty slot behind.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <source_location>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <autodiff/shape.hpp>

namespace ad::detail {

class TensorTape;
struct TensorNode;
struct ThreadState;

// Small-object recycling for the records every tensor op makes (its tensor
// storage, its node, its input list): a per-thread free list per size class,
// so that a training loop, which frees a step's graph and records the same
// shapes again, reuses blocks instead of going through malloc and free
// (docs/decisions/0007-tensor-op-overhead.md). Blocks over 512 bytes, and
// every block in sanitizer builds (so that use-after-free stays visible),
// go straight to operator new and delete.
void* pool_allocate(std::size_t bytes);
void pool_deallocate(void* p, std::size_t bytes) noexcept;

// Buffer recycling for tensor values and gradients: a training step frees
// its intermediate tensors and allocates the same sizes again in the next
// step; handing the freed vectors back (per thread, up to 64 MiB) avoids the
// allocator and, for large buffers, the page faults of memory the C library
// returned to the system in between. take_buffer gives a vector of n
// elements: zeros if `zeroed`, otherwise unspecified values the caller
// overwrites. recycle_buffer empties `v`, keeping its memory for reuse.
template <class T>
std::vector<T> take_buffer(std::size_t n, bool zeroed);
template <class T>
void recycle_buffer(std::vector<T>& v) noexcept;

template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(pool_allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { pool_deallocate(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const PoolAllocator<U>&) const noexcept {
    return true;
  }
};

enum class DType : std::uint8_t { float32, float64 };

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::float32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::float64;
}
constexpr std::string_view dtype_name(DType d) { return d == DType::float32 ? "float32" : "float64"; }

// The state every tensor has, whatever its element type.
struct TensorImplBase {
  explicit TensorImplBase(DType d, Shape s) : dtype(d), shape(s) {}
  virtual ~TensorImplBase();
  TensorImplBase(const TensorImplBase&) = delete;
  TensorImplBase& operator=(const TensorImplBase&) = delete;

  DType dtype;
  Shape shape;
  std::string name;
  bool requires_grad = false;   // a leaf the user asked gradients for, or a result of such
  bool graph_released = false;  // its node was swept by backward() (values stay usable)
  bool values_freed = false;    // backward() gave its values back: only the graph held them
  bool stale = false;           // its tape was cleared or destroyed: its history is gone
  // Writes to the values in place (mutable_values()) so far: a node whose
  // backward reads these values remembers the version it saw (SavedVersion).
  std::uint32_t version = 0;

  // History: the op that produced this tensor (null for leaves and constants),
  // and where it sits on its tape.
  std::unique_ptr<TensorNode> node;
  // After backward(): the swept node, kept for inspection only (ad::graph,
  // describe, to_dot walk it) with its saved buffers dropped. Never swept
  // again (node is null, graph_released set).
  std::unique_ptr<TensorNode> released_node;
  TensorTape* tape = nullptr;
  std::size_t slot = 0;
  // Threads (docs/decisions/0010-tensors-and-threads.md): the thread whose
  // tape recorded this tensor (set once, by record()), and the thread whose
  // backward() is adding to this leaf's gradient right now (a per-leaf lock).
  ThreadState* recorder = nullptr;
  std::atomic<ThreadState*> accumulating{nullptr};
  bool grad_zero = false;  // grad holds zeros only (zero_grad()): a sweep may replace it
  std::uint32_t graph_refs = 0;  // scratch of the sweep's end: references from the swept nodes

  bool is_leaf() const noexcept { return node == nullptr && !graph_released && !stale; }
  virtual bool has_grad() const noexcept = 0;
  virtual void free_grad() noexcept = 0;
  virtual std::size_t value_bytes() const noexcept = 0;
};

// Called by a dying tensor: takes it off its tape (any thread), and frees its
// node without recursion (a chain of a million ops is freed by one loop).
void release_recording(TensorImplBase& t) noexcept;
void dispose_node(std::unique_ptr<TensorNode> node) noexcept;

template <class T>
struct TensorImpl final : TensorImplBase {
  TensorImpl(Shape s, std::vector<T> v) : TensorImplBase(dtype_of<T>(), s), values(std::move(v)) {}
  ~TensorImpl() override {
    // Off the tape first: until then a sweep of its tape may still read it.
    if (recorder != nullptr) release_recording(*this);
    if (node != nullptr) dispose_node(std::move(node));
    if (released_node != nullptr) dispose_node(std::move(released_node));
    recycle_buffer(values);
    recycle_buffer(grad);
    recycle_buffer(stashed_grad);
  }
  std::vector<T> values;
  std::vector<T> grad;          // empty until a gradient reaches this tensor
  std::vector<T> stashed_grad;  // the gradient before the running sweep

  bool has_grad() const noexcept override { return !grad.empty(); }
  void free_grad() noexcept override { recycle_buffer(grad); }
  // A sweep accumulates into a leaf's gradient all or nothing: it moves the
  // gradient aside, sums into a fresh one, then adds the two (commit) or puts
  // the old one back (restore, when the sweep throws). Not virtual: the sweep
  // calls them for every leaf it reaches, through the dtype (one branch).
  // Three cases: no gradient yet (the sweep makes one; restore frees it), a
  // zero_grad() gradient (the sweep adds to it in place; restore refills the
  // zeros: no allocation on a training step), or a gradient to keep (moved
  // aside; the sweep sums into a fresh buffer; commit adds the two).
  void stash_grad() noexcept {
    if (grad.empty() || grad_zero) return;
    stashed_grad = std::move(grad);
    grad = {};
  }
  void commit_grad() noexcept {
    if (!stashed_grad.empty()) {
      if (grad.empty())
        grad = std::move(stashed_grad);
      else
        for (std::size_t k = 0; k < grad.size(); ++k) grad[k] += stashed_grad[k];
      recycle_buffer(stashed_grad);
    }
    grad_zero = false;
  }
  void restore_grad() noexcept {
    if (!stashed_grad.empty()) {
      recycle_buffer(grad);
      grad = std::move(stashed_grad);
      stashed_grad = {};
    } else if (grad_zero) {
      std::fill(grad.begin(), grad.end(), T(0));
    } else {
      recycle_buffer(grad);
    }
  }
  std::size_t value_bytes() const noexcept override { return values.size() * sizeof(T); }
  // The gradient buffer, allocated as zeros on first use.
  std::vector<T>& grad_buffer() {
    if (grad.empty()) grad = take_buffer<T>(values.size(), true);
    return grad;
  }
};

// A new tensor storage (in a pooled block).
template <class T>
std::shared_ptr<TensorImpl<T>> make_impl(const Shape& shape, std::vector<T> values) {
  return std::allocate_shared<TensorImpl<T>>(PoolAllocator<TensorImpl<T>>(), shape, std::move(values));
}

// A tensor whose values an op's backward reads, and its version when the op
// was recorded. Writing the values in place before the sweep (an optimiser
// step between forward and backward) would make that backward compute with
// the new values, a wrong gradient without a sign: the sweep checks the
// versions first and throws instead, as PyTorch does. The tensor is kept alive
// by the node (an input, or held by its backward).
struct SavedVersion {
  const TensorImplBase* tensor = nullptr;
  std::uint32_t version = 0;
};

// The record of one op: its name (for printing the graph), its inputs, and
// how to push the output's gradient to them. Implementations come from
// make_node() in tensor_record.hpp: the op's backward is a lambda written
// next to its forward.
struct TensorNode {
  explicit TensorNode(std::string_view op_name) : op(op_name) {}
  virtual ~TensorNode() = default;
  static void* operator new(std::size_t bytes) { return pool_allocate(bytes); }
  static void operator delete(void* p, std::size_t bytes) noexcept { pool_deallocate(p, bytes); }
  // Adds d(root)/d(input) for each input into the inputs' grad buffers, given
  // d(root)/d(output) in output.grad.
  virtual void backward(TensorImplBase& output) = 0;
  // After the sweep: frees what backward needed (captured tensors and
  // buffers); the op, inputs and source line stay for inspection.
  virtual void drop_saved() noexcept {}

  std::string_view op;
  std::string owned_name;  // storage for `op` when it is not a literal (user-defined ops)
  std::vector<std::shared_ptr<TensorImplBase>, PoolAllocator<std::shared_ptr<TensorImplBase>>> inputs;
  std::source_location where;           // the line that called the op (empty for operators)
  TensorNode* next_disposed = nullptr;  // dispose_node's work list

  // The tensors whose values backward() reads (built-in ops read at most
  // two; user-defined ops with more inputs use saved_more). Inline: it runs
  // for every recorded op.
  std::array<SavedVersion, 2> saved{};
  std::vector<SavedVersion, PoolAllocator<SavedVersion>> saved_more;
  void save_version(const TensorImplBase& t) {
    for (SavedVersion& s : saved) {
      if (s.tensor == &t) return;  // mul(a, a) reads a once
      if (s.tensor == nullptr) {
        s = {&t, t.version};
        return;
      }
    }
    save_version_beyond_inline(t);
  }
  void save_version_beyond_inline(const TensorImplBase& t);
  // Throws std::logic_error, naming the tensor, this op and its line, if a
  // tensor in `saved` was written in place since the op was recorded.
  void check_saved_versions() const {
    for (const SavedVersion& s : saved)
      if (s.tensor != nullptr && s.tensor->version != s.version) [[unlikely]]
        throw_modified_in_place(s);
    for (const SavedVersion& s : saved_more)
      if (s.tensor->version != s.version) [[unlikely]]
        throw_modified_in_place(s);
  }
  [[noreturn]] void throw_modified_in_place(const SavedVersion& s) const;
};

// The per-thread (or per-ad::Tape) recording of tensor ops.
class TensorTape {
 public:
  explicit TensorTape(ThreadState& owner) : owner_(owner) {}
  ~TensorTape();
  TensorTape(const TensorTape&) = delete;
  TensorTape& operator=(const TensorTape&) = delete;

  // Appends `output` (whose node is set) to the recording.
  void record(TensorImplBase& output);
  // Called by a TensorImpl that dies while recorded, on the tape's own thread.
  void forget(const TensorImplBase& output) noexcept {
    slots_[output.slot] = nullptr;
    trim();
  }
  // The same on another thread, with owner().lock held: the slot is emptied
  // by the tape's thread, under the lock, before it next reads the slots.
  void forget_later(const TensorImplBase& output) noexcept;
  ThreadState& owner() const noexcept { return owner_; }

  // One reverse sweep from `root` (whose grad buffer holds the seed). Unless
  // `retain_graph`, the nodes the sweep passed are freed afterwards, and so
  // are intermediate gradients as soon as they have been pushed on.
  void backward(TensorImplBase& root, bool retain_graph);
  // The same from several roots at once, each already seeded (its grad
  // buffer holds d(total)/d(root)): one sweep for sum_k seed_k . root_k.
  void backward(std::span<TensorImplBase* const> roots, bool retain_graph);

  // Detaches every recorded tensor (they become stale) and empties the tape.
  void clear() noexcept;
  // Recorded ops still alive.
  std::size_t live_nodes() const noexcept;
  std::size_t slots() const noexcept { return slots_.size(); }
  // The recorded tensors in tape order (null where one has died). Only on
  // the tape's own thread.
  const std::vector<TensorImplBase*>& records() noexcept;

  // While a Pin lives, recording never compacts the tape, so slot numbers
  // stay valid: the recorded sweep walks the tape by slot while its own ops
  // append to it.
  class Pin {
   public:
    explicit Pin(TensorTape& tape) noexcept : tape_(tape) { ++tape_.pinned_; }
    ~Pin() { --tape_.pinned_; }
    Pin(const Pin&) = delete;
    Pin& operator=(const Pin&) = delete;

   private:
    TensorTape& tape_;
  };

 private:
  void compact();
  // Drops dead slots at the end: a training step's graph, freed by its
  // backward(), leaves the tape as short as it was before the step, so the
  // next sweep does not walk past a growing tail of empty slots.
  void trim() noexcept {
    if (pinned_ == 0)
      while (!slots_.empty() && slots_.back() == nullptr) slots_.pop_back();
  }

  // Empties the slots of tensors that died on other threads (lock held).
  void drain_orphans() noexcept;
  void sweep(std::span<TensorImplBase* const> roots, bool retain_graph);

  ThreadState& owner_;  // the thread that records on it
  std::vector<TensorImplBase*> slots_;
  // (slot, tensor) of tensors that died on other threads, guarded by owner_.lock.
  std::vector<std::pair<std::size_t, const TensorImplBase*>> orphans_;
  std::size_t compact_at_ = 1024;  // compact dead slots when the tape reaches this length
  std::size_t pinned_ = 0;         // live Pins
};

// Anomaly mode: throws AnomalyError when the backward of `output`'s node left
// a NaN or infinity in an input's gradient.
void check_backward_anomaly(const TensorImplBase& output);

// The tape tensor ops record on in this thread: the innermost ad::Tape's if
// one is live, else a per-thread default; nullptr inside NoGrad.
TensorTape* current_tensor_tape();

}  // namespace ad::detail
