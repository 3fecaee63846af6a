// max_pool2d, avg_pool2d and adaptive_avg_pool2d: hand-worked values and
// gradients (ties, -inf padding, NaN), gradients against central
// differences, recorded second and third derivatives with gradgradcheck, and
// every misuse named in its message.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>

#include "tensor_gradcheck.hpp"

using ad::Pool2dOptions;
using ad::Tensor;

namespace {

template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no std::invalid_argument thrown)";
}

}  // namespace

TEST_CASE("max_pool2d takes each window's maximum and sends the gradient to it") {
  const Tensor x = Tensor::from({1, 1, 4, 4}, {1, 5, 2, 0,  //
                                               3, 4, 8, 1,  //
                                               0, 0, 9, 9,  //
                                               2, 1, 9, 3})
                       .requires_grad(true);
  const Tensor y = ad::max_pool2d(x);
  CHECK(y.shape() == ad::Shape{1, 1, 2, 2});
  CHECK(std::vector<double>(y.values().begin(), y.values().end()) == std::vector<double>{5, 8, 2, 9});
  ad::sum(y * Tensor::from({1, 1, 2, 2}, {1, 2, 3, 4})).backward();
  const Tensor gx = x.grad();
  // Ties (the three 9s): the first in row-major order takes the gradient, as in PyTorch.
  CHECK(std::vector<double>(gx.values().begin(), gx.values().end()) ==
        std::vector<double>{0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 4, 0, 3, 0, 0, 0});
}

TEST_CASE("max_pool2d pads with -inf, so a window over padding and negatives keeps the negative") {
  const Tensor x = Tensor::from({1, 1, 2, 2}, {-1, -2, -3, -4});
  const Tensor y = ad::max_pool2d(x, Pool2dOptions{{2, 2}, {2, 2}, {1, 1}});
  CHECK(std::vector<double>(y.values().begin(), y.values().end()) == std::vector<double>{-1, -2, -3, -4});
  const Tensor z = ad::max_pool2d(x, Pool2dOptions{{3, 3}, {1, 1}, {1, 1}});  // overlapping windows
  CHECK(std::vector<double>(z.values().begin(), z.values().end()) == std::vector<double>{-1, -1, -1, -1});
}

TEST_CASE("max_pool2d propagates a NaN in a window, as PyTorch") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor y = ad::max_pool2d(Tensor::from({1, 1, 2, 2}, {1, nan, 3, 2}));
  CHECK(std::isnan(y.item()));
  // The same through the clipped windows of a padded pool.
  const Tensor z =
      ad::max_pool2d(Tensor::from({1, 1, 2, 2}, {1, nan, 3, 2}), Pool2dOptions{{3, 3}, {1, 1}, {1, 1}});
  for (const double v : z.values()) CHECK(std::isnan(v));
}

TEST_CASE("avg_pool2d divides by the whole window, padding included (count_include_pad)") {
  const Tensor x = Tensor::from({1, 1, 2, 2}, {1, 2, 3, 4}).requires_grad(true);
  const Tensor y = ad::avg_pool2d(x, Pool2dOptions{{2, 2}, {2, 2}, {1, 1}});
  CHECK(std::vector<double>(y.values().begin(), y.values().end()) ==
        std::vector<double>{0.25, 0.5, 0.75, 1.0});
  const Tensor z = ad::avg_pool2d(x, Pool2dOptions{{2, 1}, {1, 1}, {0, 0}});
  CHECK(std::vector<double>(z.values().begin(), z.values().end()) == std::vector<double>{2, 3});
  ad::sum(z).backward();
  const Tensor gx = x.grad();
  CHECK(std::vector<double>(gx.values().begin(), gx.values().end()) ==
        std::vector<double>{0.5, 0.5, 0.5, 0.5});
}

TEST_CASE("adaptive_avg_pool2d averages each channel to [N, C, 1, 1]") {
  const Tensor x = Tensor::from({1, 2, 2, 2}, {1, 2, 3, 4, 10, 20, 30, 40});
  const Tensor y = ad::adaptive_avg_pool2d(x);
  CHECK(y.shape() == ad::Shape{1, 2, 1, 1});
  CHECK(std::vector<double>(y.values().begin(), y.values().end()) == std::vector<double>{2.5, 25});
  CHECK(ad::adaptive_avg_pool2d(ad::reshape(x, {2, 2, 2})).shape() == ad::Shape{2, 1, 1});
}

namespace {

struct PoolCase {
  std::string name;
  std::function<Tensor(const Tensor&)> pool;
  ad::Shape x;
};

const std::vector<PoolCase>& pool_cases() {
  static const std::vector<PoolCase> cases = {
      {"max 2x2", [](const Tensor& x) { return ad::max_pool2d(x); }, {2, 2, 4, 5}},
      {"max 3x3 stride 2 padding 1",
       [](const Tensor& x) {
         return ad::max_pool2d(x, Pool2dOptions{{3, 3}, {2, 2}, {1, 1}});
       },
       {1, 2, 5, 6}},
      {"max 2x3 stride 1x2, one image",
       [](const Tensor& x) {
         return ad::max_pool2d(x, Pool2dOptions{{2, 3}, {1, 2}, {0, 1}});
       },
       {2, 4, 5}},
      {"avg 2x2", [](const Tensor& x) { return ad::avg_pool2d(x); }, {2, 2, 4, 5}},
      {"avg 3x3 stride 2 padding 1",
       [](const Tensor& x) {
         return ad::avg_pool2d(x, Pool2dOptions{{3, 3}, {2, 2}, {1, 1}});
       },
       {1, 2, 5, 6}},
      {"avg 2x3 stride 1x2, one image",
       [](const Tensor& x) {
         return ad::avg_pool2d(x, Pool2dOptions{{2, 3}, {1, 2}, {0, 1}});
       },
       {2, 4, 5}},
      {"adaptive avg", [](const Tensor& x) { return ad::adaptive_avg_pool2d(x); }, {2, 3, 3, 4}},
  };
  return cases;
}

// Distinct values (no ties for the max) spread over [-1, 1].
Tensor distinct(const ad::Shape& s, std::mt19937_64& rng) {
  std::vector<double> v(s.numel());
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = -1.0 + 2.0 * double(i) / double(v.size());
  std::shuffle(v.begin(), v.end(), rng);
  return Tensor::from(s, std::move(v));
}

}  // namespace

TEST_CASE("every pool's gradient matches central differences") {
  std::mt19937_64 rng(8);
  for (const PoolCase& c : pool_cases()) {
    CAPTURE(c.name);
    const auto report = adtest::gradcheck_op([&](const std::vector<Tensor>& p) { return c.pool(p[0]); },
                                             {distinct(c.x, rng)}, rng);
    INFO(report.worst);
    CHECK(report.ok(1e-8));
  }
}

TEST_CASE("every pool's recorded gradient passes gradgradcheck, to third order") {
  std::mt19937_64 rng(9);
  for (const PoolCase& c : pool_cases()) {
    CAPTURE(c.name);
    const Tensor x0 = ad::reshape(distinct(c.x, rng), {c.x.numel()});
    const auto second = [&](const Tensor& p) {
      return ad::sum(ad::square(ad::tanh(c.pool(ad::reshape(p, c.x)))));
    };
    const auto third = [&](const Tensor& p) {
      const Tensor loss = ad::sum(ad::sin(c.pool(ad::exp(ad::reshape(p, c.x))) * 2.0));
      return ad::sum(ad::square(ad::gradient_recorded(loss, {p})[0]));
    };
    for (const auto& f :
         {std::function<Tensor(const Tensor&)>(second), std::function<Tensor(const Tensor&)>(third)}) {
      const auto report = ad::gradgradcheck(f, x0, 3);
      INFO(report.to_string());
      CHECK(report.ok);
    }
  }
}

TEST_CASE("the pools name the op and the shapes for every bad argument") {
  const Tensor x = Tensor::zeros({1, 2, 4, 4});
  struct Bad {
    std::string what, op;
    std::function<void()> call;
    std::string says;
  };
  const std::vector<Bad> bad = {
      {"rank 2", "max_pool2d",
       [&] {
         ad::max_pool2d(Tensor::zeros({4, 4}));
       },
       "x must be [N, C, H, W] or [C, H, W]"},
      {"rank 5", "avg_pool2d",
       [&] {
         ad::avg_pool2d(Tensor::zeros({1, 1, 1, 4, 4}));
       },
       "x must be [N, C, H, W]"},
      {"zero kernel", "max_pool2d",
       [&] {
         ad::max_pool2d(x, Pool2dOptions{{0, 2}, {0, 0}, {0, 0}});
       },
       "the kernel must be at least 1x1"},
      {"padding above half the kernel", "max_pool2d",
       [&] {
         ad::max_pool2d(x, Pool2dOptions{{2, 2}, {0, 0}, {2, 0}});
       },
       "the padding must be at most half the kernel"},
      {"padding above half the kernel", "avg_pool2d",
       [&] {
         ad::avg_pool2d(x, Pool2dOptions{{3, 3}, {0, 0}, {1, 2}});
       },
       "the padding must be at most half the kernel"},
      {"window larger than the input", "avg_pool2d",
       [&] {
         ad::avg_pool2d(x, Pool2dOptions{{5, 2}, {0, 0}, {0, 0}});
       },
       "the 5x2 window is larger than the padded input 4x4"},
      {"rank 2", "adaptive_avg_pool2d",
       [&] {
         ad::adaptive_avg_pool2d(Tensor::zeros({4, 4}));
       },
       "x must be [N, C, H, W] or [C, H, W], got [4, 4]"},
      {"empty planes", "adaptive_avg_pool2d",
       [&] {
         ad::adaptive_avg_pool2d(Tensor::zeros({1, 2, 0, 3}));
       },
       "empty planes"},
  };
  for (const Bad& b : bad) {
    CAPTURE(b.what);
    CAPTURE(b.op);
    CHECK_THROWS_AS(b.call(), std::invalid_argument);
    const std::string m = message_of(b.call);
    INFO(m);
    CHECK(m.find("ad::" + b.op + ": ") == 0);
    CHECK(m.find(b.says) != std::string::npos);
    CHECK(m.find("[") != std::string::npos);
  }
  CHECK(message_of([&] {
          ad::max_pool2d(x, Pool2dOptions{{0, 2}, {0, 0}, {0, 0}});
        }).find("(x [1, 2, 4, 4]; kernel 0x2") != std::string::npos);
}
