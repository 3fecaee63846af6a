// The sweep's side of ad::GradientReadyHook (autodiff/gradient_hooks.hpp):
// which leaves' gradients become final at which tape slot, and the calls to
// the hook as the sweep passes them.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include <autodiff/gradient_hooks.hpp>
#include "tensor_tape.hpp"

namespace ad::detail {

// Takes the current thread's hook off for the sweep (a backward() nested in
// a handler or a custom op's derivative does not see it) and puts it back.
class ReadyLeaves {
 public:
  ReadyLeaves();
  ~ReadyLeaves();
  ReadyLeaves(const ReadyLeaves&) = delete;
  ReadyLeaves& operator=(const ReadyLeaves&) = delete;

  bool active() const noexcept { return hook_ != nullptr; }
  // Finds, for every leaf an op on slots 0..top takes as input, the lowest
  // such slot: the leaf's gradient is final once the sweep has done it.
  void plan(const std::vector<TensorImplBase*>& slots, std::size_t top);
  // Reports the leaves whose gradients are final before slot s is swept
  // (every op on a higher slot is done).
  void before_slot(std::size_t s) {
    while (!pending_.empty() && pending_.back().first > s) report_last();
  }
  // Reports the rest, then calls sweep_done.
  void finish();

 private:
  void report_last();
  GradientReadyHook* hook_;
  std::vector<std::pair<std::size_t, TensorImplBase*>> pending_;  // by lowest slot, ascending
};

}  // namespace ad::detail
