// The public ways to hold and hand over a tensor's gradient (tensor.hpp):
// what optimisers, ad::hvp and nn::check_gradients use instead of reaching
// into the tensor's storage.
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>

namespace {

using ad::Tensor;

std::vector<double> to_vector(std::span<const double> s) { return {s.begin(), s.end()}; }

Tensor leaf(std::vector<double> values) {
  const std::size_t n = values.size();
  return Tensor::from({n}, std::move(values)).requires_grad(true);
}

}  // namespace

TEST_CASE("copies of a tensor are the same tensor, an equal-valued one is not") {
  const Tensor a = leaf({1, 2});
  const Tensor copy = a;
  CHECK(copy.is_same(a));
  CHECK_FALSE(a.clone().is_same(a));
  CHECK_FALSE(leaf({1, 2}).is_same(a));
}

TEST_CASE("grad_view reads the accumulated gradient without copying, and is empty before any") {
  Tensor w = leaf({1, -2});
  CHECK(w.grad_view().empty());
  ad::sum(ad::square(w)).backward();
  CHECK(to_vector(w.grad_view()) == std::vector<double>{2, -4});
  CHECK(w.grad_view().data() == w.grad_values().data());
}

TEST_CASE("clear_grad drops the gradient, zero_grad keeps zeros") {
  Tensor w = leaf({3});
  ad::sum(w * 2.0).backward();
  w.zero_grad();
  CHECK(w.has_grad());
  CHECK(to_vector(w.grad_view()) == std::vector<double>{0});
  w.clear_grad();
  CHECK_FALSE(w.has_grad());
  ad::sum(w * 2.0).backward();  // the next sweep starts from nothing
  CHECK(to_vector(w.grad_view()) == std::vector<double>{2});
  Tensor().clear_grad();  // an empty handle: nothing to drop
}

TEST_CASE("exchange_grad hands the gradient over and puts one back, checking its size") {
  Tensor w = leaf({1, 2});
  ad::sum(w * 3.0).backward();
  std::vector<double> kept = w.exchange_grad({});
  CHECK(kept == std::vector<double>{3, 3});
  CHECK_FALSE(w.has_grad());
  ad::sum(w * 5.0).backward();  // a sweep of our own, from no gradient
  CHECK(to_vector(w.grad_view()) == std::vector<double>{5, 5});
  CHECK(w.exchange_grad(std::move(kept)) == std::vector<double>{5, 5});
  CHECK(to_vector(w.grad_view()) == std::vector<double>{3, 3});
  CHECK_THROWS_AS(w.exchange_grad({1, 2, 3}), std::invalid_argument);
  CHECK(to_vector(w.grad_view()) == std::vector<double>{3, 3});  // unchanged by the refused call
}

TEST_CASE("an optimiser step through the public handle bumps the version") {
  Tensor w = leaf({1});
  const Tensor y = w * w;  // mul saves w's version
  ad::sum(w * 4.0).backward();
  const auto before = w.version();
  auto theta = w.mutable_values();
  const auto g = w.grad_values();
  theta[0] -= 0.1 * g[0];
  CHECK(w.version() == before + 1);
  CHECK(w.values()[0] == doctest::Approx(0.6));
  Tensor loss = ad::sum(y);
  CHECK_THROWS_AS(loss.backward(), std::logic_error);  // y was recorded from the old values
}
