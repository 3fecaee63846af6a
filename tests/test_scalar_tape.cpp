// The scalar tape as a whole: adjoints summed over shared subexpressions, the
// ways to read gradients, long recordings, reuse after clear(), nested tapes,
// one tape per thread, NoGrad, generic code written once for double and Var,
// and Var as a value type.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <latch>
#include <random>
#include <span>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <autodiff/autodiff.hpp>

namespace {

// Recorded ops in the long chain: about 0.3 s in a Release build and 1.2 s
// under AddressSanitizer, so the sanitizer build runs the full length too.
constexpr std::size_t chain_ops = 10'000'000;

// The memory figures of the tape layout (tape.hpp): a 32-byte record per node
// and a double per adjoint. A record holds the value, the op and operands, and the two local partials;
// a constant operand lives in the record (docs/decisions/0017-jacobian-records.md).
constexpr std::size_t bytes_per_node = 32;
constexpr std::size_t bytes_per_constant = 0;
constexpr std::size_t bytes_per_adjoint = 8;
// The sweep's adjoint array has scratch slots besides the nodes' adjoints.
constexpr std::size_t scratch_adjoints = 8;

// f(x) = sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, written once for any scalar.
template <class T>
T rosenbrock(std::span<const T> x) {
  T sum{};
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    const T bend = x[i + 1] - x[i] * x[i];
    const T offset = 1.0 - x[i];
    sum += 100.0 * bend * bend + offset * offset;
  }
  return sum;
}

// The closed-form gradient of rosenbrock.
std::vector<double> rosenbrock_gradient(std::span<const double> x) {
  std::vector<double> g(x.size(), 0.0);
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    const double bend = x[i + 1] - x[i] * x[i];
    g[i] += -400.0 * x[i] * bend - 2.0 * (1.0 - x[i]);
    g[i + 1] += 200.0 * bend;
  }
  return g;
}

// A 2-3-1 perceptron with tanh hidden units and a linear output, and its
// squared error on one example, written once for any scalar. Parameters, in
// order: W1 (3x2, row-major), b1 (3), w2 (3), b2.
constexpr std::size_t mlp_parameter_count = 13;

template <class T>
T mlp_loss(std::span<const T> p, std::array<double, 2> input, double target) {
  T output = p[12];
  for (std::size_t j = 0; j < 3; ++j) {
    const T pre = p[2 * j] * input[0] + p[2 * j + 1] * input[1] + p[6 + j];
    output += p[9 + j] * ad::tanh(pre);
  }
  const T error = output - target;
  return 0.5 * error * error;
}

}  // namespace

// ---- adjoints --------------------------------------------------------------------

TEST_CASE("a Var used twice in one op gets the sum of both adjoints") {
  ad::Tape tape;
  const ad::Var x = 1.75;
  const ad::Var y = x * x;
  CHECK(ad::gradient(y, {x})[0] == 3.5);
  const ad::Var z = x + x;
  CHECK(ad::gradient(z, {x})[0] == 2.0);
  const ad::Var w = x / x;
  CHECK(ad::gradient(w, {x})[0] == doctest::Approx(0.0));
}

TEST_CASE("a value reused in 100 places gets the adjoint summed over all of them") {
  ad::Tape tape;
  const double x0 = 0.4;
  const ad::Var x = x0;
  const ad::Var u = ad::sin(x);
  ad::Var f;
  for (int k = 1; k <= 100; ++k) f += static_cast<double>(k) * u;
  f.backward();
  CHECK(tape.adjoint(u) == doctest::Approx(5050.0).epsilon(1e-15));
  CHECK(x.adjoint() == doctest::Approx(5050.0 * std::cos(x0)).epsilon(1e-14));
  CHECK(f.value() == doctest::Approx(5050.0 * std::sin(x0)).epsilon(1e-14));
}

TEST_CASE("the gradient with respect to a Var of the tape that the output does not depend on is 0") {
  ad::Tape tape;
  const ad::Var x = 0.3, unused = 2.0;
  const ad::Var f = ad::exp(x);
  const ad::Var after = f * 2.0;  // recorded after f: f cannot depend on it
  const std::vector<double> g = ad::gradient(f, {x, unused, after});
  CHECK(g[0] == doctest::Approx(std::exp(0.3)));
  CHECK(g[1] == 0.0);
  CHECK(g[2] == 0.0);
}

// ---- reading gradients --------------------------------------------------------------

TEST_CASE("gradient takes its inputs as a braced list") {
  ad::Tape tape;
  const ad::Var x = 2.0, y = -3.0, z = 0.5;
  const ad::Var f = x * y * z + y;
  const std::vector<double> g = ad::gradient(f, {x, y, z});
  REQUIRE(g.size() == 3);
  CHECK(g[0] == -1.5);
  CHECK(g[1] == 2.0);
  CHECK(g[2] == -6.0);
}

TEST_CASE("gradient takes a vector of 1000 inputs and fills a caller's span alike") {
  ad::Tape tape;
  std::vector<ad::Var> xs(1000);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = 0.001 * static_cast<double>(i) - 0.5;
  // f = sum_i (i+1) x_i^2, so df/dx_i = 2 (i+1) x_i.
  ad::Var f;
  for (std::size_t i = 0; i < xs.size(); ++i) f += static_cast<double>(i + 1) * (xs[i] * xs[i]);
  const std::vector<double> g = ad::gradient(f, xs);
  std::vector<double> out(xs.size(), -1.0);
  ad::gradient(f, xs, out);
  REQUIRE(g.size() == 1000);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    INFO("i = ", i);
    CHECK(g[i] == doctest::Approx(2.0 * static_cast<double>(i + 1) * xs[i].value()).epsilon(1e-15));
    CHECK(out[i] == g[i]);
  }
}

TEST_CASE("after f.backward() every node's adjoint reads through the Var, the tape and adjoints()") {
  ad::Tape tape;
  const ad::Var x = 1.5, y = -0.5;
  const ad::Var s = x * y;
  const ad::Var f = ad::sin(s) + y;
  f.backward();
  const double ds = std::cos(1.5 * -0.5);
  CHECK(f.adjoint() == 1.0);
  CHECK(s.adjoint() == doctest::Approx(ds));
  CHECK(x.adjoint() == doctest::Approx(ds * -0.5));
  CHECK(y.adjoint() == doctest::Approx(ds * 1.5 + 1.0));
  for (const ad::Var& v : {x, y, s, f}) CHECK(tape.adjoint(v) == v.adjoint());
  const std::span<const double> all = tape.adjoints();
  REQUIRE(all.size() == static_cast<std::size_t>(f.id()) + 1);
  REQUIRE(all.size() == tape.size());
  CHECK(all[x.id()] == x.adjoint());
  CHECK(all[y.id()] == y.adjoint());
  CHECK(all[s.id()] == s.adjoint());
  CHECK(all[f.id()] == 1.0);
}

TEST_CASE("backward from an intermediate node gives 0 adjoint to the nodes recorded after it") {
  ad::Tape tape;
  const ad::Var x = 2.0;
  const ad::Var s = x * x;
  const ad::Var f = s * 3.0;
  s.backward();
  CHECK(x.adjoint() == 4.0);
  CHECK(s.adjoint() == 1.0);
  CHECK(f.adjoint() == 0.0);
  CHECK(tape.adjoints().size() == static_cast<std::size_t>(s.id()) + 1);
}

// ---- long recordings, memory, reuse ------------------------------------------------------

TEST_CASE("a chain of 10^7 recorded ops sweeps iteratively to the right derivative and predicted bytes") {
  // A sweep that recursed once per node would overflow any thread's stack here.
  // x_{k+1} = c_k x_k + d_k: two ops per step (mul by a constant, add a
  // constant). The constants are all distinct (c_k steps by one ulp of 1.0),
  // so the byte count does not depend on whether the tape shares repeated
  // constants: every constant operand is stored.
  constexpr std::size_t steps = chain_ops / 2;
  const auto c = [](std::size_t k) { return 1.0000001 + static_cast<double>(k) * 0x1.0p-52; };
  const auto d = [](std::size_t k) { return 1e-9 * static_cast<double>(k + 1); };
  ad::Tape tape;
  const double x0 = 0.75;
  const ad::Var x = x0;
  ad::Var y = x;
  double expected_value = x0, expected_derivative = 1.0, log_derivative = 0.0;
  for (std::size_t k = 0; k < steps; ++k) {
    y = y * c(k) + d(k);
    expected_value *= c(k);  // two statements: no fused multiply-add
    expected_value += d(k);
    expected_derivative *= c(k);
    log_derivative += std::log(c(k));
  }
  const std::size_t nodes = 1 + 2 * steps, constants = 2 * steps;
  CHECK(tape.size() == nodes);
  CHECK(tape.bytes_used() == nodes * bytes_per_node + constants * bytes_per_constant);
  CHECK(y.value() == expected_value);

  // dy/dx = prod_k c_k, by the running product and, independently, by exp(sum log c_k).
  const double derivative = ad::gradient(y, {x})[0];
  CHECK(derivative == doctest::Approx(expected_derivative).epsilon(1e-12));
  CHECK(derivative == doctest::Approx(std::exp(log_derivative)).epsilon(1e-8));
  CHECK(tape.bytes_used() ==
        nodes * bytes_per_node + constants * bytes_per_constant + (nodes + scratch_adjoints) * bytes_per_adjoint);
  CHECK(tape.bytes_reserved() >= tape.bytes_used());
}

TEST_CASE("clear() forgets the nodes, keeps the capacity, and the tape records again correctly") {
  ad::Tape tape;
  const auto record = [](double x0) {
    const ad::Var x = x0;
    ad::Var f = x;
    for (int k = 0; k < 20'000; ++k) f = ad::sin(f) * 0.5 + x;
    return std::pair{x, f};
  };
  const auto [x_first, f_first] = record(0.25);
  const double first_gradient = ad::gradient(f_first, {x_first})[0];
  const std::size_t recorded = tape.size(), capacity = tape.capacity();
  REQUIRE(recorded == 1 + 3 * 20'000);
  REQUIRE(capacity >= recorded);

  tape.clear();
  CHECK(tape.size() == 0);
  CHECK(tape.capacity() == capacity);
  CHECK(tape.bytes_used() == 0);
  CHECK(tape.adjoints().empty());

  const auto [x_second, f_second] = record(0.25);
  CHECK(tape.size() == recorded);
  CHECK(tape.capacity() == capacity);
  CHECK(f_second.value() == f_first.value());
  CHECK(ad::gradient(f_second, {x_second})[0] == first_gradient);

  // A different recording on the same memory differentiates correctly too:
  // d/dx (x^3) = 3 x^2.
  tape.clear();
  const ad::Var x = 1.2;
  const ad::Var cube = x * x * x;
  CHECK(ad::gradient(cube, {x})[0] == doctest::Approx(3.0 * 1.44));
  CHECK(tape.capacity() == capacity);
}

// ---- nested tapes ---------------------------------------------------------------------

TEST_CASE("an inner tape records while it is alive and the outer tape records again after it") {
  ad::Tape outer;
  CHECK(ad::Tape::active() == &outer);
  const ad::Var x = 2.0;
  {
    ad::Tape inner;
    CHECK(ad::Tape::active() == &inner);
    CHECK(inner.enclosing() == &outer);
    const ad::Var z = 3.0;
    CHECK(inner.owns(z));
    CHECK_FALSE(outer.owns(z));
    CHECK(inner.size() == 1);
  }
  CHECK(ad::Tape::active() == &outer);
  const std::size_t before = outer.size();
  const ad::Var y = x * 5.0;
  CHECK(outer.size() == before + 1);
  CHECK(ad::gradient(y, {x})[0] == 5.0);
}

TEST_CASE("a Var of the enclosing tape reads as a constant inside an inner tape") {
  ad::Tape outer;
  const ad::Var x = 0.8;
  const std::size_t outer_size = outer.size();
  {
    ad::Tape inner;
    const ad::Var z = 1.5;
    // x enters the inner recording as the constant 0.8: no adjoint flows to it.
    const ad::Var f = ad::sin(x) * z + x * z;
    CHECK(ad::gradient(f, {z})[0] == doctest::Approx(std::sin(0.8) + 0.8));
    const ad::Var xz = x * z;
    const ad::NodeView node = inner.node(xz.id());
    CHECK(node.input_count == 1);
    CHECK(node.has_constant);
    CHECK(node.constant == 0.8);
    // Computed from x alone, a result is a constant of neither tape.
    const ad::Var only_x = x * x + 1.0;
    CHECK(only_x.is_constant());
    CHECK(only_x.value() == doctest::Approx(1.64));
    // Nothing was recorded on the outer tape, and the inner sweep left it untouched.
    CHECK(outer.size() == outer_size);
    CHECK(outer.adjoints().empty());
  }
  const ad::Var g = x * x;
  CHECK(ad::gradient(g, {x})[0] == doctest::Approx(1.6));
}

// ---- threads --------------------------------------------------------------------------

TEST_CASE("threads with a tape each take gradients concurrently and correctly") {
  constexpr int thread_count = 4, iterations = 20'000;
  std::array<int, thread_count> wrong{};
  std::array<int, thread_count> foreign_active{};
  std::latch all_started(thread_count);  // so that the recordings overlap in time
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([t, &wrong, &foreign_active, &all_started] {
      ad::Tape tape;
      all_started.arrive_and_wait();
      std::mt19937_64 engine(1234 + static_cast<std::uint64_t>(t));
      for (int i = 0; i < iterations; ++i) {
        tape.clear();
        const double a0 = static_cast<double>(engine() % 1000) / 500.0 - 1.0;
        const double b0 = static_cast<double>(engine() % 1000) / 500.0 + 0.5;
        const ad::Var a = a0, b = b0;
        // f = a^2 b + exp(a / b), df/da = 2ab + exp(a/b)/b, df/db = a^2 - a exp(a/b)/b^2.
        ad::Var f = a * a * b + ad::exp(a / b);
        for (int k = 0; k < 8; ++k) f = f + 0.0 * ad::sin(f);  // lengthen the recording
        const std::vector<double> g = ad::gradient(f, {a, b});
        const double e = std::exp(a0 / b0);
        if (std::fabs(g[0] - (2.0 * a0 * b0 + e / b0)) > 1e-12 * (1.0 + std::fabs(g[0])) ||
            std::fabs(g[1] - (a0 * a0 - a0 * e / (b0 * b0))) > 1e-12 * (1.0 + std::fabs(g[1])))
          ++wrong[static_cast<std::size_t>(t)];
        if (ad::Tape::active() != &tape) ++foreign_active[static_cast<std::size_t>(t)];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < thread_count; ++t) {
    INFO("thread ", t);
    CHECK(wrong[static_cast<std::size_t>(t)] == 0);
    CHECK(foreign_active[static_cast<std::size_t>(t)] == 0);
  }
}

TEST_CASE("a tape on another thread does not become active on this one") {
  CHECK(ad::Tape::active() == nullptr);
  std::thread([] { ad::Tape elsewhere; }).join();
  CHECK(ad::Tape::active() == nullptr);
  const ad::Var x = 1.0;
  CHECK(x.is_constant());
}

// ---- NoGrad -----------------------------------------------------------------------------

TEST_CASE("inside NoGrad operations produce constants and nothing is recorded") {
  ad::Tape tape;
  const ad::Var x = 2.0;
  const std::size_t recorded = tape.size();
  {
    ad::NoGrad off;
    CHECK(ad::Tape::active() == nullptr);
    const ad::Var leaf = 3.0;
    const ad::Var y = ad::exp(x) * leaf + x / 2.0 - ad::pow(x, leaf);
    CHECK(leaf.is_constant());
    CHECK(y.is_constant());
    CHECK(y.value() == doctest::Approx(std::exp(2.0) * 3.0 + 1.0 - 8.0));
    CHECK(tape.size() == recorded);
  }
  CHECK(ad::Tape::active() == &tape);
  const ad::Var z = x * 3.0;
  CHECK_FALSE(z.is_constant());
  CHECK(tape.size() == recorded + 1);
}

// ---- generic code -------------------------------------------------------------------------

TEST_CASE("rosenbrock written once gives the same value for double and Var and the closed-form gradient") {
  std::mt19937_64 engine(99);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> point(10);
    for (double& p : point) p = static_cast<double>(engine() % 4001) / 1000.0 - 2.0;
    const double value = rosenbrock(std::span<const double>(point));

    ad::Tape tape;
    std::vector<ad::Var> xs(point.begin(), point.end());
    const ad::Var f = rosenbrock(std::span<const ad::Var>(xs));
    // Equal up to rounding: a compiler may fuse a * b + c into one FMA in the
    // double instantiation, never across the Var one's separate ops.
    CHECK(f.value() == doctest::Approx(value).epsilon(1e-14));
    const std::vector<double> g = ad::gradient(f, xs);
    const std::vector<double> expected = rosenbrock_gradient(point);
    for (std::size_t i = 0; i < point.size(); ++i) {
      INFO("trial ", trial, ", i = ", i);
      CHECK(g[i] == doctest::Approx(expected[i]).epsilon(1e-13));
    }
  }
}

TEST_CASE("a 2-3-1 tanh network written once gives the same loss for double and Var and a gradient matching differences") {
  std::mt19937_64 engine(2024);
  const auto draw = [&engine] { return static_cast<double>(engine() % 2001) / 1000.0 - 1.0; };
  for (int trial = 0; trial < 10; ++trial) {
    std::array<double, mlp_parameter_count> params{};
    for (double& p : params) p = draw();
    const std::array<double, 2> input{draw(), draw()};
    const double target = draw();
    const double loss = mlp_loss(std::span<const double>(params), input, target);

    ad::Tape tape;
    const std::vector<ad::Var> vars(params.begin(), params.end());
    const ad::Var f = mlp_loss(std::span<const ad::Var>(vars), input, target);
    CHECK(f.value() == doctest::Approx(loss).epsilon(1e-14));
    const std::vector<double> g = ad::gradient(f, vars);
    for (std::size_t i = 0; i < params.size(); ++i) {
      std::array<double, mlp_parameter_count> shifted = params;
      const double h = 1e-6;
      shifted[i] = params[i] + h;
      const double above = mlp_loss(std::span<const double>(shifted), input, target);
      shifted[i] = params[i] - h;
      const double below = mlp_loss(std::span<const double>(shifted), input, target);
      INFO("trial ", trial, ", parameter ", i);
      CHECK(g[i] == doctest::Approx((above - below) / (2.0 * h)).epsilon(1e-7));
    }
  }
}

// ---- Var as a value type ----------------------------------------------------------------------

TEST_CASE("a default-constructed Var is the constant 0 and records nothing") {
  ad::Tape tape;
  const ad::Var v;
  CHECK(v.value() == 0.0);
  CHECK(v.is_constant());
  CHECK(tape.size() == 0);
  static_assert(std::is_nothrow_default_constructible_v<ad::Var>);
}

TEST_CASE("a Var made from a double is a leaf while a tape records and a constant otherwise") {
  const ad::Var outside = 1.5;
  CHECK(outside.is_constant());
  CHECK(outside.value() == 1.5);
  ad::Tape tape;
  const ad::Var inside = 1.5;
  CHECK_FALSE(inside.is_constant());
  CHECK(tape.owns(inside));
  CHECK(tape.size() == 1);
}

TEST_CASE("Var copies share the node and assignment from a double makes a new leaf") {
  static_assert(std::is_copy_constructible_v<ad::Var> && std::is_copy_assignable_v<ad::Var>);
  ad::Tape tape;
  const ad::Var x = 2.0;
  ad::Var copy = x;
  CHECK(copy.id() == x.id());
  ad::Var assigned;
  assigned = x;
  CHECK(assigned.id() == x.id());
  const ad::Var f = copy * assigned;  // x * x
  CHECK(ad::gradient(f, {x})[0] == 4.0);

  copy = 5.0;
  CHECK(copy.value() == 5.0);
  CHECK_FALSE(copy.is_constant());
  CHECK(copy.id() != x.id());
  CHECK(ad::gradient(copy * x, {copy, x}) == std::vector<double>{2.0, 5.0});
}

TEST_CASE("Vars live in a std::vector like doubles") {
  ad::Tape tape;
  std::vector<ad::Var> v(3);
  for (const ad::Var& e : v) CHECK(e.is_constant());
  v.push_back(1.0);
  v.emplace_back(2.0);
  v[0] = v[3] * v[4];
  v.insert(v.begin(), ad::Var(4.0));
  v.resize(100);  // reallocation moves Vars; they keep their nodes
  const std::vector<double> g = ad::gradient(v[1] + v[0], {v[4], v[5], v[0]});
  CHECK(g == std::vector<double>{2.0, 1.0, 1.0});
}

TEST_CASE("comparisons are by value between Vars, and with a double on either side") {
  ad::Tape tape;
  const ad::Var one = 1.0, two = 2.0, also_two = 2.0;
  const std::size_t recorded = tape.size();
  CHECK(one < two);
  CHECK(two > one);
  CHECK(one <= two);
  CHECK(two >= also_two);
  CHECK(two == also_two);
  CHECK(one != two);
  CHECK(one == 1.0);
  CHECK(1.0 == one);
  CHECK(one != 2.0);
  CHECK(2.0 != one);
  CHECK(one < 1.5);
  CHECK(1.5 < two);
  CHECK(two <= 2.0);
  CHECK(2.0 >= two);
  CHECK(3.0 > two);
  CHECK_FALSE(ad::Var(std::nan("")) == ad::Var(std::nan("")));
  CHECK_FALSE(one < std::nan(""));
  CHECK(tape.size() == recorded + 2);  // only the two NaN leaves
}

TEST_CASE("Tape::reserve makes room once: recording up to it keeps the buffer, and values survive the move") {
  ad::Tape tape;
  const ad::Var x = 1.5;
  const ad::Var y = x * x;
  tape.reserve(100000);
  CHECK(tape.capacity() >= 100000);
  CHECK(tape.size() == 2);
  const std::size_t capacity = tape.capacity();
  ad::Var s = y;
  while (tape.size() < 99990) s = s + x;
  CHECK(tape.capacity() == capacity);  // no growth below the reservation
  tape.reserve(10);                    // never shrinks
  CHECK(tape.capacity() == capacity);
  tape.backward(s);
  CHECK(tape.adjoint(x) == 2.0 * 1.5 + 99988.0);  // y = x^2, then 99988 additions of x
  CHECK(tape.node(y.id()).value == 2.25);
}
