// Specification of user-defined ops (autodiff/custom_op.hpp): ad::CustomOp for
// scalars and ad::custom_op for tensors record one node, take part in the
// sweep with the author's derivative, print and export under their own name,
// record nothing inside NoGrad, and pass gradcheck when the derivative is right.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <autodiff/custom_op.hpp>
#include <autodiff/gradcheck.hpp>
#include <autodiff/graph.hpp>
#include <autodiff/tape.hpp>
#include <autodiff/tensor.hpp>
#include <autodiff/tensor_ops.hpp>
#include <autodiff/var.hpp>
// White-box: the tape's own counters (slots, live nodes), private to the library.
#include <autodiff/src/tensor_tape.hpp>

namespace {

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

double logistic(double x) { return 1 / (1 + std::exp(-x)); }

// softclip(x) = log(1 + e^x) - log(1 + e^(x - 5)): a softplus that levels off at 5.
const ad::CustomOp softclip(
    "softclip", [](double x) { return std::log1p(std::exp(x)) - std::log1p(std::exp(x - 5)); },
    [](double x, double) { return logistic(x) - logistic(x - 5); });

// f(a, b) = a b^2.
const ad::CustomOp a_b_squared("a_b_squared", [](double a, double b) { return a * b * b; },
                               [](double, double b, double) { return b * b; },
                               [](double a, double b, double) { return 2 * a * b; });

// y = W x for W [m, n] and x [n], written out by hand: a stand-in for an
// external kernel. The backward adds g x^T to dW and W^T g to dx.
template <class T>
ad::TensorT<T> matvec(const ad::TensorT<T>& W, const ad::TensorT<T>& x) {
  const std::size_t m = W.shape()[0], n = W.shape()[1];
  std::vector<T> y(m, T(0));
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) y[i] += W.values()[i * n + j] * x.values()[j];
  return ad::custom_op<T>("matvec", {W, x}, ad::Shape{m}, std::move(y), [m, n](const ad::CustomGradient<T>& g) {
    const auto w = g.inputs[0], v = g.inputs[1];
    if (!g.grad_inputs[0].empty())
      for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) g.grad_inputs[0][i * n + j] += g.grad_output[i] * v[j];
    if (!g.grad_inputs[1].empty())
      for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) g.grad_inputs[1][j] += w[i * n + j] * g.grad_output[i];
  });
}

}  // namespace

TEST_CASE("a scalar custom op records one node whose value is the author's") {
  ad::Tape tape;
  const ad::Var x = 1.5;
  const std::size_t before = tape.size();
  const ad::Var y = softclip(x);
  CHECK(tape.size() == before + 1);
  CHECK(y.value() == softclip(1.5));
  CHECK(y.value() == std::log1p(std::exp(1.5)) - std::log1p(std::exp(-3.5)));
  CHECK(softclip.name() == "softclip");
}

TEST_CASE("the sweep through a scalar custom op uses the author's derivative, with the chain rule around it") {
  ad::Tape tape;
  const ad::Var x = 1.5, y = -0.5;
  const ad::Var f = softclip(x * y) * y;
  const std::vector<double> g = ad::gradient(f, {x, y});
  const double s = x.value() * y.value(), ds = logistic(s) - logistic(s - 5);
  CHECK(g[0] == doctest::Approx(ds * y.value() * y.value()));
  CHECK(g[1] == doctest::Approx(ds * x.value() * y.value() + softclip(s)));
}

TEST_CASE("a binary scalar custom op sends each operand its own partial derivative") {
  ad::Tape tape;
  const ad::Var a = 1.5, b = -2.0;
  const ad::Var f = a_b_squared(a, b);
  CHECK(f.value() == 6.0);
  CHECK(ad::gradient(f, {a, b}) == std::vector<double>{4.0, -6.0});
  // Used twice, its contributions add up.
  const ad::Var twice = a_b_squared(a, b) + a_b_squared(b, a);  // a b^2 + b a^2
  CHECK(ad::gradient(twice, {a, b}) == std::vector<double>{4.0 + 2 * -2.0 * 1.5, -6.0 + 1.5 * 1.5});
}

TEST_CASE("a tape sweeps a scalar custom op after the CustomOp object is gone") {
  ad::Tape tape;
  const ad::Var x = 2.0;
  ad::Var y;
  {
    const ad::CustomOp cube("cube", [](double v) { return v * v * v; }, [](double v, double) { return 3 * v * v; });
    y = cube(x);
  }
  CHECK(ad::gradient(y, {x})[0] == 12.0);
  CHECK(ad::graph(y).root().op == "cube");
}

TEST_CASE("a scalar custom op appears under its own name in graph, describe() and to_dot()") {
  ad::Tape tape;
  const ad::Var a = 1.5, b = -2.0;
  const ad::Var f = softclip(a_b_squared(a, b));
  const ad::Graph g = ad::graph(f);
  REQUIRE(g.nodes.size() == 4);
  CHECK(g.nodes[2].op == "a_b_squared");
  CHECK(g.nodes[2].inputs == std::vector<std::size_t>{0, 1});
  CHECK(g.nodes[3].op == "softclip");
  CHECK(g.nodes[3].inputs == std::vector<std::size_t>{2});
  const std::string text = ad::describe(f);
  CHECK(contains(text, "a_b_squared"));
  CHECK(contains(text, "softclip"));
  const std::string dot = ad::to_dot(f);
  CHECK(contains(dot, "label=\"softclip\""));
  CHECK(contains(dot, "label=\"a_b_squared\""));
  CHECK(ad::graph_stats(f).count_per_op.at("softclip") == 1);
}

TEST_CASE("a scalar custom op records nothing inside NoGrad") {
  ad::Tape tape;
  const ad::Var x = 1.5;
  const std::size_t before = tape.size();
  ad::NoGrad off;
  const ad::Var y = softclip(x);
  const ad::Var z = a_b_squared(x, x);
  CHECK(tape.size() == before);
  CHECK(y.is_constant());
  CHECK(z.is_constant());
  CHECK(y.value() == softclip(1.5));
  CHECK(z.value() == 1.5 * 1.5 * 1.5);
}

TEST_CASE("a scalar custom op is called with the number of operands it was defined with") {
  ad::Tape tape;
  const ad::Var x = 1.0;
  CHECK_THROWS_AS(softclip(x, x), std::invalid_argument);
  CHECK_THROWS_AS(a_b_squared(x), std::invalid_argument);
  CHECK_THROWS_AS(ad::CustomOp("broken", std::function<double(double)>(), [](double, double) { return 0.0; }),
                  std::invalid_argument);
}

TEST_CASE("gradcheck passes scalar custom ops whose derivatives are right") {
  auto f = [](std::span<const ad::Var> v) { return softclip(v[0]) * a_b_squared(v[1], v[0]); };
  const ad::GradcheckReport r = ad::gradcheck(f, std::vector<double>{0.7, -1.3});
  CHECK(r.ok);
  CHECK(r.inputs[0].checked == 2);
  CHECK(r.max_abs_error < 1e-8);
}

TEST_CASE("a tensor custom op records one node whose gradients agree with the built-in ops") {
  ad::Tensor W = ad::Tensor::from({2, 3}, {1.0, -2.0, 0.5, 3.0, 0.25, -1.0}).requires_grad(true).name("W");
  ad::Tensor x = ad::Tensor::from({3}, {0.5, 1.5, -2.0}).requires_grad(true).name("x");
  ad::Tensor y = matvec(W, x);
  CHECK(y.shape() == ad::Shape{2});
  CHECK(y.at({0}) == 0.5 - 3.0 - 1.0);
  CHECK(y.at({1}) == 1.5 + 0.375 + 2.0);
  ad::Tensor loss = ad::sum(ad::square(y));
  loss.backward();
  const ad::Tensor gW = W.grad(), gx = x.grad();
  const std::vector<double> dW(gW.values().begin(), gW.values().end());
  const std::vector<double> dx(gx.values().begin(), gx.values().end());

  W.zero_grad();
  x.zero_grad();
  ad::Tensor reference = ad::sum(ad::square(ad::reshape(ad::matmul(W, ad::reshape(x, ad::Shape{3, 1})), ad::Shape{2})));
  CHECK(reference.item() == doctest::Approx(loss.item()));
  reference.backward();
  for (std::size_t i = 0; i < dW.size(); ++i) CHECK(dW[i] == doctest::Approx(W.grad().values()[i]));
  for (std::size_t j = 0; j < dx.size(); ++j) CHECK(dx[j] == doctest::Approx(x.grad().values()[j]));
}

TEST_CASE("a tensor custom op's backward gets an empty gradient span for an input that needs none") {
  const ad::Tensor W = ad::Tensor::from({1, 2}, {2.0, 3.0});  // a constant
  ad::Tensor x = ad::Tensor::from({2}, {1.0, 1.0}).requires_grad(true);
  std::vector<std::size_t> sizes;
  ad::Tensor y = ad::custom_op<double>("probe", {W, x}, ad::Shape{}, {5.0}, [&](const ad::CustomGradient<double>& g) {
    for (const auto& span : g.grad_inputs) sizes.push_back(span.size());
    CHECK(g.output.size() == 1);
    CHECK(g.grad_output[0] == 1.0);
    CHECK(g.input_shapes[0] == ad::Shape{1, 2});
    g.grad_inputs[1][0] += 2.0;
    g.grad_inputs[1][1] += 3.0;
  });
  y.backward();
  CHECK(sizes == std::vector<std::size_t>{0, 2});
  CHECK(x.grad().values()[0] == 2.0);
  CHECK(x.grad().values()[1] == 3.0);
}

TEST_CASE("a tensor custom op appears under its own name in graph, describe() and to_dot()") {
  const ad::Tensor W = ad::Tensor::from({2, 2}, {1.0, 0.0, 0.0, 1.0}).requires_grad(true).name("W");
  const ad::Tensor x = ad::Tensor::from({2}, {3.0, 4.0}).name("x");
  const ad::Tensor loss = ad::sum(matvec(W, x));
  const ad::Graph g = ad::graph(loss);
  REQUIRE(g.nodes.size() == 4);
  CHECK(g.nodes[2].op == "matvec");
  CHECK(g.nodes[2].inputs == std::vector<std::size_t>{0, 1});
  CHECK(g.nodes[2].shape == ad::Shape{2});
  CHECK(contains(ad::describe(loss), "matvec"));
  CHECK(contains(ad::to_dot(loss), "label=\"matvec\""));
  CHECK(ad::graph_stats(loss).count_per_op.at("matvec") == 1);
}

TEST_CASE("a tensor custom op records nothing inside NoGrad") {
  ad::Tape tape;
  const ad::Tensor W = ad::Tensor::from({1, 2}, {2.0, 3.0}).requires_grad(true);
  const ad::Tensor x = ad::Tensor::from({2}, {1.0, -1.0}).requires_grad(true);
  const std::size_t before = ad::detail::TensorAccess::tensor_tape(tape).slots();
  ad::NoGrad off;
  const ad::Tensor y = matvec(W, x);
  CHECK(ad::detail::TensorAccess::tensor_tape(tape).slots() == before);
  CHECK_FALSE(y.requires_grad_enabled());
  CHECK(y.is_leaf());
  CHECK(y.item() == -1.0);
  CHECK(ad::graph(y).nodes.size() == 1);
}

TEST_CASE("a float tensor custom op records and sweeps like a double one") {
  ad::TensorF W = ad::TensorF::from({2, 2}, {1.0f, 2.0f, 3.0f, 4.0f}).requires_grad(true);
  const ad::TensorF x = ad::TensorF::from({2}, {1.0f, -1.0f});
  ad::TensorF loss = ad::sum(matvec(W, x));
  CHECK(loss.item() == -2.0f);
  const ad::Graph g = ad::graph(loss);
  REQUIRE(g.nodes.size() == 4);
  CHECK(g.nodes[2].op == "matvec");
  CHECK(g.nodes[2].dtype == "float32");
  loss.backward();
  CHECK(W.grad().values()[0] == 1.0f);
  CHECK(W.grad().values()[1] == -1.0f);
}

TEST_CASE("a tensor custom op checks its output size and needs a backward") {
  const ad::Tensor x = ad::Tensor::from({2}, {1.0, 2.0}).requires_grad(true);
  auto nothing = [](const ad::CustomGradient<double>&) {};
  CHECK_THROWS_AS(ad::custom_op<double>("short", {x}, ad::Shape{3}, {1.0, 2.0}, nothing), std::invalid_argument);
  CHECK_THROWS_AS(ad::custom_op<double>("mute", {x}, ad::Shape{2}, {1.0, 2.0}, ad::CustomBackward<double>()),
                  std::invalid_argument);
}

TEST_CASE("gradcheck passes a tensor custom op whose backward is right") {
  const ad::Tensor W = ad::Tensor::from({2, 3}, {1.0, -2.0, 0.5, 3.0, 0.25, -1.0}).name("W");
  const ad::Tensor x = ad::Tensor::from({3}, {0.5, 1.5, -2.0}).name("x");
  auto f = [](const std::vector<ad::Tensor>& p) { return ad::sum(ad::tanh(matvec(p[0], p[1]))); };
  const ad::GradcheckReport r = ad::gradcheck(f, {W, x});
  CHECK(r.ok);
  REQUIRE(r.inputs.size() == 2);
  CHECK(r.inputs[0].checked == 6);
  CHECK(r.inputs[1].checked == 3);
  CHECK(r.max_abs_error < 1e-8);
}
