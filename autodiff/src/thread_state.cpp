// The per-thread recording state (thread_state.hpp) and the NoGrad guard.
#include <mutex>
#include <vector>

#include <autodiff/tape.hpp>

#include "thread_state.hpp"

namespace ad::detail {
namespace {

constinit thread_local ThreadState* this_thread = nullptr;

// Every state ever made, so that they stay reachable (they are never freed:
// tensors and tapes of a finished thread still point to its state).
std::mutex registry_lock;
std::vector<ThreadState*>& registry() {
  static auto* states = new std::vector<ThreadState*>;  // never destroyed: outlives every thread
  return *states;
}

// Marks the state dead when its thread ends: its thread-local variables are
// about to go, and nothing may write them afterwards.
struct ThreadExit {
  ThreadState* state = nullptr;
  ~ThreadExit() {
    std::lock_guard guard(state->lock);
    state->alive = false;
  }
};

}  // namespace

ThreadState& this_thread_state() {
  if (this_thread != nullptr) [[likely]]
    return *this_thread;
  auto* s = new ThreadState;
  {
    std::lock_guard guard(registry_lock);
    registry().push_back(s);
  }
  s->active_slot = &active_tape;
  s->innermost_slot = &innermost_tape;
  s->no_grad_slot = &no_grad_depth;
  s->anomaly_slot = &anomaly_depth;
  thread_local ThreadExit at_exit;
  at_exit.state = s;
  this_thread = s;
  return *s;
}

ThreadState* this_thread_state_if_any() noexcept { return this_thread; }

void refresh(ThreadState& s) noexcept {
  // The innermost tape records unless a NoGrad opened after it still lives.
  Tape* active = s.innermost;
  if (active != nullptr && s.newest_no_grad != nullptr && s.newest_no_grad->opened_ > active->opened_)
    active = nullptr;
  if (!s.alive) return;
  *s.innermost_slot = s.innermost;
  *s.active_slot = active;
  *s.no_grad_slot = s.no_grad_count;
  *s.anomaly_slot = s.anomaly_count;
}

}  // namespace ad::detail
