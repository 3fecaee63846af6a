// Internal: the per-thread tape tensor ops are appended to (implemented in
// tensor_tape.cpp; its reverse sweep in tensor_sweep.cpp). Not installed.
//
// The tape holds only non-owning pointers to the recorded tensors, in
// execution order: backward() is one pass down that list (no graph search),
// and a temporary that nobody references any more simply leaves an empty
// slot behind.
#pragma once

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include <autodiff/tape.hpp>

#include "tensor_impl.hpp"

namespace ad::detail {

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

inline TensorTape& TensorAccess::tensor_tape(Tape& t) { return t.tensor_tape(); }

}  // namespace ad::detail
