// ad::GradientReadyHook: hears, during a tensor backward() on this thread,
// the moment each leaf's gradient from that sweep is final, long before the
// sweep ends. Data-parallel training (dist/) starts averaging a layer's
// gradient over the network while the sweep still works on the layers below.
//
//   ad::GradientReadyHook hook({
//       .ready_f64 = [&](const void* leaf, std::span<double> g) { ... },  // g: this sweep's dL/dleaf
//       .sweep_done = [&] { ... },  // every leaf was reported; gradients not yet committed
//   });
//   loss.backward();   // calls ready_f64 once per leaf, as soon as its gradient is final
//
// A leaf is identified by GradientReadyHook::key(tensor). The span is what
// this sweep alone adds to the leaf's gradient (not what earlier backward()
// calls left there); the hook may change it in place until sweep_done
// returns, and the sweep then adds it to the leaf's gradient as usual. It is
// empty for a leaf the sweep's graph uses but whose gradient is zero (no path
// from the root). Leaves report in the order their gradients become final:
// the order of the sweep, the same on every run of the same graph.
//
// The registration holds for the current thread until the hook is destroyed
// (hooks nest: the newest one is heard). A backward() run inside a hook, or
// inside a custom op's derivative during a sweep, does not call it. When no
// hook is registered a sweep pays one thread_local read. If the sweep throws,
// sweep_done is not called and the leaves keep their gradients from before.
#pragma once

#include <functional>
#include <span>

#include <autodiff/tensor.hpp>

namespace ad {

class GradientReadyHook {
 public:
  struct Handlers {
    std::function<void(const void* leaf, std::span<float> gradient)> ready_f32 = {};
    std::function<void(const void* leaf, std::span<double> gradient)> ready_f64 = {};
    std::function<void()> sweep_done = {};
  };

  explicit GradientReadyHook(Handlers handlers);
  ~GradientReadyHook();
  GradientReadyHook(const GradientReadyHook&) = delete;
  GradientReadyHook& operator=(const GradientReadyHook&) = delete;

  // The identity by which handlers know a leaf (the tensor's storage: copies
  // of a handle have the same key).
  template <class T>
  static const void* key(const TensorT<T>& leaf) noexcept;

  const Handlers& handlers() const noexcept { return handlers_; }

 private:
  Handlers handlers_;
  GradientReadyHook* previous_;
};

}  // namespace ad
