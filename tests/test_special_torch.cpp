// Specification by comparison: erfc, lgamma, digamma and trigamma (the op
// table's special functions, scalar_ops.hpp) give LibTorch's values
// (torch.erfc, lgamma, digamma, polygamma(1, .)), first derivatives and
// second derivatives (torch's autograd with create_graph), in double, on
// seeded inputs on both sides of 0 away from the poles; and the same values
// at the poles where the conventions agree (docs/conventions.md).
//
// Built only when LibTorch is found (tests/CMakeLists.txt); the ops are
// checked against identities, references and differences in
// test_scalar_special.cpp in every build.
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <torch/torch.h>

// LibTorch defines a CHECK macro that aborts; doctest's must be the one these tests use.
#undef CHECK
#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>

namespace {

torch::Tensor to_torch(const ad::Tensor& t) {
  const std::vector<double> v(t.values().begin(), t.values().end());
  return torch::tensor(v, torch::kFloat64).clone();
}

// The largest |ours - theirs| / max(1, |theirs|).
double relative_difference(const ad::Tensor& ours, const torch::Tensor& theirs_any) {
  const torch::Tensor theirs = theirs_any.detach().to(torch::kFloat64).contiguous();
  REQUIRE(std::int64_t(ours.numel()) == theirs.numel());
  double worst = 0.0;
  const double* t = theirs.data_ptr<double>();
  for (std::size_t i = 0; i < ours.numel(); ++i)
    worst = std::max(worst, std::abs(ours.values()[i] - t[i]) / std::max(1.0, std::abs(t[i])));
  return worst;
}

// Points in (-6, 12), none closer than 0.05 to a pole 0, -1, -2, ...
ad::Tensor points(std::size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-6.0, 12.0);
  std::vector<double> v;
  while (v.size() < n) {
    const double x = u(rng);
    if (x > 0.05 || std::fabs(x - std::round(x)) > 0.05) v.push_back(x);
  }
  return ad::Tensor::from({n}, std::move(v));
}

using Ours = std::function<ad::Tensor(const ad::Tensor&)>;
using Theirs = std::function<torch::Tensor(const torch::Tensor&)>;

// op(x) in both libraries, the gradient of sum(op(x) * r) and the Hessian-vector
// product of the same with a direction v (second_order: where the op has one).
void compare(const std::string& what, const Ours& ours, const Theirs& theirs, double tolerance,
             bool second_order) {
  CAPTURE(what);
  std::mt19937_64 rng(20261218);
  ad::Tensor x = points(64, rng).requires_grad(true);
  const ad::Tensor r = ad::Tensor::randn({64}, rng);
  const ad::Tensor v = ad::Tensor::randn({64}, rng);
  torch::Tensor tx = to_torch(x).set_requires_grad(true);
  const ad::Tensor y = ours(x);
  const torch::Tensor ty = theirs(tx);
  CHECK(relative_difference(y, ty) <= tolerance);
  const torch::Tensor tloss = torch::sum(ty * to_torch(r));
  const torch::Tensor tg = torch::autograd::grad({tloss}, {tx}, {}, true, second_order)[0];
  ad::sum(y * r).backward();  // the first-order sweep
  CHECK(relative_difference(x.grad(), tg) <= tolerance);
  if (!second_order) return;
  const ad::Tensor g = ad::gradient_recorded(ad::sum(ours(x) * r), {x})[0];  // the recorded sweep
  CHECK(relative_difference(g, tg) <= tolerance);
  // H v with one recorded sweep and one first-order sweep (ad::hvp): the second derivative
  const torch::Tensor thv = torch::autograd::grad({torch::sum(tg * to_torch(v))}, {tx})[0];
  const ad::Tensor hv = ad::hvp([&](const ad::Tensor& z) { return ad::sum(ours(z) * r); }, x.detach(), v);
  CHECK(relative_difference(hv, thv) <= tolerance);
}

}  // namespace

TEST_CASE("erfc, lgamma and digamma give LibTorch's values, gradients and Hessian-vector products") {
  compare(
      "erfc", [](const ad::Tensor& x) { return ad::erfc(x); },
      [](const torch::Tensor& x) { return torch::erfc(x); }, 1e-13, true);
  // torch's polygamma(1, .), the derivative of its digamma, keeps fewer terms of the
  // asymptotic series (1e-10 relative); ours agrees with 20-digit references to 1e-13.
  compare(
      "lgamma", [](const ad::Tensor& x) { return ad::lgamma(x); },
      [](const torch::Tensor& x) { return torch::lgamma(x); }, 1e-9, true);
  compare(
      "digamma", [](const ad::Tensor& x) { return ad::digamma(x); },
      [](const torch::Tensor& x) { return torch::digamma(x); }, 1e-9, true);
}

TEST_CASE("trigamma gives LibTorch's polygamma(1, x) and its gradient polygamma(2, x)") {
  compare(
      "trigamma", [](const ad::Tensor& x) { return ad::trigamma(x); },
      [](const torch::Tensor& x) { return torch::polygamma(1, x); }, 1e-9, false);
}

TEST_CASE("at the poles lgamma and digamma agree with LibTorch's conventions") {
  const ad::Tensor x = ad::Tensor::from({4}, {0.0, -0.0, -1.0, -3.0});
  const torch::Tensor tx = to_torch(x);
  const ad::Tensor lg = ad::lgamma(x);
  const torch::Tensor tlg = torch::lgamma(tx);
  const ad::Tensor dg = ad::digamma(x);
  const torch::Tensor tdg = torch::digamma(tx);
  for (std::int64_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(lg.values()[std::size_t(i)] == tlg[i].item<double>());
    const double ours = dg.values()[std::size_t(i)], theirs = tdg[i].item<double>();
    CHECK(((std::isnan(ours) && std::isnan(theirs)) || ours == theirs));
  }
}
