// Numerical edge cases, pinned: saturating activations far out and at
// infinity, the softmax family with huge logits, overflow caught by anomaly
// mode, and denormal inputs. Values and derivatives must be finite and right.
#include <cmath>
#include <limits>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

using ad::Tensor;
const double inf = std::numeric_limits<double>::infinity();

struct Point {
  double value, derivative;
};
// f and f' at x through the scalar tape, and through a tensor.
template <class F>
Point scalar_at(F f, double x) {
  ad::Tape tape;
  ad::Var v = x;
  ad::Var y = f(v);
  return {y.value(), ad::gradient(y, {v})[0]};
}
template <class F>
Point tensor_at(F f, double x) {
  Tensor t = Tensor::from({1}, {x}).requires_grad();
  Tensor y = f(t);
  ad::sum(y).backward();
  return {y.values()[0], t.grad().values()[0]};
}

void check_point(Point p, double value, double derivative) {
  CHECK(std::isfinite(p.value));
  CHECK(std::isfinite(p.derivative));
  CHECK(p.value == doctest::Approx(value).epsilon(1e-15));
  CHECK(p.derivative == doctest::Approx(derivative).epsilon(1e-12));
}

}  // namespace

TEST_CASE("tanh, logistic and softsign saturate with finite values and derivatives at +-1e3") {
  for (double s : {1.0, -1.0}) {
    CAPTURE(s);
    const double x = s * 1e3;
    check_point(scalar_at([](const ad::Var& v) { return ad::tanh(v); }, x), s, 0.0);
    check_point(tensor_at([](const Tensor& v) { return ad::tanh(v); }, x), s, 0.0);
    check_point(scalar_at([](const ad::Var& v) { return ad::logistic(v); }, x), s > 0 ? 1.0 : 0.0, 0.0);
    check_point(tensor_at([](const Tensor& v) { return ad::logistic(v); }, x), s > 0 ? 1.0 : 0.0, 0.0);
    check_point(scalar_at([](const ad::Var& v) { return ad::softsign(v); }, x), s * 1e3 / 1001.0, 1.0 / (1001.0 * 1001.0));
    check_point(tensor_at([](const Tensor& v) { return ad::softsign(v); }, x), s * 1e3 / 1001.0, 1.0 / (1001.0 * 1001.0));
  }
}

TEST_CASE("tanh, logistic and softsign at +-infinity give their limits and a zero derivative") {
  for (double s : {1.0, -1.0}) {
    CAPTURE(s);
    const double x = s * inf;
    check_point(scalar_at([](const ad::Var& v) { return ad::tanh(v); }, x), s, 0.0);
    check_point(tensor_at([](const Tensor& v) { return ad::tanh(v); }, x), s, 0.0);
    check_point(scalar_at([](const ad::Var& v) { return ad::logistic(v); }, x), s > 0 ? 1.0 : 0.0, 0.0);
    check_point(tensor_at([](const Tensor& v) { return ad::logistic(v); }, x), s > 0 ? 1.0 : 0.0, 0.0);
    check_point(scalar_at([](const ad::Var& v) { return ad::softsign(v); }, x), s, 0.0);
    check_point(tensor_at([](const Tensor& v) { return ad::softsign(v); }, x), s, 0.0);
  }
}

TEST_CASE("softplus, leaky_relu, elu, gelu and silu far out and at +-infinity give their limits") {
  struct Limit {
    double x, value, derivative;
  };
  struct Case {
    const char* name;
    ad::Var (*on_var)(const ad::Var&);
    Tensor (*on_tensor)(const Tensor&);
    std::vector<Limit> limits;
  };
#define AD_BOTH(fn) [](const ad::Var& v) { return ad::fn(v); }, [](const Tensor& v) { return ad::fn(v); }
  const Case cases[] = {
      {"softplus", AD_BOTH(softplus), {{1e3, 1e3, 1.0}, {-1e3, 0.0, 0.0}, {inf, inf, 1.0}, {-inf, 0.0, 0.0}}},
      {"leaky_relu", AD_BOTH(leaky_relu), {{-1e3, -10.0, 0.01}, {inf, inf, 1.0}, {-inf, -inf, 0.01}}},
      {"elu", AD_BOTH(elu), {{-1e3, -1.0, 0.0}, {inf, inf, 1.0}, {-inf, -1.0, 0.0}}},
      {"gelu", AD_BOTH(gelu), {{1e3, 1e3, 1.0}, {-1e3, 0.0, 0.0}, {inf, inf, 1.0}, {-inf, 0.0, 0.0}}},
      {"silu", AD_BOTH(silu), {{1e3, 1e3, 1.0}, {-1e3, 0.0, 0.0}, {inf, inf, 1.0}, {-inf, 0.0, 0.0}}},
  };
#undef AD_BOTH
  for (const Case& c : cases) {
    for (const Limit& l : c.limits) {
      CAPTURE(c.name);
      CAPTURE(l.x);
      for (const Point p : {scalar_at(c.on_var, l.x), tensor_at(c.on_tensor, l.x)}) {
        CHECK((p.value == l.value || p.value == doctest::Approx(l.value).epsilon(1e-15)));  // == for inf
        CHECK(std::isfinite(p.derivative));
        CHECK(p.derivative == doctest::Approx(l.derivative).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("the nn activations saturate the same way at +-1e3") {
  for (nn::Activation psi : {nn::Activation::tanh, nn::Activation::logistic, nn::Activation::softsign}) {
    for (double x : {1e3, -1e3}) {
      CHECK(std::isfinite(nn::value(psi, x)));
      CHECK(std::isfinite(nn::derivative(psi, x)));
      CHECK(nn::derivative(psi, x) == doctest::Approx(0.0).epsilon(1e-5));
    }
  }
}

TEST_CASE("logsumexp, softmax and log_softmax of logits of 1e4 are finite and exact") {
  Tensor z = Tensor::from({2, 3}, {1e4, 0.0, -1e4, 1e4, 1e4, 0.0}).requires_grad();
  const Tensor lse = ad::logsumexp(z, -1);
  CHECK(lse.values()[0] == 1e4);
  CHECK(lse.values()[1] == doctest::Approx(1e4 + std::log(2.0)));
  const Tensor p = ad::softmax(z, -1);
  CHECK(p.values()[0] == 1.0);
  CHECK(p.values()[1] == 0.0);
  CHECK(p.values()[3] == doctest::Approx(0.5));
  CHECK(p.values()[5] == 0.0);
  const Tensor lp = ad::log_softmax(z, -1);
  CHECK(lp.values()[0] == 0.0);
  CHECK(lp.values()[1] == -1e4);
  CHECK(lp.values()[2] == -2e4);
  CHECK(lp.values()[3] == doctest::Approx(-std::log(2.0)));
  ad::sum(lse).backward();
  // d logsumexp / dz = softmax(z)
  const Tensor g = z.grad();
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(std::isfinite(g.values()[i]));
    CHECK(g.values()[i] == doctest::Approx(p.values()[i]));
  }
}

TEST_CASE("softmax cross-entropy of logits of 1e4 is finite, right, and has finite gradients") {
  Tensor z = Tensor::from({2, 2}, {1e4, -1e4, 1e4, -1e4}).requires_grad();
  const Tensor right = nn::softmax_cross_entropy(z, std::vector<std::size_t>{0, 0});
  CHECK(right.item() == 0.0);
  Tensor wrong = nn::softmax_cross_entropy(z, std::vector<std::size_t>{1, 1});
  CHECK(wrong.item() == doctest::Approx(2e4));
  wrong.backward();
  // d/dz_ic of the mean cross-entropy: (softmax - onehot) / N
  const std::vector<double> expected{0.5, -0.5, 0.5, -0.5};
  for (std::size_t i = 0; i < 4; ++i) CHECK(z.grad().values()[i] == doctest::Approx(expected[i]));
}

TEST_CASE("exp overflowing to infinity is reported by anomaly mode, for Var and Tensor") {
  {
    ad::Tape tape;
    ad::DetectAnomaly anomaly;
    ad::Var x = 710.0;
    CHECK_THROWS_WITH_AS(ad::exp(x), doctest::Contains("exp"), ad::AnomalyError);
  }
  {
    ad::DetectAnomaly anomaly;
    Tensor x = Tensor::from({2}, {1.0, 800.0}).requires_grad();
    CHECK_THROWS_WITH_AS(ad::exp(x), doctest::Contains("exp"), ad::AnomalyError);
  }
  // Without anomaly mode the overflow is just an infinite value.
  ad::Tape tape;
  ad::Var x = 710.0;
  CHECK(std::isinf(ad::exp(x).value()));
}

TEST_CASE("denormal inputs give finite, right values and derivatives") {
  const double tiny = std::numeric_limits<double>::denorm_min();
  for (double x : {tiny, 1e-310, -1e-310}) {
    CAPTURE(x);
    check_point(scalar_at([](const ad::Var& v) { return ad::sin(v); }, x), x, 1.0);
    check_point(scalar_at([](const ad::Var& v) { return ad::tanh(v); }, x), x, 1.0);
    check_point(scalar_at([](const ad::Var& v) { return ad::exp(v); }, x), 1.0, 1.0);
    check_point(scalar_at([](const ad::Var& v) { return ad::log1p(v); }, x), x, 1.0);
    check_point(scalar_at([](const ad::Var& v) { return ad::logistic(v); }, x), 0.5, 0.25);
    check_point(scalar_at([](const ad::Var& v) { return v * 1e300; }, x), x * 1e300, 1e300);
    check_point(tensor_at([](const Tensor& v) { return ad::tanh(v) * 2.0; }, x), 2 * x, 2.0);
  }
  // log of a positive denormal: a finite value; its slope 1/x exceeds the
  // largest double and is +inf, as the formula says (no NaN).
  const Point s = scalar_at([](const ad::Var& v) { return ad::log(v); }, 1e-310);
  CHECK(s.value == doctest::Approx(std::log(1e-310)));
  CHECK(s.derivative == inf);
  // sqrt of a denormal: a finite value and a large but finite slope 1 / (2 sqrt(x)).
  const Point r = scalar_at([](const ad::Var& v) { return ad::sqrt(v); }, 1e-310);
  CHECK(r.value == doctest::Approx(1e-155));
  CHECK(r.derivative == doctest::Approx(0.5e155));
}
