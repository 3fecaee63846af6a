// Comparisons that give masks (tensor_compare.hpp), and the reductions that
// pick an element: min beside max, argmax and argmin (tensor_reduce.hpp).
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>

#include "tensor_gradcheck.hpp"

using ad::Shape;
using ad::Tensor;
using doctest::Contains;

namespace {

std::vector<double> values_of(const Tensor& t) { return {t.values().begin(), t.values().end()}; }

const double not_a_number = std::numeric_limits<double>::quiet_NaN();

}  // namespace

// ---- comparisons ----------------------------------------------------------------------------

TEST_CASE("comparisons with a scalar give masks of 1 and 0, false for NaN except !=") {
  const Tensor x = Tensor::from({4}, {-1, 0, 1, not_a_number});
  CHECK(values_of(x < 0.5) == std::vector<double>{1, 1, 0, 0});
  CHECK(values_of(x <= 0.0) == std::vector<double>{1, 1, 0, 0});
  CHECK(values_of(x > 0.0) == std::vector<double>{0, 0, 1, 0});
  CHECK(values_of(x >= 0.0) == std::vector<double>{0, 1, 1, 0});
  CHECK(values_of(x == 0.0) == std::vector<double>{0, 1, 0, 0});
  CHECK(values_of(x != 0.0) == std::vector<double>{1, 0, 1, 1});
  // The scalar on the left.
  CHECK(values_of(0.5 < x) == std::vector<double>{0, 0, 1, 0});
  CHECK(values_of(0.0 >= x) == std::vector<double>{1, 1, 0, 0});
  CHECK(values_of(1.0 == x) == std::vector<double>{0, 0, 1, 0});
  CHECK(values_of(1.0 != x) == std::vector<double>{1, 1, 0, 1});
  CHECK(values_of(0 <= x) == std::vector<double>{0, 1, 1, 0});  // an int converts to the element type
  CHECK(values_of(x != x) == std::vector<double>{0, 0, 0, 1});
}

TEST_CASE("comparisons of two tensors broadcast by NumPy's rules") {
  const Tensor column = Tensor::from({2, 1}, {1, 3});
  const Tensor row = Tensor::from({3}, {1, 2, 3});
  const Tensor less = column < row;
  CHECK(less.shape() == Shape{2, 3});
  CHECK(values_of(less) == std::vector<double>{0, 1, 1, 0, 0, 0});
  CHECK(values_of(column == row) == std::vector<double>{1, 0, 0, 0, 0, 1});
  CHECK(values_of(column >= row) == std::vector<double>{1, 0, 0, 1, 1, 1});
  CHECK(values_of(row > Tensor::scalar(2.0)) == std::vector<double>{0, 0, 1});
  CHECK_THROWS_WITH_AS(Tensor::ones({2, 3}) < Tensor::ones({4}),
                       Contains("ad::operator<: shapes [2, 3] and [4]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(Tensor::ones({2}) != Tensor::ones({3}), Contains("ad::operator!="),
                       std::invalid_argument);
}

TEST_CASE("a mask is a constant: no history and no gradient, whatever its operands") {
  Tensor x = Tensor::from({3}, {-1, 0.5, 2}).requires_grad(true);
  const Tensor mask = ad::exp(x) > 1.0;
  CHECK_FALSE(mask.requires_grad_enabled());
  CHECK(mask.is_leaf());
  // Used as where's condition: a piecewise function with the gradient of the branch taken.
  const Tensor y = ad::where(x < 1.0, ad::square(x), 2.0 * x - 1.0);
  CHECK(values_of(y) == std::vector<double>{1, 0.25, 3});
  ad::sum(y).backward();
  CHECK(values_of(x.grad()) == std::vector<double>{-2, 1, 2});
  // And as a multiplier.
  x.zero_grad();
  ad::sum(x * (x > 0.0) * x).backward();
  CHECK(values_of(x.grad()) == std::vector<double>{0, 1, 4});
}

TEST_CASE("comparisons work on float tensors") {
  const ad::TensorF x = ad::TensorF::from({3}, {-1, 0.25f, 2});
  const ad::TensorF mask = x >= 0.25;  // the double converts to float
  CHECK(std::vector<float>(mask.values().begin(), mask.values().end()) == std::vector<float>{0, 1, 1});
  CHECK((ad::TensorF::scalar(1) < x).values()[2] == 1.0f);
}

TEST_CASE("comparisons name the operator when given a tensor from a cleared tape") {
  Tensor x = Tensor::ones({2}).requires_grad(true);
  ad::Tape tape;
  const Tensor y = ad::exp(x).name("y");
  tape.clear();
  CHECK_THROWS_WITH_AS(y < 1.0, Contains("ad::operator<: an input ('y' [2])"), std::logic_error);
  CHECK_THROWS_WITH_AS(x == y, Contains("ad::operator=="), std::logic_error);
}

// ---- min, max -------------------------------------------------------------------------------

TEST_CASE("min reduces over all elements or chosen axes, as max does") {
  const Tensor x = Tensor::from({2, 3}, {3, 1, 4, 2, 5, 0.5});
  CHECK(ad::min(x).item() == 0.5);
  CHECK(ad::max(x).item() == 5);
  CHECK(values_of(ad::min(x, {1})) == std::vector<double>{1, 0.5});
  CHECK(values_of(ad::min(x, {0})) == std::vector<double>{2, 1, 0.5});
  CHECK(ad::min(x, {1}, true).shape() == Shape{2, 1});
  CHECK(ad::min(x, std::vector<std::int64_t>{0, 1}).item() == 0.5);
  CHECK(ad::min(x, {-1}, false).shape() == Shape{2});
}

TEST_CASE("min and max send the gradient to the first extreme element on ties") {
  const Tensor x0 = Tensor::from({2, 3}, {3, 1, 3, 2, 2, 5});
  Tensor x = x0.detach().requires_grad(true);
  ad::sum(ad::max(x, {1})).backward();
  CHECK(values_of(x.grad()) == std::vector<double>{1, 0, 0, 0, 0, 1});
  x.zero_grad();
  ad::sum(ad::min(x, {1})).backward();
  CHECK(values_of(x.grad()) == std::vector<double>{0, 1, 0, 1, 0, 0});
  x.zero_grad();
  ad::min(ad::reshape(x, {6})).backward();
  CHECK(values_of(x.grad()) == std::vector<double>{0, 1, 0, 0, 0, 0});
}

TEST_CASE("min's derivatives pass gradcheck and gradgradcheck") {
  std::mt19937_64 rng(11);
  const Tensor x = adtest::uniform({3, 4}, -2, 2, rng);  // continuous: no ties
  for (const std::vector<std::int64_t>& axes : {std::vector<std::int64_t>{0}, {1}, {0, 1}}) {
    const auto r = adtest::gradcheck_op(
        [&](const std::vector<Tensor>& in) { return ad::min(in[0], axes, true); }, {x}, rng);
    INFO(r.worst);
    CHECK(r.ok(1e-8));
    const auto second = ad::gradgradcheck(
        [&](const Tensor& t) { return ad::sum(ad::square(ad::min(t * t, axes))) + ad::min(ad::sin(t)); }, x,
        4);
    INFO(second.to_string());
    CHECK(second.ok);
  }
}

TEST_CASE("min propagates NaN and refuses zero elements and bad axes, naming itself") {
  CHECK(std::isnan(ad::min(Tensor::from({3}, {1, not_a_number, -4})).item()));
  CHECK(std::isnan(ad::min(Tensor::from({2}, {not_a_number, -4})).item()));
  CHECK_THROWS_WITH_AS(ad::min(Tensor::zeros({2, 0}), {1}),
                       Contains("ad::min: the minimum of zero elements (shape [2, 0])"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::min(Tensor::zeros({2, 2}), {2}), Contains("ad::min: axis 2"), std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::min(Tensor::zeros({2, 2}), {1, -1}), Contains("ad::min: axis -1 is listed twice"),
                       std::invalid_argument);
}

// ---- argmax, argmin -------------------------------------------------------------------------

TEST_CASE("argmax and argmin give the position along the axis, the first one on ties") {
  const Tensor x = Tensor::from({2, 3}, {3, 1, 3, 2, 5, 5});
  CHECK(values_of(ad::argmax(x, 1)) == std::vector<double>{0, 1});
  CHECK(values_of(ad::argmin(x, 1)) == std::vector<double>{1, 0});
  CHECK(values_of(ad::argmax(x, 0)) == std::vector<double>{0, 1, 1});
  CHECK(values_of(ad::argmin(x, -2)) == std::vector<double>{1, 0, 0});
  const Tensor kept = ad::argmax(x, 1, true);
  CHECK(kept.shape() == Shape{2, 1});
  CHECK(ad::argmax(x, 1).shape() == Shape{2});
  CHECK(values_of(ad::argmax(Tensor::from({2, 2, 3}, {0, 9, 1, 2, 3, 4, 7, 6, 8, 1, 0, 2}), 1)) ==
        std::vector<double>{1, 0, 1, 0, 0, 0});
  // The first NaN wins, as in PyTorch.
  CHECK(values_of(ad::argmax(Tensor::from({4}, {1, not_a_number, 7, not_a_number}), 0)) ==
        std::vector<double>{1});
  CHECK(values_of(ad::argmin(Tensor::from({3}, {1, -2, not_a_number}), 0)) == std::vector<double>{2});
}

TEST_CASE("argmax and argmin are constants, in float as in double") {
  const Tensor x = Tensor::from({3}, {1, 4, 2}).requires_grad(true);
  CHECK_FALSE(ad::argmax(x, 0).requires_grad_enabled());
  const ad::TensorF positions = ad::argmin(ad::TensorF::from({2, 2}, {1, 0, -1, 5}), 1);
  CHECK(std::vector<float>(positions.values().begin(), positions.values().end()) == std::vector<float>{1, 0});
  // Indices of a long axis are exact in double.
  const Tensor ramp = Tensor::arange(0, 70000);
  CHECK(ad::argmax(ramp, 0).item() == 69999);
}

TEST_CASE("argmax and argmin refuse an empty axis and axes out of range, naming themselves") {
  CHECK_THROWS_WITH_AS(ad::argmax(Tensor::zeros({2, 0}), 1),
                       Contains("ad::argmax: the maximum of zero elements"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::argmin(Tensor::zeros({0}), 0), Contains("ad::argmin"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::argmax(Tensor::zeros({2, 2}), 2), Contains("ad::argmax: axis 2"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::argmin(Tensor::scalar(1.0), 0), Contains("ad::argmin: axis 0"), std::out_of_range);
  Tensor x = Tensor::ones({2}).requires_grad(true);
  ad::Tape tape;
  const Tensor y = ad::exp(x).name("y");
  tape.clear();
  CHECK_THROWS_WITH_AS(ad::argmax(y, 0), Contains("ad::argmax: an input ('y' [2])"), std::logic_error);
  CHECK_THROWS_WITH_AS(ad::min(y), Contains("ad::min: an input ('y' [2])"), std::logic_error);
}
