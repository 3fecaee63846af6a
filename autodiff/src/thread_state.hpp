// Internal: what a thread knows about its own recordings, kept where another
// thread can reach it safely.
//
// Each thread that records gets one ThreadState, made on first use and never
// freed (a few hundred bytes per thread ever started): tapes, guards and
// recorded tensors keep a plain pointer to the state of the thread that made
// them, and may outlive that thread. The state holds the chain of the
// thread's live tapes and NoGrad scopes; the thread-local variables that the
// hot paths read (detail::active_tape, innermost_tape, no_grad_depth,
// anomaly_depth) are derived from it by refresh(), so that a tape or guard
// destroyed in any order, or on another thread, leaves them describing what
// is still alive (docs/decisions/0010-tensors-and-threads.md).
#pragma once

#include <cstdint>
#include <mutex>

#include <autodiff/tape.hpp>

#include "tensor_tape.hpp"

namespace ad::detail {

struct ThreadState {
  // Guards everything below, and this thread's tensor tapes against tensors
  // dropped on other threads (TensorTape). Recursive: a sweep that holds it
  // may drop tensors or record ops, which take it again.
  std::recursive_mutex lock;
  bool alive = true;  // the thread still runs, so its thread-local variables exist

  Tape* innermost = nullptr;         // the chain of live tapes, linked by Tape::enclosing_
  NoGrad* newest_no_grad = nullptr;  // the live NoGrad scopes, newest first
  int no_grad_count = 0;
  int anomaly_count = 0;     // live DetectAnomaly scopes
  std::uint64_t opened = 0;  // counts tapes and NoGrads opened: their order

  // The thread's own thread-local variables (valid while `alive`).
  Tape** active_slot = nullptr;
  Tape** innermost_slot = nullptr;
  int* no_grad_slot = nullptr;
  int* anomaly_slot = nullptr;
};

// This thread's state, made on first use.
ThreadState& this_thread_state();
// This thread's state, or nullptr if it never recorded (cheap: one TLS load).
ThreadState* this_thread_state_if_any() noexcept;
// Throws std::logic_error "<who>: '<name>' <shape> (made by <op>) was
// recorded on another thread's tape; ..." unless `t` was recorded on this
// thread (or not recorded at all).
void check_recorded_here(const TensorImplBase& t, const char* who);
// Re-derives the thread-local variables of `s`'s thread from what is alive.
// Call with s.lock held.
void refresh(ThreadState& s) noexcept;

}  // namespace ad::detail
