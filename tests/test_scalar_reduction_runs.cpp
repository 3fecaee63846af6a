// Reductions over runs of consecutive nodes (detail::many_operands, "runs"):
// when every operand of ad::sum, ad::dot, ad::squared_norm or ad::logsumexp
// is a node of the recording tape and the operands follow one another, the
// node keeps no operand list and the sweep computes each partial from the
// operands' values. Against the list form (the same operands recorded in
// an interleaved order, so that they are not consecutive) everything must
// agree bit for bit: values, gradients, second derivatives; and the graph
// must show the same inputs.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>

namespace {

std::vector<double> values(std::size_t n, double scale, double phase) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * std::sin(1.3 * static_cast<double>(i) + phase);
  return v;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// x and y as leaves: one after the other (runs), or interleaved (lists).
struct Leaves {
  std::vector<ad::Var> x, y;
};
Leaves make_leaves(const std::vector<double>& a, const std::vector<double>& b, bool consecutive) {
  Leaves l;
  if (consecutive) {
    for (double v : a) l.x.emplace_back(v);
    for (double v : b) l.y.emplace_back(v);
  } else {
    for (std::size_t i = 0; i < a.size(); ++i) {
      l.x.emplace_back(a[i]);
      l.y.emplace_back(b[i]);
    }
  }
  return l;
}

// f = dot(x, y) * logsumexp(x) + squared_norm(y) * sum(x) + dot(x, x),
// recorded in that order (operands of one expression may be evaluated in any).
ad::Var mixed(std::span<const ad::Var> x, std::span<const ad::Var> y) {
  const ad::Var xy = ad::dot(x, y), lse = ad::logsumexp(x), yy = ad::squared_norm(y), s = ad::sum(x),
                xx = ad::dot(x, x);
  return xy * lse + yy * s + xx;
}

}  // namespace

TEST_CASE("reductions over consecutive nodes keep no operand list and give the list form's bits") {
  const std::vector<double> a = values(9, 1.4, 0.2), b = values(9, -0.8, 1.1);
  std::vector<double> value(2), gx[2], gy[2];
  std::size_t bytes[2];
  for (const bool consecutive : {true, false}) {
    ad::Tape tape;
    const Leaves l = make_leaves(a, b, consecutive);
    const std::size_t before = tape.bytes_used();
    const auto first = static_cast<std::uint32_t>(tape.size());  // mixed() records dot(x, y) first
    const ad::Var f = mixed(l.x, l.y);
    bytes[consecutive] = tape.bytes_used() - before;
    value[consecutive] = f.value();
    gx[consecutive] = ad::gradient(f, l.x);
    gy[consecutive] = ad::gradient(f, l.y);

    const ad::NodeView d = tape.node(first);
    REQUIRE(d.op == ad::OpCode::dot);
    CHECK(d.input_count == 18);
    for (std::uint32_t i = 0; i < 9; ++i) {
      CHECK(d.input(i) == l.x[i].id());
      CHECK(d.input(9 + i) == l.y[i].id());
    }
    CHECK(d.inputs[0] == l.x[0].id());
    CHECK(d.inputs[1] == l.x[1].id());
    CHECK(d.many_inputs.empty() == consecutive);
  }
  CHECK(same_bits(value[0], value[1]));
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(same_bits(gx[0][i], gx[1][i]));
    CHECK(same_bits(gy[0][i], gy[1][i]));
  }
  // The list form stores 12 bytes per operand (a 4-byte id and an 8-byte
  // partial) beside its node; runs store nothing beside the node.
  CHECK(bytes[0] == bytes[1] + 12 * (18 + 9 + 9 + 9 + 18));
}

TEST_CASE("a dot of two runs that overlap gives the list form's bits, short or long") {
  // dot(x[0..n), x[2..n+2)): leaf x_i gets y's share and x's share, in the
  // list form's order (x's half first), whichever way the sweep runs.
  for (const std::size_t n : {std::size_t{5}, std::size_t{13}}) {
    const std::vector<double> a = values(n + 2, 1.1, 0.3);
    std::vector<double> value(2), grad[2];
    for (const bool consecutive : {true, false}) {
      ad::Tape tape;
      std::vector<ad::Var> x;
      for (double v : a) {
        x.emplace_back(v);
        if (!consecutive) static_cast<void>(ad::Var(0.5));  // a leaf between x's nodes
      }
      const ad::Var f =
          ad::dot(std::span<const ad::Var>(x).first(n), std::span<const ad::Var>(x).subspan(2, n));
      CHECK(tape.node(f.id()).many_inputs.empty() == consecutive);
      value[consecutive] = f.value();
      // Recorded after the dot, the squared norm's shares reach the adjoints
      // first, so the order of the dot's two shares shows in the last bits.
      grad[consecutive] = ad::gradient(f * f + ad::squared_norm(x), x);
    }
    CHECK(same_bits(value[0], value[1]));
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(same_bits(grad[0][i], grad[1][i]));
  }
}

TEST_CASE("second derivatives through reductions over runs equal the list form's") {
  const std::vector<double> a = values(6, 0.9, 0.4), b = values(6, 1.2, 2.0);
  std::vector<double> hv[2];
  std::vector<std::vector<double>> h[2];
  for (const bool consecutive : {true, false}) {
    // x then y as the function's inputs; consecutive or interleaved copies of them.
    auto f = [consecutive](std::span<const ad::Var> xy) {
      const std::size_t n = xy.size() / 2;
      std::vector<ad::Var> x, y;
      if (consecutive) {
        for (std::size_t i = 0; i < n; ++i) x.push_back(xy[i] * 1.0);
        for (std::size_t i = 0; i < n; ++i) y.push_back(xy[n + i] * 1.0);
      } else {
        for (std::size_t i = 0; i < n; ++i) {
          x.push_back(xy[i] * 1.0);
          y.push_back(xy[n + i] * 1.0);
        }
      }
      return mixed(x, y);
    };
    std::vector<double> point(a);
    point.insert(point.end(), b.begin(), b.end());
    const std::vector<double> direction = values(12, 1.0, 0.7);
    hv[consecutive] = ad::hvp(f, point, direction);
    h[consecutive] = ad::hessian(f, point);
  }
  for (std::size_t i = 0; i < hv[0].size(); ++i) {
    CHECK(same_bits(hv[0][i], hv[1][i]));
    for (std::size_t j = 0; j < hv[0].size(); ++j) CHECK(same_bits(h[0][i][j], h[1][i][j]));
  }
}

TEST_CASE("a run that is not the whole span, or mixes tapes or constants, takes the list form") {
  ad::Tape tape;
  std::vector<ad::Var> x{1.0, 2.0, 3.0};
  [[maybe_unused]] const ad::Var gap = 4.0;  // x[2] and z[0] are not neighbours
  std::vector<ad::Var> z{5.0, 6.0};
  const std::vector<ad::Var> mixed_order{x[0], x[2], x[1]};
  CHECK_FALSE(tape.node(ad::sum(mixed_order).id()).many_inputs.empty());
  const std::vector<ad::Var> across{x[2], z[0]};
  CHECK_FALSE(tape.node(ad::squared_norm(across).id()).many_inputs.empty());
  const std::vector<ad::Var> with_constant{x[0], x[1], ad::Var()};
  CHECK_FALSE(tape.node(ad::logsumexp(with_constant).id()).many_inputs.empty());
  CHECK(tape.node(ad::sum(x).id()).many_inputs.empty());
  // One Var is a run of one.
  const std::vector<ad::Var> one{x[1]};
  const ad::Var s = ad::sum(one);
  CHECK(tape.node(s.id()).input_count == 1);
  CHECK(tape.node(s.id()).input(0) == x[1].id());
  CHECK(ad::gradient(s, x) == std::vector<double>{0.0, 1.0, 0.0});
}

TEST_CASE("anomaly mode checks the adjoints a reduction over runs sends, naming the node") {
  ad::Tape tape;
  // d = x . y = 2e-10 and f = 1e300 d are finite, but d's adjoint (1e300)
  // times y_i (1e9) overflows in the reduction's own sweep.
  std::vector<ad::Var> x{1e-19, 1e-19}, y{1e9, 1e9};
  ad::DetectAnomaly check;
  const ad::Var d = ad::dot(x, y);
  REQUIRE(tape.node(d.id()).many_inputs.empty());
  CHECK_NOTHROW(tape.backward(d * 1e100));
  CHECK_THROWS_WITH_AS(tape.backward(d * 1e300), doctest::Contains("the backward of dot"), ad::AnomalyError);
}

TEST_CASE("describe and to_dot list every input of a reduction over runs") {
  ad::Tape tape;
  std::vector<ad::Var> x{1.0, 2.0, 3.0};
  x[1].name("middle");
  const ad::Var q = ad::squared_norm(x);
  REQUIRE(tape.node(q.id()).many_inputs.empty());
  CHECK(ad::graph(q).nodes.size() == 4);
  CHECK(ad::describe(q).find("middle") != std::string::npos);
  CHECK(ad::to_dot(q).find("squared_norm") != std::string::npos);
}
