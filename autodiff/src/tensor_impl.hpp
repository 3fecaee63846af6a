// Internal: what a Tensor holds underneath (TensorImpl) and the record of
// the op that produced it (TensorNode). Not installed: the public TensorT
// holds an opaque pointer to a TensorImpl, and only the library's sources
// (through TensorAccess, at the end) reach into it.
//
// Ownership (docs/decisions/0003-tensor-tape.md): a tensor's storage
// (TensorImpl) owns the node that produced it, and a node holds its inputs, so
// whatever a live tensor depends on stays alive and nothing else does. The
// tape (tensor_tape.hpp) holds only non-owning pointers, in execution order.
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
#include <autodiff/tensor.hpp>

#include "pool.hpp"

namespace ad {
class Tape;
}

namespace ad::detail {

class TensorTape;
struct TensorNode;
struct ThreadState;

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
  bool grad_zero = false;        // grad holds zeros only (zero_grad()): a sweep may replace it
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
// record() in tensor_record.hpp (a LambdaNode: the op's backward is a lambda
// written next to its forward) and from ad::custom_op (custom_op.cpp).
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

// The library's way into a TensorT: the handle keeps its storage private
// (users see values, gradients and names, never the record), and the sources
// that record ops, sweep and print graphs reach it through these.
struct TensorAccess {
  template <class T>
  static TensorImpl<T>& impl(const TensorT<T>& t) {
    return t.impl();
  }
  template <class T>
  static const std::shared_ptr<TensorImpl<T>>& impl_ptr(const TensorT<T>& t) noexcept {
    return t.impl_;
  }
  template <class T>
  static TensorT<T> wrap(std::shared_ptr<TensorImpl<T>> impl) noexcept {
    return TensorT<T>(std::move(impl));
  }
  // The tensor recording that scalar tape `t` owns (defined in tensor_tape.hpp).
  static TensorTape& tensor_tape(Tape& t);
};

// The storage of `t` (throws std::logic_error for an empty handle).
template <class T>
TensorImpl<T>& impl_of(const TensorT<T>& t) {
  return TensorAccess::impl(t);
}
// The shared handle itself (null for an empty tensor).
template <class T>
const std::shared_ptr<TensorImpl<T>>& impl_ptr_of(const TensorT<T>& t) noexcept {
  return TensorAccess::impl_ptr(t);
}
// A tensor handle sharing `impl`.
template <class T>
TensorT<T> tensor_of(std::shared_ptr<TensorImpl<T>> impl) noexcept {
  return TensorAccess::wrap(std::move(impl));
}

}  // namespace ad::detail
