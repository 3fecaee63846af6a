// Misuse of tensors is an exception whose message names the op and the
// shapes (or indices, axes, bounds) involved, never undefined behaviour.
#include <cstdint>
#include <stdexcept>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>

using ad::Shape;
using ad::Tensor;
using doctest::Contains;

TEST_CASE("element-wise ops on shapes that do not broadcast name the op and both shapes") {
  const Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({4});
  CHECK_THROWS_WITH_AS(ad::add(a, b), Contains("ad::add"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(a + b, Contains("[2, 3]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(a + b, Contains("[4]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(a + b, Contains("do not broadcast"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::pow(Tensor::ones({3, 2}), Tensor::ones({2, 3})), Contains("ad::pow: shapes [3, 2] and [2, 3]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::where(Tensor::ones({2, 3}), Tensor::ones({2, 3}), Tensor::ones({3, 3})),
                       Contains("ad::where"), std::invalid_argument);
  // The condition of where must have the broadcast shape.
  CHECK_THROWS_WITH_AS(ad::where(Tensor::ones({3}), Tensor::ones({2, 3}), Tensor::ones({2, 3})),
                       Contains("condition has shape [3]"), std::invalid_argument);
}

TEST_CASE("matmul with mismatched inner extents or a 1-d operand names both shapes") {
  CHECK_THROWS_WITH_AS(ad::matmul(Tensor::ones({2, 3}), Tensor::ones({4, 5})), Contains("ad::matmul"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::matmul(Tensor::ones({2, 3}), Tensor::ones({4, 5})), Contains("[2, 3] x [4, 5]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::matmul(Tensor::ones({3}), Tensor::ones({3, 2})), Contains("ad::matmul"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::matmul(Tensor::ones({3}), Tensor::ones({3, 2})), Contains("[3] and [3, 2]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::matmul(Tensor::ones({2, 2}), Tensor::ones({2})), Contains("[2, 2] and [2]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::matmul(Tensor::ones({2, 2, 3}), Tensor::ones({3, 3, 2})),
                       Contains("batch axes of [2, 2, 3] and [3, 3, 2]"), std::invalid_argument);
}

TEST_CASE("dot of unequal lengths names both shapes") {
  CHECK_THROWS_WITH_AS(ad::dot(Tensor::ones({3}), Tensor::ones({4})), Contains("ad::dot"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::dot(Tensor::ones({3}), Tensor::ones({4})), Contains("[3] and [4]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::dot(Tensor::ones({2, 2}), Tensor::ones({2, 2})), Contains("[2, 2] and [2, 2]"),
                       std::invalid_argument);
}

TEST_CASE("reshape to a different element count names both shapes and counts") {
  CHECK_THROWS_WITH_AS(ad::reshape(Tensor::ones({2, 3}), {4, 2}),
                       Contains("ad::reshape: cannot reshape [2, 3] (6 elements) to [4, 2] (8 elements)"),
                       std::invalid_argument);
}

TEST_CASE("rows and slice_rows out of range name the index and the shape") {
  const Tensor x = Tensor::ones({3, 2});
  CHECK_THROWS_WITH_AS(ad::rows(x, {0, 3}), Contains("ad::rows: row index 3 is out of range for shape [3, 2]"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::slice_rows(x, 1, 4), Contains("ad::slice_rows"), std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::slice_rows(x, 1, 4), Contains("[1, 4)"), std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::slice_rows(x, 1, 4), Contains("[3, 2]"), std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::slice_rows(x, 2, 1), Contains("[2, 1)"), std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::rows(Tensor::scalar(1.0), {0}), Contains("ad::rows"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(x.at({3, 0}), Contains("index 3 is out of range for axis 0 of shape [3, 2]"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(x.at({0}), Contains("1 indices for a tensor of shape [3, 2]"), std::out_of_range);
}

TEST_CASE("an axis out of range for a reduction or softmax names the op, the axis and the rank") {
  const Tensor x = Tensor::ones({2, 3});
  CHECK_THROWS_WITH_AS(ad::sum(x, {2}), Contains("ad::sum: axis 2 is out of range for a tensor of rank 2"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::mean(x, {-3}), Contains("ad::mean: axis -3"), std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::max(x, std::vector<std::int64_t>{5}), Contains("ad::max: axis 5"), std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::softmax(x, 2), Contains("axis 2 is out of range"), std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::log_softmax(x, -3), Contains("axis -3 is out of range"), std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::logsumexp(x, 7), Contains("ad::logsumexp: axis 7"), std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::transpose(x, 0, 2), Contains("ad::transpose: axis 2"), std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::sum(x, {1, -1}), Contains("ad::sum: axis -1 is listed twice"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::mean(Tensor::zeros({0, 3}), {0}), Contains("ad::mean: the mean of zero elements (shape [0, 3])"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::max(Tensor::zeros({0, 3})), Contains("ad::max: the maximum of zero elements"),
                       std::invalid_argument);
}

TEST_CASE("item of a tensor with more than one element names its shape") {
  CHECK_THROWS_WITH_AS(Tensor::ones({2, 2}).item(), Contains("ad::Tensor::item: the tensor has shape [2, 2]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Tensor::zeros({0}).item(), Contains("shape [0]"), std::invalid_argument);
}

TEST_CASE("backward on a tensor that does not require grad says so") {
  Tensor x = Tensor::ones({2});
  Tensor y = ad::sum(x * 2.0);
  CHECK_THROWS_WITH_AS(y.backward(), Contains("ad::Tensor::backward"), std::logic_error);
  CHECK_THROWS_WITH_AS(y.backward(), Contains("does not require grad"), std::logic_error);
  Tensor named = ad::sum(x).name("total");
  CHECK_THROWS_WITH_AS(named.backward(), Contains("'total'"), std::logic_error);
}

TEST_CASE("concat of mismatched shapes and stack of unequal shapes name both shapes") {
  CHECK_THROWS_WITH_AS(ad::concat<double>({Tensor::ones({2, 3}), Tensor::ones({2, 4})}, 0),
                       Contains("ad::concat: shapes [2, 3] and [2, 4] differ outside axis 0"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::concat<double>({Tensor::ones({2, 3}), Tensor::ones({3})}, 0),
                       Contains("[2, 3] and [3]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::concat<double>({Tensor::ones({2, 3})}, 2), Contains("ad::concat: axis 2"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::concat<double>({}, 0), Contains("ad::concat: no tensors"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::stack<double>({Tensor::ones({2, 3}), Tensor::ones({3, 2})}, 0),
                       Contains("ad::stack: all tensors need the same shape; got [2, 3] and [3, 2]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::stack<double>({Tensor::ones({2})}, 2), Contains("ad::stack: axis 2"), std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::stack<double>({}, 0), Contains("ad::stack: no tensors"), std::invalid_argument);
}

TEST_CASE("clamp with a lower bound above the upper bound names both bounds") {
  CHECK_THROWS_WITH_AS(ad::clamp(Tensor::ones({2}), 2.0, 1.0), Contains("ad::clamp: lower bound 2 exceeds upper bound 1"),
                       std::invalid_argument);
}

TEST_CASE("an empty default-constructed tensor is refused by every use") {
  const Tensor empty;
  CHECK_FALSE(empty.defined());
  CHECK_THROWS_WITH_AS(empty.shape(), Contains("empty (default-constructed)"), std::logic_error);
  CHECK_THROWS_WITH_AS(empty.values(), Contains("empty"), std::logic_error);
  CHECK_THROWS_WITH_AS(empty.item(), Contains("empty"), std::logic_error);
  CHECK_THROWS_WITH_AS(ad::sin(empty), Contains("empty"), std::logic_error);
  CHECK_THROWS_WITH_AS(empty + Tensor::ones({2}), Contains("empty"), std::logic_error);
  CHECK_THROWS_WITH_AS(ad::matmul(empty, Tensor::ones({2, 2})), Contains("empty"), std::logic_error);
  CHECK_THROWS_WITH_AS(ad::sum(empty), Contains("empty"), std::logic_error);
  Tensor target;
  CHECK_THROWS_WITH_AS(target.backward(), Contains("empty"), std::logic_error);
  CHECK_THROWS_WITH_AS(target.requires_grad(true), Contains("empty"), std::logic_error);
}

TEST_CASE("a tensor from a cleared tape names the op it was passed to") {
  Tensor x = Tensor::ones({2}).requires_grad(true).name("x");
  ad::Tape tape;
  const Tensor y = ad::exp(x).name("y");
  tape.clear();
  CHECK_THROWS_WITH_AS(ad::matmul(ad::reshape(x, {1, 2}), ad::reshape(y, {2, 1})),
                       Contains("ad::reshape: an input ('y' [2]) was recorded on a tape that has since been cleared"),
                       std::logic_error);
  CHECK_THROWS_WITH_AS(ad::concat<double>({x, y}), Contains("ad::concat"), std::logic_error);
}

TEST_CASE("marking a non-leaf, writing an op's values, or a bad seed is refused") {
  Tensor x = Tensor::ones({2}).requires_grad(true);
  Tensor y = x * 2.0;
  CHECK_THROWS_WITH_AS(y.requires_grad(false), Contains("not a leaf"), std::logic_error);
  CHECK_THROWS_WITH_AS(y.mutable_values(), Contains("ad::Tensor::mutable_values"), std::logic_error);
  CHECK_THROWS_WITH_AS(y.backward(Tensor::ones({3})), Contains("the seed has shape [3] but the tensor has shape [2]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Tensor::ones({2, 3, 4}).t(), Contains("ad::Tensor::t: needs a 2-d tensor"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::transpose(Tensor::ones({3})), Contains("ad::transpose"), std::invalid_argument);
}
