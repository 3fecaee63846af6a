// ad::GradientReadyHook: each leaf's gradient is reported once per sweep, as
// soon as it is final (before the ops further down the tape are swept), with
// only this sweep's share, editable until sweep_done; no hook, no change.
#include <doctest/doctest.h>

#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>
#include <autodiff/gradient_hooks.hpp>

namespace {

using ad::GradientReadyHook;

// y = sum(tanh(tanh(x * a) * b)): b is used by the later op, so its gradient
// is final before the sweep reaches the op that uses a.
struct TwoLayers {
  ad::Tensor x = ad::Tensor::from({3}, {0.1, -0.2, 0.3});
  ad::Tensor a = ad::Tensor::from({3}, {1.0, 2.0, 3.0});
  ad::Tensor b = ad::Tensor::from({3}, {0.5, -0.5, 0.25});
  TwoLayers() {
    a.requires_grad();
    b.requires_grad();
  }
  ad::Tensor loss() const { return ad::sum(ad::tanh(ad::tanh(x * a) * b)); }
};

std::vector<double> copy(std::span<const double> s) { return {s.begin(), s.end()}; }

}  // namespace

TEST_CASE("each leaf is reported once, the later layer first, then sweep_done") {
  TwoLayers m;
  std::vector<std::string> events;
  GradientReadyHook hook({.ready_f64 =
                              [&](const void* leaf, std::span<double> g) {
                                CHECK(g.size() == 3);
                                events.push_back(leaf == GradientReadyHook::key(m.a) ? "a" : "b");
                              },
                          .sweep_done = [&] { events.push_back("done"); }});
  m.loss().backward();
  CHECK(events == std::vector<std::string>{"b", "a", "done"});
}

TEST_CASE("the reported span is this sweep's gradient, and edits to it reach the leaf") {
  TwoLayers m;
  m.loss().backward();
  const std::vector<double> first = copy(m.a.grad().values());
  std::vector<double> seen;
  {
    GradientReadyHook hook({.ready_f64 = [&](const void* leaf, std::span<double> g) {
      if (leaf != GradientReadyHook::key(m.a)) return;
      seen.assign(g.begin(), g.end());
      for (double& v : g) v *= 10;  // e.g. averaged with other processes
    }});
    m.loss().backward();  // accumulates onto the first sweep's gradient
  }
  CHECK(seen == first);                       // only this sweep's share, not the accumulated sum
  const ad::Tensor accumulated = m.a.grad();  // grad() is a new tensor: hold it while reading
  const auto total = accumulated.values();
  for (std::size_t k = 0; k < 3; ++k) CHECK(total[k] == doctest::Approx(11 * first[k]));
}

TEST_CASE("float leaves are reported through ready_f32") {
  ad::TensorF w = ad::TensorF::from({2}, {1.0f, 2.0f});
  w.requires_grad();
  int calls = 0;
  GradientReadyHook hook({.ready_f32 = [&](const void*, std::span<float> g) {
    ++calls;
    CHECK(g[1] == 1.0f);
  }});
  ad::sum(w).backward();
  CHECK(calls == 1);
}

TEST_CASE("the hook ends with its scope, and a newer hook hides an older one") {
  TwoLayers m;
  int outer = 0, inner = 0;
  GradientReadyHook outer_hook({.sweep_done = [&] { ++outer; }});
  {
    GradientReadyHook inner_hook({.sweep_done = [&] { ++inner; }});
    m.loss().backward();
  }
  m.loss().backward();
  CHECK(inner == 1);
  CHECK(outer == 1);
}

TEST_CASE("a sweep that throws skips sweep_done and leaves the gradients as they were") {
  TwoLayers m;
  bool done = false;
  GradientReadyHook hook({.ready_f64 = [&](const void*, std::span<double>) { throw std::runtime_error("x"); },
                          .sweep_done = [&] { done = true; }});
  CHECK_THROWS_AS(m.loss().backward(), std::runtime_error);
  CHECK_FALSE(done);
  CHECK_FALSE(m.a.has_grad());
}
