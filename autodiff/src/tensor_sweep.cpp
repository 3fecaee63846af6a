// The tensor reverse sweep (TensorTape::backward): one pass down the tape,
// all or nothing for the leaves' gradients, and safe for leaves that several
// threads' graphs share (docs/decisions/0010-tensors-and-threads.md).
#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <autodiff/tape.hpp>
#include "tensor_tape.hpp"

#include "gradient_ready.hpp"
#include "thread_state.hpp"

namespace ad::detail {
namespace {

std::string label(const TensorImplBase& t) {
  return fmt::format("'{}' {}", t.name.empty() ? "unnamed" : t.name, t.shape.to_string());
}

// Calls f on `t` as the TensorImpl of its element type.
template <class F>
void as_typed(TensorImplBase* t, F&& f) {
  if (t->dtype == DType::float32)
    f(static_cast<TensorImpl<float>&>(*t));
  else
    f(static_cast<TensorImpl<double>&>(*t));
}

// The gradients a sweep adds to from outside its tape (leaves, and tensors
// whose graph an earlier backward() released), each locked for the sweep:
// two threads whose graphs share a leaf add to it one after the other. Taken
// in address order, so two sweeps cannot wait for each other.
class Targets {
 public:
  // `targets` is the caller's list, used in place (its memory is kept from sweep to sweep).
  Targets(std::vector<TensorImplBase*>& targets, ThreadState& me) : targets_(targets) {
    std::sort(targets_.begin(), targets_.end());
    targets_.erase(std::unique(targets_.begin(), targets_.end()), targets_.end());
    for (TensorImplBase* t : targets_) {
      ThreadState* expected = nullptr;
      while (!t->accumulating.compare_exchange_weak(expected, &me, std::memory_order_acquire,
                                                    std::memory_order_relaxed)) {
        if (expected == &me) {
          unlock();
          throw std::logic_error(fmt::format(
              "ad::Tensor::backward: {} is already receiving gradients from a backward() running on this "
              "thread (a backward() called inside a backward, e.g. from a custom op's derivative)",
              label(*t)));
        }
        // Another thread's sweep holds it (rare, and short): wait our turn.
        std::this_thread::yield();
        expected = nullptr;
      }
      ++locked_;
    }
    for (TensorImplBase* t : targets_) as_typed(t, [](auto& typed) { typed.stash_grad(); });
  }
  ~Targets() { unlock(); }
  Targets(const Targets&) = delete;
  Targets& operator=(const Targets&) = delete;

  void commit() noexcept {
    for (TensorImplBase* t : targets_) as_typed(t, [](auto& typed) { typed.commit_grad(); });
    done_ = true;
  }
  void restore() noexcept {
    for (TensorImplBase* t : targets_) as_typed(t, [](auto& typed) { typed.restore_grad(); });
    done_ = true;
  }

 private:
  void unlock() noexcept {
    if (!done_ && locked_ == targets_.size()) restore();
    for (std::size_t k = 0; k < locked_; ++k)
      targets_[k]->accumulating.store(nullptr, std::memory_order_release);
    locked_ = 0;
    targets_.clear();
  }
  std::vector<TensorImplBase*>& targets_;
  std::size_t locked_ = 0;
  bool done_ = false;
};

}  // namespace

void TensorTape::backward(TensorImplBase& root, bool retain_graph) {
  TensorImplBase* const roots[] = {&root};
  backward(roots, retain_graph);
}

void TensorTape::backward(std::span<TensorImplBase* const> roots, bool retain_graph) {
  // Tensors of this tape that die on other threads meanwhile wait until the
  // sweep is over (release_recording takes the same lock).
  std::lock_guard guard(owner_.lock);
  drain_orphans();
  sweep(roots, retain_graph);
}

void TensorTape::sweep(std::span<TensorImplBase* const> roots, bool retain_graph) {
  std::size_t top = 0;
  for (TensorImplBase* r : roots) {
    if (r->tape != this)
      throw std::logic_error("ad::Tensor::backward: the tensor is not recorded on this tape");
    top = std::max(top, r->slot);
  }
  auto is_root = [&](const TensorImplBase* t) {  // asked for every slot: one root is the usual case
    return roots.size() == 1 ? t == roots[0] : std::find(roots.begin(), roots.end(), t) != roots.end();
  };
  // The sweep's lists keep their memory from sweep to sweep (a small
  // network's step would otherwise pay a few mallocs for them); taken, so
  // that a sweep nested in a custom op's derivative gets its own.
  struct Lists {
    std::vector<TensorImplBase*> outside, swept;
  };
  thread_local Lists scratch;
  Lists lists = std::move(scratch);
  struct GiveBack {
    Lists& lists;
    ~GiveBack() {
      lists.outside.clear();
      lists.swept.clear();
      scratch = std::move(lists);
    }
  } give_back{lists};
  std::vector<TensorImplBase*>& outside = lists.outside;
  for (std::size_t s = 0; s <= top; ++s)
    if (const TensorImplBase* t = slots_[s]; t != nullptr && t->node != nullptr)
      for (const auto& input : t->node->inputs)
        if (input->requires_grad && input->node == nullptr) outside.push_back(input.get());
  Targets targets(outside, owner_);
  ReadyLeaves ready;  // a GradientReadyHook on this thread hears each leaf as soon as it is final
  if (ready.active()) [[unlikely]]
    ready.plan(slots_, top);
  // Gradients that an earlier sweep with retain_graph left on recorded
  // tensors would be pushed on a second time: each sweep starts them from
  // zero (only leaves accumulate across sweeps).
  auto free_intermediate_grads = [&] {
    for (std::size_t s = 0; s < top; ++s)
      if (TensorImplBase* t = slots_[s]; t != nullptr && !is_root(t))
        as_typed(t, [](auto& typed) {
          if (!typed.grad.empty()) typed.free_grad();
        });
  };
  free_intermediate_grads();
  // Tape order is a topological order: by the time slot s is reached, every
  // op that used its tensor (all recorded later) has added its share to the
  // tensor's gradient.
  std::vector<TensorImplBase*>& swept = lists.swept;
  try {
    for (std::size_t s = top + 1; s-- > 0;) {
      if (ready.active()) [[unlikely]]
        ready.before_slot(s);
      TensorImplBase* t = slots_[s];
      if (t == nullptr || !t->has_grad()) continue;  // dead, or no path to the root
      t->node->check_saved_versions();
      t->node->backward(*t);
      if (anomaly_depth > 0) [[unlikely]]
        check_backward_anomaly(*t);
      swept.push_back(t);
      if (!retain_graph && !is_root(t)) t->free_grad();  // intermediate gradients are not kept
    }
    for (TensorImplBase* t : swept) {
      for (const auto& input : t->node->inputs)
        if (input->graph_released && input->has_grad())
          throw std::logic_error(fmt::format(
              "ad::Tensor::backward: a gradient reached a tensor ({}{}) whose graph an earlier backward() "
              "released; call backward(retain_graph = true) the first time, or detach() it",
              input->name.empty() ? "unnamed" : input->name, input->shape.to_string()));
    }
    if (ready.active()) [[unlikely]]
      ready.finish();
  } catch (...) {
    // All or nothing: leaves keep the gradients they had before this call.
    targets.restore();
    free_intermediate_grads();
    throw;
  }
  targets.commit();
  if (retain_graph) return;
  // The graph's structure outlives the sweep, for inspection (ad::graph,
  // describe and to_dot after backward(), as in PyTorch): each swept node
  // moves to released_node with what its backward needed dropped, and an
  // intermediate tensor that nothing but the swept nodes holds gives its
  // values back now, as it did when the sweep freed the graph.
  for (TensorImplBase* t : swept) {
    slots_[t->slot] = nullptr;
    t->tape = nullptr;
    t->graph_released = true;
    t->released_node = std::move(t->node);
    t->released_node->drop_saved();
  }
  trim();
  // Swept intermediates (not leaves, not roots): counted, then freed where
  // the count is every reference there is.
  auto candidate = [&](const TensorImplBase& t) {
    return t.graph_released && !t.values_freed && !is_root(&t);
  };
  for (TensorImplBase* t : swept)
    for (const auto& input : t->released_node->inputs)
      if (candidate(*input)) ++input->graph_refs;
  for (TensorImplBase* t : swept)
    for (const auto& input : t->released_node->inputs) {
      if (input->graph_refs == 0) continue;  // not a candidate, or seen
      const bool only_the_graph = static_cast<long>(input->graph_refs) == input.use_count();
      input->graph_refs = 0;
      if (only_the_graph) {
        as_typed(input.get(), [](auto& typed) { recycle_buffer(typed.values); });
        input->values_freed = true;
      }
    }
}

namespace {
thread_local TensorTape default_tape{this_thread_state()};
}

TensorTape* current_tensor_tape() {
  if (no_grad_depth > 0) return nullptr;
  if (Tape* t = Tape::active(); t != nullptr) return &TensorAccess::tensor_tape(*t);
  return &default_tape;
}

}  // namespace ad::detail
