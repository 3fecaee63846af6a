// What tensor code can rely on beyond each op's derivative: float and double
// agree, scalar and tensor mode agree, matmul backends agree, gradients
// accumulate until zeroed, the graph is freed by backward() unless retained,
// recording needs no tape object yet honours an explicit one and NoGrad,
// memory stays flat in a training loop, and factories and printing behave.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <autodiff/autodiff.hpp>
// White-box: the tape's own counters (slots, live nodes), private to the library.
#include <autodiff/src/tensor_tape.hpp>

#include "tensor_gradcheck.hpp"

namespace {

using ad::Shape;
using ad::Tensor;
using ad::TensorF;

std::vector<double> to_vector(const Tensor& t) { return {t.values().begin(), t.values().end()}; }

// max_i |a_i - b_i| / max(1, |b_i|)
template <class A, class B>
double max_scaled_difference(std::span<const A> a, std::span<const B> b) {
  REQUIRE(a.size() == b.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])) / std::max(1.0, std::fabs(double(b[i]))));
  return worst;
}

TensorF to_float(const Tensor& t) {
  std::vector<float> v(t.values().begin(), t.values().end());
  return TensorF::from(t.shape(), std::move(v));
}

// A 2-layer tanh network and its mean squared error, for any element type.
template <class T>
ad::TensorT<T> mlp_loss(const ad::TensorT<T>& X, const ad::TensorT<T>& W1, const ad::TensorT<T>& b1,
                        const ad::TensorT<T>& W2, const ad::TensorT<T>& b2, const ad::TensorT<T>& Y) {
  const ad::TensorT<T> hidden = ad::tanh(ad::matmul(X, W1.t()) + b1);
  const ad::TensorT<T> prediction = ad::matmul(hidden, W2.t()) + b2;
  return ad::mean(ad::square(prediction - Y));
}

// Generic code: the same source for double and ad::Var.
template <class T>
T rosenbrock(std::span<const T> x) {
  T f = T(0.0);
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    const T a = x[i + 1] - x[i] * x[i];
    const T b = 1.0 - x[i];
    f = f + 100.0 * a * a + b * b;
  }
  return f;
}

// Restores the matmul backend on scope exit, whatever a check does.
struct BackendGuard {
  ad::linalg::GemmBackend saved = ad::linalg::get_gemm_backend();
  ~BackendGuard() { ad::linalg::set_gemm_backend(saved); }
};

}  // namespace

TEST_CASE("float and double tensors agree on values and gradients") {
  std::mt19937_64 rng(1);
  const Tensor X = Tensor::randn({6, 3}, rng), Y = Tensor::randn({6, 2}, rng);
  const Tensor W1 = Tensor::randn({5, 3}, rng), b1 = Tensor::randn({5}, rng);
  const Tensor W2 = Tensor::randn({2, 5}, rng), b2 = Tensor::randn({2}, rng);

  std::vector<Tensor> pd = {W1.detach().requires_grad(true), b1.detach().requires_grad(true),
                            W2.detach().requires_grad(true), b2.detach().requires_grad(true)};
  std::vector<TensorF> pf;
  for (const Tensor& p : pd) pf.push_back(to_float(p).requires_grad(true));
  Tensor ld = mlp_loss(X, pd[0], pd[1], pd[2], pd[3], Y);
  TensorF lf = mlp_loss(to_float(X), pf[0], pf[1], pf[2], pf[3], to_float(Y));
  CHECK(lf.item() == doctest::Approx(ld.item()).epsilon(1e-5));
  ld.backward();
  lf.backward();
  for (std::size_t k = 0; k < pd.size(); ++k) {
    const Tensor gd = pd[k].grad();
    const TensorF gf = pf[k].grad();
    CHECK(gf.shape() == gd.shape());
    CHECK(max_scaled_difference(gf.values(), gd.values()) < 1e-4);
  }

  // Element-wise maths, reductions and normalisations as well.
  const Tensor x = Tensor::rand({3, 4}, rng);
  const TensorF xf = to_float(x);
  const Tensor yd = ad::log_softmax(ad::sqrt(x + 0.5) * ad::exp(-x), 0) + ad::logsumexp(ad::atan2(x, x + 1.0), 1, true);
  const TensorF yf =
      ad::log_softmax(ad::sqrt(xf + 0.5f) * ad::exp(-xf), 0) + ad::logsumexp(ad::atan2(xf, xf + 1.0f), 1, true);
  CHECK(max_scaled_difference(yf.values(), yd.values()) < 1e-5);
}

TEST_CASE("scalar-mode and tensor-mode gradients agree for Rosenbrock") {
  const std::vector<double> point = {-1.2, 1.0, 0.5, -0.3, 2.0};
  std::vector<double> scalar_grad;
  double scalar_value = 0.0;
  {
    ad::Tape tape;
    const std::vector<ad::Var> xs(point.begin(), point.end());
    const ad::Var f = rosenbrock<ad::Var>(xs);
    scalar_value = f.value();
    scalar_grad = ad::gradient(f, xs);
  }
  CHECK(scalar_value == doctest::Approx(rosenbrock<double>(point)));

  Tensor x = Tensor::from({point.size()}, point).requires_grad(true);
  const Tensor head = ad::slice_rows(x, 0, point.size() - 1), tail = ad::slice_rows(x, 1, point.size());
  Tensor f = ad::sum(100.0 * ad::square(tail - ad::square(head)) + ad::square(1.0 - head));
  CHECK(f.item() == doctest::Approx(scalar_value).epsilon(1e-14));
  f.backward();
  const Tensor g = x.grad();
  CHECK(max_scaled_difference(g.values(), std::span<const double>(scalar_grad)) < 1e-13);
}

TEST_CASE("scalar-mode and tensor-mode gradients agree for log-sum-exp") {
  const std::vector<double> point = {0.3, -1.5, 2.2, 0.0, 1.1, -0.4};
  std::vector<double> scalar_grad;
  double scalar_value = 0.0;
  {
    ad::Tape tape;
    const std::vector<ad::Var> xs(point.begin(), point.end());
    ad::Var total = ad::exp(xs[0]);
    for (std::size_t i = 1; i < xs.size(); ++i) total = total + ad::exp(xs[i]);
    const ad::Var f = ad::log(total);
    scalar_value = f.value();
    scalar_grad = ad::gradient(f, xs);
  }
  Tensor x = Tensor::from({point.size()}, point).requires_grad(true);
  Tensor f = ad::logsumexp(x, 0);
  CHECK(f.item() == doctest::Approx(scalar_value).epsilon(1e-14));
  f.backward();
  const Tensor g = x.grad();
  CHECK(max_scaled_difference(g.values(), std::span<const double>(scalar_grad)) < 1e-14);
}

TEST_CASE("scalar-mode and tensor-mode gradients agree for a 2-layer tanh MLP") {
  std::mt19937_64 rng(2);
  const std::size_t n = 4, in = 3, hid = 5, out = 2;
  const Tensor X = Tensor::randn({n, in}, rng), Y = Tensor::randn({n, out}, rng);
  Tensor W1 = Tensor::randn({hid, in}, rng).requires_grad(true), b1 = Tensor::randn({hid}, rng).requires_grad(true);
  Tensor W2 = Tensor::randn({out, hid}, rng).requires_grad(true), b2 = Tensor::randn({out}, rng).requires_grad(true);
  Tensor loss = mlp_loss(X, W1, b1, W2, b2, Y);
  loss.backward();

  ad::Tape tape;
  auto vars = [](const Tensor& t) { return std::vector<ad::Var>(t.values().begin(), t.values().end()); };
  const std::vector<ad::Var> w1 = vars(W1), c1 = vars(b1), w2 = vars(W2), c2 = vars(b2);
  ad::Var total = 0.0;
  for (std::size_t s = 0; s < n; ++s) {
    std::vector<ad::Var> h(hid);
    for (std::size_t j = 0; j < hid; ++j) {
      ad::Var z = c1[j];
      for (std::size_t i = 0; i < in; ++i) z = z + w1[j * in + i] * X.at({s, i});
      h[j] = ad::tanh(z);
    }
    for (std::size_t o = 0; o < out; ++o) {
      ad::Var p = c2[o];
      for (std::size_t j = 0; j < hid; ++j) p = p + w2[o * hid + j] * h[j];
      const ad::Var e = p - Y.at({s, o});
      total = total + e * e;
    }
  }
  const ad::Var f = total / double(n * out);
  CHECK(f.value() == doctest::Approx(loss.item()).epsilon(1e-14));
  const std::vector<std::pair<const std::vector<ad::Var>*, const Tensor*>> pairs = {
      {&w1, &W1}, {&c1, &b1}, {&w2, &W2}, {&c2, &b2}};
  for (const auto& [scalar, tensor] : pairs) {
    const std::vector<double> g = ad::gradient(f, *scalar);
    const Tensor tg = tensor->grad();
    CHECK(max_scaled_difference(tg.values(), std::span<const double>(g)) < 1e-13);
  }
}

TEST_CASE("matmul values and gradients agree across gemm backends") {
  BackendGuard guard;
  std::mt19937_64 rng(3);
  // Large enough to leave the direct loop for tiny products.
  const Tensor A = Tensor::randn({40, 30}, rng), B = Tensor::randn({30, 50}, rng);
  const Tensor batch = Tensor::randn({3, 20, 30}, rng);
  const Tensor wc = Tensor::randn({40, 50}, rng), wb = Tensor::randn({3, 20, 50}, rng);

  struct Result {
    std::vector<double> c, da, db, cb, dbatch, db2;
  };
  auto run = [&](ad::linalg::GemmBackend backend) {
    ad::linalg::set_gemm_backend(backend);
    Tensor a = A.detach().requires_grad(true), b = B.detach().requires_grad(true);
    Tensor x = batch.detach().requires_grad(true);
    const Tensor c = ad::matmul(a, b);
    ad::sum(wc * c).backward();
    const Tensor b2 = B.detach().requires_grad(true);
    const Tensor cb = ad::matmul(x, b2);  // a batch sharing the second operand
    ad::sum(wb * cb).backward();
    return Result{to_vector(c), to_vector(a.grad()), to_vector(b.grad()), to_vector(cb), to_vector(x.grad()),
                  to_vector(b2.grad())};
  };
  std::vector<ad::linalg::GemmBackend> backends = {ad::linalg::GemmBackend::automatic};
  if (ad::linalg::gemm_has_cblas()) backends.push_back(ad::linalg::GemmBackend::cblas);
  const Result reference = run(ad::linalg::GemmBackend::portable);
  for (const auto backend : backends) {
    INFO("backend ", static_cast<int>(backend), " (", ad::linalg::gemm_backend(), ")");
    const Result r = run(backend);
    auto close = [](const std::vector<double>& x, const std::vector<double>& y) {
      return max_scaled_difference(std::span<const double>(x), std::span<const double>(y)) < 1e-12;
    };
    CHECK(close(r.c, reference.c));
    CHECK(close(r.da, reference.da));
    CHECK(close(r.db, reference.db));
    CHECK(close(r.cb, reference.cb));
    CHECK(close(r.dbatch, reference.dbatch));
    CHECK(close(r.db2, reference.db2));
  }
  // Against a naive product, once.
  double c00 = 0.0;
  for (std::size_t l = 0; l < 30; ++l) c00 += A.at({7, l}) * B.at({l, 11});
  CHECK(reference.c[7 * 50 + 11] == doctest::Approx(c00).epsilon(1e-12));
}

TEST_CASE("gradients accumulate across backward calls until zero_grad") {
  Tensor x = Tensor::from({3}, {1.0, -2.0, 0.5}).requires_grad(true);
  Tensor unused = Tensor::ones({2}).requires_grad(true);
  CHECK_FALSE(x.has_grad());
  CHECK(to_vector(x.grad()) == std::vector<double>{0, 0, 0});

  ad::sum(x * x).backward();
  CHECK(to_vector(x.grad()) == std::vector<double>{2.0, -4.0, 1.0});
  ad::sum(3.0 * x).backward();
  CHECK(to_vector(x.grad()) == std::vector<double>{5.0, -1.0, 4.0});
  CHECK_FALSE(unused.has_grad());

  x.zero_grad();
  CHECK(to_vector(x.grad()) == std::vector<double>{0, 0, 0});
  ad::sum(x * x).backward();
  CHECK(to_vector(x.grad()) == std::vector<double>{2.0, -4.0, 1.0});

  // Optimisers write through grad_values() and mutable_values().
  auto g = x.grad_values();
  REQUIRE(g.size() == 3);
  g[0] = 10.0;
  CHECK(x.grad().values()[0] == 10.0);
}

TEST_CASE("retain_graph allows a second backward that adds the same gradient again") {
  Tensor x = Tensor::from({3}, {0.2, -0.7, 1.3}).requires_grad(true);
  Tensor y = ad::sin(x) * 2.0;
  Tensor loss = ad::sum(y);
  loss.backward(/*retain_graph=*/true);
  const std::vector<double> once = to_vector(x.grad());
  for (std::size_t i = 0; i < 3; ++i) CHECK(once[i] == doctest::Approx(2.0 * std::cos(x.values()[i])));
  loss.backward();
  const std::vector<double> twice = to_vector(x.grad());
  for (std::size_t i = 0; i < 3; ++i) CHECK(twice[i] == doctest::Approx(2.0 * once[i]));
  // The second backward released the graph: a third one throws.
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("retain_graph"), std::logic_error);
}

TEST_CASE("a retained graph shared by two losses gives each loss its own gradient") {
  Tensor x = Tensor::from({2}, {0.4, -1.1}).requires_grad(true);
  Tensor z = ad::tanh(x);
  Tensor first = ad::sum(z);
  Tensor second = ad::sum(ad::square(z));
  first.backward(/*retain_graph=*/true);
  x.zero_grad();
  second.backward();
  for (std::size_t i = 0; i < 2; ++i) {
    const double t = std::tanh(x.values()[i]);
    CHECK(x.grad().values()[i] == doctest::Approx(2.0 * t * (1.0 - t * t)));
  }
}

TEST_CASE("without retain_graph a second backward throws") {
  Tensor x = Tensor::from({2}, {1.0, 2.0}).requires_grad(true);
  Tensor loss = ad::sum(ad::exp(x));
  loss.backward();
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("already released"), std::logic_error);
  // The values stay readable.
  CHECK(loss.item() == doctest::Approx(std::exp(1.0) + std::exp(2.0)));
}

TEST_CASE("a seed gives a vector-Jacobian product") {
  Tensor x = Tensor::from({3}, {1.0, -2.0, 0.5}).requires_grad(true);
  Tensor y = x * x;
  const Tensor seed = Tensor::from({3}, {1.0, 10.0, 100.0});
  y.backward(seed);
  CHECK(to_vector(x.grad()) == std::vector<double>{2.0, -40.0, 100.0});

  // Through a matmul: dA = S B^T.
  Tensor A = Tensor::from({2, 2}, {1, 2, 3, 4}).requires_grad(true);
  const Tensor B = Tensor::from({2, 3}, {1, 0, 2, 0, 1, 3});
  const Tensor S = Tensor::from({2, 3}, {1, 1, 0, 0, 2, 1});
  ad::matmul(A, B).backward(S);
  CHECK(to_vector(A.grad()) == std::vector<double>{1, 1, 2, 5});

  // A seed of the wrong shape is refused.
  Tensor z = x * 2.0;
  CHECK_THROWS_WITH_AS(z.backward(Tensor::ones({2})), doctest::Contains("[2]"), std::invalid_argument);
}

TEST_CASE("backward on a non-scalar without a seed throws") {
  Tensor x = Tensor::from({3}, {1.0, 2.0, 3.0}).requires_grad(true);
  Tensor y = ad::exp(x);
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("seed"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("[3]"), std::invalid_argument);
  // A one-element tensor of any rank is fine.
  ad::reshape(ad::sum(y), {1, 1}).backward();
  CHECK(x.grad().values()[2] == doctest::Approx(std::exp(3.0)));
}

TEST_CASE("tensor code records without a tape object and also inside an explicit ad::Tape") {
  Tensor w = Tensor::from({2}, {0.5, -1.5}).requires_grad(true);
  REQUIRE(ad::Tape::active() == nullptr);
  const Tensor outside = w * 3.0;  // the per-thread default recording
  CHECK(outside.requires_grad_enabled());
  CHECK_FALSE(outside.is_leaf());
  const ad::detail::TensorTape* default_recording = ad::detail::impl_of(outside).tape;
  REQUIRE(default_recording != nullptr);
  ad::sum(outside).backward();
  CHECK(to_vector(w.grad()) == std::vector<double>{3.0, 3.0});
  w.zero_grad();
  {
    ad::Tape tape;
    REQUIRE(ad::Tape::active() == &tape);
    ad::detail::TensorTape& recording = ad::detail::TensorAccess::tensor_tape(*ad::Tape::active());
    CHECK(recording.slots() == 0);
    const Tensor inside = ad::square(w);
    CHECK(ad::detail::impl_of(inside).tape == &recording);
    CHECK(recording.live_nodes() == 1);
    Tensor loss = ad::sum(inside);
    CHECK(recording.live_nodes() == 2);
    CHECK(recording.records().back() == &ad::detail::impl_of(loss));
    loss.backward();
    CHECK(recording.live_nodes() == 0);
    CHECK(to_vector(w.grad()) == std::vector<double>{1.0, -3.0});
    {
      ad::Tape inner;  // nested: the innermost tape records
      const Tensor nested = w + 1.0;
      CHECK(ad::detail::impl_of(nested).tape == &ad::detail::TensorAccess::tensor_tape(inner));
      CHECK(recording.live_nodes() == 0);
    }
  }
  // Back on the default recording.
  const Tensor after = w - 1.0;
  CHECK(ad::detail::impl_of(after).tape == default_recording);
}

TEST_CASE("nothing is recorded inside NoGrad") {
  Tensor w = Tensor::from({2}, {0.5, -1.5}).requires_grad(true);
  ad::Tape tape;
  ad::detail::TensorTape& recording = ad::detail::TensorAccess::tensor_tape(tape);
  Tensor y;
  {
    ad::NoGrad off;
    y = ad::matmul(ad::reshape(w, {1, 2}), ad::reshape(w, {2, 1})) * 2.0;
    CHECK(recording.slots() == 0);
  }
  CHECK(y.item() == doctest::Approx(2.0 * (0.25 + 2.25)));
  CHECK_FALSE(y.requires_grad_enabled());
  CHECK(y.is_leaf());
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("does not require grad"), std::logic_error);
  // Recording resumes after the scope.
  Tensor z = w * 2.0;
  CHECK(recording.slots() == 1);
  CHECK(z.requires_grad_enabled());
}

TEST_CASE("memory stays flat over 1000 training iterations") {
  std::mt19937_64 rng(4);
  const Tensor X = Tensor::randn({8, 3}, rng);
  const Tensor Y = ad::tanh(ad::matmul(X, Tensor::from({3, 1}, {0.5, -1.0, 0.25})));
  Tensor W = Tensor::randn({3, 1}, rng).requires_grad(true);
  Tensor b = Tensor::zeros({1}).requires_grad(true);
  auto step = [&] {
    Tensor loss = ad::mean(ad::square(ad::tanh(ad::matmul(X, W) + b) - Y));
    loss.backward();
    for (Tensor* p : {&W, &b}) {
      auto v = p->mutable_values();
      const auto g = p->grad_values();
      for (std::size_t i = 0; i < v.size(); ++i) v[i] -= 0.2 * g[i];
      p->zero_grad();
    }
    return loss.item();
  };

  // Runs 1000 steps, watching the recording they land on.
  auto train = [&](const ad::detail::TensorTape& recording) {
    const double first = step();
    std::size_t max_slots = 0, max_live = 0;
    double last = first;
    for (int iteration = 0; iteration < 1000; ++iteration) {
      last = step();
      max_slots = std::max(max_slots, recording.slots());
      max_live = std::max(max_live, recording.live_nodes());
    }
    CHECK(max_live == 0);      // backward released every node it swept
    CHECK(max_slots <= 1100);  // dead slots are compacted away
    CHECK(last < 0.1 * first); // and the loop did train
  };
  {
    ad::Tape tape;
    train(ad::detail::TensorAccess::tensor_tape(*ad::Tape::active()));
  }
  // The same on the per-thread default recording, found through a tensor
  // recorded on it.
  W.mutable_values()[0] = 2.0;
  const ad::detail::TensorTape* default_recording = nullptr;
  {
    const Tensor probe = W * 1.0;
    default_recording = ad::detail::impl_of(probe).tape;
  }
  REQUIRE(default_recording != nullptr);
  train(*default_recording);
}

TEST_CASE("a tensor whose tape was cleared or destroyed is stale and cannot be used") {
  Tensor x = Tensor::from({2}, {1.0, 2.0}).requires_grad(true);
  {
    ad::Tape tape;
    Tensor y = x * 2.0;
    tape.clear();
    CHECK(ad::detail::TensorAccess::tensor_tape(tape).slots() == 0);
    CHECK_THROWS_WITH_AS(y + 1.0, doctest::Contains("cleared"), std::logic_error);
    CHECK_THROWS_WITH_AS(ad::sum(y), doctest::Contains("ad::sum"), std::logic_error);
    CHECK_THROWS_WITH_AS(y.backward(Tensor::ones({2})), doctest::Contains("cleared"), std::logic_error);
    // Its values survive, and detach() turns them into a usable constant.
    CHECK(to_vector(y) == std::vector<double>{2.0, 4.0});
    CHECK(ad::sum(y.detach()).item() == 6.0);
    // Leaves are not recorded and stay usable.
    ad::sum(x * x).backward();
    CHECK(to_vector(x.grad()) == std::vector<double>{2.0, 4.0});
  }
  Tensor survivor;
  {
    ad::Tape tape;
    survivor = ad::exp(x);
  }
  CHECK_THROWS_WITH_AS(ad::exp(survivor), doctest::Contains("cleared or destroyed"), std::logic_error);
}

TEST_CASE("fmt prints shape, dtype, name, requires_grad and values, abbreviating large tensors") {
  CHECK(fmt::format("{}", Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6}).name("W1")) ==
        "Tensor(shape=[2, 3], dtype=float64, name=\"W1\", values=[[1, 2, 3], [4, 5, 6]])");
  CHECK(fmt::format("{}", TensorF::scalar(2.5f)) == "Tensor(shape=[], dtype=float32, values=2.5)");
  CHECK(fmt::format("{}", Tensor::from({2}, {0.5, -1}).requires_grad(true)) ==
        "Tensor(shape=[2], dtype=float64, requires_grad, values=[0.5, -1])");
  CHECK(fmt::format("{}", Tensor::arange(0, 100)) ==
        "Tensor(shape=[100], dtype=float64, values=[0, 1, 2, ..., 97, 98, 99])");
  CHECK(fmt::format("{}", Tensor::zeros({0, 3})) == "Tensor(shape=[0, 3], dtype=float64, values=[])");
  CHECK(fmt::format("{}", Tensor()) == "Tensor(undefined)");
  const std::string big = fmt::format("{}", Tensor::eye(50));
  CHECK(big.rfind("Tensor(shape=[50, 50], dtype=float64, values=[[1, 0, 0, ..., 0, 0, 0], [0, 1, 0, ...", 0) == 0);
  CHECK(big.find("], ..., [") != std::string::npos);
  CHECK(big.size() < 400);
}

TEST_CASE("factories: zeros, ones, full, from, scalar, randn, rand, arange, eye") {
  CHECK(Tensor::zeros({2, 3}).shape() == Shape{2, 3});
  CHECK(to_vector(Tensor::zeros({2})) == std::vector<double>{0, 0});
  CHECK(to_vector(Tensor::ones({3})) == std::vector<double>{1, 1, 1});
  CHECK(to_vector(Tensor::full({2, 1}, 7.5)) == std::vector<double>{7.5, 7.5});
  CHECK(Tensor::full({}, 7.5).item() == 7.5);
  CHECK(Tensor::scalar(-3.0).rank() == 0);
  CHECK(Tensor::scalar(-3.0).item() == -3.0);
  Tensor f = Tensor::from({2, 2}, {1, 2, 3, 4});
  CHECK(f.at({1, 0}) == 3.0);
  CHECK(f.numel() == 4);
  CHECK(Tensor::from({0, 5}, std::vector<double>{}).numel() == 0);
  CHECK_THROWS_WITH_AS(Tensor::from({2, 3}, {1, 2, 3, 4, 5}), doctest::Contains("[2, 3] holds 6 values but 5"),
                       std::invalid_argument);
  CHECK_THROWS_AS(TensorF::from({1}, std::vector<float>{1, 2}), std::invalid_argument);

  std::mt19937_64 a(7), b(7), c(8);
  const Tensor ra = Tensor::randn({100}, a), rb = Tensor::randn({100}, b), rc = Tensor::randn({100}, c);
  CHECK(to_vector(ra) == to_vector(rb));
  CHECK(to_vector(ra) != to_vector(rc));
  std::mt19937_64 big(9);
  const Tensor many = Tensor::randn({20000}, big);
  const double m = ad::mean(many).item();
  const double var = ad::mean(ad::square(many - m)).item();
  CHECK(std::fabs(m) < 0.03);
  CHECK(std::fabs(var - 1.0) < 0.05);
  const TensorF u = TensorF::rand({1000}, big);
  CHECK(*std::min_element(u.values().begin(), u.values().end()) >= 0.0f);
  CHECK(*std::max_element(u.values().begin(), u.values().end()) < 1.0f);
  CHECK(ad::mean(u).item() == doctest::Approx(0.5).epsilon(0.1));

  CHECK(to_vector(Tensor::arange(0, 1, 0.25)) == std::vector<double>{0, 0.25, 0.5, 0.75});
  CHECK(to_vector(Tensor::arange(5, 0, -2)) == std::vector<double>{5, 3, 1});
  CHECK(Tensor::arange(0, 0).numel() == 0);
  CHECK(Tensor::arange(3, 1).numel() == 0);
  CHECK(Tensor::arange(0, 4).shape() == Shape{4});
  CHECK_THROWS_AS(Tensor::arange(0, 1, 0), std::invalid_argument);
  CHECK(to_vector(Tensor::eye(3)) == std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1});
  CHECK(Tensor::eye(0).shape() == Shape{0, 0});
  // Factories make leaves without history, not requiring grad.
  const Tensor leaf = Tensor::ones({2});
  CHECK(leaf.is_leaf());
  CHECK_FALSE(leaf.requires_grad_enabled());
}

TEST_CASE("copies share storage, detach and clone copy values without history") {
  Tensor x = Tensor::from({2}, {1.0, 2.0}).requires_grad(true).name("x");
  Tensor alias = x;
  alias.mutable_values()[0] = 5.0;
  CHECK(x.values()[0] == 5.0);
  Tensor y = x * 2.0;
  const Tensor d = y.detach();
  CHECK(d.is_leaf());
  CHECK_FALSE(d.requires_grad_enabled());
  CHECK(to_vector(d) == std::vector<double>{10.0, 4.0});
  Tensor c = x.clone();
  c.mutable_values()[1] = -1.0;
  CHECK(x.values()[1] == 2.0);
  CHECK(c.name() == "x");
}
