#include <doctest/doctest.h>

#include <random>

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
