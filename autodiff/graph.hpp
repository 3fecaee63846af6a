// See the graph: walk, print and export what a Var or a Tensor depends on.
//
//   ad::Graph g = ad::graph(L);            // the nodes L depends on, in tape order
//   for (const ad::GraphNode& n : g.nodes) ...
//   fmt::print("{}", ad::describe(L));     // one line per node
//   std::string dot = ad::to_dot(L);       // Graphviz: `dot -Tsvg graph.dot -o graph.svg`
//   fmt::print("{}", ad::graph_stats(L));  // counts, bytes and FLOPs per op
//
// Scalar and tensor recordings give the same structure. Gradients appear
// after a sweep: for scalars after gradient()/backward(); for tensors the
// leaves always keep theirs, intermediate tensors only with
// backward(retain_graph = true). A tensor graph stays walkable after
// backward() while its root (or any tensor of it) lives, as in PyTorch: ops,
// inputs, names and shapes stay; what only the backward needed is freed, and
// an intermediate's values that nothing else held are shown as freed
// (GraphNode::values_freed) rather than printed.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <autodiff/shape.hpp>
#include <autodiff/tensor.hpp>
#include <autodiff/var.hpp>

namespace ad {

// A few numbers that describe a (possibly large) array of values.
struct ValueSummary {
  std::size_t count = 0;
  double min = 0, max = 0, mean = 0;
  std::vector<double> first;      // up to the first 6 values, in row-major order
  bool non_finite = false;        // some value is NaN or infinite
  std::string to_string() const;  // "0.5" for one value, "[1, 2, 3, ...] min=.. max=.." otherwise
};

struct GraphNode {
  // What a node is to the computation: an *input* is a leaf that gradients
  // are taken with respect to (a tensor that requires grad; a scalar Var that
  // is named or was differentiated, Tape::is_input): a model's parameters.
  // A *constant* is any other leaf (data, a literal such as `T s = 0.0` in
  // generic code). An *intermediate* is the result of an op.
  enum class Kind { input, constant, intermediate };

  std::size_t id = 0;  // position in Graph::nodes (inputs come first)
  std::string op;      // "leaf" for inputs and constants, else the op's name
  Kind kind = Kind::intermediate;
  std::vector<std::size_t> inputs;  // ids of the nodes it reads, in operand order
  std::vector<double> constants;    // constant operands that are not nodes (scalar `x * 2.0`)
  bool constant_first = false;      // the constant is the left operand (`2.0 - x`)
  std::string name;                 // the user's name for it ("" if none)
  std::string dtype = "float64";
  Shape shape;                 // rank 0 for scalars
  bool requires_grad = false;  // an input, or computed from one
  bool is_leaf = false;
  std::size_t tape_id = 0;  // node id (scalar) or slot (tensor) on its tape
  ValueSummary value;
  bool values_freed = false;  // backward() gave its values back (an intermediate only the graph held)
  ValueSummary grad;          // count == 0 when no gradient is held
  double flops = 0;           // floating-point operations of its forward pass (estimate)
  std::size_t bytes = 0;      // bytes it holds (values, gradient, tape record)
};

struct Graph {
  std::vector<GraphNode> nodes;  // in tape order; the root is last
  bool tensor = false;
  const GraphNode& root() const { return nodes.back(); }
};

Graph graph(const Var& root);
template <class T>
Graph graph(const TensorT<T>& root);

// One line per node: id, op, inputs, name, shape/dtype, kind (inputs are
// marked "param", other leaves "const"), value and grad.
std::string describe(const Graph& g);
template <class R>
std::string describe(const R& root) {
  return describe(graph(root));
}

struct DotOptions {
  bool show_values = true;
  bool show_grads = true;
  // Nodes whose name reads "group/rest" are drawn inside a box labelled
  // "group" (nn names each layer's tensors "layer1/W", "layer1/a", ...).
  bool cluster_by_name_prefix = true;
  std::string graph_name = "ad";
};

// Graphviz DOT, micrograd-style: a record per value (name | value | grad),
// an ellipse per op; parameters (leaves that require grad) are highlighted.
std::string to_dot(const Graph& g, const DotOptions& options = {});
template <class R>
std::string to_dot(const R& root, const DotOptions& options = {}) {
  return to_dot(graph(root), options);
}

struct GraphStats {
  std::size_t nodes = 0;
  std::map<std::string, std::size_t> count_per_op;
  std::map<std::string, double> flops_per_op;
  std::size_t bytes = 0;  // held by the nodes (values, gradients, records)
  double flops = 0;
  std::string to_string() const;
};
GraphStats graph_stats(const Graph& g);
template <class R>
GraphStats graph_stats(const R& root) {
  return graph_stats(graph(root));
}

extern template Graph graph(const TensorT<float>&);
extern template Graph graph(const TensorT<double>&);

}  // namespace ad

template <>
struct fmt::formatter<ad::GraphStats> : fmt::formatter<std::string> {
  template <class FormatContext>
  auto format(const ad::GraphStats& s, FormatContext& ctx) const {
    return fmt::formatter<std::string>::format(s.to_string(), ctx);
  }
};
