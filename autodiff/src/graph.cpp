// Walking a recording from a root: which nodes it depends on, in tape order.
// Both walks are one backward pass marking inputs, then one forward pass
// emitting the marked nodes: no recursion, no graph search. A tensor graph
// that backward() swept is off the tape: walked depth first from the root.
#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <autodiff/graph.hpp>

#include "tensor_tape.hpp"

namespace ad {
namespace {

template <class Range>
ValueSummary summarize(const Range& values) {
  ValueSummary s;
  s.count = values.size();
  if (s.count == 0) return s;
  s.min = std::numeric_limits<double>::infinity();
  s.max = -s.min;
  double total = 0;
  for (std::size_t i = 0; i < s.count; ++i) {
    const double v = static_cast<double>(values[i]);
    if (!std::isfinite(v)) s.non_finite = true;
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
    total += v;
    if (i < 6) s.first.push_back(v);
  }
  s.mean = total / double(s.count);
  return s;
}

std::string op_label(const GraphNode& n) { return n.op; }

// Short enough for a box in a picture: the value, or the range of values.
std::string compact(const ValueSummary& s) {
  if (s.count == 1) return fmt::format("{:.4g}", s.first[0]);
  return fmt::format("{:.3g} .. {:.3g}", s.min, s.max);
}

}  // namespace

std::string ValueSummary::to_string() const {
  if (count == 0) return "-";
  if (count == 1) return fmt::format("{:.6g}", first[0]);
  std::string s = fmt::format("[{:.4g}", fmt::join(first, ", "));
  // fmt::join applies the spec to each element
  s += count > first.size() ? ", ...]" : "]";
  return s + fmt::format(" min={:.4g} max={:.4g} mean={:.4g}", min, max, mean);
}

// ---- scalar recordings ------------------------------------------------------------

Graph graph(const Var& root) {
  Graph g;
  if (root.is_constant()) {
    GraphNode n;
    n.op = "constant";
    n.is_leaf = true;
    n.value = summarize(std::vector<double>{root.value()});
    g.nodes.push_back(std::move(n));
    return g;
  }
  const Tape& tape = detail::Recorder::owner(root, "graph");
  const std::uint32_t r = root.id();
  std::vector<char> needed(std::size_t{r} + 1, 0);
  needed[r] = 1;
  for (std::uint32_t k = r + 1; k-- > 0;) {
    if (!needed[k]) continue;
    const NodeView v = tape.node(k);
    for (std::uint32_t i = 0; i < v.input_count; ++i) needed[v.input(i)] = 1;
  }
  const auto adjoints = tape.adjoints();
  std::unordered_map<std::uint32_t, std::size_t> id_of;
  for (std::uint32_t k = 0; k <= r; ++k) {
    if (!needed[k]) continue;
    const NodeView v = tape.node(k);
    GraphNode n;
    n.id = g.nodes.size();
    n.tape_id = k;
    n.op = std::string(v.name);
    n.name = std::string(v.var_name);
    n.is_leaf = v.op == OpCode::leaf;
    if (n.is_leaf) {
      n.kind = v.is_input ? GraphNode::Kind::input : GraphNode::Kind::constant;
      n.requires_grad = v.is_input;
    }
    for (std::uint32_t i = 0; i < v.input_count; ++i) {
      n.inputs.push_back(id_of.at(v.input(i)));
      n.requires_grad = n.requires_grad || g.nodes[n.inputs.back()].requires_grad;
    }
    if (v.has_constant) {
      n.constants.push_back(v.constant);
      n.constant_first = v.constant_is_left;
    }
    n.value = summarize(std::vector<double>{v.value});
    if (k < adjoints.size()) n.grad = summarize(std::vector<double>{adjoints[k]});
    n.flops = n.is_leaf ? 0 : 1;
    n.bytes = sizeof(detail::Node) + sizeof(double);  // the record (constants included) and the adjoint
    id_of[k] = n.id;
    g.nodes.push_back(std::move(n));
  }
  return g;
}

// ---- tensor recordings ------------------------------------------------------------

namespace {

// The op that made `t`: on its tape, or kept after backward() swept it.
const detail::TensorNode* history_of(const detail::TensorImplBase& t) {
  return t.node ? t.node.get() : t.released_node.get();
}

template <class T>
GraphNode describe_tensor(const detail::TensorImplBase& base) {
  const auto& t = static_cast<const detail::TensorImpl<T>&>(base);
  const detail::TensorNode* history = history_of(t);
  GraphNode n;
  n.op = history ? std::string(history->op) : (t.graph_released || t.stale ? "released" : "leaf");
  n.is_leaf = history == nullptr;
  if (n.op == "leaf") n.kind = t.requires_grad ? GraphNode::Kind::input : GraphNode::Kind::constant;
  n.values_freed = t.values_freed;
  n.name = t.name;
  n.dtype = std::string(detail::dtype_name(t.dtype));
  n.shape = t.shape;
  n.requires_grad = t.requires_grad;
  n.tape_id = t.slot;
  n.value = summarize(t.values);
  n.grad = summarize(t.grad);
  n.bytes = (t.values.size() + t.grad.size()) * sizeof(T);
  return n;
}

GraphNode describe_any(const detail::TensorImplBase& t) {
  return t.dtype == detail::DType::float32 ? describe_tensor<float>(t) : describe_tensor<double>(t);
}

// Forward cost of an op from its name and shapes (an estimate: one flop per
// element for element-wise maths, 2mnk for a product).
double estimate_flops(const detail::TensorImplBase& out) {
  const detail::TensorNode* history = history_of(out);
  if (!history) return 0;
  const std::string_view op = history->op;
  const double n_out = double(out.shape.numel());
  const auto& in = history->inputs;
  const double n_in = in.empty() ? 0 : double(in[0]->shape.numel());
  if (op == "matmul" || op == "matmul_nt" || op == "matmul_tn" || op == "matmul_tt") {
    const Shape& a = in[0]->shape;  // the contracted extent: a's last axis, or its first when read transposed
    const bool trans_a = op == "matmul_tn" || op == "matmul_tt";
    return 2.0 * n_out * double(a[trans_a ? a.rank() - 2 : a.rank() - 1]);
  }
  if (op == "dot") return 2.0 * n_in;
  if (op == "sum" || op == "mean" || op == "max") return n_in;
  if (op == "logsumexp") return 3.0 * n_in;
  if (op == "softmax" || op == "log_softmax") return 4.0 * n_in;
  if (op == "reshape" || op == "transpose" || op == "rows" || op == "concat") return 0;
  return n_out;
}

// A graph that backward() swept (its nodes are off the tape, kept by the
// tensors): inputs before the ops that read them, by a depth-first walk with
// its own stack (a chain of a million ops needs no deep recursion).
Graph released_graph(const detail::TensorImplBase& root) {
  Graph g;
  g.tensor = true;
  std::unordered_map<const detail::TensorImplBase*, std::size_t> id_of;
  std::vector<std::pair<const detail::TensorImplBase*, std::size_t>> stack{{&root, 0}};
  while (!stack.empty()) {
    auto& [t, next] = stack.back();
    const detail::TensorNode* history = history_of(*t);
    if (history && next < history->inputs.size()) {
      const detail::TensorImplBase* input = history->inputs[next++].get();
      if (!id_of.count(input)) stack.emplace_back(input, 0);
      continue;
    }
    GraphNode n = describe_any(*t);
    n.id = g.nodes.size();
    if (history)
      for (const auto& input : history->inputs) n.inputs.push_back(id_of.at(input.get()));
    n.flops = estimate_flops(*t);
    id_of[t] = n.id;
    g.nodes.push_back(std::move(n));
    stack.pop_back();
  }
  return g;
}

}  // namespace

template <class T>
Graph graph(const TensorT<T>& root) {
  Graph g;
  g.tensor = true;
  const detail::TensorImplBase& r = detail::impl_of(root);
  if (!r.node && r.released_node) return released_graph(r);
  if (!r.node || r.tape == nullptr) {
    g.nodes.push_back(describe_any(r));
    return g;
  }
  // Mark: the root, then (down the tape) the inputs of every marked node.
  const auto& records = r.tape->records();
  std::vector<char> needed(r.slot + 1, 0);
  needed[r.slot] = 1;
  for (std::size_t s = r.slot + 1; s-- > 0;) {
    const detail::TensorImplBase* t = records[s];
    if (!needed[s] || t == nullptr || !t->node) continue;
    for (const auto& input : t->node->inputs) {
      if (input->node && input->tape == r.tape) needed[input->slot] = 1;
    }
  }
  // Emit in tape order; a leaf goes just before the first node that reads it.
  std::unordered_map<const detail::TensorImplBase*, std::size_t> id_of;
  auto emit = [&](const detail::TensorImplBase& t) {
    GraphNode n = describe_any(t);
    n.id = g.nodes.size();
    if (t.node)
      for (const auto& input : t.node->inputs) n.inputs.push_back(id_of.at(input.get()));
    n.flops = estimate_flops(t);
    id_of[&t] = n.id;
    g.nodes.push_back(std::move(n));
  };
  for (std::size_t s = 0; s <= r.slot; ++s) {
    const detail::TensorImplBase* t = records[s];
    if (!needed[s] || t == nullptr) continue;
    for (const auto& input : t->node->inputs)
      if (!id_of.count(input.get())) emit(*input);
    emit(*t);
  }
  return g;
}

template Graph graph(const TensorT<float>&);
template Graph graph(const TensorT<double>&);

// ---- printing ------------------------------------------------------------------------

std::string describe(const Graph& g) {
  std::string out;
  for (const GraphNode& n : g.nodes) {
    std::string inputs;
    std::size_t constant = 0;
    auto add = [&](const std::string& s) { inputs += inputs.empty() ? s : ", " + s; };
    if (n.constant_first && !n.constants.empty()) add(fmt::format("{:g}", n.constants[constant++]));
    for (std::size_t i : n.inputs) add(fmt::format("#{}", i));
    while (constant < n.constants.size()) add(fmt::format("{:g}", n.constants[constant++]));
    out += fmt::format("#{:<4} {:<12} {:<16}", n.id, op_label(n), inputs.empty() ? "" : "(" + inputs + ")");
    if (!n.name.empty()) out += fmt::format(" '{}'", n.name);
    if (g.tensor) out += fmt::format(" {} {}", n.shape.to_string(), n.dtype);
    if (n.kind == GraphNode::Kind::input) out += " param";
    if (n.kind == GraphNode::Kind::constant) out += " const";
    out += n.values_freed ? std::string("  value=(freed by backward)")
                          : fmt::format("  value={}", n.value.to_string());
    if (n.grad.count > 0) out += fmt::format("  grad={}", n.grad.to_string());
    out += '\n';
  }
  return out;
}

namespace {

std::string escape(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '{' || c == '}' || c == '|' || c == '<' || c == '>') out += '\\';
    out += c;
  }
  return out;
}

std::string cluster_of(const GraphNode& n) {
  const auto slash = n.name.find('/');
  return slash == std::string::npos ? std::string() : n.name.substr(0, slash);
}

}  // namespace

std::string to_dot(const Graph& g, const DotOptions& options) {
  std::string out =
      fmt::format("digraph \"{}\" {{\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n",
                  escape(options.graph_name));
  std::map<std::string, std::string> clusters;  // group -> node statements
  std::string loose;
  for (const GraphNode& n : g.nodes) {
    std::string label = n.name.empty() ? fmt::format("#{}", n.id) : escape(n.name);
    if (g.tensor) label += fmt::format(" {}", n.shape.to_string());
    if (options.show_values)
      label += n.values_freed ? " | value freed" : " | value " + escape(compact(n.value));
    if (options.show_grads && n.grad.count > 0) label += " | grad " + escape(compact(n.grad));
    const bool parameter = n.kind == GraphNode::Kind::input;
    std::string statements =
        fmt::format("  v{} [shape=record, label=\"{{ {} }}\"{}];\n", n.id, label,
                    parameter ? ", style=filled, fillcolor=\"#cfe2ff\""
                              : (n.is_leaf ? ", style=filled, fillcolor=\"#eeeeee\"" : ""));
    if (!n.is_leaf) {
      std::string op = escape(n.op);
      for (double c : n.constants) op += fmt::format(" {:g}", c);
      statements +=
          fmt::format("  op{} [shape=ellipse, label=\"{}\"];\n  op{} -> v{};\n", n.id, op, n.id, n.id);
    }
    const std::string group = options.cluster_by_name_prefix ? cluster_of(n) : std::string();
    (group.empty() ? loose : clusters[group]) += statements;
  }
  out += loose;
  std::size_t k = 0;
  for (const auto& [group, statements] : clusters)
    out +=
        fmt::format("  subgraph cluster_{} {{\n    label=\"{}\"; style=rounded; color=\"#888888\";\n{}  }}\n",
                    k++, escape(group), statements);
  for (const GraphNode& n : g.nodes)
    for (std::size_t i : n.inputs) out += fmt::format("  v{} -> op{};\n", i, n.id);
  out += "}\n";
  return out;
}

GraphStats graph_stats(const Graph& g) {
  GraphStats s;
  s.nodes = g.nodes.size();
  for (const GraphNode& n : g.nodes) {
    ++s.count_per_op[n.op];
    s.flops_per_op[n.op] += n.flops;
    s.flops += n.flops;
    s.bytes += n.bytes;
  }
  return s;
}

std::string GraphStats::to_string() const {
  std::string out = fmt::format("{} nodes, {} bytes, {:.4g} flops\n", nodes, bytes, flops);
  for (const auto& [op, count] : count_per_op)
    out += fmt::format("  {:<12} {:>8} nodes {:>12.4g} flops\n", op, count, flops_per_op.at(op));
  return out;
}

}  // namespace ad
