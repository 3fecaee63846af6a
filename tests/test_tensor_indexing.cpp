// Indexing and shape ops (tensor_indexing.hpp): slice, pad, flatten,
// index_select, gather, cumsum, tril, triu, diag, diag_embed. Each op's values
// on small hand-computed cases, its gradient against central differences,
// its second derivative (the recorded backward) with gradgradcheck, and its
// misuse errors. Comparisons, min and argmax/argmin: test_tensor_masks.cpp.
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>

#include "tensor_gradcheck.hpp"

using ad::Shape;
using ad::Tensor;
using doctest::Contains;

namespace {

std::vector<double> values_of(const Tensor& t) { return {t.values().begin(), t.values().end()}; }

// 0, 1, ..., numel - 1 in `shape`.
Tensor iota(const Shape& shape) {
  std::vector<double> v(shape.numel());
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = double(i);
  return Tensor::from(shape, std::move(v));
}

// The gradient of sum(op(x)) with respect to x.
std::vector<double> gradient_of_sum(const std::function<Tensor(const Tensor&)>& op, const Tensor& x0) {
  Tensor x = x0.detach().requires_grad(true);
  ad::sum(op(x)).backward();
  return values_of(x.grad());
}

// First derivatives against central differences, for sum(w * op(x)) with a
// random weighting w; second derivatives (the recorded backward) with
// gradgradcheck on sum(w * sin(op(x))), whose Hessian J^T diag(-w sin) J
// goes through the op's recorded gradient.
void check_derivatives(const std::string& what, const std::function<Tensor(const Tensor&)>& op,
                       const Shape& shape) {
  CAPTURE(what);
  std::mt19937_64 rng(20261206);
  const Tensor x = adtest::uniform(shape, -2.0, 2.0, rng);
  const auto first = adtest::gradcheck_op([&](const std::vector<Tensor>& in) { return op(in[0]); }, {x}, rng);
  INFO(first.worst);
  CHECK(first.ok(1e-8));
  Shape out_shape;
  {
    ad::NoGrad off;
    out_shape = op(x).shape();
  }
  const Tensor w = adtest::away_from_zero(out_shape, 0.5, 1.5, rng);
  const auto second = ad::gradgradcheck([&](const Tensor& t) { return ad::sum(w * ad::sin(op(t))); }, x, 4);
  INFO(second.to_string());
  CHECK(second.ok);
}

}  // namespace

// ---- slice ----------------------------------------------------------------------------------

TEST_CASE("slice picks begin, begin + step, ... below end along any axis") {
  const Tensor x = iota({3, 4});
  const Tensor columns = ad::slice(x, 1, 1, 4, 2);
  CHECK(columns.shape() == Shape{3, 2});
  CHECK(values_of(columns) == std::vector<double>{1, 3, 5, 7, 9, 11});
  CHECK(values_of(ad::slice(x, 0, 1, 2)) == std::vector<double>{4, 5, 6, 7});
  CHECK(values_of(ad::slice(x, -1, 0, 4, 3)) == std::vector<double>{0, 3, 4, 7, 8, 11});
  CHECK(values_of(ad::slice(iota({2, 3, 2}), 1, 2, 3)) == std::vector<double>{4, 5, 10, 11});
}

TEST_CASE("slice counts negative bounds from the end and clamps them as Python does") {
  const Tensor x = iota({5});
  CHECK(values_of(ad::slice(x, 0, -2, 5)) == std::vector<double>{3, 4});
  CHECK(values_of(ad::slice(x, 0, -100, 2)) == std::vector<double>{0, 1});
  CHECK(values_of(ad::slice(x, 0, 3, 100)) == std::vector<double>{3, 4});
  CHECK(values_of(ad::slice(x, 0, 1, -1, 2)) == std::vector<double>{1, 3});
  CHECK(values_of(ad::slice(x, 0, 0, std::numeric_limits<std::int64_t>::max(), 4)) ==
        std::vector<double>{0, 4});
  // A range that ends before it begins is empty, not an error.
  CHECK(ad::slice(x, 0, 4, 2).shape() == Shape{0});
  CHECK(ad::slice(iota({2, 3}), 1, 7, 9).shape() == Shape{2, 0});
}

TEST_CASE("slice's gradient scatters back into the sliced positions") {
  CHECK(gradient_of_sum([](const Tensor& t) { return ad::slice(t, 1, 1, 4, 2); }, iota({2, 4})) ==
        std::vector<double>{0, 1, 0, 1, 0, 1, 0, 1});
  check_derivatives("slice axis 1 step 2", [](const Tensor& t) { return ad::slice(t, 1, 1, 5, 2); }, {3, 5});
  check_derivatives("slice axis 0", [](const Tensor& t) { return ad::slice(t, 0, -3, -1); }, {4, 2, 2});
  check_derivatives("slice middle axis", [](const Tensor& t) { return ad::slice(t, -2, 0, 2, 1); },
                    {2, 3, 2});
}

TEST_CASE("slice refuses step 0, a bad axis and a rank-0 tensor, naming the op") {
  const Tensor x = iota({3, 4});
  CHECK_THROWS_WITH_AS(ad::slice(x, 1, 0, 2, 0), Contains("ad::slice: step 0 along axis 1 of shape [3, 4]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::slice(x, 2, 0, 1),
                       Contains("ad::slice: axis 2 is out of range for a tensor of rank 2"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::slice(x, -3, 0, 1), Contains("ad::slice: axis -3"), std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::slice(Tensor::scalar(1.0), 0, 0, 1), Contains("ad::slice: a rank-0 tensor"),
                       std::invalid_argument);
}

// ---- pad ------------------------------------------------------------------------------------

TEST_CASE("pad surrounds each axis with its own before and after counts of a constant") {
  const Tensor x = Tensor::from({2, 2}, {1, 2, 3, 4});
  const Tensor y = ad::pad(x, {{1, 0}, {0, 2}}, 9.0);
  CHECK(y.shape() == Shape{3, 4});
  CHECK(values_of(y) == std::vector<double>{9, 9, 9, 9, 1, 2, 9, 9, 3, 4, 9, 9});
  CHECK(values_of(ad::pad(Tensor::from({2}, {5, 6}), {{2, 1}})) == std::vector<double>{0, 0, 5, 6, 0});
  CHECK(values_of(ad::pad(Tensor::scalar(7.0), {})) == std::vector<double>{7});
  CHECK(ad::pad(Tensor::zeros({0, 2}), {{1, 1}, {0, 0}}, 3.0).shape() == Shape{2, 2});
}

TEST_CASE("pad's gradient is the interior of the incoming one") {
  CHECK(gradient_of_sum(
            [](const Tensor& t) {
              return ad::pad(t, {{1, 1}, {2, 0}}, 5.0);
            },
            iota({2, 2})) == std::vector<double>{1, 1, 1, 1});
  check_derivatives("pad",
                    [](const Tensor& t) {
                      return ad::pad(t, {{1, 2}, {0, 0}, {3, 1}}, -1.0);
                    },
                    {2, 3, 2});
}

TEST_CASE("pad needs one {before, after} pair per axis") {
  CHECK_THROWS_WITH_AS(
      ad::pad(iota({2, 2}), {{1, 1}}),
      Contains("ad::pad: 1 {before, after} pairs for a tensor of shape [2, 2]; give one pair per "
               "axis (2)"),
      std::invalid_argument);
  const std::size_t huge = std::numeric_limits<std::size_t>::max();
  CHECK_THROWS_WITH_AS(ad::pad(iota({2}), {{huge, 1}}), Contains("ad::pad"), std::length_error);
  CHECK_THROWS_WITH_AS(ad::pad(iota({2}), {{std::size_t{1} << 61, 0}}), Contains("ad::pad"),
                       std::length_error);
}

// ---- flatten --------------------------------------------------------------------------------

TEST_CASE("flatten merges the axes from start_axis to end_axis") {
  const Tensor x = iota({2, 3, 4});
  CHECK(ad::flatten(x).shape() == Shape{24});
  CHECK(ad::flatten(x, 1).shape() == Shape{2, 12});
  CHECK(ad::flatten(x, 0, 1).shape() == Shape{6, 4});
  CHECK(ad::flatten(x, -2, -1).shape() == Shape{2, 12});
  CHECK(ad::flatten(x, 1, 1).shape() == Shape{2, 3, 4});
  CHECK(values_of(ad::flatten(x, 0, 1)) == values_of(x));
  CHECK(ad::flatten(Tensor::scalar(3.0)).shape() == Shape{1});
  check_derivatives("flatten", [](const Tensor& t) { return ad::flatten(t, 1); }, {2, 2, 3});
}

TEST_CASE("flatten refuses a start after the end and axes out of range") {
  CHECK_THROWS_WITH_AS(ad::flatten(iota({2, 3, 4}), 2, 1),
                       Contains("ad::flatten: start_axis 2 comes after end_axis 1 for shape [2, 3, 4]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::flatten(iota({2, 3}), 0, 2), Contains("ad::flatten: axis 2"), std::out_of_range);
}

// ---- index_select and gather ----------------------------------------------------------------

TEST_CASE("index_select takes entries along an axis in the given order, repeats allowed") {
  const Tensor x = Tensor::from({3, 2}, {1, 2, 3, 4, 5, 6});
  CHECK(values_of(ad::index_select(x, 0, {2, 0, 2})) == std::vector<double>{5, 6, 1, 2, 5, 6});
  const Tensor columns = ad::index_select(x, -1, {1, 1, 0});
  CHECK(columns.shape() == Shape{3, 3});
  CHECK(values_of(columns) == std::vector<double>{2, 2, 1, 4, 4, 3, 6, 6, 5});
  CHECK(ad::index_select(x, 0, {}).shape() == Shape{0, 2});
}

TEST_CASE("index_select's gradient adds up over repeated indices") {
  CHECK(gradient_of_sum(
            [](const Tensor& t) {
              return ad::index_select(t, 0, {2, 0, 2});
            },
            iota({3, 2})) == std::vector<double>{1, 1, 0, 0, 2, 2});
  check_derivatives("index_select axis 1 with repeats",
                    [](const Tensor& t) {
                      return ad::index_select(t, 1, {2, 0, 2, 1});
                    },
                    {2, 3, 2});
}

TEST_CASE("index_select refuses an index out of range, naming it") {
  CHECK_THROWS_WITH_AS(
      ad::index_select(iota({3, 2}), 1, {0, 2}),
      Contains("ad::index_select: index 2 (entry 1) is out of range for axis 1 of shape [3, 2]"),
      std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::index_select(iota({3}), 1, {0}), Contains("ad::index_select: axis 1"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::index_select(Tensor::scalar(1.0), 0, {0}), Contains("ad::index_select"),
                       std::invalid_argument);
}

TEST_CASE("gather reads x at the index's values along the axis, like torch.gather") {
  const Tensor x = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK(values_of(ad::gather(x, 1, Tensor::from({2, 2}, {2, 0, 1, 1}))) == std::vector<double>{3, 1, 5, 5});
  const Tensor rows = ad::gather(x, 0, Tensor::from({1, 3}, {1, 0, 1}));
  CHECK(rows.shape() == Shape{1, 3});
  CHECK(values_of(rows) == std::vector<double>{4, 2, 6});
  // The index may be smaller than x on the other axes.
  CHECK(values_of(ad::gather(iota({3, 3}), -1, Tensor::from({2, 1}, {2, 0}))) == std::vector<double>{2, 3});
  CHECK(ad::gather(x, 1, Tensor::zeros({2, 0})).shape() == Shape{2, 0});
}

TEST_CASE("gather's gradient scatter-adds into x and leaves the index without one") {
  const Tensor index = Tensor::from({2, 3}, {2, 0, 2, 1, 1, 1}).requires_grad(true);
  Tensor x = iota({2, 3}).requires_grad(true);
  ad::sum(ad::gather(x, 1, index)).backward();
  CHECK(values_of(x.grad()) == std::vector<double>{1, 0, 2, 0, 3, 0});
  CHECK_FALSE(index.has_grad());
  check_derivatives("gather axis 0",
                    [](const Tensor& t) {
                      return ad::gather(t, 0, Tensor::from({2, 2, 2}, {2, 0, 1, 1, 0, 0, 2, 1}));
                    },
                    {3, 2, 2});
  check_derivatives("gather axis 1",
                    [](const Tensor& t) {
                      return ad::gather(t, 1, Tensor::from({2, 4}, {0, 2, 2, 1, 1, 1, 0, 2}));
                    },
                    {2, 3});
}

TEST_CASE("gather refuses an index of another rank, too large, non-integral or out of range") {
  const Tensor x = iota({2, 3});
  CHECK_THROWS_WITH_AS(
      ad::gather(x, 1, Tensor::from({2}, {0, 1})),
      Contains("ad::gather: the index has shape [2] and x has shape [2, 3]; they need the same rank"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      ad::gather(x, 1, Tensor::zeros({3, 1})),
      Contains("ad::gather: the index has shape [3, 1], larger than x's shape [2, 3] along axis 0"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      ad::gather(x, 1, Tensor::from({1, 2}, {0, 0.5})),
      Contains("ad::gather: index value 0.5 (element 1 of the index, shape [1, 2]) is not an integer"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::gather(x, 1, Tensor::from({1, 1}, {std::nan("")})), Contains("is not an integer"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      ad::gather(x, 1, Tensor::from({1, 1}, {3})),
      Contains("ad::gather: index value 3 (element 0 of the index) is out of range for axis 1 of "
               "shape [2, 3]"),
      std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::gather(x, 0, Tensor::from({1, 1}, {-1})), Contains("ad::gather: index value -1"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::gather(x, 2, Tensor::zeros({1, 1})), Contains("ad::gather: axis 2"),
                       std::out_of_range);
}

// ---- cumsum ---------------------------------------------------------------------------------

TEST_CASE("cumsum is the running sum along an axis, its gradient the running sum from the end") {
  const Tensor x = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK(values_of(ad::cumsum(x, 1)) == std::vector<double>{1, 3, 6, 4, 9, 15});
  CHECK(values_of(ad::cumsum(x, 0)) == std::vector<double>{1, 2, 3, 5, 7, 9});
  CHECK(values_of(ad::cumsum(Tensor::from({3}, {1, 1, 1}), -1)) == std::vector<double>{1, 2, 3});
  CHECK(gradient_of_sum([](const Tensor& t) { return ad::cumsum(t, 1); }, x) ==
        std::vector<double>{3, 2, 1, 3, 2, 1});
  check_derivatives("cumsum axis 1", [](const Tensor& t) { return ad::cumsum(t, 1); }, {2, 4, 2});
  check_derivatives("cumsum axis 0", [](const Tensor& t) { return ad::cumsum(t, 0); }, {3, 2});
  CHECK_THROWS_WITH_AS(ad::cumsum(x, 2), Contains("ad::cumsum: axis 2"), std::out_of_range);
  CHECK_THROWS_WITH_AS(ad::cumsum(Tensor::scalar(1.0), 0), Contains("ad::cumsum: a rank-0 tensor"),
                       std::invalid_argument);
}

// ---- tril, triu, diag, diag_embed -----------------------------------------------------------

TEST_CASE("tril and triu keep a triangle of the last two axes, shifted by k") {
  const Tensor x = Tensor::from({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(values_of(ad::tril(x)) == std::vector<double>{1, 0, 0, 4, 5, 0, 7, 8, 9});
  CHECK(values_of(ad::tril(x, -1)) == std::vector<double>{0, 0, 0, 4, 0, 0, 7, 8, 0});
  CHECK(values_of(ad::tril(x, 1)) == std::vector<double>{1, 2, 0, 4, 5, 6, 7, 8, 9});
  CHECK(values_of(ad::triu(x)) == std::vector<double>{1, 2, 3, 0, 5, 6, 0, 0, 9});
  CHECK(values_of(ad::triu(x, 1)) == std::vector<double>{0, 2, 3, 0, 0, 6, 0, 0, 0});
  CHECK(values_of(ad::triu(x, -5)) == values_of(x));
  // Batched, and not square.
  CHECK(values_of(ad::tril(Tensor::ones({2, 2, 3}))) ==
        std::vector<double>{1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0});
}

TEST_CASE("tril and triu pass the gradient inside the triangle only") {
  CHECK(gradient_of_sum([](const Tensor& t) { return ad::triu(t); }, iota({2, 2})) ==
        std::vector<double>{1, 1, 0, 1});
  check_derivatives("tril", [](const Tensor& t) { return ad::tril(t); }, {2, 3, 3});
  check_derivatives("triu k = 1", [](const Tensor& t) { return ad::triu(t, 1); }, {3, 4});
  CHECK_THROWS_WITH_AS(ad::tril(iota({3})), Contains("ad::tril: needs at least 2 axes"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::triu(iota({3})), Contains("[3]"), std::invalid_argument);
}

TEST_CASE("diag makes a matrix from a vector and reads a diagonal from a matrix") {
  CHECK(values_of(ad::diag(Tensor::from({2}, {1, 2}))) == std::vector<double>{1, 0, 0, 2});
  const Tensor above = ad::diag(Tensor::from({2}, {1, 2}), 1);
  CHECK(above.shape() == Shape{3, 3});
  CHECK(values_of(above) == std::vector<double>{0, 1, 0, 0, 0, 2, 0, 0, 0});
  CHECK(values_of(ad::diag(Tensor::from({2}, {1, 2}), -1)) == std::vector<double>{0, 0, 0, 1, 0, 0, 0, 2, 0});
  const Tensor m = iota({3, 4});
  CHECK(values_of(ad::diag(m)) == std::vector<double>{0, 5, 10});
  CHECK(values_of(ad::diag(m, 1)) == std::vector<double>{1, 6, 11});
  CHECK(values_of(ad::diag(m, 3)) == std::vector<double>{3});
  CHECK(values_of(ad::diag(m, -1)) == std::vector<double>{4, 9});
  CHECK(ad::diag(m, 4).shape() == Shape{0});
  CHECK(ad::diag(m, -3).shape() == Shape{0});
}

TEST_CASE("diag's gradient reads or places the diagonal back") {
  CHECK(gradient_of_sum([](const Tensor& t) { return ad::diag(t, -1); }, iota({3, 3})) ==
        std::vector<double>{0, 0, 0, 1, 0, 0, 0, 1, 0});
  check_derivatives("diag of a vector", [](const Tensor& t) { return ad::diag(t, 1); }, {3});
  check_derivatives("diag of a matrix", [](const Tensor& t) { return ad::diag(t, -1); }, {4, 3});
  CHECK_THROWS_WITH_AS(ad::diag(iota({2, 2, 2})), Contains("ad::diag: needs a 1-d tensor"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::diag(Tensor::scalar(1.0)), Contains("got shape []"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::diag(iota({2}), std::numeric_limits<std::int64_t>::min()), Contains("ad::diag"),
                       std::length_error);
}

TEST_CASE("diag_embed puts the last axis on the diagonal of new matrices") {
  const Tensor y = ad::diag_embed(Tensor::from({2, 2}, {1, 2, 3, 4}));
  CHECK(y.shape() == Shape{2, 2, 2});
  CHECK(values_of(y) == std::vector<double>{1, 0, 0, 2, 3, 0, 0, 4});
  const Tensor above = ad::diag_embed(Tensor::from({1, 2}, {1, 2}), 1);
  CHECK(above.shape() == Shape{1, 3, 3});
  CHECK(values_of(above) == std::vector<double>{0, 1, 0, 0, 0, 2, 0, 0, 0});
  CHECK(ad::diag_embed(Tensor::zeros({3, 0})).shape() == Shape{3, 0, 0});
  check_derivatives("diag_embed", [](const Tensor& t) { return ad::diag_embed(t, -1); }, {2, 3});
  CHECK_THROWS_WITH_AS(ad::diag_embed(Tensor::scalar(1.0)), Contains("ad::diag_embed: needs 1 to 7 axes"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::diag_embed(Tensor::zeros({1, 1, 1, 1, 1, 1, 1, 1})), Contains("ad::diag_embed"),
                       std::invalid_argument);
}

// ---- all ops ----------------------------------------------------------------------------------

TEST_CASE("every indexing op names itself when given a tensor from a cleared tape") {
  Tensor x = Tensor::ones({2, 2}).requires_grad(true);
  ad::Tape tape;
  const Tensor y = ad::exp(x).name("y");
  tape.clear();
  const std::vector<std::pair<std::string, std::function<Tensor()>>> ops = {
      {"slice", [&] { return ad::slice(y, 0, 0, 1); }},
      {"pad",
       [&] {
         return ad::pad(y, {{1, 1}, {1, 1}});
       }},
      {"flatten", [&] { return ad::flatten(y); }},
      {"index_select", [&] { return ad::index_select(y, 0, {0}); }},
      {"gather",
       [&] {
         return ad::gather(y, 0, Tensor::zeros({1, 1}));
       }},
      {"gather", [&] { return ad::gather(x, 0, y); }},
      {"cumsum", [&] { return ad::cumsum(y, 0); }},
      {"tril", [&] { return ad::tril(y); }},
      {"triu", [&] { return ad::triu(y); }},
      {"diag", [&] { return ad::diag(y); }},
      {"diag_embed", [&] { return ad::diag_embed(y); }},
  };
  for (const auto& [name, op] : ops) {
    CAPTURE(name);
    CHECK_THROWS_WITH_AS(
        op(), Contains(("ad::" + name + ": an input ('y' [2, 2]) was recorded on a tape that has").c_str()),
        std::logic_error);
  }
}

TEST_CASE("the indexing ops work on float tensors and agree with double") {
  const auto composite = [](const auto& x) {
    using TensorType = std::decay_t<decltype(x)>;
    const TensorType y =
        ad::cumsum(ad::diag_embed(ad::slice(ad::pad(x, {{0, 1}, {1, 0}}, 0.5), 1, 0, 4, 2)), 0);
    return ad::sum(ad::tril(y) * ad::triu(y, -1)) + ad::sum(ad::gather(y, 2, TensorType::zeros({3, 2, 2}))) +
           ad::sum(ad::square(ad::index_select(ad::flatten(y, 1), 1, {1, 0}))) +
           ad::sum(ad::diag(ad::diag(x, 1)));
  };
  const std::vector<double> x0 = {1, -2, 3, 0.5, 5, -1.5};
  Tensor x = Tensor::from({2, 3}, x0).requires_grad(true);
  ad::TensorF xf = ad::TensorF::from({2, 3}, std::vector<float>(x0.begin(), x0.end())).requires_grad(true);
  const Tensor z = composite(x);
  const ad::TensorF zf = composite(xf);
  CHECK(double(zf.item()) == doctest::Approx(z.item()).epsilon(1e-6));
  Tensor(z).backward();
  ad::TensorF(zf).backward();
  for (std::size_t i = 0; i < x0.size(); ++i)
    CHECK(double(xf.grad().values()[i]) == doctest::Approx(x.grad().values()[i]).epsilon(1e-6));
}
