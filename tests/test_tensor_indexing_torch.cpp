// Specification by comparison: the indexing ops (tensor_indexing.hpp), min,
// max, argmax, argmin and the comparison masks give LibTorch's values, and
// the gradients of sum(op(x) * r) for a random r, to 1e-10 relative in
// double on random (seeded) inputs.
//
// Built only when LibTorch is found (tests/CMakeLists.txt); the same ops are
// checked against hand-computed values, finite differences and second
// derivatives in test_tensor_indexing.cpp and test_tensor_masks.cpp in every
// build.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <torch/torch.h>

// LibTorch (c10/util/logging_is_not_google_glog.h) defines a CHECK macro that
// aborts; doctest's must be the one these tests use.
#undef CHECK
#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>

namespace {

constexpr double tolerance = 1e-10;

std::vector<std::int64_t> sizes_of(const ad::Shape& shape) { return {shape.begin(), shape.end()}; }

torch::Tensor to_torch(const ad::Tensor& t) {
  const std::vector<double> v(t.values().begin(), t.values().end());
  return torch::tensor(v, torch::kFloat64).reshape(sizes_of(t.shape())).clone();
}

// The largest |ours - theirs| / max(1, |theirs|), after checking the shapes agree.
double relative_difference(const ad::Tensor& ours, const torch::Tensor& theirs_any) {
  const torch::Tensor theirs = theirs_any.detach().to(torch::kFloat64).contiguous();
  REQUIRE(sizes_of(ours.shape()) == theirs.sizes().vec());
  double worst = 0.0;
  const double* t = theirs.data_ptr<double>();
  for (std::size_t i = 0; i < ours.numel(); ++i)
    worst = std::max(worst, std::abs(ours.values()[i] - t[i]) / std::max(1.0, std::abs(t[i])));
  return worst;
}

struct Rng {
  std::mt19937_64 engine{20261206};
  ad::Tensor normal(const ad::Shape& shape) { return ad::Tensor::randn(shape, engine); }
  // Integers in [0, n) as doubles (a gather index).
  ad::Tensor integers(const ad::Shape& shape, std::size_t n) {
    std::uniform_int_distribution<std::size_t> u(0, n - 1);
    std::vector<double> v(shape.numel());
    for (double& e : v) e = double(u(engine));
    return ad::Tensor::from(shape, std::move(v));
  }
};

using Ours = std::function<ad::Tensor(const ad::Tensor&)>;
using Theirs = std::function<torch::Tensor(const torch::Tensor&)>;

// op(x) in both libraries, then the gradients of sum(op(x) * r).
void compare(const std::string& what, const ad::Shape& shape, const Ours& ours, const Theirs& theirs,
             Rng& rng) {
  CAPTURE(what);
  ad::Tensor x = rng.normal(shape).requires_grad(true);
  torch::Tensor tx = to_torch(x).set_requires_grad(true);
  const ad::Tensor y = ours(x);
  const torch::Tensor ty = theirs(tx);
  CHECK(relative_difference(y, ty) <= tolerance);
  const ad::Tensor r = rng.normal(y.shape());
  ad::sum(y * r).backward();
  torch::sum(ty * to_torch(r)).backward();
  if (y.numel() == 0) return;  // nothing reached x
  CHECK(relative_difference(x.grad(), tx.grad()) <= tolerance);
}

}  // namespace

TEST_CASE("slice matches Tensor.slice, negative and clamped bounds and steps included") {
  Rng rng;
  compare(
      "axis 1, step 2", {3, 5}, [](const ad::Tensor& x) { return ad::slice(x, 1, 1, 5, 2); },
      [](const torch::Tensor& x) { return x.slice(1, 1, 5, 2); }, rng);
  compare(
      "negative bounds", {4, 2, 3}, [](const ad::Tensor& x) { return ad::slice(x, 0, -3, -1); },
      [](const torch::Tensor& x) { return x.slice(0, -3, -1); }, rng);
  compare(
      "clamped", {4, 3}, [](const ad::Tensor& x) { return ad::slice(x, -1, -100, 100, 2); },
      [](const torch::Tensor& x) { return x.slice(-1, -100, 100, 2); }, rng);
  compare(
      "empty", {4, 3}, [](const ad::Tensor& x) { return ad::slice(x, 0, 3, 1); },
      [](const torch::Tensor& x) { return x.slice(0, 3, 1); }, rng);
}

TEST_CASE("pad matches constant_pad_nd (whose pairs run from the last axis)") {
  Rng rng;
  compare(
      "pad 3-d", {2, 3, 2},
      [](const ad::Tensor& x) {
        return ad::pad(x, {{1, 0}, {2, 3}, {0, 1}}, 0.75);
      },
      [](const torch::Tensor& x) {
        return torch::constant_pad_nd(x, {0, 1, 2, 3, 1, 0}, 0.75);
      },
      rng);
}

TEST_CASE("flatten, index_select and gather match LibTorch's") {
  Rng rng;
  compare(
      "flatten", {2, 3, 4, 2}, [](const ad::Tensor& x) { return ad::flatten(x, 1, 2); },
      [](const torch::Tensor& x) { return torch::flatten(x, 1, 2); }, rng);
  const std::vector<std::size_t> indices = {2, 0, 2, 3, 1};
  const std::vector<std::int64_t> long_indices(indices.begin(), indices.end());
  compare(
      "index_select", {3, 4, 2}, [&](const ad::Tensor& x) { return ad::index_select(x, 1, indices); },
      [&](const torch::Tensor& x) { return torch::index_select(x, 1, torch::tensor(long_indices)); }, rng);
  for (std::int64_t axis : {0, 1, 2}) {
    const ad::Shape x_shape{4, 3, 5};
    const ad::Tensor index = rng.integers({3, 2, 4}, x_shape[std::size_t(axis)]);
    compare(
        "gather axis " + std::to_string(axis), x_shape,
        [&](const ad::Tensor& x) { return ad::gather(x, axis, index); },
        [&](const torch::Tensor& x) { return torch::gather(x, axis, to_torch(index).to(torch::kLong)); },
        rng);
  }
}

TEST_CASE("cumsum, tril, triu, diag and diag_embed match LibTorch's") {
  Rng rng;
  for (std::int64_t axis : {0, 1, -1})
    compare(
        "cumsum axis " + std::to_string(axis), {3, 4, 2},
        [&](const ad::Tensor& x) { return ad::cumsum(x, axis); },
        [&](const torch::Tensor& x) { return torch::cumsum(x, axis); }, rng);
  for (std::int64_t k : {-2, 0, 1}) {
    const std::string at = " k = " + std::to_string(k);
    compare(
        "tril" + at, {2, 3, 4}, [&](const ad::Tensor& x) { return ad::tril(x, k); },
        [&](const torch::Tensor& x) { return torch::tril(x, k); }, rng);
    compare(
        "triu" + at, {2, 4, 3}, [&](const ad::Tensor& x) { return ad::triu(x, k); },
        [&](const torch::Tensor& x) { return torch::triu(x, k); }, rng);
    compare(
        "diag of a vector" + at, {4}, [&](const ad::Tensor& x) { return ad::diag(x, k); },
        [&](const torch::Tensor& x) { return torch::diag(x, k); }, rng);
    compare(
        "diag of a matrix" + at, {3, 5}, [&](const ad::Tensor& x) { return ad::diag(x, k); },
        [&](const torch::Tensor& x) { return torch::diag(x, k); }, rng);
    compare(
        "diag_embed" + at, {2, 3}, [&](const ad::Tensor& x) { return ad::diag_embed(x, k); },
        [&](const torch::Tensor& x) { return torch::diag_embed(x, k); }, rng);
  }
}

TEST_CASE("min and max match amin and amax, argmax and argmin match LibTorch's") {
  Rng rng;
  compare(
      "min", {3, 4}, [](const ad::Tensor& x) { return ad::min(x); },
      [](const torch::Tensor& x) { return torch::min(x); }, rng);
  compare(
      "max", {3, 4}, [](const ad::Tensor& x) { return ad::max(x); },
      [](const torch::Tensor& x) { return torch::max(x); }, rng);
  for (bool keepdim : {false, true}) {
    compare(
        "min axes", {3, 4, 2},
        [&](const ad::Tensor& x) {
          return ad::min(x, {0, 2}, keepdim);
        },
        [&](const torch::Tensor& x) {
          return torch::amin(x, {0, 2}, keepdim);
        },
        rng);
    compare(
        "max axis", {3, 4, 2}, [&](const ad::Tensor& x) { return ad::max(x, {-2}, keepdim); },
        [&](const torch::Tensor& x) { return torch::amax(x, {-2}, keepdim); }, rng);
    for (std::int64_t axis : {0, 1, 2}) {
      const ad::Tensor x = rng.normal({3, 4, 2});
      CHECK(relative_difference(ad::argmax(x, axis, keepdim), torch::argmax(to_torch(x), axis, keepdim)) ==
            0);
      CHECK(relative_difference(ad::argmin(x, axis, keepdim), torch::argmin(to_torch(x), axis, keepdim)) ==
            0);
    }
  }
}

TEST_CASE("the comparison masks match LibTorch's, with broadcasting") {
  Rng rng;
  // Rounded to halves so that some entries are equal.
  const ad::Tensor a = ad::Tensor::from({3, 1, 4}, [&] {
    std::vector<double> v(12);
    for (double& e : v) e = std::round(2 * rng.normal({}).item()) / 2;
    return v;
  }());
  const ad::Tensor b = ad::Tensor::from({2, 4}, {0, 0.5, -0.5, 1, 0.5, 0, 0, -1});
  const torch::Tensor ta = to_torch(a), tb = to_torch(b);
  CHECK(relative_difference(a < b, ta < tb) == 0);
  CHECK(relative_difference(a <= b, ta <= tb) == 0);
  CHECK(relative_difference(a > b, ta > tb) == 0);
  CHECK(relative_difference(a >= b, ta >= tb) == 0);
  CHECK(relative_difference(a == b, ta == tb) == 0);
  CHECK(relative_difference(a != b, ta != tb) == 0);
  CHECK(relative_difference(a < 0.5, ta < 0.5) == 0);
  CHECK(relative_difference(0.5 <= a, 0.5 <= ta) == 0);
  CHECK(relative_difference(a == 0.0, ta == 0.0) == 0);
}
