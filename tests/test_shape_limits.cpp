// Shape arithmetic is checked wherever a shape is made (autodiff/shape.hpp):
// a shape of more than Shape::max_rank axes is std::invalid_argument, one
// whose non-zero extents multiply past Shape::max_numel is std::length_error,
// and both messages name the op and the shape. The reproducers of issue 14
// first, then a seeded stress test that throws random shapes (huge extents,
// zero extents, rank 8 and 9) through every op that makes a shape.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <autodiff/autodiff.hpp>

using ad::Shape;
using ad::Tensor;
using ad::TensorF;
using doctest::Contains;

namespace {

constexpr std::size_t two_to(int e) { return std::size_t(1) << e; }

Shape shape_of(std::initializer_list<std::size_t> dims) { return Shape(dims); }

}  // namespace

// ---- the reproducers of issue 14 ------------------------------------------------

TEST_CASE("a shape whose element count overflows size_t cannot be made, so from() cannot under-allocate") {
  // Used to be accepted with numel() == 2 (2^64 + 2 wrapped), after which
  // at({1, 0}) read far outside the two values.
  CHECK_THROWS_WITH_AS(shape_of({(1ull << 63) + 1, 2}), Contains("ad::Shape: shape [9223372036854775809, 2]"),
                       std::length_error);
  CHECK_THROWS_WITH_AS(Tensor::from(Shape{(1ull << 63) + 1, 2}, {1, 2}), Contains("too large"),
                       std::length_error);
  CHECK_THROWS_AS(Shape({two_to(32), two_to(32)}), std::length_error);  // exactly 2^64: wraps to 0
  CHECK_THROWS_AS(Shape({two_to(62), 2, 2}), std::length_error);        // 2^64 again, in three axes
  CHECK_THROWS_AS(Shape({Shape::max_numel + 1}), std::length_error);    // fits size_t, not memory
  CHECK_THROWS_AS(Shape({std::numeric_limits<std::size_t>::max()}), std::length_error);
  CHECK(Shape({Shape::max_numel}).numel() == Shape::max_numel);  // the largest that exists
  CHECK(Shape({Shape::max_numel / 4, 4}).numel() == Shape::max_numel / 4 * 4);
  // A zero extent does not lift the limit: every partial product of the
  // extents (strides, batch counts, rows times width) must fit too.
  CHECK_THROWS_WITH_AS(shape_of({0, two_to(62), 4}), Contains("non-zero extents"), std::length_error);
  CHECK(Shape({0, two_to(40), two_to(19)}).numel() == 0);
}

TEST_CASE("at() checks the rank and every index against the shape") {
  const Tensor x = Tensor::from({2, 3}, {0, 1, 2, 3, 4, 5});
  CHECK(x.at({1, 2}) == 5);
  CHECK_THROWS_WITH_AS(x.at({2, 0}), Contains("index 2 is out of range for axis 0 of shape [2, 3]"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(x.at({0, 3}), Contains("axis 1"), std::out_of_range);
  CHECK_THROWS_AS(x.at({0}), std::out_of_range);
  CHECK_THROWS_AS(x.at({0, 0, 0}), std::out_of_range);
  CHECK_THROWS_AS(Tensor::zeros({0, 3}).at({0, 0}), std::out_of_range);
}

TEST_CASE("eye(2^32) is refused before anything is allocated (n * n used to wrap to 0)") {
  CHECK_THROWS_WITH_AS(Tensor::eye(two_to(32)), Contains("ad::Tensor::eye: shape [4294967296, 4294967296]"),
                       std::length_error);
  CHECK_THROWS_AS(TensorF::eye(two_to(30)), std::length_error);  // 2^60 > max_numel
  CHECK_THROWS_AS(Tensor::eye(std::numeric_limits<std::size_t>::max()), std::length_error);
  CHECK(Tensor::eye(0).shape() == Shape{0, 0});
  CHECK(Tensor::eye(3).at({2, 2}) == 1);
}

TEST_CASE("zeros({2^32, 2^32}) is refused, and so is a product whose result would overflow") {
  // Used to make an empty tensor of shape [2^32, 2^32]; matmul then crashed.
  CHECK_THROWS_WITH_AS(Tensor::zeros({two_to(32), two_to(32)}), Contains("[4294967296, 4294967296]"),
                       std::length_error);
  CHECK_THROWS_AS(TensorF::ones({two_to(32), two_to(32)}), std::length_error);
  CHECK_THROWS_AS(Tensor::full({two_to(32), two_to(32)}, 2.0), std::length_error);
  // Operands with no elements can still ask for a result that cannot exist.
  const Tensor a = Tensor::zeros({two_to(40), 0}), b = Tensor::zeros({0, two_to(40)});
  CHECK_THROWS_WITH_AS(ad::matmul(a, b), Contains("ad::matmul: shape [1099511627776, 1099511627776]"),
                       std::length_error);
  CHECK_THROWS_WITH_AS(ad::matmul(a, b), Contains("the product of [1099511627776, 0] and [0, 1099511627776]"),
                       std::length_error);
  // ... batched, the batch axes multiplying in as well,
  CHECK_THROWS_WITH_AS(
      ad::matmul(Tensor::zeros({two_to(20), two_to(20), 0}), Tensor::zeros({two_to(20), 0, two_to(20)})),
      Contains("ad::matmul"), std::length_error);
  // ... and through linear: it sized its buffer by batch * out (wrapped to 0),
  // then the product wrote zeros into it for every one of the 2^80 elements.
  const Tensor W = Tensor::zeros({two_to(40), 0});
  CHECK_THROWS_WITH_AS(ad::linear(a, W, Tensor()), Contains("ad::linear"), std::length_error);
  CHECK_THROWS_AS(ad::linear_activation(a, W, Tensor(), ad::OpCode::tanh), std::length_error);
  // A result with a zero extent is fine, however large the other one.
  CHECK(ad::matmul(Tensor::zeros({two_to(40), 0}), Tensor::zeros({0, 0})).shape() == Shape{two_to(40), 0});
}

TEST_CASE("arange(0, 3e19, 1) is refused (the count does not fit; its conversion to size_t was undefined)") {
  CHECK_THROWS_WITH_AS(Tensor::arange(0, 3e19, 1),
                       Contains("ad::Tensor::arange: start 0, stop 3e+19, step 1"), std::length_error);
  CHECK_THROWS_AS(Tensor::arange(-1e308, 1e308, 1), std::length_error);  // stop - start overflows to inf
  CHECK_THROWS_AS(TensorF::arange(0, 3e19f, 1), std::length_error);
  CHECK_THROWS_AS(Tensor::arange(0, 1, 1e-300), std::length_error);
  CHECK_THROWS_AS(Tensor::arange(0, double(Shape::max_numel), 1), std::length_error);
  CHECK_THROWS_AS(Tensor::arange(0, 1, 0), std::invalid_argument);
  CHECK_THROWS_AS(Tensor::arange(0, std::numeric_limits<double>::infinity(), 1), std::invalid_argument);
  CHECK_THROWS_AS(Tensor::arange(std::nan(""), 1, 1), std::invalid_argument);
  CHECK_THROWS_AS(Tensor::arange(0, 1, std::nan("")), std::invalid_argument);
  CHECK(Tensor::arange(0, -3e19, 1).numel() == 0);  // an empty range, however long the gap
  CHECK(Tensor::arange(3e19, 0, -1e19).numel() == 3);
  CHECK(Tensor::arange(0, 5, 2).numel() == 3);
}

TEST_CASE("stack of two rank-8 tensors throws before writing a ninth axis") {
  // Used to write dims[8] past a stack array (AddressSanitizer:
  // stack-buffer-overflow), then throw from the Shape constructor.
  const Tensor x = Tensor::zeros({1, 1, 1, 1, 1, 1, 1, 2});
  for (const std::int64_t axis : {0, 8, -1, 3})
    CHECK_THROWS_WITH_AS(
        ad::stack(std::vector<Tensor>{x, x}, axis),
        Contains("ad::stack: stacking tensors of shape [1, 1, 1, 1, 1, 1, 1, 2] adds an axis: the "
                 "result would have 9 axes; at most 8"),
        std::invalid_argument);
  CHECK(ad::stack(std::vector<Tensor>{Tensor::zeros({1, 1, 1, 1, 1, 1, 2})}, -1).rank() == 8);
}

TEST_CASE("every way to ask for more than 8 axes is std::invalid_argument naming the shape and the limit") {
  const std::vector<std::size_t> nine(9, 1);
  CHECK_THROWS_WITH_AS(Shape(std::span<const std::size_t>(nine)),
                       Contains("ad::Shape: shape [1, 1, 1, 1, 1, 1, 1, 1, 1] has 9 axes; at most 8"),
                       std::invalid_argument);
  CHECK_THROWS_AS(shape_of({1, 1, 1, 1, 1, 1, 1, 1, 1}), std::invalid_argument);
  CHECK_THROWS_AS(ad::reshape(Tensor::ones({2}), Shape{1, 1, 1, 1, 1, 1, 1, 1, 2}), std::invalid_argument);
  // The rank is checked first: nine huge axes are a rank error.
  const std::vector<std::size_t> nine_huge(9, two_to(40));
  CHECK_THROWS_AS(Shape(std::span<const std::size_t>(nine_huge)), std::invalid_argument);
  // Broadcasting never adds axes beyond the larger rank.
  CHECK(ad::add(Tensor::ones({1, 1, 1, 1, 1, 1, 1, 2}), Tensor::ones({2, 1})).rank() == 8);
}

TEST_CASE("result shapes computed by ops are checked and name the op") {
  // Broadcasting two empty operands into a shape beyond max_numel.
  const Tensor a = Tensor::zeros({two_to(40), 1, 0}), b = Tensor::zeros({1, two_to(40), 0});
  CHECK_THROWS_WITH_AS(ad::add(a, b), Contains("ad::add: shape [1099511627776, 1099511627776, 0]"),
                       std::length_error);
  CHECK_THROWS_WITH_AS(a * b, Contains("broadcasting [1099511627776, 1, 0] and [1, 1099511627776, 0]"),
                       std::length_error);
  CHECK_THROWS_WITH_AS(ad::where(Tensor::scalar(1), a, b), Contains("ad::where"), std::length_error);
  // concat: the extents along the axis add up past the limit, or past 2^64.
  const Tensor tall = Tensor::zeros({two_to(59), 0});
  CHECK_THROWS_WITH_AS(ad::concat(std::vector<Tensor>{tall, tall, tall}), Contains("ad::concat"),
                       std::length_error);
  const Tensor longest = Tensor::zeros({0, Shape::max_numel});
  CHECK_THROWS_WITH_AS(ad::concat(std::vector<Tensor>(17, longest), 1), Contains("add up to 2^64 or more"),
                       std::length_error);
  // stack: k tensors along a new axis.
  CHECK_THROWS_WITH_AS(ad::stack(std::vector<Tensor>{tall, tall, tall}), Contains("ad::stack: shape [3, "),
                       std::length_error);
  // rows: the gathered count times the rest of the shape.
  const Tensor wide = Tensor::zeros({1, 0, two_to(59)});
  CHECK_THROWS_WITH_AS(ad::rows(wide, {0, 0, 0}), Contains("ad::rows"), std::length_error);
  CHECK(ad::rows(wide, {0}).shape() == Shape{1, 0, two_to(59)});
  // Shape::with_extent checks like a constructor.
  CHECK_THROWS_AS((void)Shape({0, two_to(59)}).with_extent(0, 4), std::length_error);
  CHECK_THROWS_AS((void)Shape({2}).with_extent(1, 4), std::out_of_range);
  CHECK(Shape({2, 3}).with_extent(0, 5) == Shape{5, 3});
}

TEST_CASE("ops on empty tensors with huge extents finish at once") {
  // concat used to loop over every slab before an axis of extent 0 (here
  // 2^40 slabs of nothing), forward and backward.
  Tensor x = Tensor::zeros({two_to(40), 0}).requires_grad(true);
  Tensor y = ad::concat(std::vector<Tensor>{x, x}, 1);
  CHECK(y.shape() == Shape{two_to(40), 0});
  ad::sum(y).backward();
  CHECK(x.grad().numel() == 0);
  CHECK(ad::transpose(x, 0, 1).shape() == Shape{0, two_to(40)});
  CHECK(ad::sum(x, {0}).shape() == Shape{0});
  CHECK_THROWS_AS(ad::max(x, {1}), std::invalid_argument);  // the maximum of no elements
  CHECK(fmt::format("{}", Tensor::zeros({two_to(40), 0})).size() < 200);
}

TEST_CASE("gemm refuses matrices that span more than an array can hold") {
  double a = 1, b = 1, c = 0;
  // 2^62 rows of one element: (rows - 1) * lda + 1 elements, past PTRDIFF_MAX bytes.
  CHECK_THROWS_WITH_AS(
      ad::linalg::gemm<double>(false, false, two_to(62), 1, 1, 1.0, &a, 1, &b, 1, 0.0, &c, 1),
      Contains("ad::linalg::gemm: the stored A"), std::length_error);
  // Two rows of A, a leading dimension of SIZE_MAX: the second row's offset overflows.
  CHECK_THROWS_AS(ad::linalg::gemm<double>(false, false, 2, 1, 1, 1.0, &a,
                                           std::numeric_limits<std::size_t>::max(), &b, 1, 0.0, &c, 1),
                  std::length_error);
  // One row may have any leading dimension; a short one is still invalid_argument.
  ad::linalg::gemm<double>(false, false, 1, 1, 1, 1.0, &a, std::numeric_limits<std::size_t>::max(), &b, 1,
                           0.0, &c, 1);
  CHECK(c == 1);
  CHECK_THROWS_AS(ad::linalg::gemm<double>(false, false, 1, 1, 1, 1.0, &a, 0, &b, 1, 0.0, &c, 1),
                  std::invalid_argument);
}

// ---- the stress test -------------------------------------------------------------

namespace {

using Dims = std::vector<std::size_t>;
constexpr std::size_t budget = 256;  // the most elements a result of the stress test may allocate

std::size_t sat_mul(std::size_t a, std::size_t b) {
  std::size_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<std::size_t>::max() : r;
}
std::size_t nonzero_product(const Dims& d) {
  std::size_t p = 1;
  for (std::size_t e : d)
    if (e != 0) p = sat_mul(p, e);
  return p;
}
std::size_t count(const Dims& d) {
  std::size_t p = 1;
  for (std::size_t e : d) p = sat_mul(p, e);
  return std::find(d.begin(), d.end(), 0) != d.end() ? 0 : p;
}
Dims dims_of(const Shape& s) { return Dims(s.begin(), s.end()); }
std::string text(const Dims& d) { return fmt::format("[{}]", fmt::join(d, ", ")); }

// What an op must do with these operands: return a tensor of `dims`, or throw
// one of the documented exceptions naming `op`; `skip` for a valid result too
// large to allocate in a test.
struct Expect {
  enum Kind { ok, skip, length, rank, invalid, out_of_range } kind = ok;
  Dims dims;
  std::string op;
};

const char* kind_name(Expect::Kind k) {
  switch (k) {
    case Expect::ok:
      return "a result";
    case Expect::skip:
      return "nothing (skipped)";
    case Expect::length:
      return "std::length_error";
    case Expect::rank:
      return "std::invalid_argument (rank)";
    case Expect::invalid:
      return "std::invalid_argument";
    case Expect::out_of_range:
      return "std::out_of_range";
  }
  return "?";
}

// The verdict for a result shape that the operands allow.
Expect result(const Dims& d, std::string op) {
  Expect e{Expect::ok, d, std::move(op)};
  if (d.size() > Shape::max_rank)
    e.kind = Expect::rank;
  else if (nonzero_product(d) > Shape::max_numel)
    e.kind = Expect::length;
  else if (count(d) > budget)
    e.kind = Expect::skip;
  return e;
}
Expect error(Expect::Kind kind, std::string op) { return Expect{kind, {}, std::move(op)}; }

struct Stress {
  std::mt19937_64 rng;
  std::size_t cases = 0, results = 0, errors = 0, skipped = 0;
  std::size_t expected[6] = {};  // cases per Expect::Kind
  std::string what;              // the case being run, for failure messages

  explicit Stress(std::uint64_t seed) : rng(seed) {}

  std::size_t below(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }

  std::size_t huge() {
    static const std::size_t values[] = {
        two_to(31), two_to(32) - 1, two_to(32),       two_to(32) + 1,
        two_to(40), two_to(59),     Shape::max_numel, two_to(60),
        two_to(62), two_to(63),     two_to(63) + 1,   std::numeric_limits<std::size_t>::max()};
    return values[below(std::size(values))];
  }
  std::size_t extent() {
    const std::size_t r = below(20);
    if (r < 4) return 0;
    if (r < 9) return 1;
    if (r < 16) return 2 + below(3);
    return huge();
  }
  std::size_t rank() {
    const std::size_t r = below(20);
    return r < 2 ? 8 : r < 3 ? 9 : below(5);
  }
  Dims random_dims(std::size_t rank) {
    Dims d(rank);
    for (auto& e : d) e = extent();
    return d;
  }
  // Extents of a tensor that exists and is small: huge extents only beside a 0.
  Dims operand_dims(std::size_t rank) {
    for (;;) {
      Dims d = random_dims(rank);
      if (count(d) > budget) d[below(rank)] = 0;
      if (nonzero_product(d) <= Shape::max_numel && count(d) <= budget) return d;
    }
  }
  Tensor tensor(const Dims& d) {
    Tensor t = Tensor::randn(Shape(std::span<const std::size_t>(d)), rng);
    if (chance(0.5)) t.requires_grad(true);
    return t;
  }
  std::int64_t random_axis(std::size_t rank) {  // mostly in range, sometimes one past either end
    const auto r = static_cast<std::int64_t>(rank);
    return std::uniform_int_distribution<std::int64_t>(-r - 1, r)(rng);
  }

  // Runs `f` (which returns a tensor) and checks it against `e`.
  template <class F>
  void run(const Expect& e, F&& f) {
    ++cases;
    ++expected[e.kind];
    if (e.kind == Expect::skip) {
      ++skipped;
      return;
    }
    const std::string prefix = "ad::" + e.op;
    auto fail = [&](const std::string& got) {
      FAIL_CHECK(fmt::format("{}: expected {} {}, got {}", what, kind_name(e.kind),
                             e.kind == Expect::ok ? text(e.dims) : "naming " + prefix, got));
    };
    auto check_error = [&](Expect::Kind kind, const std::exception& ex, bool allowed) {
      ++errors;
      const std::string message = ex.what();
      if (!allowed)
        fail(fmt::format("{} '{}'", kind_name(kind), message));
      else if (message.find(prefix + ":") == std::string::npos)
        fail(fmt::format("a message not naming the op: '{}'", message));
      else if (e.kind == Expect::rank && message.find("at most 8") == std::string::npos)
        fail(fmt::format("a rank error not naming the limit: '{}'", message));
    };
    try {
      const Tensor y = f();
      ++results;
      if (e.kind != Expect::ok) return fail(fmt::format("a tensor of shape {}", y.shape().to_string()));
      if (dims_of(y.shape()) != e.dims || y.numel() != y.values().size() || y.numel() != count(e.dims))
        return fail(fmt::format("shape {} with {} values", y.shape().to_string(), y.values().size()));
      // The backward of a small result routes a gradient of every operand's shape.
      if (y.requires_grad_enabled() && chance(0.5)) ad::sum(y).backward();
    } catch (const std::length_error& ex) {
      check_error(Expect::length, ex, e.kind == Expect::length);
    } catch (const std::out_of_range& ex) {
      check_error(Expect::out_of_range, ex, e.kind == Expect::out_of_range);
    } catch (const std::invalid_argument& ex) {
      check_error(Expect::invalid, ex, e.kind == Expect::invalid || e.kind == Expect::rank);
    }
  }

  // ---- one case per op; each states what the op must do, then runs it ----

  void shape_and_factories() {
    const Dims d = random_dims(rank());
    what = fmt::format("Shape {}", text(d));
    const Expect e = result(d, "Shape");
    run(e, [&] { return Tensor::zeros(Shape(std::span<const std::size_t>(d))); });
    if (e.kind != Expect::ok) return;
    const Shape s{std::span<const std::size_t>(d)};
    what = fmt::format("factories of {}", text(d));
    const Expect same{Expect::ok, d, "Tensor"};
    run(same, [&] { return Tensor::ones(s); });
    run(same, [&] { return Tensor::full(s, 2.5); });
    run(same, [&] { return Tensor::rand(s, rng); });
    run(same, [&] { return Tensor::from(s, std::vector<double>(count(d), 1.0)); });
    run(same, [&] { return Tensor::zeros(TensorF::randn(s, rng).shape()); });
    run(error(Expect::invalid, "Tensor::from"),
        [&] { return Tensor::from(s, std::vector<double>(count(d) + 1, 1.0)); });
  }

  void eye() {
    const std::size_t n = chance(0.5) ? below(12) : huge();
    what = fmt::format("eye({})", n);
    run(result({n, n}, "Tensor::eye"), [&] { return Tensor::eye(n); });
  }

  void arange() {
    static const double values[] = {0,
                                    1,
                                    -5,
                                    0.5,
                                    3,
                                    100,
                                    -100,
                                    3e19,
                                    -3e19,
                                    1e300,
                                    -1e300,
                                    1e-20,
                                    2.5,
                                    7,
                                    -0.25,
                                    1e18,
                                    std::numeric_limits<double>::infinity(),
                                    -std::numeric_limits<double>::infinity(),
                                    std::nan("")};
    const double start = values[below(std::size(values))], stop = values[below(std::size(values))],
                 step = values[below(std::size(values))];
    what = fmt::format("arange({}, {}, {})", start, stop, step);
    const bool is_float = chance(0.3);
    // The reference, in the element type's precision like the op.
    auto in_type = [&](double v) { return is_float ? double(float(v)) : v; };
    const double a = in_type(start), b = in_type(stop), s = in_type(step);
    Expect e;
    if (s == 0 || !std::isfinite(a) || !std::isfinite(b) || !std::isfinite(s)) {
      e = error(Expect::invalid, "Tensor::arange");
    } else {
      const double n = std::ceil((b - a) / s);
      if (n >= double(Shape::max_numel))
        e = error(Expect::length, "Tensor::arange");
      else
        e = result({n > 0 ? static_cast<std::size_t>(n) : 0}, "Tensor::arange");
    }
    if (is_float)
      run(e, [&] {
        const TensorF y = TensorF::arange(float(start), float(stop), float(step));
        return Tensor::zeros(y.shape());
      });
    else
      run(e, [&] { return Tensor::arange(start, stop, step); });
  }

  void reshape() {
    const Dims d = operand_dims(rank() % 9);
    const Tensor x = tensor(d);
    Dims target;
    switch (below(3)) {
      case 0:  // the same extents, shuffled, with 1s inserted (may reach rank 9)
        target = d;
        std::shuffle(target.begin(), target.end(), rng);
        for (std::size_t k = below(3); k-- > 0;)
          target.insert(target.begin() + static_cast<std::ptrdiff_t>(below(target.size() + 1)), 1);
        break;
      case 1:  // adjacent axes merged
        target = d;
        if (target.size() >= 2) {
          const std::size_t i = below(target.size() - 1);
          target[i] = sat_mul(target[i], target[i + 1]);
          target.erase(target.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        }
        break;
      default:
        target = random_dims(rank());
    }
    what = fmt::format("reshape({}, {})", text(d), text(target));
    Expect e = result(target, "Shape");  // an impossible target fails in the Shape constructor
    if ((e.kind == Expect::ok || e.kind == Expect::skip) && count(target) != count(d))
      e = error(Expect::invalid, "reshape");
    else if (e.kind == Expect::ok)
      e.op = "reshape";
    run(e, [&] { return ad::reshape(x, Shape(std::span<const std::size_t>(target))); });
  }

  // b: a's trailing axes, some set to 1, some to another (maybe huge) extent.
  Dims partner(const Dims& a) {
    Dims b(a.begin() + static_cast<std::ptrdiff_t>(below(a.size() + 1)), a.end());
    for (auto& e : b) {
      if (chance(0.3))
        e = 1;
      else if (chance(0.15))
        e = extent();
    }
    if (count(b) > budget || nonzero_product(b) > Shape::max_numel) b = operand_dims(b.size());
    return b;
  }
  static Expect broadcast(const Dims& a, const Dims& b, const std::string& op) {
    const std::size_t r = std::max(a.size(), b.size());
    Dims out(r);
    for (std::size_t i = 0; i < r; ++i) {
      const std::size_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
      const std::size_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
      if (da != db && da != 1 && db != 1) return error(Expect::invalid, op);
      out[r - 1 - i] = da == 1 ? db : da;
    }
    return result(out, op);
  }

  void binary() {
    Dims a = operand_dims(below(9)), b = partner(a);
    if (chance(0.5)) std::swap(a, b);
    const Tensor x = tensor(a), y = tensor(b);
    const std::size_t which = below(4);
    static const char* names[] = {"add", "mul", "max", "where"};
    what = fmt::format("{}({}, {})", names[which], text(a), text(b));
    const Expect e = broadcast(a, b, names[which]);
    switch (which) {
      case 0:
        return run(e, [&] { return ad::add(x, y); });
      case 1:
        return run(e, [&] { return x * y; });
      case 2:
        return run(e, [&] { return ad::max(x, y); });
      default:
        return run(e, [&] { return ad::where(Tensor::scalar(chance(0.5) ? 1.0 : 0.0), x, y); });
    }
  }

  void matmul() {
    const Dims batch = operand_dims(below(3));
    const std::size_t m = extent(), k = chance(0.5) ? 0 : extent(), n = extent();
    Dims a = batch, b = batch;
    a.insert(a.end(), {m, k});
    b.insert(b.end(), {chance(0.9) ? k : extent(), n});
    if (chance(0.25))
      a.erase(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(batch.size()));  // a shared 2-d operand
    else if (chance(0.25))
      b.erase(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(batch.size()));
    if (chance(0.1)) a.erase(a.begin());  // maybe a 1-d operand, or mismatched batch ranks
    if (count(a) > budget || nonzero_product(a) > Shape::max_numel) a = operand_dims(a.size());
    if (count(b) > budget || nonzero_product(b) > Shape::max_numel) b = operand_dims(b.size());
    what = fmt::format("matmul({}, {})", text(a), text(b));
    Expect e;
    if (a.size() < 2 || b.size() < 2 || b[b.size() - 2] != a.back()) {
      e = error(Expect::invalid, "matmul");
    } else {
      const bool batch_ok = a.size() == 2 || b.size() == 2 ||
                            (a.size() == b.size() && std::equal(a.begin(), a.end() - 2, b.begin()));
      const Dims& batched = a.size() >= b.size() ? a : b;
      Dims out(batched.begin(), batched.end() - 2);
      out.insert(out.end(), {a[a.size() - 2], b.back()});
      e = batch_ok ? result(out, "matmul") : error(Expect::invalid, "matmul");
    }
    const Tensor x = tensor(a), y = tensor(b);
    run(e, [&] { return ad::matmul(x, y); });
  }

  void linear() {
    const std::size_t batch = extent(), in = chance(0.5) ? 0 : extent(), out = extent();
    Dims dx{batch, in}, dw{chance(0.9) ? out : extent(), chance(0.9) ? in : extent()};
    Dims db{chance(0.9) ? dw[0] : extent()};
    if (chance(0.1)) dx.pop_back();
    for (Dims* d : {&dx, &dw, &db})
      if (count(*d) > budget || nonzero_product(*d) > Shape::max_numel) *d = operand_dims(d->size());
    const bool has_bias = chance(0.5);
    what = fmt::format("linear({}, {}, {})", text(dx), text(dw), has_bias ? text(db) : "none");
    Expect e;
    if (dx.size() != 2 || dx[1] != dw[1] || (has_bias && db[0] != dw[0]))
      e = error(Expect::invalid, "linear");
    else
      e = result({dx[0], dw[0]}, "linear");
    const Tensor x = tensor(dx), w = tensor(dw), bias = has_bias ? tensor(db) : Tensor();
    run(e, [&] { return ad::linear(x, w, bias); });
  }

  void stack() {
    const std::size_t r = below(9);
    const Dims d = operand_dims(r);
    const std::size_t k = 1 + below(3);
    std::vector<Tensor> xs;
    bool same = true;
    for (std::size_t i = 0; i < k; ++i) {
      if (i > 0 && chance(0.1)) {
        const Dims other = operand_dims(r);
        same = same && other == d;
        xs.push_back(tensor(other));
      } else {
        xs.push_back(tensor(d));
      }
    }
    const std::int64_t axis = random_axis(r + 1);
    what = fmt::format("stack({} x {}, axis {})", k, text(d), axis);
    Expect e;
    if (r >= Shape::max_rank) {
      e = error(Expect::rank, "stack");
    } else if (axis < -static_cast<std::int64_t>(r + 1) || axis > static_cast<std::int64_t>(r)) {
      e = error(Expect::out_of_range, "stack");
    } else if (!same) {
      e = error(Expect::invalid, "stack");
    } else {
      Dims out = d;
      out.insert(out.begin() + (axis < 0 ? axis + static_cast<std::int64_t>(r + 1) : axis), k);
      e = result(out, "stack");
    }
    run(e, [&] { return ad::stack(xs, axis); });
  }

  void concat() {
    const std::size_t r = below(9);
    const std::int64_t axis = random_axis(r);
    const bool axis_ok = axis >= -static_cast<std::int64_t>(r) && axis < static_cast<std::int64_t>(r);
    const std::size_t a = axis < 0 ? static_cast<std::size_t>(axis + static_cast<std::int64_t>(r))
                                   : static_cast<std::size_t>(axis);
    const Dims d = operand_dims(r);
    std::vector<Dims> shapes;
    std::vector<Tensor> xs;
    const std::size_t k = 1 + below(3);
    bool compatible = true;
    std::size_t joined = 0;
    for (std::size_t i = 0; i < k; ++i) {
      Dims di = d;
      if (axis_ok && i > 0) {
        if (chance(0.5)) di[a] = chance(0.8) ? below(4) : huge();
        if (chance(0.1)) di = operand_dims(chance(0.8) ? r : below(9));
        if (count(di) > budget || nonzero_product(di) > Shape::max_numel) di = d;
      }
      if (axis_ok) {
        compatible = compatible && di.size() == r;
        for (std::size_t j = 0; compatible && j < r; ++j) compatible = j == a || di[j] == d[j];
        if (compatible)
          joined = joined + di[a] < joined ? std::numeric_limits<std::size_t>::max() : joined + di[a];
      }
      shapes.push_back(di);
      xs.push_back(tensor(di));
    }
    what = fmt::format("concat({} tensors like {}, axis {})", k, text(d), axis);
    Expect e;
    if (!axis_ok) {
      e = error(Expect::out_of_range, "concat");
    } else if (!compatible) {
      e = error(Expect::invalid, "concat");
    } else {
      Dims out = d;
      out[a] = joined;
      e = joined == std::numeric_limits<std::size_t>::max() ? error(Expect::length, "concat")
                                                            : result(out, "concat");
    }
    run(e, [&] { return ad::concat(xs, axis); });
  }

  void transpose() {
    const Dims d = operand_dims(below(9));
    const std::int64_t a0 = random_axis(d.size()), a1 = random_axis(d.size());
    what = fmt::format("transpose({}, {}, {})", text(d), a0, a1);
    const auto r = static_cast<std::int64_t>(d.size());
    auto in_range = [&](std::int64_t a) { return a >= -r && a < r; };
    Expect e;
    if (d.size() < 2) {
      e = error(Expect::invalid, "transpose");
    } else if (!in_range(a0) || !in_range(a1)) {
      e = error(Expect::out_of_range, "transpose");
    } else {
      Dims out = d;
      std::swap(out[static_cast<std::size_t>(a0 < 0 ? a0 + r : a0)],
                out[static_cast<std::size_t>(a1 < 0 ? a1 + r : a1)]);
      e = result(out, "transpose");
    }
    const Tensor x = tensor(d);
    run(e, [&] { return ad::transpose(x, a0, a1); });
  }

  void reduce() {
    const Dims d = operand_dims(below(9));
    std::vector<std::int64_t> axes;
    for (std::size_t i = below(4); i-- > 0;) axes.push_back(random_axis(d.size()));
    const bool keepdim = chance(0.5);
    static const char* names[] = {"sum", "mean", "max"};
    const std::size_t which = below(3);
    what =
        fmt::format("{}({}, axes [{}], keepdim {})", names[which], text(d), fmt::join(axes, ", "), keepdim);
    const auto r = static_cast<std::int64_t>(d.size());
    Expect e;
    std::vector<bool> reduced(d.size(), false);
    for (const std::int64_t a : axes) {
      if (a < -r || a >= r) {
        e = error(Expect::out_of_range, names[which]);
        break;
      }
      const auto i = static_cast<std::size_t>(a < 0 ? a + r : a);
      if (reduced[i]) {
        e = error(Expect::invalid, names[which]);
        break;
      }
      reduced[i] = true;
    }
    if (e.kind == Expect::ok) {
      Dims out;
      std::size_t group = 1;
      for (std::size_t i = 0; i < d.size(); ++i) {
        if (reduced[i]) group *= d[i];
        if (!reduced[i])
          out.push_back(d[i]);
        else if (keepdim)
          out.push_back(1);
      }
      e = which > 0 && group == 0 ? error(Expect::invalid, names[which]) : result(out, names[which]);
    }
    const Tensor x = tensor(d);
    switch (which) {
      case 0:
        return run(e, [&] { return ad::sum(x, axes, keepdim); });
      case 1:
        return run(e, [&] { return ad::mean(x, axes, keepdim); });
      default:
        return run(e, [&] { return ad::max(x, axes, keepdim); });
    }
  }

  void rows() {
    const Dims d = operand_dims(below(9));
    const Tensor x = tensor(d);
    if (chance(0.5)) {
      std::vector<std::size_t> indices(below(5));
      const std::size_t n_rows = d.empty() ? 0 : d[0];
      for (auto& i : indices)
        i = chance(0.9) && n_rows > 0 ? below(std::min<std::size_t>(n_rows, 8))
                                      : (chance(0.5) ? n_rows : huge());
      what = fmt::format("rows({}, [{}])", text(d), fmt::join(indices, ", "));
      Expect e;
      if (d.empty())
        e = error(Expect::invalid, "rows");
      else if (std::any_of(indices.begin(), indices.end(), [&](std::size_t i) { return i >= n_rows; }))
        e = error(Expect::out_of_range, "rows");
      else {
        Dims out = d;
        out[0] = indices.size();
        e = result(out, "rows");
      }
      run(e, [&] { return ad::rows(x, indices); });
    } else {
      const std::size_t n_rows = d.empty() ? 0 : d[0];
      std::size_t begin = chance(0.8) ? below(std::min<std::size_t>(n_rows, 4) + 1) : huge();
      std::size_t end = chance(0.8) ? below(std::min<std::size_t>(n_rows, 4) + 1) : huge();
      what = fmt::format("slice_rows({}, {}, {})", text(d), begin, end);
      Expect e;
      if (d.empty() || begin > end || end > n_rows)
        e = error(Expect::out_of_range, "slice_rows");
      else {
        Dims out = d;
        out[0] = end - begin;
        e = result(out, "slice_rows");
      }
      run(e, [&] { return ad::slice_rows(x, begin, end); });
    }
  }

  void along_axis() {
    const Dims d = operand_dims(below(9));
    const std::int64_t a = random_axis(d.size());
    static const char* names[] = {"softmax", "log_softmax", "logsumexp", "dot"};
    const std::size_t which = below(4);
    what = fmt::format("{}({}, {})", names[which], text(d), a);
    const Tensor x = tensor(d);
    if (which == 3) {
      const Dims other = chance(0.7) ? d : operand_dims(below(3));
      const Tensor y = tensor(other);
      what = fmt::format("dot({}, {})", text(d), text(other));
      const Expect e = d.size() == 1 && other == d ? result({}, "dot") : error(Expect::invalid, "dot");
      return run(e, [&] { return ad::dot(x, y); });
    }
    const auto r = static_cast<std::int64_t>(d.size());
    Expect e;
    if (a < -r || a >= r) {
      e = error(Expect::out_of_range, names[which]);
    } else if (which < 2) {
      e = result(d, names[which]);
    } else {
      Dims out = d;
      out.erase(out.begin() + (a < 0 ? a + r : a));
      e = result(out, names[which]);
    }
    switch (which) {
      case 0:
        return run(e, [&] { return ad::softmax(x, a); });
      case 1:
        return run(e, [&] { return ad::log_softmax(x, a); });
      default:
        return run(e, [&] { return ad::logsumexp(x, a); });
    }
  }

  void one_case() {
    switch (below(12)) {
      case 0:
        return shape_and_factories();
      case 1:
        return eye();
      case 2:
        return arange();
      case 3:
        return reshape();
      case 4:
        return binary();
      case 5:
        return matmul();
      case 6:
        return linear();
      case 7:
        return stack();
      case 8:
        return concat();
      case 9:
        return transpose();
      case 10:
        return reduce();
      default:
        return (chance(0.5) ? rows() : along_axis());
    }
  }
};

std::size_t env_or(const char* name, std::size_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

}  // namespace

TEST_CASE("random shapes through every shape-making op: a consistent result or a documented exception") {
  // AD_SHAPE_STRESS_CASES scales the run (default 20000), AD_SHAPE_STRESS_SEED
  // picks the seed; a failure prints the case.
  const std::size_t cases = env_or("AD_SHAPE_STRESS_CASES", 20000);
  Stress s(env_or("AD_SHAPE_STRESS_SEED", 14));
  for (std::size_t i = 0; i < cases; ++i) {
    try {
      s.one_case();
    } catch (const std::exception& e) {  // not a documented error, or not where one was expected
      FAIL(fmt::format("case {}, {}: threw {} '{}'", i, s.what, typeid(e).name(), e.what()));
    }
  }
  MESSAGE(fmt::format("{} cases: {} results, {} documented errors, {} valid results too large to run",
                      s.cases, s.results, s.errors, s.skipped));
  MESSAGE(fmt::format(
      "expected: {} results, {} skipped, {} length_error, {} rank, {} invalid_argument, {} out_of_range",
      s.expected[Expect::ok], s.expected[Expect::skip], s.expected[Expect::length], s.expected[Expect::rank],
      s.expected[Expect::invalid], s.expected[Expect::out_of_range]));
  // Each kind of outcome was reached.
  CHECK(s.results > s.cases / 4);
  CHECK(s.errors > s.cases / 8);
  if (cases >= 20000)
    for (const std::size_t n : s.expected) CHECK(n > 100);
}
