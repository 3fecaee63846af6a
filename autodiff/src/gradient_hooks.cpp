// ad::GradientReadyHook (autodiff/gradient_hooks.hpp) and its sweep side
// (gradient_ready.hpp).
#include <algorithm>
#include <unordered_set>
#include <utility>

#include <autodiff/gradient_hooks.hpp>

#include "gradient_ready.hpp"

namespace ad {
namespace {
// The newest hook registered on this thread (null: none, the usual case).
constinit thread_local GradientReadyHook* current_hook = nullptr;
}  // namespace

GradientReadyHook::GradientReadyHook(Handlers handlers)
    : handlers_(std::move(handlers)), previous_(current_hook) {
  current_hook = this;
}

GradientReadyHook::~GradientReadyHook() {
  // Hooks are scoped: the newest goes first. One destroyed out of order takes
  // itself out of the chain all the same.
  if (current_hook == this) {
    current_hook = previous_;
    return;
  }
  for (GradientReadyHook* h = current_hook; h != nullptr; h = h->previous_)
    if (h->previous_ == this) {
      h->previous_ = previous_;
      return;
    }
}

template <class T>
const void* GradientReadyHook::key(const TensorT<T>& leaf) noexcept {
  return detail::impl_ptr_of(leaf).get();
}
template const void* GradientReadyHook::key(const TensorT<float>&) noexcept;
template const void* GradientReadyHook::key(const TensorT<double>&) noexcept;

namespace detail {

ReadyLeaves::ReadyLeaves() : hook_(std::exchange(current_hook, nullptr)) {}
ReadyLeaves::~ReadyLeaves() { current_hook = hook_; }

void ReadyLeaves::plan(const std::vector<TensorImplBase*>& slots, std::size_t top) {
  // The same leaves the sweep's Targets lock: inputs with requires_grad and
  // no node of their own. Walking up, a leaf is first met at its lowest slot.
  std::unordered_set<const TensorImplBase*> seen;
  for (std::size_t s = 0; s <= top; ++s)
    if (const TensorImplBase* t = slots[s]; t != nullptr && t->node != nullptr)
      for (const auto& input : t->node->inputs)
        if (input->requires_grad && input->node == nullptr && seen.insert(input.get()).second)
          pending_.emplace_back(s, input.get());
}

void ReadyLeaves::report_last() {
  TensorImplBase* leaf = pending_.back().second;
  pending_.pop_back();
  const GradientReadyHook::Handlers& h = hook_->handlers();
  if (leaf->dtype == DType::float32) {
    auto& typed = static_cast<TensorImpl<float>&>(*leaf);
    if (h.ready_f32) h.ready_f32(leaf, typed.grad);
  } else {
    auto& typed = static_cast<TensorImpl<double>&>(*leaf);
    if (h.ready_f64) h.ready_f64(leaf, typed.grad);
  }
}

void ReadyLeaves::finish() {
  while (!pending_.empty()) report_last();
  if (hook_->handlers().sweep_done) hook_->handlers().sweep_done();
}

}  // namespace detail
}  // namespace ad
