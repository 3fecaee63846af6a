// Randomised differential testing of the AD core.
//
// A generator builds random expression graphs from the whole Var contract
// (+ - * / with Var or double on either side, compound assignment, unary -,
// every maths function) and from the Tensor contract (broadcasting shapes,
// reductions, the softmax family, shape ops, matmul). Operands are chosen
// among recent nodes (deep chains) and old ones (shared subexpressions), and
// each op is applied only where its operands lie inside its domain with a
// margin, so that central differences are meaningful. Every graph's gradient
// is checked against central differences in double, and every scalar graph
// is also run element-wise on tensors (one element, rank 0, or n points at
// once) and compared with the scalar tape.
//
// The suite runs a fixed-seed batch; for a long run:
//   AD_RANDOM_GRAPHS=100000 build/release/tests/test_random_graphs
//   AD_RANDOM_SEED=7 (first seed; graph i uses seed + i)
// A failure prints the graph's seed and the smallest failing subgraph as
// code that can be pasted into a test.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <autodiff/autodiff.hpp>

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::size_t default_scalar_graphs = 3000;
constexpr std::size_t default_tensor_graphs = 500;
#else
constexpr std::size_t default_scalar_graphs = 4000;
constexpr std::size_t default_tensor_graphs = 1000;
#endif

std::size_t env_count(const char* name, std::size_t fallback) {
  const char* s = std::getenv(name);
  return s != nullptr && *s != '\0' ? static_cast<std::size_t>(std::strtoull(s, nullptr, 10)) : fallback;
}
std::uint64_t first_seed() { return env_count("AD_RANDOM_SEED", 20240601); }

// ============================================================================
// Scalar graphs
// ============================================================================

enum class Unary {
  neg, sin, cos, tan, asin, acos, atan, sinh, cosh, tanh, exp, expm1, log, log1p, sqrt, cbrt, abs, erf,
  logistic, softsign, heaviside, relu, softplus, leaky_relu, elu, gelu, silu, count
};
constexpr const char* unary_names[] = {"neg",  "sin",   "cos",  "tan",   "asin", "acos",     "atan",     "sinh",
                                       "cosh", "tanh",  "exp",  "expm1", "log",  "log1p",    "sqrt",     "cbrt",
                                       "abs",  "erf",   "logistic", "softsign", "heaviside", "relu",
                                       "softplus", "leaky_relu", "elu", "gelu", "silu"};
enum class Binary { add, sub, mul, div, pow, atan2, hypot, min, max, count };
constexpr const char* binary_names[] = {"add", "sub", "mul", "div", "pow", "atan2", "hypot", "min", "max"};
constexpr const char* binary_symbols[] = {"+", "-", "*", "/"};

// How a step combines its operands: f(a), a op b, a op c, c op b (c a
// double constant), and the compound assignments a op= b, a op= c.
enum class Form { unary, var_var, var_const, const_var, assign_var, assign_const };

constexpr bool uses_a(Form f) { return f != Form::const_var; }
constexpr bool uses_b(Form f) { return f == Form::var_var || f == Form::const_var || f == Form::assign_var; }

struct Step {
  Form form;
  int op;     // a Unary or a Binary
  int a = 0;  // operand node indices
  int b = 0;
  double c = 0;
};

struct ScalarGraph {
  std::uint64_t seed = 0;
  std::vector<double> inputs;  // node i < inputs.size() is input x_i
  std::vector<Step> steps;     // node inputs.size() + k is steps[k]
  std::size_t nodes() const { return inputs.size() + steps.size(); }
};

template <class V>
V apply_unary(Unary op, const V& x) {
  switch (op) {
    case Unary::neg: return -x;
    case Unary::sin: return ad::sin(x);
    case Unary::cos: return ad::cos(x);
    case Unary::tan: return ad::tan(x);
    case Unary::asin: return ad::asin(x);
    case Unary::acos: return ad::acos(x);
    case Unary::atan: return ad::atan(x);
    case Unary::sinh: return ad::sinh(x);
    case Unary::cosh: return ad::cosh(x);
    case Unary::tanh: return ad::tanh(x);
    case Unary::exp: return ad::exp(x);
    case Unary::expm1: return ad::expm1(x);
    case Unary::log: return ad::log(x);
    case Unary::log1p: return ad::log1p(x);
    case Unary::sqrt: return ad::sqrt(x);
    case Unary::cbrt: return ad::cbrt(x);
    case Unary::abs: return ad::abs(x);
    case Unary::erf: return ad::erf(x);
    case Unary::logistic: return ad::logistic(x);
    case Unary::softsign: return ad::softsign(x);
    case Unary::heaviside: return ad::heaviside(x);
    case Unary::relu: return ad::relu(x);
    case Unary::softplus: return ad::softplus(x);
    case Unary::leaky_relu: return ad::leaky_relu(x);
    case Unary::elu: return ad::elu(x);
    case Unary::gelu: return ad::gelu(x);
    case Unary::silu: return ad::silu(x);
    case Unary::count: break;
  }
  throw std::logic_error("bad unary op");
}

// V op V, V op double, double op V: A and B are V or double (not both double).
template <class V, class A, class B>
V apply_binary(Binary op, const A& a, const B& b) {
  switch (op) {
    case Binary::add: return a + b;
    case Binary::sub: return a - b;
    case Binary::mul: return a * b;
    case Binary::div: return a / b;
    case Binary::pow: return ad::pow(a, b);
    case Binary::atan2: return ad::atan2(a, b);
    case Binary::hypot: return ad::hypot(a, b);
    case Binary::min: return ad::min(a, b);
    case Binary::max: return ad::max(a, b);
    case Binary::count: break;
  }
  throw std::logic_error("bad binary op");
}

template <class V>
V apply_step(const Step& s, const std::vector<V>& v) {
  const V& a = v[static_cast<std::size_t>(s.a)];
  const V& b = v[static_cast<std::size_t>(s.b)];
  const auto op = static_cast<Binary>(s.op);
  switch (s.form) {
    case Form::unary: return apply_unary(static_cast<Unary>(s.op), a);
    case Form::var_var: return apply_binary<V>(op, a, b);
    case Form::var_const: return apply_binary<V>(op, a, s.c);
    case Form::const_var: return apply_binary<V>(op, s.c, b);
    case Form::assign_var:
    case Form::assign_const: {
      V r = a;
      if constexpr (std::is_same_v<V, double> || std::is_same_v<V, ad::Var>) {
        if (s.form == Form::assign_var) {
          switch (op) {
            case Binary::add: r += b; break;
            case Binary::sub: r -= b; break;
            case Binary::mul: r *= b; break;
            default: r /= b; break;
          }
        } else {
          switch (op) {
            case Binary::add: r += s.c; break;
            case Binary::sub: r -= s.c; break;
            case Binary::mul: r *= s.c; break;
            default: r /= s.c; break;
          }
        }
      } else {
        r = s.form == Form::assign_var ? apply_binary<V>(op, a, b) : apply_binary<V>(op, a, s.c);
      }
      return r;
    }
  }
  throw std::logic_error("bad form");
}

// Every node's value, for inputs given as V.
template <class V>
std::vector<V> evaluate(const ScalarGraph& g, const std::vector<V>& inputs) {
  std::vector<V> v(inputs);
  v.reserve(g.nodes());
  for (const Step& s : g.steps) v.push_back(apply_step(s, v));
  return v;
}

// Domains with margins: no operand within reach of a pole, a branch point or
// a kink, so that central differences with a small step see a smooth function.
bool unary_allowed(Unary op, double x) {
  switch (op) {
    case Unary::tan: return std::fabs(x) < 1.2;
    case Unary::asin:
    case Unary::acos: return std::fabs(x) < 0.9;
    case Unary::sinh:
    case Unary::cosh:
    case Unary::exp:
    case Unary::expm1: return x < 3.0;
    case Unary::log:
    case Unary::sqrt: return x > 0.1;
    case Unary::log1p: return x > -0.9;
    case Unary::cbrt: return std::fabs(x) > 0.1;
    case Unary::abs:
    case Unary::heaviside:
    case Unary::relu:
    case Unary::leaky_relu:
    case Unary::elu: return std::fabs(x) > 0.05;
    default: return true;
  }
}
bool binary_allowed(Binary op, double a, double b) {
  switch (op) {
    case Binary::div: return std::fabs(b) > 0.2;
    case Binary::pow: return a > 0.1 && std::fabs(b) < 3.0;
    case Binary::atan2:
    case Binary::hypot: return std::hypot(a, b) > 0.1;
    case Binary::min:
    case Binary::max: return std::fabs(a - b) > 0.05;
    default: return true;
  }
}

// The next random graph. Operands are mostly the last few nodes (deep
// chains), sometimes any node (shared subexpressions); the sum of every node
// no other node uses is the output, so every node matters.
ScalarGraph generate_scalar_graph(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  auto below = [&](std::size_t n) { return static_cast<std::size_t>(std::uniform_int_distribution<std::size_t>(0, n - 1)(rng)); };
  ScalarGraph g;
  g.seed = seed;
  const std::size_t n_inputs = 1 + below(4);
  for (std::size_t i = 0; i < n_inputs; ++i) g.inputs.push_back(uniform(-2.0, 2.0));
  const bool deep = below(10) == 0;
  const std::size_t n_steps = deep ? 40 + below(60) : 1 + below(30);
  std::vector<double> value = g.inputs;
  std::vector<bool> used(n_inputs, false);
  auto pick = [&]() -> int {
    const std::size_t n = value.size();
    if (deep && below(4) != 0) return static_cast<int>(n - 1);
    if (below(10) < 6) return static_cast<int>(n - 1 - below(std::min<std::size_t>(n, 3)));
    return static_cast<int>(below(n));
  };
  auto constant = [&]() {
    static constexpr double nice[] = {2.0, 0.5, -1.0, 3.0, 1.5, -0.25};
    return below(2) == 0 ? nice[below(std::size(nice))] : uniform(-3.0, 3.0);
  };
  while (g.steps.size() < n_steps) {
    Step s;
    const std::size_t form = below(10);
    s.form = form < 4 ? Form::unary
             : form < 6 ? Form::var_var
             : form < 7 ? Form::var_const
             : form < 8 ? Form::const_var
             : form < 9 ? Form::assign_var
                        : Form::assign_const;
    s.a = pick();
    s.b = pick();
    s.c = constant();
    const double a = value[static_cast<std::size_t>(s.a)], b = value[static_cast<std::size_t>(s.b)];
    bool ok = false;
    if (s.form == Form::unary) {
      s.op = static_cast<int>(below(static_cast<std::size_t>(Unary::count)));
      ok = unary_allowed(static_cast<Unary>(s.op), a);
    } else {
      const bool assign = s.form == Form::assign_var || s.form == Form::assign_const;
      s.op = static_cast<int>(below(assign ? 4 : static_cast<std::size_t>(Binary::count)));
      const auto op = static_cast<Binary>(s.op);
      ok = s.form == Form::var_var || s.form == Form::assign_var ? binary_allowed(op, a, b)
           : s.form == Form::const_var                           ? binary_allowed(op, s.c, b)
                                                                 : binary_allowed(op, a, s.c);
    }
    if (!ok) continue;
    const double y = apply_step(s, value);
    if (!std::isfinite(y) || std::fabs(y) > 20.0) continue;
    g.steps.push_back(s);
    value.push_back(y);
    used.push_back(false);
    if (uses_a(s.form)) used[static_cast<std::size_t>(s.a)] = true;
    if (uses_b(s.form)) used[static_cast<std::size_t>(s.b)] = true;
  }
  // The output: the sum of the unused nodes.
  int total = -1;
  const std::size_t last = value.size();
  for (std::size_t k = n_inputs; k < last; ++k) {
    if (used[k]) continue;
    if (total < 0) {
      total = static_cast<int>(k);
      continue;
    }
    g.steps.push_back(Step{Form::var_var, static_cast<int>(Binary::add), total, static_cast<int>(k), 0});
    value.push_back(value[static_cast<std::size_t>(total)] + value[k]);
    total = static_cast<int>(value.size() - 1);
  }
  return g;
}

std::string node_name(const ScalarGraph& g, int k) {
  return static_cast<std::size_t>(k) < g.inputs.size() ? fmt::format("x{}", k) : fmt::format("v{}", k);
}

std::string step_code(const ScalarGraph& g, const Step& s, int k) {
  const std::string a = node_name(g, s.a), b = node_name(g, s.b), y = node_name(g, k);
  const std::string c = fmt::format("{:.17g}", s.c);
  const bool symbol = s.op < 4 && s.form != Form::unary;
  const char* name = s.form == Form::unary ? unary_names[s.op] : binary_names[s.op];
  switch (s.form) {
    case Form::unary:
      return s.op == static_cast<int>(Unary::neg) ? fmt::format("ad::Var {} = -{};", y, a)
                                                  : fmt::format("ad::Var {} = ad::{}({});", y, name, a);
    case Form::var_var:
      return symbol ? fmt::format("ad::Var {} = {} {} {};", y, a, binary_symbols[s.op], b)
                    : fmt::format("ad::Var {} = ad::{}({}, {});", y, name, a, b);
    case Form::var_const:
      return symbol ? fmt::format("ad::Var {} = {} {} {};", y, a, binary_symbols[s.op], c)
                    : fmt::format("ad::Var {} = ad::{}({}, {});", y, name, a, c);
    case Form::const_var:
      return symbol ? fmt::format("ad::Var {} = {} {} {};", y, c, binary_symbols[s.op], b)
                    : fmt::format("ad::Var {} = ad::{}({}, {});", y, name, c, b);
    case Form::assign_var: return fmt::format("ad::Var {} = {}; {} {}= {};", y, a, y, binary_symbols[s.op], b);
    case Form::assign_const: return fmt::format("ad::Var {} = {}; {} {}= {};", y, a, y, binary_symbols[s.op], c);
  }
  return {};
}

// The code computing node `root` and its gradient: only the steps it depends on.
std::string reproduction(const ScalarGraph& g, int root) {
  std::vector<bool> needed(g.nodes(), false);
  needed[static_cast<std::size_t>(root)] = true;
  for (int k = root; k >= static_cast<int>(g.inputs.size()); --k) {
    if (!needed[static_cast<std::size_t>(k)]) continue;
    const Step& s = g.steps[static_cast<std::size_t>(k) - g.inputs.size()];
    if (uses_a(s.form)) needed[static_cast<std::size_t>(s.a)] = true;
    if (uses_b(s.form)) needed[static_cast<std::size_t>(s.b)] = true;
  }
  std::string code = "ad::Tape tape;\n";
  std::vector<std::string> xs;
  for (std::size_t i = 0; i < g.inputs.size(); ++i) {
    code += fmt::format("ad::Var x{} = {:.17g};\n", i, g.inputs[i]);
    xs.push_back(fmt::format("x{}", i));
  }
  for (int k = static_cast<int>(g.inputs.size()); k <= root; ++k)
    if (needed[static_cast<std::size_t>(k)])
      code += step_code(g, g.steps[static_cast<std::size_t>(k) - g.inputs.size()], k) + "\n";
  code += fmt::format("std::vector<double> g = ad::gradient({}, {{{}}});\n", node_name(g, root), fmt::join(xs, ", "));
  return code;
}

struct GradientMismatch {
  bool found = false;
  std::size_t input = 0;
  double tape = 0, numeric = 0;
};

// The tape gradient of node `root` against central differences in double.
GradientMismatch check_node(const ScalarGraph& g, int root) {
  ad::Tape tape;
  std::vector<ad::Var> x(g.inputs.begin(), g.inputs.end());
  const std::vector<ad::Var> v = evaluate(g, x);
  const std::vector<double> grad = ad::gradient(v[static_cast<std::size_t>(root)], x);
  const double h = 1e-6;
  for (std::size_t i = 0; i < g.inputs.size(); ++i) {
    std::vector<double> plus = g.inputs, minus = g.inputs;
    plus[i] += h;
    minus[i] -= h;
    const double fp = evaluate(g, plus)[static_cast<std::size_t>(root)];
    const double fm = evaluate(g, minus)[static_cast<std::size_t>(root)];
    const double numeric = (fp - fm) / (2 * h);
    const double scale = std::max({1.0, std::fabs(fp), std::fabs(fm)});
    if (!(std::fabs(grad[i] - numeric) <= 1e-6 * scale + 1e-4 * std::fabs(numeric)))
      return {true, i, grad[i], numeric};
  }
  return {};
}

std::string describe_failure(const ScalarGraph& g) {
  // The first node whose own gradient is wrong: its cone is the smallest
  // failing subgraph along this graph's order.
  for (int k = static_cast<int>(g.inputs.size()); k < static_cast<int>(g.nodes()); ++k) {
    const GradientMismatch m = check_node(g, k);
    if (m.found)
      return fmt::format("seed {}: d {}/d x{}: tape {:.17g}, central differences {:.17g}\n{}", g.seed,
                         node_name(g, k), m.input, m.tape, m.numeric, reproduction(g, k));
  }
  return fmt::format("seed {}: (no single node fails alone)\n{}", g.seed,
                     reproduction(g, static_cast<int>(g.nodes()) - 1));
}

bool close(double a, double b, double tolerance) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::fabs(a - b) <= tolerance * std::max(1.0, std::max(std::fabs(a), std::fabs(b)));
}

// The same graph on tensors: `points` evaluations at once, element-wise, in
// one recording; values and gradients must equal the scalar tape's.
std::string check_tensor_mode(const ScalarGraph& g, std::mt19937_64& rng) {
  const std::size_t kind = rng() % 3;  // 0: rank 0, 1: shape [1], 2: shape [n]
  const std::size_t n = kind == 2 ? 2 + rng() % 4 : 1;
  std::vector<std::vector<double>> points(n, g.inputs);
  for (std::size_t j = 1; j < n; ++j)
    for (double& x : points[j]) x += std::uniform_real_distribution<double>(-1e-3, 1e-3)(rng);
  std::vector<ad::Tensor> X;
  for (std::size_t i = 0; i < g.inputs.size(); ++i) {
    std::vector<double> column;
    for (const auto& p : points) column.push_back(p[i]);
    X.push_back((kind == 0 ? ad::Tensor::scalar(column[0]) : ad::Tensor::from(ad::Shape{n}, column)).requires_grad());
  }
  const std::vector<ad::Tensor> v = evaluate(g, X);
  ad::sum(v.back()).backward();
  for (std::size_t j = 0; j < n; ++j) {
    ad::Tape tape;
    std::vector<ad::Var> x(points[j].begin(), points[j].end());
    const std::vector<ad::Var> sv = evaluate(g, x);
    const std::vector<double> grad = ad::gradient(sv.back(), x);
    if (!close(sv.back().value(), v.back().values()[j], 1e-13))
      return fmt::format("seed {}: tensor mode value {:.17g} at point {} of {}, scalar tape {:.17g}\n{}", g.seed,
                         v.back().values()[j], j, n, sv.back().value(), reproduction(g, static_cast<int>(g.nodes()) - 1));
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double tensor_grad = X[i].has_grad() ? X[i].grad().values()[j] : 0.0;
      if (!close(grad[i], tensor_grad, 1e-12))
        return fmt::format("seed {}: tensor mode d/dx{} {:.17g} at point {} of {}, scalar tape {:.17g}\n{}", g.seed, i,
                           tensor_grad, j, n, grad[i], reproduction(g, static_cast<int>(g.nodes()) - 1));
    }
  }
  return {};
}

}  // namespace

TEST_CASE("random scalar graphs: tape gradients match central differences and tensor mode") {
  const std::size_t count = env_count("AD_RANDOM_GRAPHS", default_scalar_graphs);
  const std::uint64_t seed0 = first_seed();
  std::mt19937_64 rng(seed0 ^ 0x5eedu);
  std::size_t failures = 0, nodes = 0;
  for (std::size_t i = 0; i < count && failures < 5; ++i) {
    const ScalarGraph g = generate_scalar_graph(seed0 + i);
    nodes += g.nodes();
    if (check_node(g, static_cast<int>(g.nodes()) - 1).found) {
      ++failures;
      FAIL_CHECK(describe_failure(g));
      continue;
    }
    const std::string tensor_failure = check_tensor_mode(g, rng);
    if (!tensor_failure.empty()) {
      ++failures;
      FAIL_CHECK(tensor_failure);
    }
  }
  MESSAGE(fmt::format("{} scalar graphs (seeds {} .. {}), {} nodes; rerun one with AD_RANDOM_SEED=<seed> AD_RANDOM_GRAPHS=1",
                     count, seed0, seed0 + count - 1, nodes));
}

// ============================================================================
// Tensor graphs
// ============================================================================
namespace {

using ad::Shape;
using ad::Tensor;

enum class TOp {
  input, unary, binary, binary_const, const_binary, square, clamp, where, sum, mean, max, logsumexp, softmax,
  log_softmax, reshape, transpose, rows, slice_rows, concat, stack, matmul, dot
};

struct TStep {
  TOp op = TOp::input;
  int fn = 0;        // the Unary or Binary of element-wise steps
  int a = 0, b = 0;  // operand nodes
  double c = 0, c2 = 0;
  std::vector<std::int64_t> axes;  // reductions (empty: all), softmax axis, concat/stack/transpose axes
  bool keepdim = false;
  Shape shape;                       // input and reshape shapes
  std::vector<double> values;        // input values, where's condition
  std::vector<std::size_t> indices;  // rows; slice_rows begin/end
};

struct TensorGraph {
  std::uint64_t seed = 0;
  std::vector<TStep> nodes;
  std::vector<int> outputs;  // the loss is sum_k sum(node_k * weights(shape_k))
};

// Fixed, distinct weights 0.1, 0.2, ... so that every element's gradient differs.
Tensor weights(const Shape& shape) {
  std::vector<double> w(shape.numel());
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.1 * double(i % 7 + 1);
  return Tensor::from(shape, std::move(w));
}

Tensor run_step(const TStep& s, const std::vector<Tensor>& v) {
  const Tensor& a = v[static_cast<std::size_t>(s.a)];
  const Tensor& b = v[static_cast<std::size_t>(s.b)];
  const auto op = static_cast<Binary>(s.fn);
  switch (s.op) {
    case TOp::input: break;
    case TOp::unary: return apply_unary(static_cast<Unary>(s.fn), a);
    case TOp::binary: return apply_binary<Tensor>(op, a, b);
    case TOp::binary_const: return apply_binary<Tensor>(op, a, s.c);
    case TOp::const_binary: return apply_binary<Tensor>(op, s.c, a);
    case TOp::square: return ad::square(a);
    case TOp::clamp: return ad::clamp(a, s.c, s.c2);
    case TOp::where: return ad::where(Tensor::from(s.shape, s.values), a, b);
    case TOp::sum: return s.axes.empty() ? ad::sum(a) : ad::sum(a, s.axes, s.keepdim);
    case TOp::mean: return s.axes.empty() ? ad::mean(a) : ad::mean(a, s.axes, s.keepdim);
    case TOp::max: return s.axes.empty() ? ad::max(a) : ad::max(a, s.axes, s.keepdim);
    case TOp::logsumexp: return ad::logsumexp(a, s.axes[0], s.keepdim);
    case TOp::softmax: return ad::softmax(a, s.axes[0]);
    case TOp::log_softmax: return ad::log_softmax(a, s.axes[0]);
    case TOp::reshape: return ad::reshape(a, s.shape);
    case TOp::transpose: return ad::transpose(a, s.axes[0], s.axes[1]);
    case TOp::rows: return ad::rows(a, s.indices);
    case TOp::slice_rows: return ad::slice_rows(a, s.indices[0], s.indices[1]);
    case TOp::concat: return ad::concat(std::vector<Tensor>{a, b}, s.axes[0]);
    case TOp::stack: return ad::stack(std::vector<Tensor>{a, b}, s.axes[0]);
    case TOp::matmul: return ad::matmul(a, b);
    case TOp::dot: return ad::dot(a, b);
  }
  throw std::logic_error("bad tensor step");
}

// Every node's tensor; inputs take `input_values` (by node index) when given.
std::vector<Tensor> run_graph(const TensorGraph& g, const std::vector<std::vector<double>>* input_values,
                              bool requires_grad) {
  std::vector<Tensor> v;
  v.reserve(g.nodes.size());
  for (std::size_t k = 0; k < g.nodes.size(); ++k) {
    const TStep& s = g.nodes[k];
    if (s.op == TOp::input) {
      Tensor x = Tensor::from(s.shape, input_values ? (*input_values)[k] : s.values);
      v.push_back(requires_grad ? x.requires_grad() : x);
    } else {
      v.push_back(run_step(s, v));
    }
  }
  return v;
}

Tensor loss_of(const TensorGraph& g, const std::vector<Tensor>& v, const std::vector<int>& outputs) {
  Tensor total = Tensor::scalar(0.0);
  for (int k : outputs) total = total + ad::sum(v[static_cast<std::size_t>(k)] * weights(v[static_cast<std::size_t>(k)].shape()));
  (void)g;
  return total;
}

bool all_of(const Tensor& t, auto predicate) {
  for (double x : t.values())
    if (!predicate(x)) return false;
  return true;
}

class TensorGraphGenerator {
 public:
  explicit TensorGraphGenerator(std::uint64_t seed) : rng_(seed) { g_.seed = seed; }

  TensorGraph generate() {
    ad::NoGrad off;  // values only: shapes and domains are decided on them
    const std::size_t n_inputs = 1 + below(2);
    for (std::size_t i = 0; i < n_inputs; ++i) new_input(random_shape());
    const std::size_t n_steps = 3 + below(14);
    for (std::size_t tries = 0; steps_ < n_steps && tries < 400; ++tries) try_step();
    std::vector<bool> used(g_.nodes.size(), false);
    for (const TStep& s : g_.nodes) {
      if (s.op == TOp::input) continue;
      used[static_cast<std::size_t>(s.a)] = true;
      if (s.op == TOp::binary || s.op == TOp::where || s.op == TOp::concat || s.op == TOp::stack ||
          s.op == TOp::matmul || s.op == TOp::dot)
        used[static_cast<std::size_t>(s.b)] = true;
    }
    for (std::size_t k = 0; k < g_.nodes.size(); ++k)
      if (!used[k] && g_.nodes[k].op != TOp::input) g_.outputs.push_back(static_cast<int>(k));
    if (g_.outputs.empty()) g_.outputs.push_back(static_cast<int>(g_.nodes.size() - 1));
    return g_;
  }

 private:
  std::size_t below(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }

  Shape random_shape() {
    const std::size_t rank = below(4);
    std::vector<std::size_t> dims(rank);
    for (auto& d : dims) d = 1 + below(4);
    return Shape(std::span<const std::size_t>(dims));
  }
  // A shape that broadcasts with `s`: trailing axes kept, some set to 1,
  // sometimes fewer axes.
  Shape broadcastable(const Shape& s) {
    std::vector<std::size_t> dims(s.begin(), s.end());
    if (!dims.empty() && below(3) == 0) dims.erase(dims.begin(), dims.begin() + static_cast<std::ptrdiff_t>(1 + below(dims.size())));
    for (auto& d : dims)
      if (below(3) == 0) d = 1;
    if (dims.size() < 3 && below(5) == 0) dims.insert(dims.begin(), 1 + below(2));
    return Shape(std::span<const std::size_t>(dims));
  }
  int new_input(const Shape& shape) {
    TStep s;
    s.op = TOp::input;
    s.shape = shape;
    for (std::size_t i = 0; i < shape.numel(); ++i) s.values.push_back(uniform(-2.0, 2.0));
    return push(s);
  }
  int push(const TStep& s) {
    g_.nodes.push_back(s);
    values_.push_back(s.op == TOp::input ? Tensor::from(s.shape, s.values) : run_step(s, values_));
    return static_cast<int>(g_.nodes.size() - 1);
  }
  int pick() {
    const std::size_t n = g_.nodes.size();
    return static_cast<int>(below(10) < 6 ? n - 1 - below(std::min<std::size_t>(n, 2)) : below(n));
  }
  // An operand of shape `shape` for a second input: an existing node of that
  // shape, or a new input.
  int partner(const Shape& shape) {
    if (below(2) == 0)
      for (std::size_t k = g_.nodes.size(); k-- > 0;)
        if (values_[k].shape() == shape && below(2) == 0) return static_cast<int>(k);
    return new_input(shape);
  }
  bool accept(const TStep& s) {
    Tensor y;
    try {
      y = run_step(s, values_);
    } catch (const std::exception&) {
      return false;  // an invalid combination the generator proposed (e.g. a shape op on rank 0)
    }
    if (y.numel() == 0 || y.numel() > 48 || !all_of(y, [](double x) { return std::isfinite(x) && std::fabs(x) < 20.0; }))
      return false;
    g_.nodes.push_back(s);
    values_.push_back(y);
    ++steps_;
    return true;
  }
  // Every element of `x` is farther than `margin` from a tie with another
  // element of its group (the max's gradient then stays put under a small step).
  static bool unique_max(const Tensor& x, const std::vector<std::int64_t>& axes) {
    const Tensor m = axes.empty() ? ad::max(x) : ad::max(x, axes, true);
    const Tensor near = ad::heaviside(x - (m - 0.05));
    const Tensor count = axes.empty() ? ad::sum(near) : ad::sum(near, axes);
    return all_of(count, [](double c) { return c == 1.0; });
  }

  void try_step() {
    TStep s;
    s.a = pick();
    const Tensor a = values_[static_cast<std::size_t>(s.a)];  // a handle: new inputs may grow values_
    const std::size_t rank = a.rank();
    const std::size_t choice = below(22);
    if (choice < 5) {
      s.op = TOp::unary;
      s.fn = static_cast<int>(below(static_cast<std::size_t>(Unary::count)));
      if (!all_of(a, [&](double x) { return unary_allowed(static_cast<Unary>(s.fn), x); })) return;
    } else if (choice < 9) {
      s.op = TOp::binary;
      s.fn = static_cast<int>(below(static_cast<std::size_t>(Binary::count)));
      s.b = below(2) == 0 ? pick() : new_input(broadcastable(a.shape()));
      if (below(2) == 0) std::swap(s.a, s.b);
      const Tensor x = values_[static_cast<std::size_t>(s.a)];
      const Tensor y = values_[static_cast<std::size_t>(s.b)];
      try {
        const Tensor xb = x + y * 0.0, yb = y + x * 0.0;  // both broadcast to the result's shape
        for (std::size_t i = 0; i < xb.numel(); ++i)
          if (!binary_allowed(static_cast<Binary>(s.fn), xb.values()[i], yb.values()[i])) return;
      } catch (const std::invalid_argument&) {
        return;  // shapes that do not broadcast
      }
    } else if (choice < 11) {
      s.op = below(2) == 0 ? TOp::binary_const : TOp::const_binary;
      s.fn = static_cast<int>(below(static_cast<std::size_t>(Binary::count)));
      s.c = below(2) == 0 ? 2.0 : uniform(-3.0, 3.0);
      const auto op = static_cast<Binary>(s.fn);
      if (!all_of(a, [&](double x) { return s.op == TOp::binary_const ? binary_allowed(op, x, s.c) : binary_allowed(op, s.c, x); }))
        return;
    } else if (choice == 11) {
      s.op = below(2) == 0 ? TOp::square : TOp::clamp;
      s.c = uniform(-2.0, 0.0);
      s.c2 = s.c + uniform(0.5, 3.0);
      if (s.op == TOp::clamp && !all_of(a, [&](double x) { return std::fabs(x - s.c) > 0.05 && std::fabs(x - s.c2) > 0.05; }))
        return;
    } else if (choice == 12) {
      s.op = TOp::where;
      s.b = new_input(broadcastable(a.shape()));
      if (below(2) == 0) std::swap(s.a, s.b);
      try {
        s.shape = ad::broadcast_shapes(a.shape(), values_[static_cast<std::size_t>(s.b)].shape(), "where");
      } catch (const std::invalid_argument&) {
        return;
      }
      for (std::size_t i = 0; i < s.shape.numel(); ++i) s.values.push_back(double(below(2)));
    } else if (choice < 16) {
      const TOp reductions[] = {TOp::sum, TOp::mean, TOp::max};
      s.op = reductions[below(3)];
      if (rank > 0 && below(3) != 0)
        for (std::size_t axis = 0; axis < rank; ++axis)
          if (below(2) == 0) s.axes.push_back(below(2) == 0 ? std::int64_t(axis) : std::int64_t(axis) - std::int64_t(rank));
      s.keepdim = below(2) == 0;
      if (s.op == TOp::max && !unique_max(a, s.axes)) return;
    } else if (choice == 16) {
      if (rank == 0) return;
      const TOp family[] = {TOp::logsumexp, TOp::softmax, TOp::log_softmax};
      s.op = family[below(3)];
      s.axes = {std::int64_t(below(rank)) - (below(2) == 0 ? std::int64_t(rank) : 0)};
      s.keepdim = below(2) == 0;
    } else if (choice == 17) {
      if (rank == 0) return;
      s.op = below(2) == 0 ? TOp::reshape : TOp::transpose;
      std::vector<std::size_t> dims(a.shape().begin(), a.shape().end());
      if (s.op == TOp::reshape) {
        std::shuffle(dims.begin(), dims.end(), rng_);
        if (below(3) == 0) dims = {a.numel()};
        s.shape = Shape(std::span<const std::size_t>(dims));
      } else {
        if (rank < 2) return;
        s.axes = {std::int64_t(below(rank)), std::int64_t(below(rank))};
      }
    } else if (choice == 18) {
      if (rank == 0) return;
      const std::size_t extent = a.shape()[0];
      if (below(2) == 0) {
        s.op = TOp::rows;
        for (std::size_t i = 0, n = 1 + below(4); i < n; ++i) s.indices.push_back(below(extent));
      } else {
        s.op = TOp::slice_rows;
        const std::size_t begin = below(extent);
        s.indices = {begin, begin + 1 + below(extent - begin)};
      }
    } else if (choice == 19) {
      if (rank == 0) return;
      s.op = below(2) == 0 ? TOp::concat : TOp::stack;
      if (s.op == TOp::concat) {
        const std::size_t axis = below(rank);
        std::vector<std::size_t> dims(a.shape().begin(), a.shape().end());
        dims[axis] = 1 + below(2);
        s.b = below(3) == 0 ? s.a : new_input(Shape(std::span<const std::size_t>(dims)));
        s.axes = {std::int64_t(axis)};
      } else {
        s.b = below(3) == 0 ? s.a : partner(a.shape());
        s.axes = {std::int64_t(below(rank + 1))};
      }
    } else {
      if (rank == 1) {
        s.op = TOp::dot;
        s.b = below(3) == 0 ? s.a : partner(a.shape());
      } else if (rank >= 2 && rank <= 3) {
        s.op = TOp::matmul;
        const std::size_t k = a.shape()[rank - 1];
        s.b = partner(Shape{k, 1 + below(3)});
      } else {
        return;
      }
    }
    accept(s);
  }

  std::mt19937_64 rng_;
  TensorGraph g_;
  std::vector<Tensor> values_;
  std::size_t steps_ = 0;
};

std::string shape_code(const Shape& s) { return fmt::format("{{{}}}", fmt::join(s.dims(), ", ")); }

std::string tensor_step_code(const TensorGraph& g, std::size_t k) {
  const TStep& s = g.nodes[k];
  const std::string a = fmt::format("t{}", s.a), b = fmt::format("t{}", s.b), y = fmt::format("ad::Tensor t{} = ", k);
  const std::string c = fmt::format("{:.17g}", s.c);
  switch (s.op) {
    case TOp::input:
      return fmt::format("{}ad::Tensor::from({}, {{{:.17g}}}).requires_grad();", y, shape_code(s.shape), fmt::join(s.values, ", "));
    case TOp::unary: return fmt::format("{}ad::{}({});", y, unary_names[s.fn], a);
    case TOp::binary: return fmt::format("{}ad::{}({}, {});", y, binary_names[s.fn], a, b);
    case TOp::binary_const: return fmt::format("{}ad::{}({}, {});", y, binary_names[s.fn], a, c);
    case TOp::const_binary: return fmt::format("{}ad::{}({}, {});", y, binary_names[s.fn], c, a);
    case TOp::square: return fmt::format("{}ad::square({});", y, a);
    case TOp::clamp: return fmt::format("{}ad::clamp({}, {:.17g}, {:.17g});", y, a, s.c, s.c2);
    case TOp::where:
      return fmt::format("{}ad::where(ad::Tensor::from({}, {{{}}}), {}, {});", y, shape_code(s.shape), fmt::join(s.values, ", "), a, b);
    case TOp::sum:
    case TOp::mean:
    case TOp::max: {
      const char* name = s.op == TOp::sum ? "sum" : s.op == TOp::mean ? "mean" : "max";
      if (s.axes.empty()) return fmt::format("{}ad::{}({});", y, name, a);
      return fmt::format("{}ad::{}({}, std::vector<std::int64_t>{{{}}}, {});", y, name, a, fmt::join(s.axes, ", "), s.keepdim);
    }
    case TOp::logsumexp: return fmt::format("{}ad::logsumexp({}, {}, {});", y, a, s.axes[0], s.keepdim);
    case TOp::softmax: return fmt::format("{}ad::softmax({}, {});", y, a, s.axes[0]);
    case TOp::log_softmax: return fmt::format("{}ad::log_softmax({}, {});", y, a, s.axes[0]);
    case TOp::reshape: return fmt::format("{}ad::reshape({}, {});", y, a, shape_code(s.shape));
    case TOp::transpose: return fmt::format("{}ad::transpose({}, {}, {});", y, a, s.axes[0], s.axes[1]);
    case TOp::rows: return fmt::format("{}ad::rows({}, {{{}}});", y, a, fmt::join(s.indices, ", "));
    case TOp::slice_rows: return fmt::format("{}ad::slice_rows({}, {}, {});", y, a, s.indices[0], s.indices[1]);
    case TOp::concat: return fmt::format("{}ad::concat(std::vector<ad::Tensor>{{{}, {}}}, {});", y, a, b, s.axes[0]);
    case TOp::stack: return fmt::format("{}ad::stack(std::vector<ad::Tensor>{{{}, {}}}, {});", y, a, b, s.axes[0]);
    case TOp::matmul: return fmt::format("{}ad::matmul({}, {});", y, a, b);
    case TOp::dot: return fmt::format("{}ad::dot({}, {});", y, a, b);
  }
  return {};
}

std::string tensor_reproduction(const TensorGraph& g, const std::vector<int>& outputs) {
  std::vector<bool> needed(g.nodes.size(), false);
  for (int k : outputs) needed[static_cast<std::size_t>(k)] = true;
  for (std::size_t k = g.nodes.size(); k-- > 0;) {
    const TStep& s = g.nodes[k];
    if (!needed[k] || s.op == TOp::input) continue;
    needed[static_cast<std::size_t>(s.a)] = true;
    if (s.op == TOp::binary || s.op == TOp::where || s.op == TOp::concat || s.op == TOp::stack ||
        s.op == TOp::matmul || s.op == TOp::dot)
      needed[static_cast<std::size_t>(s.b)] = true;
  }
  std::string code = "// weights(shape): 0.1 * (i % 7 + 1) for flat index i\n";
  for (std::size_t k = 0; k < g.nodes.size(); ++k)
    if (needed[k]) code += tensor_step_code(g, k) + "\n";
  std::vector<std::string> terms;
  for (int k : outputs) terms.push_back(fmt::format("ad::sum(t{} * weights(t{}.shape()))", k, k));
  code += fmt::format("ad::Tensor loss = {};\nloss.backward();\n", fmt::join(terms, " + "));
  return code;
}

struct TensorMismatch {
  bool found = false;
  std::size_t node = 0, element = 0;
  double tape = 0, numeric = 0;
};

TensorMismatch check_tensor_graph(const TensorGraph& g, const std::vector<int>& outputs) {
  const std::vector<Tensor> v = run_graph(g, nullptr, true);
  loss_of(g, v, outputs).backward();
  std::vector<std::vector<double>> point(g.nodes.size());
  for (std::size_t k = 0; k < g.nodes.size(); ++k) point[k] = g.nodes[k].values;
  auto evaluate_loss = [&] {
    ad::NoGrad off;
    return loss_of(g, run_graph(g, &point, false), outputs).item();
  };
  const double h = 1e-6;
  for (std::size_t k = 0; k < g.nodes.size(); ++k) {
    if (g.nodes[k].op != TOp::input) continue;
    const Tensor grad = v[k].grad();
    for (std::size_t i = 0; i < point[k].size(); ++i) {
      const double x = point[k][i];
      point[k][i] = x + h;
      const double fp = evaluate_loss();
      point[k][i] = x - h;
      const double fm = evaluate_loss();
      point[k][i] = x;
      const double numeric = (fp - fm) / (2 * h);
      const double scale = std::max({1.0, std::fabs(fp), std::fabs(fm)});
      const double tape = grad.values()[i];
      if (!(std::fabs(tape - numeric) <= 1e-6 * scale + 1e-4 * std::fabs(numeric))) return {true, k, i, tape, numeric};
    }
  }
  return {};
}

std::string describe_tensor_failure(const TensorGraph& g) {
  for (std::size_t k = 0; k < g.nodes.size(); ++k) {
    if (g.nodes[k].op == TOp::input) continue;
    const std::vector<int> alone{static_cast<int>(k)};
    const TensorMismatch m = check_tensor_graph(g, alone);
    if (m.found)
      return fmt::format("seed {}: d loss/d t{}[{}] (flat): tape {:.17g}, central differences {:.17g}\n{}", g.seed, m.node,
                         m.element, m.tape, m.numeric, tensor_reproduction(g, alone));
  }
  return fmt::format("seed {}: (no single node fails alone)\n{}", g.seed, tensor_reproduction(g, g.outputs));
}

}  // namespace

TEST_CASE("random tensor graphs with broadcasting shapes: gradients match central differences") {
  const std::size_t count = env_count("AD_RANDOM_TENSOR_GRAPHS", default_tensor_graphs);
  const std::uint64_t seed0 = first_seed();
  std::size_t failures = 0, nodes = 0;
  for (std::size_t i = 0; i < count && failures < 5; ++i) {
    const TensorGraph g = TensorGraphGenerator(seed0 + i).generate();
    nodes += g.nodes.size();
    if (check_tensor_graph(g, g.outputs).found) {
      ++failures;
      FAIL_CHECK(describe_tensor_failure(g));
    }
  }
  MESSAGE(fmt::format("{} tensor graphs (seeds {} .. {}), {} nodes; rerun one with AD_RANDOM_SEED=<seed> "
                      "AD_RANDOM_TENSOR_GRAPHS=1",
                      count, seed0, seed0 + count - 1, nodes));
}
