// The ops that the recorded backward of linear, matmul and the activations
// records (what a Hessian-vector product sweeps back through): products that
// read an operand transposed in place of a transpose copy, one
// "<activation>_backward" op in place of the formula's few, and the sum over
// consecutive axes (a bias gradient) with its own loop. Each is checked
// against the same function written with the general ops, to the third order.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>
// White-box: the transposed product is internal (the recorded backward's).
#include <autodiff/src/tensor_matmul_transposed.hpp>

namespace {

using ad::Tensor;
using Fn = std::function<Tensor(const Tensor&)>;

Tensor leaf(const std::vector<double>& v) { return Tensor::from({v.size()}, v).requires_grad(true); }

std::vector<double> values_of(const Tensor& t) { return {t.values().begin(), t.values().end()}; }

// The first three derivatives of f at x0 along v (and w): the gradient,
// H v, and the third derivative contracted with v and w, each from the
// recorded sweep.
struct Derivatives {
  std::vector<double> gradient, hv, tvw;
};
Derivatives derivatives(const Fn& f, const std::vector<double>& x0, const std::vector<double>& v,
                        const std::vector<double>& w) {
  ad::Tape tape;
  const Tensor x = leaf(x0);
  const Tensor g = ad::gradient_recorded(f(x), {x})[0];
  const Tensor hv = ad::gradient_recorded(ad::sum(g * Tensor::from({v.size()}, v)), {x})[0];
  const Tensor tvw = ad::gradient_recorded(ad::sum(hv * Tensor::from({w.size()}, w)), {x})[0];
  return {values_of(g), values_of(hv), values_of(tvw)};
}

void check_close(const std::vector<double>& got, const std::vector<double>& expected, const char* what) {
  CAPTURE(what);
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-12).scale(1.0));
  }
}

std::vector<double> uniform(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> v(n);
  for (double& e : v) e = u(rng);
  return v;
}

}  // namespace

TEST_CASE(
    "the recorded gradients of linear and matmul read operands transposed instead of recording a transpose") {
  const Tensor W = Tensor::from({2, 3}, {0.1, -0.2, 0.3, 0.4, 0.5, -0.6}).requires_grad(true);
  const Tensor b = Tensor::from({2}, {0.05, -0.05}).requires_grad(true);
  const Tensor X = Tensor::from({4, 3}, {1, 2, 0, -1, 0.5, 1, 0, 0, 1, 2, -1, 0.5});
  const auto g = ad::gradient_recorded(ad::sum(ad::tanh(ad::linear(X, W, b))), {W, b});
  CHECK(ad::describe(g[0]).find("matmul_tn") != std::string::npos);  // dW = dy^T x
  CHECK(ad::describe(g[0]).find("transpose") == std::string::npos);

  const Tensor A = Tensor::from({2, 3}, {0.3, -0.1, 0.2, 0.5, -0.4, 0.1}).requires_grad(true);
  const Tensor B = Tensor::from({3, 2}, {0.2, 0.7, -0.3, 0.1, 0.4, -0.5}).requires_grad(true);
  const auto h = ad::gradient_recorded(ad::sum(ad::tanh(ad::matmul(A, B))), {A, B});
  CHECK(ad::describe(h[0]).find("matmul_nt") != std::string::npos);  // dA = dC B^T
  CHECK(ad::describe(h[1]).find("matmul_tn") != std::string::npos);  // dB = A^T dC
  CHECK(ad::describe(h[0]).find("transpose") == std::string::npos);
  CHECK(ad::describe(h[1]).find("transpose") == std::string::npos);
}

TEST_CASE(
    "a product with transposed operands has the derivatives of the transpose it replaces, to the third "
    "order") {
  constexpr std::size_t m = 2, k = 3, n = 2;
  const std::vector<double> x0 = uniform(m * k + k * n, 1), v = uniform(x0.size(), 2),
                            w = uniform(x0.size(), 3);
  for (const bool trans_a : {false, true})
    for (const bool trans_b : {false, true}) {
      CAPTURE(trans_a);
      CAPTURE(trans_b);
      const ad::Shape shape_a = trans_a ? ad::Shape{k, m} : ad::Shape{m, k};
      const ad::Shape shape_b = trans_b ? ad::Shape{n, k} : ad::Shape{k, n};
      auto operands = [&](const Tensor& x) {
        return std::pair{ad::reshape(ad::slice_rows(x, 0, m * k), shape_a),
                         ad::reshape(ad::slice_rows(x, m * k, m * k + k * n), shape_b)};
      };
      const Fn fused = [&](const Tensor& x) {
        const auto [a, b] = operands(x);
        return ad::sum(ad::tanh(ad::detail::matmul_transposed(a, b, trans_a, trans_b))) * ad::sum(a);
      };
      const Fn reference = [&](const Tensor& x) {
        const auto [a, b] = operands(x);
        const Tensor c =
            ad::matmul(trans_a ? ad::transpose(a, 0, 1) : a, trans_b ? ad::transpose(b, 0, 1) : b);
        return ad::sum(ad::tanh(c)) * ad::sum(a);
      };
      // The product itself, and the first-order backward on plain arrays.
      const Tensor xf = leaf(x0), xr = leaf(x0);
      const Tensor yf = fused(xf), yr = reference(xr);
      CHECK(yf.item() == doctest::Approx(yr.item()).epsilon(1e-14));
      Tensor(yf).backward();
      Tensor(yr).backward();
      check_close(values_of(xf.grad()), values_of(xr.grad()), "backward()");
      // The recorded sweeps: its own recorded backward, then that one's.
      const Derivatives got = derivatives(fused, x0, v, w), expected = derivatives(reference, x0, v, w);
      check_close(got.gradient, expected.gradient, "gradient");
      check_close(got.hv, expected.hv, "H v");
      check_close(got.tvw, expected.tvw, "third derivative (v, w)");
    }
}

TEST_CASE("a product with transposed operands names the shapes that do not fit") {
  const Tensor a = Tensor::from({2, 3}, std::vector<double>(6, 1.0));
  const Tensor b = Tensor::from({2, 2}, std::vector<double>(4, 1.0));
  CHECK_THROWS_WITH_AS(ad::detail::matmul_transposed(a, b, false, false),
                       "ad::matmul: the contracted extents of [2, 3] and [2, 2] differ",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::detail::matmul_transposed(a, Tensor::from({3}, {1.0, 2.0, 3.0}), true, true),
                       "ad::matmul_tt: needs two 2-d operands, got [2, 3] and [3]", std::invalid_argument);
  CHECK(ad::detail::matmul_transposed(a, b, true, false).shape() == ad::Shape{3, 2});
}

TEST_CASE("tanh, logistic and softplus record their gradient as one op, exact to the third order") {
  struct Activation {
    const char* op;
    Fn f;
    // the first three derivatives at x
    std::function<double(double)> d1, d2, d3;
  };
  auto sigma = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
  const std::vector<Activation> activations = {
      {"tanh_backward", [](const Tensor& x) { return ad::sum(ad::tanh(x)); },
       [](double x) { return 1 - std::tanh(x) * std::tanh(x); },
       [](double x) { return -2 * std::tanh(x) * (1 - std::tanh(x) * std::tanh(x)); },
       [](double x) {
         const double t = std::tanh(x), s = 1 - t * t;
         return -2 * s * (1 - 3 * t * t);
       }},
      {"logistic_backward", [](const Tensor& x) { return ad::sum(ad::logistic(x)); },
       [=](double x) { return sigma(x) * (1 - sigma(x)); },
       [=](double x) { return sigma(x) * (1 - sigma(x)) * (1 - 2 * sigma(x)); },
       [=](double x) {
         const double s = sigma(x);
         return s * (1 - s) * (1 - 6 * s + 6 * s * s);
       }},
      {"softplus_backward", [](const Tensor& x) { return ad::sum(ad::softplus(x)); }, sigma,
       [=](double x) { return sigma(x) * (1 - sigma(x)); },
       [=](double x) { return sigma(x) * (1 - sigma(x)) * (1 - 2 * sigma(x)); }},
  };
  const std::vector<double> x0 = {-2.0, -0.3, 0.0, 0.8, 3.0}, v = uniform(5, 4), w = uniform(5, 5);
  for (const Activation& a : activations) {
    CAPTURE(a.op);
    const Tensor x = leaf(x0);
    const Tensor y = a.f(x);
    const Tensor g = ad::gradient_recorded(y, {x})[0];
    CHECK(ad::describe(g).find(a.op) != std::string::npos);
    // The recorded gradient has the first-order backward's values, to the bit.
    Tensor(y).backward();
    CHECK(values_of(g) == values_of(x.grad()));
    const Derivatives d = derivatives(a.f, x0, v, w);
    std::vector<double> d1, hv, tvw;
    for (std::size_t i = 0; i < x0.size(); ++i) {
      d1.push_back(a.d1(x0[i]));
      hv.push_back(a.d2(x0[i]) * v[i]);
      tvw.push_back(a.d3(x0[i]) * v[i] * w[i]);
    }
    check_close(d.gradient, d1, "first derivative");
    check_close(d.hv, hv, "second derivative");
    check_close(d.tvw, tvw, "third derivative");
  }
}

TEST_CASE(
    "a fused dense layer's recorded gradient equals the unfused layer's, and float keeps the first-order "
    "bits") {
  const std::vector<double> x0 = uniform(6 + 2, 6), v = uniform(8, 7), w = uniform(8, 8);
  const Tensor X = Tensor::from({3, 3}, uniform(9, 9));
  auto parameters = [](const Tensor& x) {
    return std::pair{ad::reshape(ad::slice_rows(x, 0, 6), {2, 3}), ad::slice_rows(x, 6, 8)};
  };
  const Fn fused = [&](const Tensor& x) {
    const auto [W, b] = parameters(x);
    return ad::sum(ad::square(ad::linear_activation(X, W, b, ad::OpCode::logistic)));
  };
  const Fn unfused = [&](const Tensor& x) {
    const auto [W, b] = parameters(x);
    return ad::sum(ad::square(ad::logistic(ad::linear(X, W, b))));
  };
  const Derivatives got = derivatives(fused, x0, v, w), expected = derivatives(unfused, x0, v, w);
  check_close(got.gradient, expected.gradient, "gradient");
  check_close(got.hv, expected.hv, "H v");
  check_close(got.tvw, expected.tvw, "third derivative (v, w)");

  const ad::TensorF xf = ad::TensorF::from({4}, {-1.5f, -0.2f, 0.4f, 2.5f}).requires_grad(true);
  const ad::TensorF yf = ad::sum(ad::tanh(xf) * xf);
  const ad::TensorF gf = ad::gradient_recorded(yf, {xf})[0];
  ad::TensorF(yf).backward();
  const ad::TensorF first_order = xf.grad();
  CHECK(std::vector<float>(gf.values().begin(), gf.values().end()) ==
        std::vector<float>(first_order.values().begin(), first_order.values().end()));
}

TEST_CASE("a sum over consecutive axes adds in index order, as the general walk does, to the bit") {
  const ad::Shape shape{3, 4, 5};
  const std::vector<double> x0 = uniform(shape.numel(), 10);
  const std::vector<std::vector<std::int64_t>> axis_sets = {{0}, {1}, {2}, {0, 1}, {1, 2}, {0, 2}, {-1}};
  for (const auto& axes : axis_sets) {
    CAPTURE(axes.size());
    CAPTURE(axes[0]);
    std::array<bool, 3> reduced{};
    for (const std::int64_t a : axes) reduced[static_cast<std::size_t>((a + 3) % 3)] = true;
    // The reference: each output element adds its inputs in increasing index order.
    std::vector<double> expected;
    std::vector<std::size_t> out_of(x0.size());
    {
      std::vector<std::size_t> kept_extent;
      for (std::size_t a = 0; a < 3; ++a)
        if (!reduced[a]) kept_extent.push_back(shape[a]);
      std::size_t out_n = 1;
      for (const std::size_t e : kept_extent) out_n *= e;
      expected.assign(out_n, 0.0);
      for (std::size_t i = 0; i < x0.size(); ++i) {
        const std::size_t idx[3] = {i / 20, (i / 5) % 4, i % 5};
        std::size_t o = 0;
        for (std::size_t a = 0; a < 3; ++a)
          if (!reduced[a]) o = o * shape[a] + idx[a];
        out_of[i] = o;
        expected[o] += x0[i];
      }
    }
    const Tensor x = Tensor::from(shape, x0).requires_grad(true);
    const Tensor s = ad::sum(x, axes);
    CHECK(values_of(s) == expected);
    // The backward spreads each output's gradient over its inputs.
    const std::vector<double> weights = uniform(expected.size(), 11);
    ad::sum(s * Tensor::from(s.shape(), weights)).backward();
    const std::vector<double> grad = values_of(x.grad());
    for (std::size_t i = 0; i < x0.size(); ++i) CHECK(grad[i] == weights[out_of[i]]);
    // The mean scales the same sums.
    const Tensor m = ad::mean(x, axes);
    const double group = double(x0.size()) / double(expected.size());
    for (std::size_t o = 0; o < expected.size(); ++o) CHECK(m.values()[o] == expected[o] * (1.0 / group));
  }
}
