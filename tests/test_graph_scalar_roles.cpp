// Specification of names and roles in scalar graphs: a Var can carry a name
// that describe/to_dot show; a leaf is an *input* (drawn as a parameter) once
// it is named or differentiated with respect to, and any other leaf, such as
// the literal `T s = 0.0` of generic code, is a *constant*; ops are
// intermediates. Tensors follow the same three kinds.
#include <doctest/doctest.h>

#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

#include <autodiff/graph.hpp>
#include <autodiff/higher_order.hpp>
#include <autodiff/tape.hpp>
#include <autodiff/tensor.hpp>
#include <autodiff/tensor_ops.hpp>
#include <autodiff/var.hpp>

namespace {

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Written for double and ad::Var alike, as users write model code: the
// running sum starts from a literal, which records a leaf when T is Var.
template <class T>
T damped_wave(const std::vector<T>& p, const std::vector<double>& ts) {
  T s = 0.0;
  for (double t : ts) s += p[0] * exp(-p[1] * t) * cos(p[2] * t + p[3]);
  return s;
}

const ad::GraphNode& node_named(const ad::Graph& g, const std::string& name) {
  for (const ad::GraphNode& n : g.nodes)
    if (n.name == name) return n;
  FAIL("no node named ", name);
  return g.nodes.front();
}

std::size_t node_kind_count(const ad::Graph& g, ad::GraphNode::Kind kind) {
  std::size_t n = 0;
  for (const ad::GraphNode& node : g.nodes) n += node.kind == kind;
  return n;
}

}  // namespace

TEST_CASE("a Var keeps the name it is given, and describe and to_dot show it") {
  ad::Tape tape;
  ad::Var A = ad::Var(2.0).name("A");
  ad::Var gamma = 0.5;
  gamma.name("gamma");
  const ad::Var y = A * ad::exp(-gamma);
  CHECK(A.name() == "A");
  CHECK(gamma.name() == "gamma");
  CHECK(y.name().empty());

  const std::vector<std::string> lines = lines_of(ad::describe(y));
  REQUIRE(lines.size() == 5);  // A, gamma, neg, exp, mul
  CHECK(contains(lines[0], "'A'"));
  CHECK(contains(lines[1], "'gamma'"));
  const std::string dot = ad::to_dot(y);
  CHECK(contains(dot, "{ A |"));
  CHECK(contains(dot, "{ gamma |"));
}

TEST_CASE("an intermediate Var can be named too, and renaming replaces the name") {
  ad::Tape tape;
  const ad::Var x = ad::Var(1.5).name("x");
  ad::Var h = ad::sin(x);
  h.name("hidden");
  h.name("h");
  const ad::Var y = h * h;
  const ad::Graph g = ad::graph(y);
  const ad::GraphNode& named = node_named(g, "h");
  CHECK(named.op == "sin");
  CHECK(named.kind == ad::GraphNode::Kind::intermediate);
  CHECK_FALSE(contains(ad::describe(g), "hidden"));
}

TEST_CASE("a literal in generic code is a constant leaf, not a parameter") {
  ad::Tape tape;
  std::vector<ad::Var> p = {ad::Var(1.0).name("A"), ad::Var(0.3).name("gamma"), ad::Var(2.0).name("omega"),
                            ad::Var(0.1).name("phi")};
  const ad::Var f = damped_wave(p, {0.0, 0.5, 1.0});
  const ad::Graph g = ad::graph(f);

  std::size_t inputs = 0, constants = 0;
  for (const ad::GraphNode& n : g.nodes) {
    if (n.kind == ad::GraphNode::Kind::input) {
      ++inputs;
      CHECK(n.is_leaf);
      CHECK(n.requires_grad);
      CHECK_FALSE(n.name.empty());
    }
    if (n.kind == ad::GraphNode::Kind::constant) {
      ++constants;
      CHECK(n.is_leaf);
      CHECK_FALSE(n.requires_grad);
      CHECK(n.value.first[0] == 0.0);  // the `T s = 0.0`
    }
  }
  CHECK(inputs == 4);
  CHECK(constants == 1);
  // describe: "param" for the four inputs only, "const" for the literal.
  std::size_t params = 0, consts = 0;
  for (const std::string& line : lines_of(ad::describe(g))) {
    params += contains(line, " param");
    consts += contains(line, " const");
  }
  CHECK(params == 4);
  CHECK(consts == 1);
  // to_dot highlights parameters only: the literal is drawn as a constant.
  const std::string dot = ad::to_dot(g);
  std::size_t highlighted = 0;
  for (std::size_t at = dot.find("#cfe2ff"); at != std::string::npos; at = dot.find("#cfe2ff", at + 1))
    ++highlighted;
  CHECK(highlighted == 4);
}

TEST_CASE("an unnamed leaf becomes an input when a gradient is taken with respect to it") {
  ad::Tape tape;
  const ad::Var x = 0.5, y = 2.0, c = 3.0;
  const ad::Var f = x * y + c;
  CHECK_FALSE(tape.is_input(x.id()));
  CHECK(ad::graph(f).nodes[0].kind == ad::GraphNode::Kind::constant);

  (void)ad::gradient(f, {x, y});
  CHECK(tape.is_input(x.id()));
  CHECK(tape.is_input(y.id()));
  CHECK_FALSE(tape.is_input(c.id()));  // used, but never differentiated with respect to
  const ad::Graph g = ad::graph(f);
  CHECK(g.nodes[0].kind == ad::GraphNode::Kind::input);
  CHECK(g.nodes[1].kind == ad::GraphNode::Kind::input);
  CHECK(node_kind_count(g, ad::GraphNode::Kind::constant) == 1);
  // Gradients are unchanged by the bookkeeping.
  const std::vector<double> again = ad::gradient(f, {x, y, c});
  CHECK(again == std::vector<double>{2.0, 0.5, 1.0});
  CHECK(tape.is_input(c.id()));
}

TEST_CASE("asking the tape for a leaf's adjoint makes it an input; intermediates are never inputs") {
  ad::Tape tape;
  const ad::Var x = 1.25;
  const ad::Var h = x * x;
  const ad::Var f = ad::log(h);
  f.backward();
  CHECK_FALSE(tape.is_input(x.id()));
  CHECK(x.adjoint() == doctest::Approx(2.0 / 1.25));
  CHECK(tape.is_input(x.id()));
  (void)h.adjoint();
  CHECK_FALSE(tape.is_input(h.id()));
  const ad::Graph g = ad::graph(f);
  CHECK(g.nodes[1].kind == ad::GraphNode::Kind::intermediate);
  CHECK(g.nodes[1].requires_grad);  // computed from an input
}

TEST_CASE("gradient_recorded marks its inputs, and hvp sees the same values as before") {
  ad::Tape tape;
  const ad::Var x = 0.7, y = -1.1;
  const ad::Var f = x * x * y;
  const std::vector<ad::Var> g = ad::gradient_recorded(f, std::vector<ad::Var>{x, y});
  CHECK(tape.is_input(x.id()));
  CHECK(tape.is_input(y.id()));
  CHECK(g[0].value() == doctest::Approx(2 * 0.7 * -1.1));
  CHECK(g[1].value() == doctest::Approx(0.49));
}

TEST_CASE("names are forgotten at clear(), constants ignore them, and stale Vars cannot be named") {
  ad::Tape tape;
  ad::Var x = ad::Var(1.0).name("x");
  tape.clear();
  CHECK_THROWS_WITH_AS(x.name("again"), doctest::Contains("stale"), std::logic_error);
  CHECK_THROWS_WITH_AS((void)x.name(), doctest::Contains("stale"), std::logic_error);
  const ad::Var fresh = 1.0;
  CHECK(fresh.name().empty());
  CHECK(tape.name_of(fresh.id()).empty());

  ad::Var k = ad::Var::constant(3.0);
  CHECK_NOTHROW(k.name("k"));
  CHECK(k.name().empty());
  {
    ad::NoGrad off;
    ad::Var z = ad::Var(4.0).name("z");  // a constant under NoGrad: no name, no error
    CHECK(z.is_constant());
    CHECK(z.name().empty());
  }
}

TEST_CASE("tensor graphs use the same kinds: parameters are inputs, data are constants") {
  ad::Tensor X = ad::Tensor::full({2, 3}, 0.5).name("X");
  ad::Tensor W = ad::Tensor::full({3, 1}, 0.25).requires_grad(true).name("W");
  const ad::Tensor L = ad::sum(ad::matmul(X, W));
  const ad::Graph g = ad::graph(L);
  CHECK(node_named(g, "X").kind == ad::GraphNode::Kind::constant);
  CHECK(node_named(g, "W").kind == ad::GraphNode::Kind::input);
  CHECK(g.root().kind == ad::GraphNode::Kind::intermediate);
  const std::vector<std::string> lines = lines_of(ad::describe(g));
  CHECK(contains(lines[0] + lines[1], " const"));
  CHECK(contains(lines[0] + lines[1], " param"));
}

TEST_CASE("inputs passed to ad::gradient as a run of consecutive leaves are inputs, and nothing else is") {
  ad::Tape tape;
  std::vector<ad::Var> x;
  for (int i = 0; i < 40; ++i) x.push_back(ad::Var(0.1 * i));  // nodes 0..39: one run
  const ad::Var literal = 2.0;                                 // a leaf after the run
  ad::Var s = literal;
  for (const ad::Var& xi : x) s += xi * xi;
  // gradient with respect to x[5..29]: a run of 25 consecutive ids, kept as one pair
  std::vector<double> g(25);
  ad::gradient(s, std::span<const ad::Var>(x).subspan(5, 25), g);
  CHECK(g[0] == doctest::Approx(2 * 0.5));
  for (std::uint32_t id = 0; id < 40; ++id) {
    CAPTURE(id);
    CHECK(tape.is_input(id) == (id >= 5 && id < 30));
  }
  CHECK_FALSE(tape.is_input(literal.id()));
  CHECK_FALSE(tape.is_input(s.id()));
  // the same run again, a run inside it, and a short run: nothing changes but the short run's marks
  ad::gradient(s, std::span<const ad::Var>(x).subspan(5, 25), g);
  std::vector<double> g3(3);
  ad::gradient(s, std::span<const ad::Var>(x).subspan(10, 3), g3);
  ad::gradient(s, std::span<const ad::Var>(x).subspan(36, 3), g3);
  for (std::uint32_t id = 0; id < 40; ++id) {
    CAPTURE(id);
    CHECK(tape.is_input(id) == ((id >= 5 && id < 30) || (id >= 36 && id < 39)));
  }
  // the graph shows the run's leaves as inputs
  const ad::Graph graph = ad::graph(s);
  std::size_t inputs = 0;
  for (const ad::GraphNode& n : graph.nodes) inputs += n.kind == ad::GraphNode::Kind::input;
  CHECK(inputs == 25 + 3);
  // a run that reaches past the leaves into ops: only the leaves become inputs
  std::vector<ad::Var> mixed;
  ad::Tape second;
  for (int i = 0; i < 20; ++i) mixed.push_back(ad::Var(1.0 + i));
  for (int i = 0; i < 20; ++i) mixed.push_back(mixed[static_cast<std::size_t>(i)] * 2.0);  // ids 20..39
  ad::Var total = mixed[0];
  for (std::size_t i = 1; i < mixed.size(); ++i) total = total + mixed[i];
  std::vector<double> all(40);
  ad::gradient(total, mixed, all);
  CHECK(all[0] == 3.0);
  CHECK(all[39] == 1.0);
  for (std::uint32_t id = 0; id < 40; ++id) CHECK(second.is_input(id) == (id < 20));
  // and a cleared tape forgets them
  second.clear();
  const ad::Var fresh = 5.0;
  CHECK_FALSE(second.is_input(fresh.id()));
}
