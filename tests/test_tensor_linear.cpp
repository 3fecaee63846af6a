#include <doctest/doctest.h>

#include <random>
#include <utility>
#include <vector>

#include <autodiff/autodiff.hpp>

TEST_CASE("linear equals matmul with the transposed weight plus the bias, values and gradients") {
  std::mt19937_64 rng(7);
  const ad::Tensor x = ad::Tensor::randn({5, 3}, rng), w = ad::Tensor::randn({4, 3}, rng), b = ad::Tensor::randn({4}, rng);
  const ad::Tensor seed = ad::Tensor::randn({5, 4}, rng);
  auto run = [&](bool fused) {
    ad::Tensor xs = x.detach(), ws = w.detach(), bs = b.detach();
    xs.requires_grad(true);
    ws.requires_grad(true);
    bs.requires_grad(true);
    const ad::Tensor y = fused ? ad::linear(xs, ws, bs) : ad::matmul(xs, ws.t()) + bs;
    ad::sum(y * seed).backward();
    return std::vector<ad::Tensor>{y.detach(), xs.grad(), ws.grad(), bs.grad()};
  };
  const auto fused = run(true), reference = run(false);
  for (std::size_t k = 0; k < fused.size(); ++k)
    for (std::size_t i = 0; i < fused[k].numel(); ++i)
      CHECK(fused[k].values()[i] == doctest::Approx(reference[k].values()[i]).epsilon(1e-12));
}

TEST_CASE("linear passes gradcheck with and without a bias") {
  std::mt19937_64 rng(8);
  const ad::Tensor x = ad::Tensor::randn({3, 2}, rng).name("x"), w = ad::Tensor::randn({4, 2}, rng).name("W");
  const ad::Tensor b = ad::Tensor::randn({4}, rng).name("b");
  CHECK(ad::gradcheck([](const std::vector<ad::Tensor>& p) { return ad::sum(ad::tanh(ad::linear(p[0], p[1], p[2]))); },
                      {x, w, b})
            .ok);
  CHECK(ad::gradcheck([](const std::vector<ad::Tensor>& p) { return ad::sum(ad::square(ad::linear(p[0], p[1], ad::Tensor()))); },
                      {x, w})
            .ok);
}

TEST_CASE("linear names the shapes when they do not fit") {
  const ad::Tensor x = ad::Tensor::zeros({3, 2}), w = ad::Tensor::zeros({4, 5}), b = ad::Tensor::zeros({4});
  CHECK_THROWS_WITH_AS(ad::linear(x, w, b), doctest::Contains("[3, 2]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::linear(x, ad::Tensor::zeros({4, 2}), ad::Tensor::zeros({3})), doctest::Contains("bias [3]"),
                       std::invalid_argument);
}

// The products of linear's and matmul's backward write a gradient that does
// not exist yet instead of adding to zeros: every case where a product might
// then leave part of the buffer unwritten, or write it twice.
TEST_CASE("linear and matmul gradients are right where a product writes a fresh gradient buffer") {
  std::mt19937_64 rng(9);
  auto leaf = [&](const ad::Shape& s) { return ad::Tensor::randn(s, rng).requires_grad(true); };
  auto all_zero = [](const ad::Tensor& g) {
    for (const double v : g.values())
      if (v != 0.0) return false;
    return true;
  };
  SUBCASE("an empty batch: dW and db are zeros, not whatever the buffer held") {
    for (int rep = 0; rep < 3; ++rep) {  // recycled buffers hold the values of earlier steps
      ad::Tensor x = leaf({0, 3}), w = leaf({4, 3}), b = leaf({4});
      ad::sum(ad::linear(x, w, b)).backward();
      CHECK(all_zero(w.grad()));
      CHECK(all_zero(b.grad()));
      ad::Tensor filler = leaf({4, 3});
      ad::sum(filler * 7.0).backward();  // leaves 7s in a recycled buffer of W's size
    }
  }
  SUBCASE("linear(x, x): both products go to one gradient") {
    ad::Tensor x = leaf({3, 3});
    ad::sum(ad::linear(x, x, ad::Tensor())).backward();
    ad::Tensor y = x.detach().requires_grad(true);
    ad::sum(ad::matmul(y, ad::transpose(y))).backward();
    for (std::size_t i = 0; i < 9; ++i)
      CHECK(x.grad().values()[i] == doctest::Approx(y.grad().values()[i]).epsilon(1e-14));
  }
  SUBCASE("matmul(a, a), batched, and a shared operand over an empty batch") {
    ad::Tensor a = leaf({3, 3});
    CHECK(ad::gradcheck(
              [](const std::vector<ad::Tensor>& p) { return ad::sum(ad::sin(ad::matmul(p[0], p[0]))); },
              {a.detach()})
              .ok);
    CHECK(ad::gradcheck(
              [](const std::vector<ad::Tensor>& p) { return ad::sum(ad::sin(ad::matmul(p[0], p[1]))); },
              {ad::Tensor::randn({2, 3, 4}, rng), ad::Tensor::randn({4, 2}, rng)})
              .ok);
    ad::Tensor shared = leaf({3, 4}), batch = leaf({0, 4, 2});
    ad::sum(ad::matmul(ad::reshape(ad::Tensor::zeros({0, 3, 4}), {0, 3, 4}) + shared, batch)).backward();
    CHECK(all_zero(shared.grad()));
  }
  SUBCASE("a second backward adds to the gradient the first one wrote") {
    ad::Tensor x = leaf({2, 3}), w = leaf({2, 3});
    ad::sum(ad::linear(x, w, ad::Tensor())).backward();
    const ad::Tensor first = w.grad();
    const std::vector<double> once(first.values().begin(), first.values().end());
    ad::sum(ad::linear(x, w, ad::Tensor())).backward();
    for (std::size_t i = 0; i < once.size(); ++i) CHECK(w.grad().values()[i] == doctest::Approx(2 * once[i]));
  }
}

TEST_CASE(
    "linear_activation equals linear followed by tanh, logistic, relu, softplus, leaky_relu or elu, values "
    "and gradients") {
  std::mt19937_64 rng(12);
  const ad::Tensor x = ad::Tensor::randn({6, 3}, rng), w = ad::Tensor::randn({4, 3}, rng),
                   b = ad::Tensor::randn({4}, rng);
  const ad::Tensor seed = ad::Tensor::randn({6, 4}, rng);
  const std::pair<ad::OpCode, ad::Tensor (*)(const ad::Tensor&)> cases[] = {
      {ad::OpCode::tanh, [](const ad::Tensor& a) { return ad::tanh(a); }},
      {ad::OpCode::logistic, [](const ad::Tensor& a) { return ad::logistic(a); }},
      {ad::OpCode::relu, [](const ad::Tensor& a) { return ad::relu(a); }},
      {ad::OpCode::softplus, [](const ad::Tensor& a) { return ad::softplus(a); }},
      {ad::OpCode::leaky_relu, [](const ad::Tensor& a) { return ad::leaky_relu(a); }},
      {ad::OpCode::elu, [](const ad::Tensor& a) { return ad::elu(a); }}};
  for (const auto& [code, activation] : cases) {
    CAPTURE(ad::op_info(code).name);
    for (const bool with_bias : {true, false}) {
      auto run = [&](bool fused) {
        ad::Tensor xs = x.detach().requires_grad(true), ws = w.detach().requires_grad(true);
        ad::Tensor bs = with_bias ? b.detach().requires_grad(true) : ad::Tensor();
        const ad::Tensor z =
            fused ? ad::linear_activation(xs, ws, bs, code) : activation(ad::linear(xs, ws, bs));
        ad::sum(z * seed).backward();
        std::vector<ad::Tensor> out{z.detach(), xs.grad(), ws.grad()};
        if (with_bias) out.push_back(bs.grad());
        return out;
      };
      const auto fused = run(true), reference = run(false);
      for (std::size_t k = 0; k < fused.size(); ++k)
        for (std::size_t i = 0; i < fused[k].numel(); ++i)
          CHECK(fused[k].values()[i] == doctest::Approx(reference[k].values()[i]).epsilon(1e-14));
    }
    // One node: x, W, b and the op.
    ad::Tensor xs = x.detach().requires_grad(true);
    CHECK(ad::graph(ad::linear_activation(xs, w, b, code)).nodes.size() == 4);
    // Second derivatives through the recorded backward.
    const auto f = [code = code](const std::vector<ad::Tensor>& p) {
      return ad::sum(ad::square(ad::linear_activation(p[0], p[1], p[2], code)));
    };
    CHECK(ad::gradcheck(f, {x, w, b}).ok);
    const auto g = [&, code = code](const ad::Tensor& flat) {
      return ad::sum(ad::square(ad::linear_activation(ad::reshape(flat, {6, 3}), w, b, code)));
    };
    const auto report = ad::gradgradcheck(g, ad::reshape(x, {18}), 4);
    INFO(report.to_string());
    CHECK(report.ok);
  }
  CHECK_THROWS_WITH_AS(
      ad::linear_activation(x, w, b, ad::OpCode::sin),
      doctest::Contains("ad::linear_activation: the activation must be an op whose derivative is a function "
                        "of its output (tanh, logistic, relu, softplus, leaky_relu, elu), got sin"),
      std::invalid_argument);
  // gelu' and silu' need the pre-activation, which the fused op does not keep.
  for (const ad::OpCode code : {ad::OpCode::gelu, ad::OpCode::silu, ad::OpCode::softsign}) {
    CHECK_FALSE(ad::linear_activation_supports(code));
    CHECK_THROWS_AS(ad::linear_activation(x, w, b, code), std::invalid_argument);
  }
  CHECK_THROWS_WITH_AS(ad::linear_activation(x, ad::Tensor::zeros({4, 5}), b, ad::OpCode::tanh),
                       doctest::Contains("ad::linear_tanh: needs x [batch, in]"), std::invalid_argument);
}
