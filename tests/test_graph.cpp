// Specification of graph inspection (autodiff/graph.hpp): ad::graph walks the
// nodes a root depends on, in tape order, for Var and Tensor alike;
// ad::describe prints one line per node; ad::graph_stats counts ops, bytes and
// FLOPs; ad::to_dot exports Graphviz with parameters highlighted and a
// network's layers drawn as clusters.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <autodiff/graph.hpp>
#include <autodiff/tape.hpp>
#include <autodiff/tensor.hpp>
#include <autodiff/tensor_ops.hpp>
#include <autodiff/var.hpp>
#include <nn/loss.hpp>
#include <nn/network.hpp>

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// Braces outside quoted strings nest properly and close at the end.
bool braces_balanced(const std::string& dot) {
  int depth = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < dot.size(); ++i) {
    const char c = dot[i];
    if (quoted) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        quoted = false;
      continue;
    }
    if (c == '"') quoted = true;
    if (c == '{') ++depth;
    if (c == '}' && --depth < 0) return false;
  }
  return depth == 0 && !quoted;
}

// The statement that declares value node `id` ("  v<id> [...]").
std::string value_statement(const std::string& dot, std::size_t id) {
  for (const std::string& line : lines_of(dot))
    if (line.find(fmt::format("v{} [", id)) != std::string::npos) return line;
  return {};
}

// The text of the cluster labelled `label`, from its opening line to its closing brace.
std::string cluster_text(const std::string& dot, const std::string& label) {
  const std::size_t label_at = dot.find(fmt::format("label=\"{}\";", label));
  if (label_at == std::string::npos) return {};
  const std::size_t begin = dot.rfind("subgraph cluster_", label_at);
  const std::size_t end = dot.find("\n  }", label_at);
  if (begin == std::string::npos || end == std::string::npos) return {};
  return dot.substr(begin, end - begin);
}

struct EdgeCounts {
  std::size_t into_ops = 0;    // v<i> -> op<j>
  std::size_t out_of_ops = 0;  // op<j> -> v<j>
  bool ops_feed_their_value = true;
};

// Whether `line` is exactly "<indent><from><a> -> <to><b>;", reading a and b.
bool edge_line(const std::string& line, const char* format, std::size_t& a, std::size_t& b) {
  int consumed = -1;
  return std::sscanf(line.c_str(), format, &a, &b, &consumed) == 2 &&
         consumed == static_cast<int>(line.size());
}

EdgeCounts edges(const std::string& dot) {
  EdgeCounts e;
  for (const std::string& line : lines_of(dot)) {
    std::size_t a = 0, b = 0;
    if (edge_line(line, " v%zu -> op%zu;%n", a, b)) ++e.into_ops;
    if (edge_line(line, " op%zu -> v%zu;%n", a, b)) {
      ++e.out_of_ops;
      e.ops_feed_their_value = e.ops_feed_their_value && a == b;
    }
  }
  return e;
}

std::size_t inner_nodes(const ad::Graph& g) {
  std::size_t n = 0;
  for (const auto& node : g.nodes) n += !node.is_leaf;
  return n;
}

std::size_t input_edges(const ad::Graph& g) {
  std::size_t n = 0;
  for (const auto& node : g.nodes) n += node.inputs.size();
  return n;
}

// The DOT text passes the structural checks of a Graphviz export of `g`.
void check_dot_structure(const ad::Graph& g, const std::string& dot) {
  CHECK(dot.rfind("digraph", 0) == 0);
  CHECK(braces_balanced(dot));
  CHECK(occurrences(dot, "shape=record") == g.nodes.size());
  CHECK(occurrences(dot, "shape=ellipse") == inner_nodes(g));
  const EdgeCounts e = edges(dot);
  CHECK(e.into_ops == input_edges(g));
  CHECK(e.out_of_ops == inner_nodes(g));
  CHECK(e.ops_feed_their_value);
}

// The scalar recording of these tests, with a side branch the root does not use:
//   p = x * y,  s = sin(u) (unused),  q = 2 - p,  f = q * x.
struct ScalarRecording {
  ad::Var x, y, u, p, s, q, f;
};

ScalarRecording record_scalar() {
  ScalarRecording r;
  r.x = 2.0;
  r.y = 3.0;
  r.u = 5.0;
  r.p = r.x * r.y;
  r.s = ad::sin(r.u);
  r.q = 2.0 - r.p;
  r.f = r.q * r.x;
  return r;
}

// The tensor recording of these tests, with a side branch the root does not use:
//   a = X W,  e = exp(unused),  h = a + b,  L = sum(h^2).
struct TensorRecording {
  ad::Tensor X, W, b, unused, a, e, h, L;
};

TensorRecording record_tensor() {
  TensorRecording r;
  r.X = ad::Tensor::from({1, 2}, {2.0, 1.0}).name("X");
  r.W = ad::Tensor::from({2, 2}, {1.0, 2.0, 3.0, 4.0}).requires_grad(true).name("W");
  r.b = ad::Tensor::from({2}, {0.5, -0.5}).requires_grad(true).name("b");
  r.unused = ad::Tensor::from({2}, {1.0, 1.0}).requires_grad(true).name("unused");
  r.a = ad::matmul(r.X, r.W);
  r.e = ad::exp(r.unused);
  r.h = ad::add(r.a, r.b).name("h");
  r.L = ad::sum(ad::square(r.h));
  return r;
}

// The same computation for Var and for one-element tensors (sequenced: the
// operands of one `+` may be evaluated in either order).
template <class X>
X smooth(const X& x, const X& y) {
  const X growth = ad::exp(x * y);
  const X wave = ad::sin(x);
  return growth + wave;
}

}  // namespace

TEST_CASE("a scalar graph lists the nodes the root depends on, in tape order, with ops, inputs and values") {
  ad::Tape tape;
  const ScalarRecording r = record_scalar();
  const ad::Graph g = ad::graph(r.f);

  CHECK_FALSE(g.tensor);
  REQUIRE(g.nodes.size() == 5);
  const std::vector<std::string> ops = {"leaf", "leaf", "mul", "sub", "mul"};
  const std::vector<std::vector<std::size_t>> inputs = {{}, {}, {0, 1}, {2}, {3, 0}};
  const std::vector<double> values = {2.0, 3.0, 6.0, -4.0, -8.0};
  const std::vector<std::size_t> tape_ids = {r.x.id(), r.y.id(), r.p.id(), r.q.id(), r.f.id()};
  for (std::size_t k = 0; k < g.nodes.size(); ++k) {
    CAPTURE(k);
    const ad::GraphNode& n = g.nodes[k];
    CHECK(n.id == k);
    CHECK(n.op == ops[k]);
    CHECK(n.inputs == inputs[k]);
    CHECK(n.is_leaf == (k < 2));
    CHECK(n.tape_id == tape_ids[k]);
    CHECK(n.name.empty());
    CHECK(n.dtype == "float64");
    CHECK(n.shape.rank() == 0);
    REQUIRE(n.value.count == 1);
    CHECK(n.value.first[0] == values[k]);
    CHECK(n.grad.count == 0);  // no sweep yet
  }
  // The constant operand of `2 - p` is kept beside the node, on the left.
  CHECK(g.nodes[3].constants == std::vector<double>{2.0});
  CHECK(g.nodes[3].constant_first);
  CHECK(g.nodes[4].constants.empty());
  CHECK(&g.root() == &g.nodes.back());
}

TEST_CASE("nodes the scalar root does not depend on are left out of its graph") {
  ad::Tape tape;
  const ScalarRecording r = record_scalar();
  const ad::Graph g = ad::graph(r.f);
  for (const ad::GraphNode& n : g.nodes) {
    CHECK(n.tape_id != r.u.id());
    CHECK(n.tape_id != r.s.id());
    CHECK(n.op != "sin");
  }
  // The side branch is its own graph.
  const ad::Graph side = ad::graph(r.s);
  REQUIRE(side.nodes.size() == 2);
  CHECK(side.nodes[0].tape_id == r.u.id());
  CHECK(side.nodes[1].op == "sin");
  CHECK(side.nodes[1].inputs == std::vector<std::size_t>{0});
}

TEST_CASE("a scalar graph shows every node's adjoint after ad::gradient") {
  ad::Tape tape;
  const ScalarRecording r = record_scalar();
  const std::vector<double> g = ad::gradient(r.f, {r.x, r.y});
  CHECK(g == std::vector<double>{-10.0, -4.0});

  const ad::Graph graph = ad::graph(r.f);
  // df/dx = q + x * dq/dx = -4 - x y; df/dy = -x^2; df/dp = -x; df/dq = x.
  const std::vector<double> adjoints = {-10.0, -4.0, -2.0, 2.0, 1.0};
  REQUIRE(graph.nodes.size() == adjoints.size());
  for (std::size_t k = 0; k < adjoints.size(); ++k) {
    CAPTURE(k);
    REQUIRE(graph.nodes[k].grad.count == 1);
    CHECK(graph.nodes[k].grad.first[0] == adjoints[k]);
  }
}

TEST_CASE(
    "a tensor graph lists the nodes the root depends on, in tape order, with names, shapes and values") {
  const TensorRecording r = record_tensor();
  const ad::Graph g = ad::graph(r.L);

  CHECK(g.tensor);
  REQUIRE(g.nodes.size() == 7);
  // A leaf appears just before the first op that reads it.
  const std::vector<std::string> ops = {"leaf", "leaf", "matmul", "leaf", "add", "square", "sum"};
  const std::vector<std::vector<std::size_t>> inputs = {{}, {}, {0, 1}, {}, {2, 3}, {4}, {5}};
  const std::vector<std::string> names = {"X", "W", "", "b", "h", "", ""};
  const std::vector<ad::Shape> shapes = {ad::Shape{1, 2}, ad::Shape{2, 2}, ad::Shape{1, 2}, ad::Shape{2},
                                         ad::Shape{1, 2}, ad::Shape{1, 2}, ad::Shape{}};
  const std::vector<std::vector<double>> values = {{2, 1},     {1, 2, 3, 4},   {5, 8}, {0.5, -0.5},
                                                   {5.5, 7.5}, {30.25, 56.25}, {86.5}};
  const std::vector<bool> requires_grad = {false, true, true, true, true, true, true};
  for (std::size_t k = 0; k < g.nodes.size(); ++k) {
    CAPTURE(k);
    const ad::GraphNode& n = g.nodes[k];
    CHECK(n.id == k);
    CHECK(n.op == ops[k]);
    CHECK(n.inputs == inputs[k]);
    CHECK(n.name == names[k]);
    CHECK(n.shape == shapes[k]);
    CHECK(n.dtype == "float64");
    CHECK(n.is_leaf == (ops[k] == "leaf"));
    CHECK(n.requires_grad == requires_grad[k]);
    CHECK(n.value.count == values[k].size());
    CHECK(n.value.first == values[k]);
    CHECK(n.grad.count == 0);  // no sweep yet
  }
  // Recorded nodes appear in the order of their tape slots.
  std::size_t previous_slot = 0;
  bool first = true;
  for (const ad::GraphNode& n : g.nodes) {
    if (n.is_leaf) continue;
    CHECK((first || n.tape_id > previous_slot));
    previous_slot = n.tape_id;
    first = false;
  }
  CHECK(g.root().value.first[0] == r.L.item());
}

TEST_CASE("nodes the tensor root does not depend on are left out of its graph") {
  const TensorRecording r = record_tensor();
  const ad::Graph g = ad::graph(r.L);
  for (const ad::GraphNode& n : g.nodes) {
    CHECK(n.name != "unused");
    CHECK(n.op != "exp");
  }
  const ad::Graph side = ad::graph(r.e);
  REQUIRE(side.nodes.size() == 2);
  CHECK(side.nodes[0].name == "unused");
  CHECK(side.nodes[1].op == "exp");
}

TEST_CASE("a tensor graph shows every gradient after backward(retain_graph = true)") {
  TensorRecording r = record_tensor();
  r.L.backward(true);
  const ad::Graph g = ad::graph(r.L);
  REQUIRE(g.nodes.size() == 7);
  // dL/dh = 2h; dL/da = dL/db = dL/dh; dL/dW = X^T dL/da; dL/d(h^2) = 1.
  const std::vector<std::vector<double>> grads = {{},       {22, 30, 11, 15}, {11, 15}, {11, 15},
                                                  {11, 15}, {1, 1},           {1}};
  for (std::size_t k = 0; k < g.nodes.size(); ++k) {
    CAPTURE(k);
    CHECK(g.nodes[k].grad.count == grads[k].size());  // X is a constant: no gradient
    CHECK(g.nodes[k].grad.first == grads[k]);
  }
}

TEST_CASE("leaves keep their gradients in any graph after backward() without retain_graph") {
  ad::Tensor W = ad::Tensor::from({2}, {1.0, -2.0}).requires_grad(true).name("W");
  const ad::Tensor other = ad::sum(ad::mul(W, 3.0));  // recorded first, not swept
  ad::Tensor L = ad::sum(ad::square(W));
  L.backward();
  CHECK(W.grad().values()[0] == 2.0);
  CHECK(W.grad().values()[1] == -4.0);

  const ad::Graph g = ad::graph(other);
  REQUIRE(g.nodes.size() == 4);  // W, the constant 3, mul, sum
  CHECK(g.nodes[0].name == "W");
  CHECK(g.nodes[0].grad.first == std::vector<double>{2.0, -4.0});
  for (std::size_t k = 1; k < g.nodes.size(); ++k) CHECK(g.nodes[k].grad.count == 0);
  // The swept graph keeps its structure (issue 19), without the intermediate
  // gradients, and without the values only the graph held.
  const ad::Graph swept = ad::graph(L);
  REQUIRE(swept.nodes.size() == 3);  // W, square, sum
  CHECK(swept.nodes[0].name == "W");
  CHECK(swept.nodes[0].grad.first == std::vector<double>{2.0, -4.0});
  CHECK(swept.nodes[1].op == "square");
  CHECK(swept.nodes[1].values_freed);
  CHECK(swept.nodes[1].grad.count == 0);
  CHECK(swept.nodes[2].op == "sum");
  CHECK_FALSE(swept.nodes[2].values_freed);  // the root's value stays
  CHECK(swept.nodes[2].inputs == std::vector<std::size_t>{1});
}

TEST_CASE("a float tensor graph reports float32 for every node") {
  const ad::TensorF W = ad::TensorF::from({2}, {1.0f, 2.0f}).requires_grad(true).name("W");
  const ad::TensorF L = ad::sum(ad::tanh(W));
  const ad::Graph g = ad::graph(L);
  REQUIRE(g.nodes.size() == 3);
  for (const ad::GraphNode& n : g.nodes) CHECK(n.dtype == "float32");
  CHECK(g.nodes[1].value.first[0] == doctest::Approx(std::tanh(1.0f)));
}

TEST_CASE("the same graph API walks Var and Tensor recordings of one computation alike") {
  ad::Tape tape;
  const ad::Var x = 0.5, y = -1.5;
  const ad::Var fv = smooth(x, y);
  const ad::Tensor tx = ad::Tensor::scalar(0.5).requires_grad(true);
  const ad::Tensor ty = ad::Tensor::scalar(-1.5).requires_grad(true);
  const ad::Tensor ft = smooth(tx, ty);

  const ad::Graph gv = ad::graph(fv);
  const ad::Graph gt = ad::graph(ft);
  REQUIRE(gv.nodes.size() == gt.nodes.size());
  for (std::size_t k = 0; k < gv.nodes.size(); ++k) {
    CAPTURE(k);
    CHECK(gv.nodes[k].op == gt.nodes[k].op);
    CHECK(gv.nodes[k].inputs == gt.nodes[k].inputs);
    CHECK(gv.nodes[k].value.first == gt.nodes[k].value.first);
  }
  CHECK(lines_of(ad::describe(fv)).size() == lines_of(ad::describe(ft)).size());
  CHECK(ad::graph_stats(fv).count_per_op == ad::graph_stats(ft).count_per_op);
  check_dot_structure(gv, ad::to_dot(fv));
  check_dot_structure(gt, ad::to_dot(ft));
}

TEST_CASE("describe() prints one line per node, in tape order, with ops, inputs, names and parameters") {
  const TensorRecording r = record_tensor();
  const ad::Graph g = ad::graph(r.L);
  const std::vector<std::string> lines = lines_of(ad::describe(r.L));
  REQUIRE(lines.size() == g.nodes.size());
  for (std::size_t k = 0; k < lines.size(); ++k) {
    CAPTURE(lines[k]);
    const ad::GraphNode& n = g.nodes[k];
    CHECK(lines[k].rfind(fmt::format("#{}", k), 0) == 0);
    CHECK(contains(lines[k], n.op));
    for (std::size_t input : n.inputs) CHECK(contains(lines[k], fmt::format("#{}", input)));
    if (!n.name.empty()) CHECK(contains(lines[k], n.name));
    CHECK(contains(lines[k], n.shape.to_string()));
    CHECK(contains(lines[k], "float64"));
    CHECK(contains(lines[k], "param") == (n.is_leaf && n.requires_grad));
  }
  // The ops follow in tape order.
  std::size_t from = 0;
  const std::string text = ad::describe(g);
  for (const char* op : {"matmul", "add", "square", "sum"}) {
    const std::size_t at = text.find(op, from);
    CHECK(at != std::string::npos);
    from = at;
  }
}

TEST_CASE("describe() shows gradients once a sweep has produced them") {
  ad::Tape tape;
  const ScalarRecording r = record_scalar();
  const std::string before = ad::describe(r.f);
  CHECK_FALSE(contains(before, "grad"));
  (void)ad::gradient(r.f, {r.x, r.y});
  const std::vector<std::string> lines = lines_of(ad::describe(r.f));
  REQUIRE(lines.size() == 5);
  for (const std::string& line : lines) CHECK(contains(line, "grad"));
  CHECK(contains(lines[0], "-10"));
}

TEST_CASE("graph_stats() counts nodes per op, matmul FLOPs as 2mnk, and bytes") {
  ad::Tensor X = ad::Tensor::full({3, 4}, 0.5);
  ad::Tensor W = ad::Tensor::full({4, 5}, 0.25).requires_grad(true);
  const ad::Tensor L = ad::sum(ad::tanh(ad::matmul(X, W)));
  const ad::GraphStats s = ad::graph_stats(L);
  CHECK(s.nodes == 5);
  CHECK(s.count_per_op.at("leaf") == 2);
  CHECK(s.count_per_op.at("matmul") == 1);
  CHECK(s.count_per_op.at("tanh") == 1);
  CHECK(s.count_per_op.at("sum") == 1);
  CHECK(s.flops_per_op.at("matmul") == 2.0 * 3 * 5 * 4);
  CHECK(s.flops_per_op.at("leaf") == 0.0);
  double total = 0;
  for (const auto& [op, flops] : s.flops_per_op) total += flops;
  CHECK(s.flops == total);
  CHECK(s.bytes >= (3 * 4 + 4 * 5 + 3 * 5) * sizeof(double));
  const std::string printed = fmt::format("{}", s);
  CHECK(contains(printed, "matmul"));
  CHECK(contains(printed, "5 nodes"));
}

TEST_CASE("graph_stats() of a scalar graph counts its ops and bytes") {
  ad::Tape tape;
  const ScalarRecording r = record_scalar();
  const ad::GraphStats s = ad::graph_stats(r.f);
  CHECK(s.nodes == 5);
  CHECK(s.count_per_op.at("leaf") == 2);
  CHECK(s.count_per_op.at("mul") == 2);
  CHECK(s.count_per_op.at("sub") == 1);
  CHECK(s.count_per_op.count("sin") == 0);
  CHECK(s.flops == 3.0);
  CHECK(s.bytes > 0);
}

TEST_CASE(
    "to_dot() gives a record per value, an op node per computed value, and edges input -> op -> value") {
  const TensorRecording r = record_tensor();
  const ad::Graph g = ad::graph(r.L);
  const std::string dot = ad::to_dot(r.L);
  check_dot_structure(g, dot);
  CHECK(contains(dot, "label=\"matmul\""));
  CHECK(contains(dot, "W [2, 2]"));
  CHECK(contains(dot, "value"));

  ad::Tape tape;
  const ScalarRecording s = record_scalar();
  check_dot_structure(ad::graph(s.f), ad::to_dot(s.f));
}

TEST_CASE("to_dot() highlights parameters, unlike constants and computed values") {
  const TensorRecording r = record_tensor();
  const ad::Graph g = ad::graph(r.L);
  const std::string dot = ad::to_dot(g);
  const std::string W = value_statement(dot, 1), b = value_statement(dot, 3);
  const std::string X = value_statement(dot, 0), h = value_statement(dot, 4);
  REQUIRE_FALSE(W.empty());
  CHECK(contains(W, "fillcolor"));
  CHECK(contains(b, "fillcolor"));
  CHECK_FALSE(contains(h, "fillcolor"));
  // The constant X is not drawn like a parameter.
  const auto colour = [](const std::string& statement) {
    const std::size_t at = statement.find("fillcolor=");
    return at == std::string::npos ? std::string() : statement.substr(at, statement.find(']', at) - at);
  };
  CHECK(colour(X) != colour(W));
}

TEST_CASE("to_dot() shows gradients after a sweep and leaves them out on request") {
  TensorRecording r = record_tensor();
  r.L.backward(true);
  CHECK(contains(ad::to_dot(r.L), "grad"));
  ad::DotOptions quiet;
  quiet.show_values = false;
  quiet.show_grads = false;
  const std::string dot = ad::to_dot(r.L, quiet);
  CHECK_FALSE(contains(dot, "grad"));
  CHECK_FALSE(contains(dot, "value"));
  check_dot_structure(ad::graph(r.L), dot);
}

TEST_CASE("to_dot() of a network evaluated with forward_trace draws each layer as a cluster") {
  std::mt19937_64 rng(7);
  const nn::Network net({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  const ad::Tensor X = ad::Tensor::from({4, 2}, {0, 0, 0, 1, 1, 0, 1, 1});
  const ad::Tensor Y = ad::Tensor::from({4, 1}, {0, 1, 1, 0});
  const auto trace = net.forward_trace(X);
  const ad::Tensor loss = nn::mse_loss(trace.z.back(), Y);
  const ad::Graph g = ad::graph(loss);
  const std::string dot = ad::to_dot(g);

  check_dot_structure(g, dot);
  CHECK(occurrences(dot, "subgraph cluster_") == 2);
  const std::string layer1 = cluster_text(dot, "layer1"), layer2 = cluster_text(dot, "layer2");
  REQUIRE_FALSE(layer1.empty());
  REQUIRE_FALSE(layer2.empty());
  for (const char* name : {"layer1/W", "layer1/b", "layer1/a", "layer1/z"}) CHECK(contains(layer1, name));
  for (const char* name : {"layer2/W", "layer2/b"}) {
    CHECK(contains(layer2, name));
    CHECK_FALSE(contains(layer1, name));
  }
  ad::DotOptions flat;
  flat.cluster_by_name_prefix = false;
  CHECK(occurrences(ad::to_dot(g, flat), "subgraph") == 0);

  if (std::system("command -v dot >/dev/null 2>&1") != 0) {
    MESSAGE("Graphviz `dot` is not installed: the SVG rendering check is skipped");
    return;
  }
  std::string dir_template = (std::filesystem::temp_directory_path() / "ad_test_graph_XXXXXX").string();
  REQUIRE(::mkdtemp(dir_template.data()) != nullptr);
  const std::filesystem::path dir = dir_template;
  { std::ofstream(dir / "network.dot") << dot; }
  const std::string command =
      fmt::format("dot -Tsvg '{}' -o '{}'", (dir / "network.dot").string(), (dir / "network.svg").string());
  CHECK(std::system(command.c_str()) == 0);
  REQUIRE(std::filesystem::exists(dir / "network.svg"));
  CHECK(std::filesystem::file_size(dir / "network.svg") > 0);
  std::ifstream svg(dir / "network.svg");
  const std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  CHECK(contains(text, "<svg"));
  CHECK(contains(text, "layer1"));
  std::filesystem::remove_all(dir);
}

// ---- the graph after backward() (issue 19) ----

TEST_CASE("describe and to_dot after backward() on a 2-layer network list every op") {
  std::mt19937_64 rng(7);
  nn::Network net({2, 4, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  const ad::Tensor X = ad::Tensor::randn({5, 2}, rng), Y = ad::Tensor::randn({5, 1}, rng);
  ad::Tensor L = nn::mse_loss(net(X), Y);
  const ad::Graph before = ad::graph(L);
  L.backward();
  const ad::Graph after = ad::graph(L);
  REQUIRE(after.nodes.size() == before.nodes.size());
  for (std::size_t k = 0; k < before.nodes.size(); ++k) {
    CAPTURE(k);
    CHECK(after.nodes[k].op == before.nodes[k].op);
    CHECK(after.nodes[k].inputs == before.nodes[k].inputs);
    CHECK(after.nodes[k].name == before.nodes[k].name);
    CHECK(after.nodes[k].shape == before.nodes[k].shape);
    // Leaves keep their values and now hold their gradients; intermediates
    // that only the graph held have given their values back.
    if (after.nodes[k].is_leaf) {
      CHECK_FALSE(after.nodes[k].values_freed);
      if (after.nodes[k].requires_grad) CHECK(after.nodes[k].grad.count == after.nodes[k].shape.numel());
    } else if (k + 1 < after.nodes.size()) {
      CHECK(after.nodes[k].values_freed);
    }
  }
  const std::string text = ad::describe(after);
  for (const ad::GraphNode& n : before.nodes) CHECK(text.find(n.op) != std::string::npos);
  CHECK(text.find("value=(freed by backward)") != std::string::npos);
  CHECK(text.find("layer1/W") != std::string::npos);
  const std::string dot = ad::to_dot(after);
  CHECK(dot.find("value freed") != std::string::npos);
  CHECK(ad::graph_stats(after).nodes == before.nodes.size());
}

TEST_CASE("after backward() an intermediate the user holds keeps its values and its own graph") {
  ad::Tensor W = ad::Tensor::from({2}, {0.5, -1.0}).requires_grad(true).name("W");
  ad::Tensor h = ad::tanh(ad::mul(W, 2.0)).name("h");
  ad::Tensor L = ad::sum(ad::square(h));
  L.backward();
  CHECK(h.values()[0] == doctest::Approx(std::tanh(1.0)));  // held by the user: not freed
  const ad::Graph g = ad::graph(h);
  REQUIRE(g.nodes.size() == 4);  // W, the constant 2, mul, tanh
  CHECK(g.nodes[3].name == "h");
  CHECK_FALSE(g.nodes[3].values_freed);
  CHECK(g.nodes[2].op == "mul");
  CHECK(g.nodes[2].values_freed);
  // The root dies first: h's graph is still there.
  L = ad::Tensor();
  CHECK(ad::graph(h).nodes.size() == 4);
}

TEST_CASE("a swept chain of 100000 ops is walked and freed without deep recursion") {
  ad::Tensor x = ad::Tensor::from({1}, {0.5}).requires_grad(true);
  ad::Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = ad::mul(y, 1.0);
  y = ad::sum(y);
  y.backward();
  CHECK(x.grad().values()[0] == 1.0);
  CHECK(ad::graph(y).nodes.size() == 1 + 2 * 100000 + 1);  // x; per mul its constant 1.0 and itself; sum
  y = ad::Tensor();                                        // frees the kept chain in a loop
}
