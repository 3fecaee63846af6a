// conv2d_activation (act(conv2d(x, w, b)) as one op) and nn::Conv2d with an
// activation: the same values and gradients as the two ops apart, gradients
// of gradients, and the activations it refuses.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

using ad::Conv2dOptions;
using ad::Tensor;

namespace {

Tensor random(const ad::Shape& shape, std::mt19937_64& rng) {
  std::normal_distribution<double> n(0.0, 1.0);
  std::vector<double> v(shape.numel());
  for (double& x : v) x = n(rng);
  return Tensor::from(shape, std::move(v));
}

// d/dx, d/dw, d/db of sum(r * f(x, w, b)), with the values of f.
struct Result {
  std::vector<double> y, dx, dw, db;
};
template <class F>
Result run(F f, const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& r) {
  ad::Tape tape;
  Tensor x = x0.detach().requires_grad(), w = w0.detach().requires_grad(), b = b0.detach().requires_grad();
  const Tensor y = f(x, w, b);
  ad::sum(y * r).backward();
  const auto flat = [](const Tensor& t) { return std::vector<double>(t.values().begin(), t.values().end()); };
  return {flat(y), flat(x.grad()), flat(w.grad()), flat(b.grad())};  // each gradient a tensor of its own
}

void check_close(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(b[i]).epsilon(1e-12).scale(1.0));
}

}  // namespace

TEST_CASE("conv2d_activation gives conv2d's values and gradients followed by the activation") {
  std::mt19937_64 rng(11);
  const Conv2dOptions strided{{2, 1}, {1, 1}, {1, 1}, 1}, grouped{{1, 1}, {0, 1}, {1, 2}, 2};
  for (const auto& [name, op] :
       {std::pair{std::string("relu"), ad::OpCode::relu}, std::pair{std::string("tanh"), ad::OpCode::tanh},
        std::pair{std::string("logistic"), ad::OpCode::logistic}})
    for (const Conv2dOptions& o : {strided, grouped}) {
      CAPTURE(name);
      CAPTURE(o.groups);
      const Tensor x = random({2, 4, 6, 7}, rng), w = random({6, 4 / o.groups, 3, 3}, rng),
                   b = random({6}, rng);
      const Tensor probe = ad::conv2d(x, w, b, o);
      const Tensor r = random(probe.shape(), rng);
      const Result fused = run(
          [&](auto& x_, auto& w_, auto& b_) { return ad::conv2d_activation(x_, w_, b_, op, o); }, x, w, b, r);
      const Result apart =
          run([&](auto& x_, auto& w_, auto& b_) { return ad::apply_unary(op, ad::conv2d(x_, w_, b_, o)); }, x,
              w, b, r);
      check_close(fused.y, apart.y);
      check_close(fused.dx, apart.dx);
      check_close(fused.dw, apart.dw);
      check_close(fused.db, apart.db);
    }
}

TEST_CASE("conv2d_activation's recorded gradients give second derivatives that pass gradgradcheck") {
  std::mt19937_64 rng(12);
  const ad::Shape sx{2, 2, 5, 5}, sw{3, 2, 3, 3};
  const Tensor x = random(sx, rng) * 0.5, w = random(sw, rng) * 0.5;
  const Tensor b = random({3}, rng) * 0.5;
  // The input and the weight packed into one vector, the bias a constant.
  std::vector<double> packed(x.values().begin(), x.values().end());
  packed.insert(packed.end(), w.values().begin(), w.values().end());
  const std::size_t n = packed.size();
  const auto f = [&](const Tensor& p) {
    const Tensor xi = ad::reshape(ad::slice_rows(p, 0, sx.numel()), sx);
    const Tensor wi = ad::reshape(ad::slice_rows(p, sx.numel(), n), sw);
    return ad::sum(
        ad::square(ad::conv2d_activation(xi, wi, b, ad::OpCode::tanh, Conv2dOptions{{1, 1}, {1, 1}})));
  };
  const auto report = ad::gradgradcheck(f, Tensor::from({n}, packed), 4);
  INFO(report.to_string());
  CHECK(report.ok);
}

TEST_CASE("conv2d_activation refuses an activation whose derivative is not a function of its output") {
  const Tensor x = Tensor::zeros({1, 1, 4, 4}), w = Tensor::zeros({1, 1, 3, 3});
  CHECK_THROWS_WITH_AS(
      ad::conv2d_activation(x, w, Tensor(), ad::OpCode::gelu),
      doctest::Contains("ad::conv2d_activation: the activation must be an op whose derivative"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::conv2d_activation(x, Tensor::zeros({1, 2, 3, 3}), Tensor(), ad::OpCode::relu),
                       doctest::Contains("x has 1 channels, the weight expects 2"), std::invalid_argument);
}

TEST_CASE("a Conv2d with an activation is the convolution followed by it, fused or not, and says so") {
  std::mt19937_64 rng_a(5), rng_b(5), rng_x(6);
  for (nn::Activation psi : {nn::Activation::relu, nn::Activation::tanh, nn::Activation::gelu}) {
    CAPTURE(nn::name(psi));
    nn::Conv2d with(2, 3, 3, psi, rng_a, Conv2dOptions{{1, 1}, {1, 1}});
    nn::Conv2d plain(2, 3, 3, rng_b, Conv2dOptions{{1, 1}, {1, 1}});
    CHECK(with.activation() == psi);
    CHECK(plain.activation() == nn::Activation::identity);
    CHECK(with.architecture() ==
          fmt::format("Conv2d(2->3, 3x3, stride 1x1, padding 1x1, dilation 1x1, groups 1, bias, {})",
                      nn::name(psi)));
    const Tensor x = random({2, 2, 5, 5}, rng_x);
    ad::NoGrad off;
    const Tensor a = with(x), b = nn::apply(psi, plain(x));
    check_close(std::vector<double>(a.values().begin(), a.values().end()),
                std::vector<double>(b.values().begin(), b.values().end()));
  }
}

TEST_CASE("a model of Conv2d layers with fused activations passes check_gradients") {
  std::mt19937_64 rng(7);
  nn::Sequential model;
  model.add<nn::Conv2d>(1, 3, 3, nn::Activation::tanh, rng, Conv2dOptions{{1, 1}, {1, 1}})
      .add<nn::Conv2d>(3, 2, 3, nn::Activation::logistic, rng)
      .add<nn::Flatten>()
      .add<nn::Dense>(2 * 3 * 3, 2, nn::Activation::identity, rng, nn::Init::xavier);
  std::mt19937_64 data(8);
  const Tensor X = random({2, 1, 5, 5}, data), Y = random({2, 2}, data);
  const auto report = nn::check_gradients(model, X, Y);
  INFO(report.to_string());
  CHECK(report.ok);
}
