// Lifetimes (issue 14, items 3, 5 and 9): tapes and the NoGrad /
// DetectAnomaly guards may end in any order; graphs of a million ops are
// freed without recursion; a backward() that throws part-way leaves every
// leaf's gradient as it was. The last case destroys tapes, guards, Vars and
// tensors in random (seeded) orders and checks where each new Var lands.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
// White-box: the tape's own counters (slots, live nodes), private to the library.
#include <autodiff/custom_op.hpp>
#include <autodiff/src/tensor_tape.hpp>
#include <nn/nn.hpp>

namespace {

std::vector<double> grad_of(const ad::Tensor& t) {
  const ad::Tensor g = t.grad();
  return {g.values().begin(), g.values().end()};
}

}  // namespace

// ---- item 3: tapes and guards ended in any order ----

TEST_CASE("a NoGrad that outlives the tape it silenced leaves no tape active, not a dangling one") {
  auto tape = std::make_unique<ad::Tape>();
  {
    ad::NoGrad off;
    tape.reset();
  }
  CHECK(ad::Tape::active() == nullptr);
  const ad::Var x = 1.0;  // used to be recorded on the freed tape
  CHECK(x.is_constant());
}

TEST_CASE("a NoGrad that outlives an inner tape gives recording back to the enclosing tape when it ends") {
  ad::Tape outer;
  auto inner = std::make_unique<ad::Tape>();
  {
    ad::NoGrad off;
    inner.reset();
    CHECK(ad::Tape::active() == nullptr);  // still inside NoGrad
    const ad::Var y = 2.0;
    CHECK(y.is_constant());
  }
  CHECK(ad::Tape::active() == &outer);
  const ad::Var z = 3.0;
  CHECK(outer.owns(z));
}

TEST_CASE("a NoGrad ended before the tape opened inside it leaves that tape recording") {
  auto off = std::make_unique<ad::NoGrad>();
  ad::Tape tape;
  CHECK(ad::Tape::active() == &tape);  // a tape opened inside NoGrad records Vars
  off.reset();
  CHECK(ad::Tape::active() == &tape);
  const ad::Var x = 1.5;
  CHECK(tape.owns(x));
}

TEST_CASE("NoGrad scopes ended out of order keep recording off until the last one ends") {
  ad::Tape tape;
  auto first = std::make_unique<ad::NoGrad>();
  auto second = std::make_unique<ad::NoGrad>();
  first.reset();
  CHECK(ad::Tape::active() == nullptr);
  CHECK(ad::Var(1.0).is_constant());
  second.reset();
  CHECK(ad::Tape::active() == &tape);
}

TEST_CASE("anomaly detection stays on for every live tape until the last DetectAnomaly ends, in any order") {
  ad::Tape outer;
  auto detect = std::make_unique<ad::DetectAnomaly>();
  auto inner = std::make_unique<ad::Tape>();
  inner.reset();  // the tape that was innermost when detection began ends first
  const ad::Var x = -1.0;
  CHECK_THROWS_AS((void)ad::log(x), ad::AnomalyError);  // the outer tape is checked too
  detect.reset();
  const ad::Var y = -1.0;
  CHECK(std::isnan(ad::log(y).value()));  // off again: no exception
}

TEST_CASE("a tape destroyed on another thread leaves both threads' recording state intact") {
  ad::Tape outer;
  auto moved = std::make_unique<ad::Tape>();
  CHECK(ad::Tape::active() == moved.get());
  bool other_thread_fine = false;
  std::thread([&] {
    ad::Tape own;
    moved.reset();  // ends main's innermost tape from here
    const ad::Var v = 4.0;
    other_thread_fine = own.owns(v) && ad::Tape::active() == &own;
  }).join();
  CHECK(other_thread_fine);
  CHECK(ad::Tape::active() == &outer);
  const ad::Var x = 2.0;
  CHECK(outer.owns(x));
  CHECK((x * 3.0).value() == 6.0);
}

// ---- item 5: deep graphs are freed without recursion ----

namespace {
constexpr int deep = 1'000'000;

ad::Tensor deep_chain(const ad::Tensor& x) {
  ad::Tensor y = x;
  for (int i = 0; i < deep; ++i) y = y * 1.0;
  return y;
}
}  // namespace

TEST_CASE("a million-op tensor chain dropped without backward() is freed without overflowing the stack") {
  ad::Tensor x = ad::Tensor::from({1}, {2.0}).requires_grad(true);
  { ad::Tensor y = deep_chain(x); }
  CHECK(ad::detail::current_tensor_tape()->live_nodes() == 0);
}

TEST_CASE("a million-op tensor chain swept with retain_graph and then dropped is freed without recursion") {
  ad::Tensor x = ad::Tensor::from({1}, {2.0}).requires_grad(true);
  {
    ad::Tensor y = ad::sum(deep_chain(x));
    y.backward(true);
  }
  CHECK(grad_of(x) == std::vector<double>{1.0});
  CHECK(ad::detail::current_tensor_tape()->live_nodes() == 0);
}

TEST_CASE("a million-op chain recorded on an ad::Tape is freed when the tape ends") {
  ad::Tensor x = ad::Tensor::from({1}, {2.0}).requires_grad(true);
  ad::Tensor y;
  {
    ad::Tape tape;
    y = deep_chain(x);
  }
  y = ad::Tensor();
}

TEST_CASE("nn::sum_of_losses over 150000 samples builds a graph that is dropped without recursion") {
  const ad::Tensor prediction = ad::Tensor::zeros({150'000, 1}).requires_grad(true);
  const ad::Tensor target = ad::Tensor::ones({150'000, 1});
  {
    const ad::Tensor total = nn::sum_of_losses(
        prediction, target, [](const ad::Tensor& p, const ad::Tensor& y) { return ad::square(p - y); });
    CHECK(total.item() == 150'000.0);
  }
  CHECK(ad::detail::current_tensor_tape()->live_nodes() == 0);
}

// ---- item 9: a backward() that throws changes no gradient ----

TEST_CASE("a backward that reaches a released graph leaves the leaves' gradients as they were") {
  ad::Tensor W = ad::Tensor::from({2}, {1.0, 2.0}).requires_grad(true).name("W");
  ad::Tensor a = W * 2.0;
  ad::sum(a).backward();  // releases a's graph
  REQUIRE(grad_of(W) == std::vector<double>{2.0, 2.0});
  // The W * 5 branch is swept before the error is found at a.
  ad::Tensor loss = ad::sum(a * 3.0 + W * 5.0);
  CHECK_THROWS_AS(loss.backward(), std::logic_error);
  CHECK(grad_of(W) == std::vector<double>{2.0, 2.0});
}

TEST_CASE("a backward stopped by anomaly detection leaves the leaves' gradients as they were") {
  ad::Tensor W = ad::Tensor::from({2}, {4.0, 0.0}).requires_grad(true).name("W");
  ad::Tensor b = ad::Tensor::from({2}, {1.0, 1.0}).requires_grad(true).name("b");
  W.backward(ad::Tensor::from({2}, {0.5, 0.5}));  // a gradient to keep
  b.backward(ad::Tensor::from({2}, {0.25, 0.25}));
  ad::DetectAnomaly detect;
  // b's share arrives first; sqrt's derivative at 0 is infinite.
  ad::Tensor loss = ad::sum(ad::sqrt(W) + b * 3.0);
  CHECK_THROWS_AS(loss.backward(), ad::AnomalyError);
  CHECK(grad_of(W) == std::vector<double>{0.5, 0.5});
  CHECK(grad_of(b) == std::vector<double>{0.25, 0.25});
}

TEST_CASE("a backward whose custom op throws leaves the leaves' gradients as they were, and can be retried") {
  ad::Tensor W = ad::Tensor::from({2}, {1.0, 3.0}).requires_grad(true).name("W");
  bool fail = true;
  ad::Tensor y =
      ad::custom_op<double>("flaky", {W}, ad::Shape{2}, {1.0, 3.0}, [&](const ad::CustomGradient<double>& g) {
        if (fail) throw std::runtime_error("flaky backward");
        for (std::size_t i = 0; i < 2; ++i) g.grad_inputs[0][i] += g.grad_output[i];
      });
  ad::Tensor loss = ad::sum(y + W * 10.0);
  CHECK_THROWS_AS(loss.backward(), std::runtime_error);
  CHECK_FALSE(W.has_grad());
  fail = false;
  loss.backward();  // the graph was not released by the failed call
  CHECK(grad_of(W) == std::vector<double>{11.0, 11.0});
}

TEST_CASE("gradients still accumulate across successful backward() calls, after zero_grad() too") {
  ad::Tensor W = ad::Tensor::from({2}, {1.0, 2.0}).requires_grad(true);
  ad::sum(W * 3.0).backward();
  ad::sum(W * W).backward();
  CHECK(grad_of(W) == std::vector<double>{5.0, 7.0});
  W.zero_grad();
  ad::sum(W * 3.0).backward();
  CHECK(grad_of(W) == std::vector<double>{3.0, 3.0});
}

// ---- stress: random destruction orders ----

TEST_CASE("tapes, guards, Vars and tensors destroyed in random orders keep recording where it belongs") {
  // A model of the rule: the active tape is the newest live tape, unless a
  // NoGrad opened after it still lives; tensors record unless a NoGrad lives.
  struct Opened {
    enum Kind { tape, no_grad, anomaly } kind;
    std::unique_ptr<ad::Tape> t;
    std::optional<ad::NoGrad> ng;
    std::optional<ad::DetectAnomaly> da;
    std::uint64_t order;
  };
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    std::vector<std::unique_ptr<Opened>> live;
    std::vector<ad::Var> vars;
    std::vector<ad::Tensor> tensors;
    ad::Tensor W = ad::Tensor::from({3}, {0.5, -1.0, 2.0}).requires_grad(true);
    std::uint64_t order = 0;
    for (int step = 0; step < 300; ++step) {
      const int action = static_cast<int>(rng() % 9);
      if (action == 0 && live.size() < 12) {
        auto o = std::make_unique<Opened>();
        o->kind = Opened::tape;
        o->t = std::make_unique<ad::Tape>();
        o->order = ++order;
        live.push_back(std::move(o));
      } else if (action == 1 && live.size() < 12) {
        auto o = std::make_unique<Opened>();
        o->kind = Opened::no_grad;
        o->ng.emplace();
        o->order = ++order;
        live.push_back(std::move(o));
      } else if (action == 2 && live.size() < 12) {
        auto o = std::make_unique<Opened>();
        o->kind = Opened::anomaly;
        o->da.emplace();
        o->order = ++order;
        live.push_back(std::move(o));
      } else if (action <= 4 && !live.empty()) {  // end any one of them
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(rng() % live.size()));
      } else if (action == 5) {  // a Var: where does it land?
        const ad::Tape* newest = nullptr;
        std::uint64_t newest_order = 0, newest_no_grad = 0;
        for (const auto& o : live) {
          if (o->kind == Opened::tape && o->order > newest_order)
            newest = o->t.get(), newest_order = o->order;
          if (o->kind == Opened::no_grad) newest_no_grad = std::max(newest_no_grad, o->order);
        }
        const ad::Tape* expected = newest != nullptr && newest_no_grad < newest_order ? newest : nullptr;
        REQUIRE(ad::Tape::active() == expected);
        ad::Var v = 1.0 + static_cast<double>(step);
        vars.push_back(v);
        if (expected != nullptr) {
          CHECK(expected->owns(v));
          const ad::Var f = v * v + 3.0 * v;
          CHECK(ad::gradient(f, {v})[0] == 2.0 * v.value() + 3.0);
        } else {
          CHECK(v.is_constant());
        }
      } else if (action == 6) {  // a tensor op, maybe swept now
        const bool no_grad =
            std::any_of(live.begin(), live.end(), [](const auto& o) { return o->kind == Opened::no_grad; });
        ad::Tensor y = ad::sum(W * W);
        CHECK(y.requires_grad_enabled() == !no_grad);
        if (!no_grad && rng() % 2 == 0) {
          W.zero_grad();
          y.backward();
          CHECK(grad_of(W) == std::vector<double>{1.0, -2.0, 4.0});
        } else {
          tensors.push_back(y);
        }
      } else if (action == 7 && !tensors.empty()) {
        tensors.erase(tensors.begin() + static_cast<std::ptrdiff_t>(rng() % tensors.size()));
      } else if (action == 8 && !vars.empty()) {
        vars.erase(vars.begin() + static_cast<std::ptrdiff_t>(rng() % vars.size()));
      }
    }
    // End whatever is left in a random order, then check the thread is clean.
    std::shuffle(live.begin(), live.end(), rng);
    live.clear();
    tensors.clear();
    CHECK(ad::Tape::active() == nullptr);
    CHECK(ad::Var(1.0).is_constant());
    CHECK(ad::sum(W * W).requires_grad_enabled());
  }
}
