#include <algorithm>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>

#include <autodiff/tape.hpp>
#include "tensor_tape.hpp"

#include "thread_state.hpp"

namespace ad::detail {

TensorImplBase::~TensorImplBase() = default;

void release_recording(TensorImplBase& t) noexcept {
  // `recorder` never changes after record(), so reading it needs no lock;
  // `tape` and `slot` are changed by the recording thread under its lock.
  if (t.recorder == this_thread_state_if_any()) {
    if (t.tape != nullptr) t.tape->forget(t);
    return;
  }
  std::lock_guard guard(t.recorder->lock);
  if (t.tape != nullptr) t.tape->forget_later(t);
}

namespace {
// Nodes waiting to be freed by the outermost dispose_node of this thread.
constinit thread_local TensorNode* disposed = nullptr;
constinit thread_local bool disposing = false;
}  // namespace

void dispose_node(std::unique_ptr<TensorNode> node) noexcept {
  // Freeing a node drops its inputs, which free their own nodes, and so on
  // down the graph: recursion as deep as the graph. Instead the outermost
  // call frees nodes in a loop, and the calls it triggers only queue theirs.
  if (disposing) {
    TensorNode* n = node.release();
    n->next_disposed = disposed;
    disposed = n;
    return;
  }
  disposing = true;
  node.reset();
  while (disposed != nullptr) {
    TensorNode* n = disposed;
    disposed = n->next_disposed;
    delete n;
  }
  disposing = false;
}

TensorTape::~TensorTape() { clear(); }

void TensorTape::record(TensorImplBase& output) {
  if (slots_.size() >= compact_at_ && pinned_ == 0) compact();
  output.tape = this;
  output.slot = slots_.size();
  output.recorder = &owner_;
  slots_.push_back(&output);
}

void TensorTape::forget_later(const TensorImplBase& output) noexcept {
  try {
    orphans_.emplace_back(output.slot, &output);
  } catch (...) {
    // Out of memory while a tensor dies on another thread: nothing safe is
    // left to do (the tape would keep a dangling slot).
    std::terminate();
  }
}

void TensorTape::drain_orphans() noexcept {
  for (const auto& [slot, t] : orphans_)
    if (slot < slots_.size() && slots_[slot] == t) slots_[slot] = nullptr;
  orphans_.clear();
  trim();
}

void TensorTape::compact() {
  std::lock_guard guard(owner_.lock);
  drain_orphans();
  std::size_t live = 0;
  for (TensorImplBase* t : slots_) {
    if (t == nullptr) continue;
    t->slot = live;
    slots_[live++] = t;
  }
  slots_.resize(live);
  // Amortised O(1) per record: the next compaction waits until the tape has
  // doubled past what is alive now.
  compact_at_ = std::max<std::size_t>(1024, 2 * live);
}

std::size_t TensorTape::live_nodes() const noexcept {
  std::lock_guard guard(owner_.lock);
  std::size_t n = 0;
  for (const TensorImplBase* t : slots_) n += t != nullptr;
  // Tensors that died on other threads still hold their slots until drained.
  for (const auto& [slot, t] : orphans_) n -= slot < slots_.size() && slots_[slot] == t;
  return n;
}

const std::vector<TensorImplBase*>& TensorTape::records() noexcept {
  std::lock_guard guard(owner_.lock);
  drain_orphans();
  return slots_;
}

void TensorTape::clear() noexcept {
  // As in backward(): detach everything before any node (and what only it
  // references) is freed.
  std::vector<std::unique_ptr<TensorNode>> released;
  {
    std::lock_guard guard(owner_.lock);
    drain_orphans();
    for (TensorImplBase* t : slots_) {
      if (t == nullptr) continue;
      t->tape = nullptr;
      t->stale = true;
      released.push_back(std::move(t->node));
    }
    slots_.clear();
    compact_at_ = 1024;
  }
  for (auto& node : released) dispose_node(std::move(node));
}

}  // namespace ad::detail
