// The scope guards of guards.hpp. Each changes its thread's recording state
// under the thread's lock and re-derives the thread-local variables the hot
// paths read (detail::refresh), so guards and tapes may end in any order.
#include <mutex>

#include <autodiff/guards.hpp>
#include <autodiff/tape.hpp>

#include "thread_state.hpp"

namespace ad {
namespace detail {
constinit thread_local int no_grad_depth = 0;
constinit thread_local int anomaly_depth = 0;
}  // namespace detail

NoGrad::NoGrad() : owner_(&detail::this_thread_state()) {
  std::lock_guard guard(owner_->lock);
  opened_ = ++owner_->opened;
  older_ = owner_->newest_no_grad;
  if (older_ != nullptr) older_->newer_ = this;
  owner_->newest_no_grad = this;
  ++owner_->no_grad_count;
  detail::refresh(*owner_);
}

NoGrad::~NoGrad() {
  std::lock_guard guard(owner_->lock);
  if (newer_ != nullptr)
    newer_->older_ = older_;
  else
    owner_->newest_no_grad = older_;
  if (older_ != nullptr) older_->newer_ = newer_;
  --owner_->no_grad_count;
  detail::refresh(*owner_);
}

// Anomaly mode is a property of the thread: on for all of its tapes while any
// DetectAnomaly of the thread lives (so ending guards in any order is right).
DetectAnomaly::DetectAnomaly() : owner_(&detail::this_thread_state()) {
  std::lock_guard guard(owner_->lock);
  if (owner_->anomaly_count++ == 0)
    for (Tape* t = owner_->innermost; t != nullptr; t = t->enclosing_) t->set_anomaly(true);
  detail::refresh(*owner_);
}

DetectAnomaly::~DetectAnomaly() {
  std::lock_guard guard(owner_->lock);
  if (--owner_->anomaly_count == 0)
    for (Tape* t = owner_->innermost; t != nullptr; t = t->enclosing_) t->set_anomaly(false);
  detail::refresh(*owner_);
}

}  // namespace ad
