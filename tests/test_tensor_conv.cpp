// conv2d: values against direct loops and hand-worked cases, gradients
// against central differences, recorded second (and third) derivatives with
// gradgradcheck, and every misuse named in its message (the pools:
// test_tensor_pool.cpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>

#include "tensor_gradcheck.hpp"

using ad::Conv2dOptions;
using ad::Tensor;

namespace {

// y[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] x[n, g Cg + c, i s - p + u d, j s - p + v d], by loops.
std::vector<double> conv_by_loops(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  const auto& sx = x.shape();
  const auto& sw = w.shape();
  const std::size_t n = sx[0], c = sx[1], h = sx[2], wd = sx[3], co = sw[0], cg = sw[1], kh = sw[2],
                    kw = sw[3];
  const std::size_t ho = (h + 2 * o.padding[0] - o.dilation[0] * (kh - 1) - 1) / o.stride[0] + 1;
  const std::size_t wo = (wd + 2 * o.padding[1] - o.dilation[1] * (kw - 1) - 1) / o.stride[1] + 1;
  const std::size_t og = co / o.groups;
  std::vector<double> y(n * co * ho * wo, 0.0);
  for (std::size_t in = 0; in < n; ++in)
    for (std::size_t oc = 0; oc < co; ++oc)
      for (std::size_t i = 0; i < ho; ++i)
        for (std::size_t j = 0; j < wo; ++j) {
          double s = b.defined() ? b.values()[oc] : 0.0;
          for (std::size_t ci = 0; ci < cg; ++ci)
            for (std::size_t u = 0; u < kh; ++u)
              for (std::size_t v = 0; v < kw; ++v) {
                const long r = long(i * o.stride[0] + u * o.dilation[0]) - long(o.padding[0]);
                const long q = long(j * o.stride[1] + v * o.dilation[1]) - long(o.padding[1]);
                if (r < 0 || q < 0 || r >= long(h) || q >= long(wd)) continue;
                const std::size_t ch = oc / og * cg + ci;
                s += w.values()[((oc * cg + ci) * kh + u) * kw + v] *
                     x.values()[((in * c + ch) * h + std::size_t(r)) * wd + std::size_t(q)];
              }
          y[((in * co + oc) * ho + i) * wo + j] = s;
        }
  return y;
}

struct ConvCase {
  std::string name;
  ad::Shape x, w;
  bool bias;
  Conv2dOptions options;
};

const std::vector<ConvCase>& conv_cases() {
  static const std::vector<ConvCase> cases = {
      {"3x3, bias", {2, 2, 5, 4}, {3, 2, 3, 3}, true, {}},
      {"stride 2, padding 1, no bias", {2, 2, 5, 5}, {2, 2, 3, 3}, false, {{2, 2}, {1, 1}, {1, 1}, 1}},
      {"dilation 2, padding 2", {1, 1, 6, 5}, {2, 1, 3, 2}, true, {{1, 1}, {2, 2}, {2, 2}, 1}},
      {"groups 2, stride 2x1, padding 0x1", {2, 4, 5, 4}, {4, 2, 2, 3}, true, {{2, 1}, {0, 1}, {1, 1}, 2}},
      {"depthwise (groups = channels), dilation 1x2",
       {1, 3, 4, 6},
       {3, 1, 2, 2},
       false,
       {{1, 2}, {1, 0}, {1, 2}, 3}},
      {"dilation 2x1 without padding", {1, 2, 7, 6}, {2, 2, 2, 3}, true, {{1, 1}, {0, 0}, {2, 1}, 1}},
      {"groups 2 without padding", {2, 4, 5, 5}, {2, 2, 3, 3}, false, {{1, 1}, {0, 0}, {1, 1}, 2}},
      {"1x1 pointwise", {2, 3, 3, 4}, {2, 3, 1, 1}, true, {}},
      {"1x1 pointwise, groups 3", {2, 3, 3, 2}, {6, 1, 1, 1}, false, {{1, 1}, {0, 0}, {1, 1}, 3}},
      {"1x1 with stride 2 and padding", {1, 2, 4, 5}, {2, 2, 1, 1}, true, {{2, 2}, {1, 1}, {1, 1}, 1}},
  };
  return cases;
}

Tensor random(const ad::Shape& s, std::mt19937_64& rng) { return adtest::uniform(s, -1.0, 1.0, rng); }

// Packs tensors into one vector (for gradgradcheck, which takes one tensor) and cuts it back.
Tensor pack(const std::vector<Tensor>& ts) {
  std::vector<double> v;
  for (const Tensor& t : ts) v.insert(v.end(), t.values().begin(), t.values().end());
  const std::size_t n = v.size();
  return Tensor::from({n}, std::move(v));
}
std::vector<Tensor> unpack(const Tensor& p, const std::vector<ad::Shape>& shapes) {
  std::vector<Tensor> out;
  std::size_t at = 0;
  for (const ad::Shape& s : shapes) {
    out.push_back(ad::reshape(ad::slice_rows(p, at, at + s.numel()), s));
    at += s.numel();
  }
  return out;
}

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

TEST_CASE("conv2d computes a hand-worked 2x2 correlation with a bias") {
  const Tensor x = Tensor::from({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const Tensor w = Tensor::from({1, 1, 2, 2}, {1, 0, 0, 1});
  const Tensor y = ad::conv2d(x, w, Tensor::from({1}, {0.5}));
  CHECK(y.shape() == ad::Shape{1, 1, 2, 2});
  CHECK(std::vector<double>(y.values().begin(), y.values().end()) ==
        std::vector<double>{6.5, 8.5, 12.5, 14.5});
}

TEST_CASE("conv2d zero-pads and strides as PyTorch, with output size floor((H + 2p - d(k-1) - 1)/s) + 1") {
  const Tensor x = Tensor::from({1, 1, 2, 2}, {1, 2, 3, 4});
  const Tensor w = Tensor::ones({1, 1, 3, 3});
  const Tensor y = ad::conv2d(x, w, Conv2dOptions{{2, 2}, {1, 1}, {1, 1}, 1});
  CHECK(y.shape() == ad::Shape{1, 1, 1, 1});  // floor((2 + 2 - 2 - 1) / 2) + 1 = 1
  CHECK(y.item() == 10.0);                    // the whole image inside the padded window
}

TEST_CASE("conv2d equals direct loops for every combination of stride, padding, dilation and groups") {
  std::mt19937_64 rng(1);
  for (const ConvCase& c : conv_cases()) {
    CAPTURE(c.name);
    const Tensor x = random(c.x, rng), w = random(c.w, rng), b = c.bias ? random({c.w[0]}, rng) : Tensor();
    const Tensor y = ad::conv2d(x, w, b, c.options);
    const std::vector<double> expected = conv_by_loops(x, w, b, c.options);
    REQUIRE(y.numel() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i)
      CHECK(y.values()[i] == doctest::Approx(expected[i]).epsilon(1e-13));
  }
}

TEST_CASE("conv2d's gradients with respect to x, the weight and the bias match central differences") {
  std::mt19937_64 rng(2);
  for (const ConvCase& c : conv_cases()) {
    CAPTURE(c.name);
    std::vector<Tensor> in{random(c.x, rng), random(c.w, rng)};
    if (c.bias) in.push_back(random({c.w[0]}, rng));
    const auto report = adtest::gradcheck_op(
        [&](const std::vector<Tensor>& p) {
          return ad::conv2d(p[0], p[1], c.bias ? p[2] : Tensor(), c.options);
        },
        in, rng);
    INFO(report.worst);
    CHECK(report.ok(1e-8));
  }
}

TEST_CASE("conv2d's recorded gradients give second derivatives that pass gradgradcheck") {
  std::mt19937_64 rng(3);
  for (const ConvCase& c : conv_cases()) {
    CAPTURE(c.name);
    std::vector<ad::Shape> shapes{c.x, c.w};
    if (c.bias) shapes.push_back(ad::Shape{c.w[0]});
    std::vector<Tensor> parts;
    for (const ad::Shape& s : shapes) parts.push_back(random(s, rng) * 0.5);
    const auto f = [&](const Tensor& p) {
      const auto in = unpack(p, shapes);
      return ad::sum(ad::tanh(ad::conv2d(in[0], in[1], c.bias ? in[2] : Tensor(), c.options)));
    };
    const auto report = ad::gradgradcheck(f, pack(parts), 4);
    INFO(report.to_string());
    CHECK(report.ok);
  }
}

TEST_CASE("conv2d's second-derivative ops are differentiable again (third derivatives pass gradgradcheck)") {
  // f(p) = |d/dp sum(tanh(conv))|^2: its Hessian needs the recorded backward
  // of conv2d_input_grad and conv2d_weight_grad.
  std::mt19937_64 rng(4);
  for (const ConvCase& c : {conv_cases()[1], conv_cases()[3]}) {
    CAPTURE(c.name);
    const std::vector<ad::Shape> shapes{c.x, c.w};
    const Tensor p0 = pack({random(c.x, rng) * 0.5, random(c.w, rng) * 0.5});
    const auto f = [&](const Tensor& p) {
      const auto in = unpack(p, shapes);
      const Tensor loss = ad::sum(ad::tanh(ad::conv2d(in[0], in[1], c.options)));
      return ad::sum(ad::square(ad::gradient_recorded(loss, {p})[0]));
    };
    const auto report = ad::gradgradcheck(f, p0, 3);
    INFO(report.to_string());
    CHECK(report.ok);
  }
}

TEST_CASE("conv2d takes one image [C, H, W] and gives [C_out, H_out, W_out]") {
  std::mt19937_64 rng(5);
  const Tensor x = random({2, 5, 5}, rng), w = random({3, 2, 3, 3}, rng), b = random({3}, rng);
  const Conv2dOptions o{{2, 2}, {1, 1}, {1, 1}, 1};
  const Tensor y = ad::conv2d(x, w, b, o);
  CHECK(y.shape() == ad::Shape{3, 3, 3});
  const Tensor batched = ad::conv2d(ad::reshape(x, {1, 2, 5, 5}), w, b, o);
  for (std::size_t i = 0; i < y.numel(); ++i) CHECK(y.values()[i] == batched.values()[i]);
  const auto report = adtest::gradcheck_op(
      [&](const std::vector<Tensor>& p) { return ad::conv2d(p[0], p[1], p[2], o); }, {x, w, b}, rng);
  CHECK(report.ok(1e-8));
}

TEST_CASE("conv2d gives the same values and gradients, bit for bit, on 1 and 2 threads") {
  std::mt19937_64 rng(6);
  const Tensor x = random({8, 4, 12, 12}, rng), w = random({16, 4, 3, 3}, rng), b = random({16}, rng);
  const int saved = ad::linalg::get_gemm_threads();
  auto run = [&](int threads) {
    ad::linalg::set_gemm_threads(threads);
    Tensor xs = x.detach().requires_grad(true), ws = w.detach().requires_grad(true),
           bs = b.detach().requires_grad(true);
    const Tensor y = ad::conv2d(xs, ws, bs, Conv2dOptions{{1, 1}, {1, 1}, {1, 1}, 1});
    ad::sum(ad::square(y)).backward();
    return std::vector<Tensor>{y.detach(), xs.grad(), ws.grad(), bs.grad()};
  };
  const auto one = run(1), two = run(2);
  ad::linalg::set_gemm_threads(saved);
  for (std::size_t k = 0; k < one.size(); ++k)
    for (std::size_t i = 0; i < one[k].numel(); ++i) REQUIRE(one[k].values()[i] == two[k].values()[i]);
}

TEST_CASE("conv2d of an empty batch gives an empty output and zero weight and bias gradients") {
  ad::Tensor x = Tensor::zeros({0, 2, 5, 5}).requires_grad(true);
  ad::Tensor w = Tensor::ones({3, 2, 3, 3}).requires_grad(true), b = Tensor::ones({3}).requires_grad(true);
  const Tensor y = ad::conv2d(x, w, b);
  CHECK(y.shape() == ad::Shape{0, 3, 3, 3});
  ad::sum(y).backward();
  const Tensor gw = w.grad(), gb = b.grad();
  CHECK(std::all_of(gw.values().begin(), gw.values().end(), [](double v) { return v == 0.0; }));
  CHECK(std::all_of(gb.values().begin(), gb.values().end(), [](double v) { return v == 0.0; }));
}

TEST_CASE("conv2d in float agrees with double") {
  std::mt19937_64 rng(7);
  const Tensor x = random({2, 3, 7, 6}, rng), w = random({4, 3, 3, 3}, rng), b = random({4}, rng);
  auto to_float = [](const Tensor& t) {
    return ad::TensorF::from(t.shape(), std::vector<float>(t.values().begin(), t.values().end()))
        .requires_grad(true);
  };
  ad::TensorF xf = to_float(x), wf = to_float(w), bf = to_float(b);
  const ad::TensorF yf = ad::conv2d(xf, wf, bf, Conv2dOptions{{1, 2}, {1, 0}, {1, 1}, 1});
  ad::sum(ad::square(yf)).backward();
  Tensor xd = x.detach().requires_grad(true), wd = w.detach().requires_grad(true),
         bd = b.detach().requires_grad(true);
  const Tensor yd = ad::conv2d(xd, wd, bd, Conv2dOptions{{1, 2}, {1, 0}, {1, 1}, 1});
  ad::sum(ad::square(yd)).backward();
  for (std::size_t i = 0; i < yd.numel(); ++i)
    CHECK(yf.values()[i] == doctest::Approx(yd.values()[i]).epsilon(1e-5));
  for (std::size_t i = 0; i < wd.numel(); ++i)
    CHECK(wf.grad().values()[i] == doctest::Approx(wd.grad().values()[i]).epsilon(1e-4));
}

TEST_CASE("conv2d names the op and the shapes for every bad argument") {
  const Tensor x = Tensor::zeros({1, 3, 5, 5}), w = Tensor::zeros({4, 3, 3, 3});
  struct Bad {
    std::string what;
    std::function<void()> call;
    std::string says;
  };
  const std::vector<Bad> bad = {
      {"x of rank 2",
       [&] {
         ad::conv2d(Tensor::zeros({3, 5}), w);
       },
       "x must be [N, C_in, H, W] or [C_in, H, W]"},
      {"weight of rank 3",
       [&] {
         ad::conv2d(x, Tensor::zeros({4, 3, 3}));
       },
       "the weight must be [C_out"},
      {"channel mismatch",
       [&] {
         ad::conv2d(x, Tensor::zeros({4, 2, 3, 3}));
       },
       "x has 3 channels, the weight expects 2 * groups (1) = 2"},
      {"groups not dividing C_in",
       [&] {
         ad::conv2d(x, Tensor::zeros({4, 1, 3, 3}), Conv2dOptions{{1, 1}, {0, 0}, {1, 1}, 2});
       },
       "groups (2) must divide C_in (3)"},
      {"groups not dividing C_out",
       [&] {
         ad::conv2d(Tensor::zeros({1, 4, 5, 5}), Tensor::zeros({3, 2, 3, 3}),
                    Conv2dOptions{{1, 1}, {0, 0}, {1, 1}, 2});
       },
       "groups (2) must divide C_out (3)"},
      {"groups 0",
       [&] {
         ad::conv2d(x, w, Conv2dOptions{{1, 1}, {0, 0}, {1, 1}, 0});
       },
       "groups must be at least 1"},
      {"bias size", [&] { ad::conv2d(x, w, Tensor::zeros({3})); }, "the bias must be [C_out] = [4]"},
      {"bias rank",
       [&] {
         ad::conv2d(x, w, Tensor::zeros({4, 1}));
       },
       "bias [4, 1]"},
      {"kernel larger than the padded input",
       [&] {
         ad::conv2d(x, Tensor::zeros({4, 3, 6, 3}));
       },
       "the 6x3 kernel (dilated to 6x3) is larger than the padded input 5x5"},
      {"dilated kernel larger than the input",
       [&] {
         ad::conv2d(x, w, Conv2dOptions{{1, 1}, {0, 0}, {3, 1}, 1});
       },
       "the 3x3 kernel (dilated to 7x3) is larger than the padded input 5x5"},
      {"zero stride",
       [&] {
         ad::conv2d(x, w, Conv2dOptions{{1, 0}, {0, 0}, {1, 1}, 1});
       },
       "the stride must be at least 1"},
      {"zero dilation",
       [&] {
         ad::conv2d(x, w, Conv2dOptions{{1, 1}, {0, 0}, {0, 1}, 1});
       },
       "the dilation must be at least 1"},
      {"empty kernel",
       [&] {
         ad::conv2d(x, Tensor::zeros({4, 3, 0, 3}));
       },
       "the kernel must be at least 1x1"},
  };
  for (const Bad& b : bad) {
    CAPTURE(b.what);
    CHECK_THROWS_AS(b.call(), std::invalid_argument);
    const std::string m = message_of(b.call);
    CHECK(m.find("ad::conv2d: ") == 0);
    CHECK(m.find(b.says) != std::string::npos);
    CHECK(m.find("weight [") != std::string::npos);
    INFO(m);
  }
  CHECK(message_of([&] {
          ad::conv2d(x, Tensor::zeros({4, 2, 3, 3}));
        }).find("(x [1, 3, 5, 5], weight [4, 2, 3, 3], bias none") != std::string::npos);
}
