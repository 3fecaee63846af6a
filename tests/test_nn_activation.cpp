// Specification: nn's activation table. Each activation is an op of
// autodiff's op table (value, derivative, name) plus what is nn's: the enum
// value and the code in .adnn files. Every use in nn (values and derivatives
// on doubles, tensors, the perceptron on Var, Dense's fused op) goes through
// the table.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

using nn::Activation;

// Each activation with the ad:: function of that name, written out here.
struct Named {
  Activation psi;
  ad::Var (*on_var)(const ad::Var&);
  ad::Tensor (*on_tensor)(const ad::Tensor&);
};
const Named named[] = {
    {Activation::heaviside, [](const ad::Var& v) { return ad::heaviside(v); },
     [](const ad::Tensor& v) { return ad::heaviside(v); }},
    {Activation::tanh, [](const ad::Var& v) { return ad::tanh(v); },
     [](const ad::Tensor& v) { return ad::tanh(v); }},
    {Activation::logistic, [](const ad::Var& v) { return ad::logistic(v); },
     [](const ad::Tensor& v) { return ad::logistic(v); }},
    {Activation::softsign, [](const ad::Var& v) { return ad::softsign(v); },
     [](const ad::Tensor& v) { return ad::softsign(v); }},
    {Activation::relu, [](const ad::Var& v) { return ad::relu(v); },
     [](const ad::Tensor& v) { return ad::relu(v); }},
    {Activation::softplus, [](const ad::Var& v) { return ad::softplus(v); },
     [](const ad::Tensor& v) { return ad::softplus(v); }},
    {Activation::leaky_relu, [](const ad::Var& v) { return ad::leaky_relu(v); },
     [](const ad::Tensor& v) { return ad::leaky_relu(v); }},
    {Activation::elu, [](const ad::Var& v) { return ad::elu(v); },
     [](const ad::Tensor& v) { return ad::elu(v); }},
    {Activation::gelu, [](const ad::Var& v) { return ad::gelu(v); },
     [](const ad::Tensor& v) { return ad::gelu(v); }},
    {Activation::silu, [](const ad::Var& v) { return ad::silu(v); },
     [](const ad::Tensor& v) { return ad::silu(v); }},
};

const double points[] = {-2.5, -0.3, 0.4, 1.7};

}  // namespace

TEST_CASE("the table lists every activation once, identity and the ten ops of the op table") {
  CHECK(nn::all_activations.size() == 11);
  CHECK(std::size(named) + 1 == nn::all_activations.size());
  for (const Named& n : named) CHECK(nn::op_code(n.psi) != ad::OpCode::leaf);
  CHECK(nn::op_code(Activation::identity) == ad::OpCode::leaf);
}

TEST_CASE("each activation's name, value and derivative are those of the ad:: op of that name") {
  for (const Named& n : named) {
    const std::string name(nn::name(n.psi));
    CAPTURE(name);
    CHECK(name == ad::op_info(nn::op_code(n.psi)).name);
    CHECK(nn::activation_from_name(name) == n.psi);
    for (const double a : points) {
      CAPTURE(a);
      ad::Tape tape;
      const ad::Var x = a;
      const ad::Var y = n.on_var(x);
      CHECK(nn::value(n.psi, a) == y.value());
      CHECK(nn::derivative(n.psi, a) == ad::gradient(y, {x})[0]);
    }
  }
  CHECK(nn::value(Activation::identity, -0.75) == -0.75);
  CHECK(nn::derivative(Activation::identity, -0.75) == 1.0);
  CHECK(nn::name(Activation::identity) == "identity");
}

TEST_CASE("an activation applied to a tensor records the op of its name, with the op's values and gradient") {
  const ad::Tensor a0 = ad::Tensor::from({4}, {-2.5, -0.3, 0.4, 1.7});
  for (const Named& n : named) {
    CAPTURE(nn::name(n.psi));
    const ad::Tensor a = a0.detach().requires_grad(true);
    const ad::Tensor z = nn::apply(n.psi, a);
    CHECK(ad::graph(z).nodes.back().op == nn::name(n.psi));
    ad::sum(z).backward();
    const ad::Tensor b = a0.detach().requires_grad(true);
    const ad::Tensor expected = n.on_tensor(b);
    ad::sum(expected).backward();
    for (std::size_t i = 0; i < 4; ++i) {
      CHECK(z.values()[i] == expected.values()[i]);
      CHECK(a.grad().values()[i] == b.grad().values()[i]);
    }
  }
}

TEST_CASE("the file codes are those files were written with, and new activations take new codes") {
  // identity .. relu: the codes of every .adnn file saved before the table existed.
  const std::pair<Activation, int> codes[] = {
      {Activation::identity, 0}, {Activation::heaviside, 1},  {Activation::tanh, 2},
      {Activation::logistic, 3}, {Activation::softsign, 4},   {Activation::relu, 5},
      {Activation::softplus, 6}, {Activation::leaky_relu, 7}, {Activation::elu, 8},
      {Activation::gelu, 9},     {Activation::silu, 10}};
  for (const auto& [psi, code] : codes) {
    CAPTURE(nn::name(psi));
    CHECK(nn::file_code(psi) == code);
    CHECK(nn::activation_from_file_code(static_cast<std::uint8_t>(code)) == psi);
  }
  for (int code = 11; code < 256; ++code)
    CHECK_FALSE(nn::activation_from_file_code(static_cast<std::uint8_t>(code)));
  // A value outside the enumeration has no code a reader would accept, nor a name or an op.
  const auto stray = static_cast<Activation>(42);
  CHECK(nn::file_code(stray) == nn::invalid_file_code);
  CHECK_FALSE(nn::activation_from_file_code(nn::file_code(stray)));
  CHECK(nn::name(stray) == "invalid");
  CHECK(nn::op_code(stray) == ad::OpCode::leaf);
}

TEST_CASE("an unknown activation name is rejected, naming it") {
  CHECK_THROWS_WITH_AS(nn::activation_from_name("swish"),
                       "nn::activation_from_name: unknown activation 'swish'", std::invalid_argument);
}

TEST_CASE("the perceptron on ad::Var applies each activation with its derivative") {
  for (const Activation psi : nn::all_activations) {
    CAPTURE(nn::name(psi));
    ad::Tape tape;
    const nn::Perceptron p({0.0}, 0.0, psi);  // only psi is used
    std::vector<ad::Var> x = {ad::Var(0.5), ad::Var(-1.0)};
    std::vector<ad::Var> w = {ad::Var(-0.75), ad::Var(0.25)};
    ad::Var b = 0.1;
    const ad::Var y = p(x, w, b);
    const double a = -0.75 * 0.5 + 0.25 * -1.0 + 0.1;
    CHECK(y.value() == nn::value(psi, a));
    const std::vector<double> g = ad::gradient(y, {w[0], w[1], b});
    const double dpsi = nn::derivative(psi, a);
    CHECK(g[0] == doctest::Approx(dpsi * 0.5).epsilon(1e-15));
    CHECK(g[1] == doctest::Approx(dpsi * -1.0).epsilon(1e-15));
    CHECK(g[2] == doctest::Approx(dpsi).epsilon(1e-15));
  }
}

TEST_CASE("a layer called directly is one fused op exactly for activations whose derivative is one of z") {
  // linear_activation keeps only z = psi(a): tanh, logistic, relu, softplus, leaky_relu and elu have
  // psi'(a) as a function of z; gelu, silu, softsign and heaviside do not and take linear + psi.
  std::mt19937_64 rng(3);
  const ad::Tensor X = ad::Tensor::randn({5, 3}, rng);
  for (const Activation psi : nn::all_activations) {
    CAPTURE(nn::name(psi));
    const nn::Dense layer(3, 4, psi, rng);
    const ad::Graph g = ad::graph(layer(X));
    const bool fused = psi == Activation::tanh || psi == Activation::logistic || psi == Activation::relu ||
                       psi == Activation::softplus || psi == Activation::leaky_relu || psi == Activation::elu;
    CHECK(ad::linear_activation_supports(nn::op_code(psi)) == fused);
    if (fused)
      CHECK(g.nodes.back().op == "linear_" + std::string(nn::name(psi)));
    else if (psi != Activation::identity)
      CHECK(g.nodes.back().op == nn::name(psi));
    else
      CHECK(g.nodes.back().op == "linear");
  }
}

TEST_CASE("the op table's run-time entry points refuse a code that is not a unary op, naming it") {
  CHECK_THROWS_WITH_AS(ad::unary_value(ad::OpCode::add, 1.0),
                       doctest::Contains("ad::unary_value: 'add' (op code"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::unary_derivative(ad::OpCode::leaf, 1.0, 1.0),
                       doctest::Contains("ad::unary_derivative: 'leaf' (op code 0) is not a unary op"),
                       std::invalid_argument);
  ad::Tape tape;
  const ad::Var x = 0.5;
  CHECK_THROWS_WITH_AS(ad::apply_unary(ad::OpCode::mul_vc, x), doctest::Contains("ad::apply_unary: 'mul'"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ad::apply_unary(ad::OpCode::custom_unary, ad::Tensor::zeros({2})),
                       doctest::Contains("ad::apply_unary: 'custom'"), std::invalid_argument);
  // A unary code gives the op's node, as the named function does.
  CHECK(ad::op_info(tape.node(ad::apply_unary(ad::OpCode::gelu, x).id()).op).name == "gelu");
  CHECK(ad::unary_value(ad::OpCode::silu, 0.5) == ad::silu(0.5));
}
