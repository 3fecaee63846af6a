// ad::sum, ad::dot, ad::squared_norm, ad::logsumexp: one node each, with the
// values and gradients of the op-by-op loops they replace, second
// derivatives through them, constants, and misuse.
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>

namespace {

std::vector<double> values(std::size_t n, double scale) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * std::sin(1.7 * static_cast<double>(i) + 0.3);
  return v;
}

// The op-by-op forms the reductions replace, for T = double or ad::Var.
template <class T>
T loop_sum(std::span<const T> x) {
  T s = x[0];
  for (std::size_t i = 1; i < x.size(); ++i) s = s + x[i];
  return s;
}
template <class T>
T loop_dot(std::span<const T> x, std::span<const T> y) {
  T s = x[0] * y[0];
  for (std::size_t i = 1; i < x.size(); ++i) s = s + x[i] * y[i];
  return s;
}

}  // namespace

TEST_CASE("sum, dot and squared_norm record one node and match the op-by-op loops (dot to rounding)") {
  const std::vector<double> a = values(7, 1.3), b = values(7, -0.7);
  ad::Tape tape;
  std::vector<ad::Var> x(a.begin(), a.end()), y(b.begin(), b.end());
  const std::size_t before = tape.size();
  const ad::Var s = ad::sum(x);
  const ad::Var d = ad::dot(x, y);
  const ad::Var q = ad::squared_norm(x);
  CHECK(tape.size() == before + 3);
  CHECK(tape.node(s.id()).op == ad::OpCode::sum);
  CHECK(tape.node(s.id()).input_count == 7);
  CHECK(tape.node(d.id()).input_count == 14);
  CHECK(tape.node(s.id()).input(6) == x[6].id());
  CHECK(s.value() == loop_sum<ad::Var>(x).value());
  // dot adds in four interleaved partial sums (as BLAS): the loop's value to rounding.
  CHECK(d.value() == doctest::Approx(loop_dot<ad::Var>(x, y).value()).epsilon(1e-15));
  const std::vector<ad::Var> three(x.begin(), x.begin() + 3), three_y(y.begin(), y.begin() + 3);
  CHECK(ad::dot(three, three_y).value() ==
        loop_dot<ad::Var>(three, three_y).value());  // under four: the loop
  CHECK(q.value() == loop_dot<ad::Var>(x, x).value());

  const std::vector<double> gs = ad::gradient(s, x);
  for (double g : gs) CHECK(g == 1.0);
  const std::vector<double> gdx = ad::gradient(d, x), gdy = ad::gradient(d, y);
  const std::vector<double> gq = ad::gradient(q, x);
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(gdx[i] == b[i]);
    CHECK(gdy[i] == a[i]);
    CHECK(gq[i] == 2.0 * a[i]);
  }
}

TEST_CASE("dot adds in four interleaved partial sums, the same order for Vars and for constant weights") {
  const std::vector<double> a = values(11, 1.3), b = values(11, -0.7);
  double s[4];
  for (int j = 0; j < 4; ++j) s[j] = a[j] * b[j];
  for (int j = 0; j < 4; ++j) s[j] += a[4 + j] * b[4 + j];
  double want = (s[0] + s[1]) + (s[2] + s[3]);
  for (std::size_t i = 8; i < 11; ++i) want += a[i] * b[i];
  ad::Tape tape;
  const std::vector<ad::Var> x(a.begin(), a.end()), y(b.begin(), b.end());
  CHECK(ad::dot(x, y).value() == want);
  CHECK(ad::dot(x, std::span<const double>(b)).value() == want);
  const std::vector<ad::Var> y_interleaved{b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10]};
  CHECK(ad::dot(x, y_interleaved).value() == want);  // a run and a list: the same value
}

TEST_CASE("a Var appearing several times in a reduction gets every share") {
  ad::Tape tape;
  const ad::Var x = 1.5, y = -2.0;
  const std::vector<ad::Var> xs{x, y, x, x};
  CHECK(ad::gradient(ad::sum(xs), {x, y}) == std::vector<double>{3.0, 1.0});
  // dot(v, v) = |v|^2: each entry gets 2 v_i.
  const std::vector<ad::Var> v{x, y};
  CHECK(ad::gradient(ad::dot(v, v), {x, y}) == std::vector<double>{3.0, -4.0});
}

TEST_CASE("dot with constant weights gives the weights as the gradient") {
  ad::Tape tape;
  const std::vector<double> w{0.5, -3.0, 2.25};
  const std::vector<ad::Var> x{1.0, 2.0, 3.0};
  const ad::Var d = ad::dot(x, w);
  CHECK(d.value() == 0.5 - 6.0 + 6.75);
  CHECK(ad::gradient(d, x) == w);
}

TEST_CASE("logsumexp is stable for large inputs and its gradient is the softmax") {
  ad::Tape tape;
  const std::vector<ad::Var> x{1000.0, 1001.0, 999.5};
  const ad::Var l = ad::logsumexp(x);
  const double m = 1001.0;
  const double s = std::exp(-1.0) + 1.0 + std::exp(-1.5);
  CHECK(l.value() == doctest::Approx(m + std::log(s)).epsilon(1e-15));
  const std::vector<double> g = ad::gradient(l, x);
  CHECK(g[0] == doctest::Approx(std::exp(-1.0) / s).epsilon(1e-14));
  CHECK(g[1] == doctest::Approx(1.0 / s).epsilon(1e-14));
  CHECK(g[2] == doctest::Approx(std::exp(-1.5) / s).epsilon(1e-14));
  CHECK(g[0] + g[1] + g[2] == doctest::Approx(1.0).epsilon(1e-14));
}

TEST_CASE("logsumexp follows the limits: no operand is -inf, all -inf is -inf, NaN gives NaN") {
  ad::Tape tape;
  CHECK(ad::logsumexp(std::span<const ad::Var>()).value() == -std::numeric_limits<double>::infinity());
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(ad::logsumexp({ad::Var(-inf), ad::Var(-inf)}).value() == -inf);
  CHECK(ad::logsumexp({ad::Var(2.0), ad::Var(inf)}).value() == inf);
  CHECK(std::isnan(ad::logsumexp({ad::Var(2.0), ad::Var(std::nan(""))}).value()));
}

TEST_CASE("Hessian-vector products through the reductions match the op-by-op loops") {
  const std::vector<double> x0 = values(5, 0.9), v = values(5, 1.1);
  // f = logsumexp(x) * |x|^2 + (w . x) * sum(x) + dot(x, x o x), mixing every reduction.
  const std::vector<double> w{0.3, -1.2, 2.0, 0.7, -0.4};
  auto with_reductions = [&](std::span<const ad::Var> x) {
    std::vector<ad::Var> cube(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) cube[i] = x[i] * x[i];
    return ad::logsumexp(x) * ad::squared_norm(x) + ad::dot(x, w) * ad::sum(x) + ad::dot(x, cube);
  };
  auto op_by_op = [&](std::span<const ad::Var> x) {
    ad::Var m = 0.0, sq = 0.0, wx = 0.0, s = 0.0, c = 0.0;
    const double shift = 2.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      m += ad::exp(x[i] - shift);
      sq += x[i] * x[i];
      wx += x[i] * w[i];
      s += x[i];
      c += x[i] * (x[i] * x[i]);
    }
    return (ad::log(m) + shift) * sq + wx * s + c;
  };
  const std::vector<double> h1 = ad::hvp(with_reductions, x0, v), h2 = ad::hvp(op_by_op, x0, v);
  for (std::size_t i = 0; i < x0.size(); ++i) CHECK(h1[i] == doctest::Approx(h2[i]).epsilon(1e-12));
  const auto H1 = ad::hessian(with_reductions, x0), H2 = ad::hessian(op_by_op, x0);
  for (std::size_t i = 0; i < x0.size(); ++i)
    for (std::size_t j = 0; j < x0.size(); ++j) CHECK(H1[i][j] == doctest::Approx(H2[i][j]).epsilon(1e-12));
}

TEST_CASE("constants and Vars of an enclosing tape count in the value and get no node input") {
  ad::Tape outer;
  const ad::Var far = 4.0;
  ad::Tape inner;
  const ad::Var x = 2.0;
  const std::vector<ad::Var> xs{x, ad::Var::constant(3.0), far};
  const ad::Var s = ad::sum(xs);
  CHECK(s.value() == 9.0);
  CHECK(inner.node(s.id()).input_count == 1);
  CHECK(ad::gradient(s, {x})[0] == 1.0);
  // A dot of a Var with a constant: the constant becomes a leaf, so the recorded backward finds it.
  const std::vector<ad::Var> a{x}, b{ad::Var::constant(5.0)};
  const ad::Var d = ad::dot(a, b);
  CHECK(d.value() == 10.0);
  CHECK(ad::gradient(d, {x})[0] == 5.0);
  // Only constants: a constant, nothing recorded.
  const std::size_t size = inner.size();
  CHECK(ad::sum({ad::Var::constant(1.0), ad::Var::constant(2.0)}).is_constant());
  CHECK(inner.size() == size);
}

TEST_CASE("a long reduction over Vars mixed with constants keeps each Var's partial beside its id") {
  // Longer than 8 recorded operands (the lists grow once, then take plain
  // stores), the constants interleaved: every Var must keep its own partial.
  ad::Tape tape;
  std::vector<ad::Var> xs, mixed;
  std::vector<double> weights;
  for (int i = 0; i < 12; ++i) {
    xs.emplace_back(0.5 + i);
    mixed.push_back(xs.back());
    weights.push_back(1.0 + 0.25 * i);
    if (i % 4 == 1) {
      mixed.push_back(ad::Var::constant(100.0 + i));  // not recorded, so not an operand
      weights.push_back(-7.0);
    }
  }
  REQUIRE(mixed.size() == 15);
  const ad::Var s = ad::squared_norm(mixed);
  const ad::Var d = ad::dot(std::span<const ad::Var>(mixed), std::span<const double>(weights));
  const ad::NodeView sv = tape.node(s.id()), dv = tape.node(d.id());
  REQUIRE(sv.input_count == 12);
  REQUIRE(dv.input_count == 12);
  for (std::uint32_t i = 0; i < 12; ++i) {
    CHECK(sv.input(i) == xs[i].id());
    CHECK(dv.input(i) == xs[i].id());
  }
  const std::vector<double> gs = ad::gradient(s, xs), gd = ad::gradient(d, xs);
  for (std::size_t i = 0; i < 12; ++i) {
    CHECK(gs[i] == 2.0 * xs[i].value());
    CHECK(gd[i] == 1.0 + 0.25 * static_cast<double>(i));
  }
  // Again with every operand recorded (the copy without the stamp test).
  std::vector<double> w12;
  for (int i = 0; i < 12; ++i) w12.push_back(3.0 - 0.5 * i);
  const ad::Var all = ad::dot(std::span<const ad::Var>(xs), std::span<const double>(w12));
  CHECK(tape.node(all.id()).input_count == 12);
  const std::vector<double> ga = ad::gradient(all, xs);
  for (std::size_t i = 0; i < 12; ++i) CHECK(ga[i] == w12[i]);
}

TEST_CASE("reductions reject mismatched sizes and stale Vars, naming the op") {
  ad::Tape tape;
  const std::vector<ad::Var> x{1.0, 2.0}, y{1.0};
  CHECK_THROWS_WITH_AS(ad::dot(x, y), "ad::dot: the operands have 2 and 1 entries", std::invalid_argument);
  const std::vector<double> w{1.0, 2.0, 3.0};
  CHECK_THROWS_AS(ad::dot(x, w), std::invalid_argument);
  const ad::Var stale = x[0];
  tape.clear();
  const std::vector<ad::Var> mixed{ad::Var(1.0), stale};
  CHECK_THROWS_WITH_AS(ad::sum(mixed), doctest::Contains("ad::sum"), std::logic_error);
}

TEST_CASE("anomaly mode names a reduction that produced NaN and where it was recorded") {
  ad::Tape tape;
  const std::vector<ad::Var> x{1.0, std::nan("")};
  ad::DetectAnomaly check;
  const std::vector<ad::Var> y{ad::Var(1.0), ad::Var(2.0)};
  CHECK_NOTHROW(ad::logsumexp(y));
  CHECK_THROWS_WITH_AS(ad::logsumexp(x), doctest::Contains("logsumexp produced nan"), ad::AnomalyError);
}

TEST_CASE("describe and to_dot show a reduction as one node with all its inputs") {
  ad::Tape tape;
  std::vector<ad::Var> x{1.0, 2.0, 3.0};
  x[0].name("a");
  const ad::Var s = ad::sum(x);
  const std::string text = ad::describe(s);
  CHECK(text.find("sum") != std::string::npos);
  CHECK(ad::graph(s).nodes.size() == 4);
  CHECK(ad::to_dot(s).find("sum") != std::string::npos);
}
