// Specification: the loss functions C(Theta) on a batch, their values by
// hand, their agreement with each other, their stability for huge logits and
// their gradients against central finite differences.
#include <cmath>
#include <cstddef>
#include <functional>
#include <random>
#include <stdexcept>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

using LossOf = std::function<ad::Tensor(const ad::Tensor&)>;

// The largest |tape - fd| / max(1, |fd|) over every entry of x, with central
// differences (C(x + h e_i) - C(x - h e_i)) / (2h), h = 1e-6: truncation
// error O(h^2), rounding error O(1e-16 / h) = O(1e-10).
double finite_difference_error(const LossOf& loss, const ad::Tensor& x0) {
  ad::Tensor x = x0.detach();
  x.requires_grad(true);
  loss(x).backward();
  const ad::Tensor tape = x.grad();
  ad::Tensor probe = x0.detach();
  auto entries = probe.mutable_values();
  const double h = 1e-6;
  double worst = 0.0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const double saved = entries[i];
    entries[i] = saved + h;
    const double up = loss(probe).item();
    entries[i] = saved - h;
    const double down = loss(probe).item();
    entries[i] = saved;
    const double fd = (up - down) / (2 * h);
    worst = std::max(worst, std::fabs(tape.values()[i] - fd) / std::max(1.0, std::fabs(fd)));
  }
  return worst;
}

ad::Tensor logistic_of(const ad::Tensor& s) {
  ad::NoGrad off;
  return ad::logistic(s).detach();
}

}  // namespace

TEST_CASE("mse_loss is 1/(2N) sum_i ||f(x_i) - y_i||^2") {
  const ad::Tensor f = ad::Tensor::from({3, 2}, {1.0, 2.0, -1.0, 0.5, 3.0, 0.0});
  const ad::Tensor y = ad::Tensor::from({3, 2}, {0.0, 2.5, 1.0, 0.5, 1.0, -1.0});
  // Squared row norms: 1 + 0.25, 4 + 0, 4 + 1 -> 10.25; / (2 * 3).
  CHECK(nn::mse_loss(f, y).item() == doctest::Approx(10.25 / 6.0).epsilon(1e-15));
  // One output per sample as a vector [N].
  const ad::Tensor f1 = ad::Tensor::from(ad::Shape{4}, {1.0, 2.0, 3.0, 4.0});
  const ad::Tensor y1 = ad::Tensor::from(ad::Shape{4}, {0.0, 0.0, 0.0, 0.0});
  CHECK(nn::mse_loss(f1, y1).item() == doctest::Approx(30.0 / 8.0).epsilon(1e-15));
  CHECK_THROWS_AS(nn::mse_loss(f, ad::Tensor::zeros({2, 3})), std::invalid_argument);
}

TEST_CASE("sum_of_losses adds a user metric over the samples") {
  const ad::Tensor f = ad::Tensor::from({3, 2}, {1.0, 2.0, -1.0, 0.5, 3.0, 0.0});
  const ad::Tensor y = ad::Tensor::from({3, 2}, {0.0, 2.5, 1.0, 0.5, 1.0, -1.0});
  // The L1 distance per sample: 1.5 + 2 + 3.
  const auto l1 = [](const ad::Tensor& p, const ad::Tensor& t) { return ad::sum(ad::abs(p - t)); };
  CHECK(nn::sum_of_losses(f, y, l1).item() == doctest::Approx(6.5).epsilon(1e-15));
  // The squared distance halved, summed: N times the mse.
  const auto half_square = [](const ad::Tensor& p, const ad::Tensor& t) { return ad::sum(ad::square(p - t)) * 0.5; };
  CHECK(nn::sum_of_losses(f, y, half_square).item() == doctest::Approx(3.0 * nn::mse_loss(f, y).item()).epsilon(1e-15));
  CHECK_THROWS_AS(nn::sum_of_losses(f, ad::Tensor::zeros({3, 3}), l1), std::invalid_argument);
}

TEST_CASE("sum_of_losses is differentiable through the user metric") {
  std::mt19937_64 rng(1);
  const ad::Tensor f = ad::Tensor::randn({4, 3}, rng);
  const ad::Tensor y = ad::Tensor::randn({4, 3}, rng);
  const auto metric = [](const ad::Tensor& p, const ad::Tensor& t) { return ad::sum(ad::square(ad::tanh(p) - t)); };
  CHECK(finite_difference_error([&](const ad::Tensor& x) { return nn::sum_of_losses(x, y, metric); }, f) < 1e-8);
}

TEST_CASE("binary cross-entropy on probabilities and on logits agree") {
  std::mt19937_64 rng(2);
  const ad::Tensor s = ad::Tensor::randn({6, 2}, rng) * 3.0;
  const ad::Tensor y = ad::Tensor::from({6, 2}, {0, 1, 1, 0, 1, 1, 0, 0, 0.25, 0.75, 1, 0});
  const double from_logits = nn::binary_cross_entropy_with_logits(s, y).item();
  const double from_probabilities = nn::binary_cross_entropy(logistic_of(s), y).item();
  CHECK(from_logits == doctest::Approx(from_probabilities).epsilon(1e-12));
  // By hand for one element: -(y log p + (1 - y) log(1 - p)).
  const ad::Tensor s1 = ad::Tensor::from({1, 1}, {0.7});
  const ad::Tensor y1 = ad::Tensor::from({1, 1}, {0.25});
  const double p = 1.0 / (1.0 + std::exp(-0.7));
  const double expected = -(0.25 * std::log(p) + 0.75 * std::log(1.0 - p));
  CHECK(nn::binary_cross_entropy_with_logits(s1, y1).item() == doctest::Approx(expected).epsilon(1e-14));
  CHECK(nn::binary_cross_entropy(logistic_of(s1), y1).item() == doctest::Approx(expected).epsilon(1e-14));
}

TEST_CASE("binary cross-entropy stays finite for huge logits") {
  const ad::Tensor s = ad::Tensor::from({4, 1}, {1e3, -1e3, 1e3, -1e3});
  const ad::Tensor y = ad::Tensor::from({4, 1}, {1.0, 0.0, 0.0, 1.0});
  ad::Tensor leaf = s.detach();
  leaf.requires_grad(true);
  ad::Tensor loss = nn::binary_cross_entropy_with_logits(leaf, y);
  // Two samples are right (loss 0), two wrong by a margin of 1000: mean 500.
  CHECK(loss.item() == doctest::Approx(500.0).epsilon(1e-15));
  loss.backward();
  const ad::Tensor gradient = leaf.grad();  // held: values() is a view into it
  for (double g : gradient.values()) CHECK(std::isfinite(g));
  // d/ds = (sigma(s) - y) / N: 0, 0, 1/4, -1/4.
  CHECK(leaf.grad().values()[0] == doctest::Approx(0.0));
  CHECK(leaf.grad().values()[2] == doctest::Approx(0.25).epsilon(1e-15));
  CHECK(leaf.grad().values()[3] == doctest::Approx(-0.25).epsilon(1e-15));
  // On probabilities the clamp keeps log away from 0: large but finite.
  const double clamped = nn::binary_cross_entropy(logistic_of(s), y).item();
  CHECK(std::isfinite(clamped));
  CHECK(clamped > 10.0);
}

TEST_CASE("softmax cross-entropy with labels equals the one-hot form and the formula") {
  const ad::Tensor logits = ad::Tensor::from({2, 3}, {1.0, 2.0, 0.5, -1.0, 0.0, 3.0});
  const std::vector<std::size_t> labels = {1, 0};
  const ad::Tensor one_hot = ad::Tensor::from({2, 3}, {0, 1, 0, 1, 0, 0});
  const double with_labels = nn::softmax_cross_entropy(logits, labels).item();
  const double with_one_hot = nn::softmax_cross_entropy(logits, one_hot).item();
  CHECK(with_labels == doctest::Approx(with_one_hot).epsilon(1e-15));
  const double row0 = -(2.0 - std::log(std::exp(1.0) + std::exp(2.0) + std::exp(0.5)));
  const double row1 = -(-1.0 - std::log(std::exp(-1.0) + std::exp(0.0) + std::exp(3.0)));
  CHECK(with_labels == doctest::Approx((row0 + row1) / 2.0).epsilon(1e-14));
}

TEST_CASE("softmax cross-entropy stays finite for huge logits") {
  const ad::Tensor logits = ad::Tensor::from({2, 3}, {1e3, -1e3, 0.0, -1e3, 1e3, 1e3});
  ad::Tensor leaf = logits.detach();
  leaf.requires_grad(true);
  ad::Tensor loss = nn::softmax_cross_entropy(leaf, std::vector<std::size_t>{1, 2});
  // Row 0: the label's logit is 2000 below the maximum; row 1: two tied maxima, log 2.
  CHECK(loss.item() == doctest::Approx((2000.0 + std::log(2.0)) / 2.0).epsilon(1e-14));
  loss.backward();
  const ad::Tensor gradient = leaf.grad();  // held: values() is a view into it
  for (double g : gradient.values()) CHECK(std::isfinite(g));
  const ad::Tensor one_hot = ad::Tensor::from({2, 3}, {0, 1, 0, 0, 0, 1});
  CHECK(nn::softmax_cross_entropy(logits, one_hot).item() == doctest::Approx(loss.item()).epsilon(1e-15));
}

TEST_CASE("softmax cross-entropy rejects a label out of range and mismatched shapes") {
  const ad::Tensor logits = ad::Tensor::zeros({2, 3});
  CHECK_THROWS_AS(nn::softmax_cross_entropy(logits, std::vector<std::size_t>{0, 3}), std::out_of_range);
  CHECK_THROWS_AS(nn::softmax_cross_entropy(logits, std::vector<std::size_t>{0}), std::invalid_argument);
  CHECK_THROWS_AS(nn::softmax_cross_entropy(logits, ad::Tensor::zeros({2, 2})), std::invalid_argument);
}

TEST_CASE("each loss's tape gradient matches central finite differences") {
  std::mt19937_64 rng(3);
  const ad::Tensor x = ad::Tensor::randn({5, 3}, rng);
  const ad::Tensor y = ad::Tensor::randn({5, 3}, rng);
  const ad::Tensor targets01 = ad::Tensor::rand({5, 3}, rng);
  const ad::Tensor probabilities = ad::Tensor::rand({5, 3}, rng) * 0.8 + 0.1;  // away from the clamp
  const std::vector<std::size_t> labels = {0, 2, 1, 1, 0};
  const ad::Tensor soft_targets = logistic_of(ad::Tensor::randn({5, 3}, rng));

  SUBCASE("mse_loss") {
    CHECK(finite_difference_error([&](const ad::Tensor& f) { return nn::mse_loss(f, y); }, x) < 1e-8);
  }
  SUBCASE("binary_cross_entropy") {
    CHECK(finite_difference_error([&](const ad::Tensor& p) { return nn::binary_cross_entropy(p, targets01); },
                                  probabilities) < 1e-8);
  }
  SUBCASE("binary_cross_entropy_with_logits") {
    CHECK(finite_difference_error(
              [&](const ad::Tensor& s) { return nn::binary_cross_entropy_with_logits(s, targets01); }, x) < 1e-8);
  }
  SUBCASE("softmax_cross_entropy with labels") {
    CHECK(finite_difference_error([&](const ad::Tensor& s) { return nn::softmax_cross_entropy(s, labels); }, x) <
          1e-8);
  }
  SUBCASE("softmax_cross_entropy with probability targets") {
    CHECK(finite_difference_error([&](const ad::Tensor& s) { return nn::softmax_cross_entropy(s, soft_targets); },
                                  x) < 1e-8);
  }
}

TEST_CASE("losses work on float tensors") {
  const ad::TensorF f = ad::TensorF::from({2, 1}, {1.0f, 3.0f});
  const ad::TensorF y = ad::TensorF::from({2, 1}, {0.0f, 1.0f});
  CHECK(nn::mse_loss(f, y).item() == doctest::Approx(5.0f / 4.0f));
  const ad::TensorF huge = ad::TensorF::from({2, 1}, {1e3f, -1e3f});
  CHECK(std::isfinite(nn::binary_cross_entropy_with_logits(huge, y).item()));
  CHECK(std::isfinite(nn::softmax_cross_entropy(ad::TensorF::from({1, 2}, {1e3f, -1e3f}), std::vector<std::size_t>{1})
                          .item()));
}
