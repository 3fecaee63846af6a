// Specification by comparison: conv2d (stride, padding, dilation, groups,
// with and without a bias) and the 2-d pools give LibTorch's values and
// gradients to 1e-10 in double, and conv2d's recorded second derivatives
// give LibTorch's Hessian-vector products.
//
// Built only when LibTorch is found (tests/CMakeLists.txt); the same ops are
// checked against loops, hand-worked cases and central differences in
// test_tensor_conv.cpp in every build.
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

std::vector<std::int64_t> sizes_of(const ad::Shape& s) {
  return std::vector<std::int64_t>(s.begin(), s.end());
}

std::vector<double> random_values(std::size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> v(n);
  for (double& x : v) x = u(rng);
  return v;
}

torch::Tensor torch_of(const ad::Tensor& t) {
  return torch::tensor(std::vector<double>(t.values().begin(), t.values().end()), torch::kFloat64)
      .reshape(sizes_of(t.shape()))
      .set_requires_grad(true);
}

// |ours - theirs| <= tolerance * max(1, |theirs|) for every element, shapes equal.
void check_same(const std::string& what, std::span<const double> ours, const torch::Tensor& theirs_tensor) {
  CAPTURE(what);
  const torch::Tensor theirs = theirs_tensor.contiguous();
  REQUIRE(std::size_t(theirs.numel()) == ours.size());
  const double* t = theirs.data_ptr<double>();
  double worst = 0.0;
  for (std::size_t i = 0; i < ours.size(); ++i)
    worst = std::max(worst, std::fabs(ours[i] - t[i]) / std::max(1.0, std::fabs(t[i])));
  CHECK(worst <= tolerance);
}

struct ConvCase {
  std::string name;
  ad::Shape x, w;
  bool bias;
  ad::Conv2dOptions o;
};

const std::vector<ConvCase> conv_cases = {
    {"3x3", {2, 3, 7, 6}, {4, 3, 3, 3}, true, {}},
    {"stride 2, padding 1", {2, 2, 7, 7}, {3, 2, 3, 3}, true, {{2, 2}, {1, 1}, {1, 1}, 1}},
    {"dilation 2, padding 2, no bias", {1, 2, 8, 7}, {3, 2, 3, 3}, false, {{1, 1}, {2, 2}, {2, 2}, 1}},
    {"groups 2, stride 1x2, padding 0x1", {2, 4, 6, 7}, {6, 2, 2, 3}, true, {{1, 2}, {0, 1}, {1, 1}, 2}},
    {"depthwise, dilation 2x1", {1, 3, 6, 6}, {3, 1, 3, 2}, false, {{1, 1}, {1, 1}, {2, 1}, 3}},
    {"1x1", {2, 5, 4, 3}, {2, 5, 1, 1}, true, {}},
    {"5x5 stride 3 padding 2", {2, 1, 9, 10}, {2, 1, 5, 5}, true, {{3, 3}, {2, 2}, {1, 1}, 1}},
};

}  // namespace

TEST_CASE("conv2d gives LibTorch's values and gradients for x, the weight and the bias") {
  std::mt19937_64 rng(21);
  for (const ConvCase& c : conv_cases) {
    CAPTURE(c.name);
    ad::Tensor x = ad::Tensor::from(c.x, random_values(c.x.numel(), rng)).requires_grad(true);
    ad::Tensor w = ad::Tensor::from(c.w, random_values(c.w.numel(), rng)).requires_grad(true);
    ad::Tensor b =
        c.bias ? ad::Tensor::from({c.w[0]}, random_values(c.w[0], rng)).requires_grad(true) : ad::Tensor();
    ad::Tensor y = ad::conv2d(x, w, b, c.o);
    const ad::Tensor seed = ad::Tensor::from(y.shape(), random_values(y.numel(), rng));
    y.backward(seed);

    torch::Tensor tx = torch_of(x), tw = torch_of(w), tb = c.bias ? torch_of(b) : torch::Tensor();
    const auto i64 = [](const std::array<std::size_t, 2>& a) {
      return std::vector<std::int64_t>{std::int64_t(a[0]), std::int64_t(a[1])};
    };
    const torch::Tensor ty = torch::conv2d(tx, tw, tb, i64(c.o.stride), i64(c.o.padding), i64(c.o.dilation),
                                           std::int64_t(c.o.groups));
    REQUIRE(sizes_of(y.shape()) == ty.sizes().vec());
    ty.backward(torch_of(seed).detach());
    check_same("y", y.values(), ty);
    check_same("dx", x.grad().values(), tx.grad());
    check_same("dw", w.grad().values(), tw.grad());
    if (c.bias) check_same("db", b.grad().values(), tb.grad());
  }
}

TEST_CASE("conv2d's recorded gradient gives LibTorch's Hessian-vector products (double backward)") {
  std::mt19937_64 rng(22);
  for (const ConvCase& c : {conv_cases[1], conv_cases[3], conv_cases[4]}) {
    CAPTURE(c.name);
    ad::Tensor x = ad::Tensor::from(c.x, random_values(c.x.numel(), rng)).requires_grad(true);
    ad::Tensor w = ad::Tensor::from(c.w, random_values(c.w.numel(), rng)).requires_grad(true);
    const ad::Tensor vx = ad::Tensor::from(c.x, random_values(c.x.numel(), rng));
    const ad::Tensor vw = ad::Tensor::from(c.w, random_values(c.w.numel(), rng));
    // L = sum(tanh(conv(x, w))); H v = d(grad L . v)/d(x, w)
    const ad::Tensor loss = ad::sum(ad::tanh(ad::conv2d(x, w, c.o)));
    const auto g = ad::gradient_recorded(loss, {x, w});
    (ad::sum(g[0] * vx) + ad::sum(g[1] * vw)).backward();

    torch::Tensor tx = torch_of(x), tw = torch_of(w);
    const auto i64 = [](const std::array<std::size_t, 2>& a) {
      return std::vector<std::int64_t>{std::int64_t(a[0]), std::int64_t(a[1])};
    };
    const torch::Tensor tloss = torch::tanh(torch::conv2d(tx, tw, {}, i64(c.o.stride), i64(c.o.padding),
                                                          i64(c.o.dilation), std::int64_t(c.o.groups)))
                                    .sum();
    const auto tg = torch::autograd::grad({tloss}, {tx, tw}, {}, true, true);
    ((tg[0] * torch_of(vx).detach()).sum() + (tg[1] * torch_of(vw).detach()).sum()).backward();
    check_same("grad x", g[0].values(), tg[0].detach());
    check_same("grad w", g[1].values(), tg[1].detach());
    check_same("(H v)_x", x.grad().values(), tx.grad());
    check_same("(H v)_w", w.grad().values(), tw.grad());
  }
}

TEST_CASE("max_pool2d, avg_pool2d and adaptive_avg_pool2d give LibTorch's values and gradients") {
  std::mt19937_64 rng(23);
  struct PoolCase {
    std::string name;
    ad::Shape x;
    std::function<ad::Tensor(const ad::Tensor&)> ours;
    std::function<torch::Tensor(const torch::Tensor&)> theirs;
  };
  const std::vector<PoolCase> cases = {
      {"max 2x2",
       {2, 3, 8, 7},
       [](const ad::Tensor& x) { return ad::max_pool2d(x); },
       [](const torch::Tensor& x) {
         return torch::max_pool2d(x, {2, 2});
       }},
      {"max 3x3 stride 2 padding 1",
       {2, 2, 9, 8},
       [](const ad::Tensor& x) {
         return ad::max_pool2d(x, ad::Pool2dOptions{{3, 3}, {2, 2}, {1, 1}});
       },
       [](const torch::Tensor& x) {
         return torch::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
       }},
      {"max 2x3 stride 1x2 padding 1x1",
       {1, 2, 6, 7},
       [](const ad::Tensor& x) {
         return ad::max_pool2d(x, ad::Pool2dOptions{{2, 3}, {1, 2}, {1, 1}});
       },
       [](const torch::Tensor& x) {
         return torch::max_pool2d(x, {2, 3}, {1, 2}, {1, 1});
       }},
      {"avg 2x2",
       {2, 3, 8, 7},
       [](const ad::Tensor& x) { return ad::avg_pool2d(x); },
       [](const torch::Tensor& x) {
         return torch::avg_pool2d(x, {2, 2});
       }},
      {"avg 3x3 stride 2 padding 1",
       {2, 2, 9, 8},
       [](const ad::Tensor& x) {
         return ad::avg_pool2d(x, ad::Pool2dOptions{{3, 3}, {2, 2}, {1, 1}});
       },
       [](const torch::Tensor& x) {
         return torch::avg_pool2d(x, {3, 3}, {2, 2}, {1, 1});
       }},
      {"avg 2x3 stride 1x2 padding 1x1",
       {1, 2, 6, 7},
       [](const ad::Tensor& x) {
         return ad::avg_pool2d(x, ad::Pool2dOptions{{2, 3}, {1, 2}, {1, 1}});
       },
       [](const torch::Tensor& x) {
         return torch::avg_pool2d(x, {2, 3}, {1, 2}, {1, 1});
       }},
      {"adaptive avg",
       {2, 3, 5, 6},
       [](const ad::Tensor& x) { return ad::adaptive_avg_pool2d(x); },
       [](const torch::Tensor& x) {
         return torch::adaptive_avg_pool2d(x, {1, 1});
       }},
  };
  for (const PoolCase& c : cases) {
    CAPTURE(c.name);
    ad::Tensor x = ad::Tensor::from(c.x, random_values(c.x.numel(), rng)).requires_grad(true);
    ad::Tensor y = c.ours(x);
    const ad::Tensor seed = ad::Tensor::from(y.shape(), random_values(y.numel(), rng));
    y.backward(seed);
    torch::Tensor tx = torch_of(x);
    const torch::Tensor ty = c.theirs(tx);
    REQUIRE(sizes_of(y.shape()) == ty.sizes().vec());
    ty.backward(torch_of(seed).detach());
    check_same("y", y.values(), ty);
    check_same("dx", x.grad().values(), tx.grad());
  }
}

TEST_CASE("max_pool2d breaks ties like LibTorch: the first maximum of a window takes the gradient") {
  ad::Tensor x =
      ad::Tensor::from({1, 1, 4, 4}, {1, 1, 0, 2, 1, 1, 2, 2, 3, 0, 5, 5, 0, 3, 5, 5}).requires_grad(true);
  ad::max_pool2d(x, ad::Pool2dOptions{{2, 2}, {1, 1}, {0, 0}}).backward(ad::Tensor::ones({1, 1, 3, 3}));
  torch::Tensor tx = torch_of(x);
  torch::max_pool2d(tx, {2, 2}, {1, 1}).backward(torch::ones({1, 1, 3, 3}, torch::kFloat64));
  check_same("dx", x.grad().values(), tx.grad());
}
