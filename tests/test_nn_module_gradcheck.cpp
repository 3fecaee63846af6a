// nn::check_gradients for any nn::Module: a user module with an
// ad::custom_op and a residual connection passes; the same module with one
// wrong derivative fails, and the report names the parameter; the check
// leaves the model as it found it.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

#include <autodiff/autodiff.hpp>
#include <autodiff/custom_op.hpp>
#include <nn/nn.hpp>

namespace {

// y = x + gate(fc(x), alpha) with gate(a, alpha)_ij = alpha_j tanh(a_ij), a
// custom op with a hand-written backward:
//   d gate / d a_ij = alpha_j (1 - tanh(a_ij)^2),  d gate / d alpha_j = tanh(a_ij).
// `wrong_alpha` drops the tanh from the second (d/d alpha = 1): the kind of
// slip check_gradients exists to catch.
template <class T>
struct GatedResidual : nn::ModuleT<T> {
  nn::DenseT<T> fc;
  ad::TensorT<T> alpha;
  bool wrong_alpha;
  GatedResidual(std::size_t n, std::mt19937_64& rng, bool wrong = false)
      : fc(n, n, nn::Activation::identity, rng, nn::Init::xavier),
        alpha(ad::TensorT<T>::randn({n}, rng)),
        wrong_alpha(wrong) {
    this->register_module("fc", fc);
    this->register_parameter("alpha", alpha);
  }
  ad::TensorT<T> forward(const ad::TensorT<T>& x) override { return x + gate(fc(x)); }
  std::string type_name() const override { return "GatedResidual"; }

  ad::TensorT<T> gate(const ad::TensorT<T>& a) const {
    const std::size_t rows = a.shape()[0], n = a.shape()[1];
    std::vector<T> y(rows * n);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < n; ++j) y[i * n + j] = alpha.values()[j] * std::tanh(a.values()[i * n + j]);
    const bool wrong = wrong_alpha;
    return ad::custom_op<T>("gate", {a, alpha}, a.shape(), std::move(y),
                            [rows, n, wrong](const ad::CustomGradient<T>& g) {
                              const auto a = g.inputs[0], alpha = g.inputs[1];
                              for (std::size_t i = 0; i < rows; ++i)
                                for (std::size_t j = 0; j < n; ++j) {
                                  const T t = std::tanh(a[i * n + j]), dy = g.grad_output[i * n + j];
                                  if (!g.grad_inputs[0].empty())
                                    g.grad_inputs[0][i * n + j] += dy * alpha[j] * (1 - t * t);
                                  if (!g.grad_inputs[1].empty())
                                    g.grad_inputs[1][j] += dy * (wrong ? T(1) : t);
                                }
                            });
  }
};

template <class T>
nn::SequentialT<T> model_with(bool wrong, std::mt19937_64& rng) {
  nn::SequentialT<T> model;
  model.template add<GatedResidual<T>>(3, rng, wrong)
      .template add<nn::DenseT<T>>(3, 2, nn::Activation::tanh, rng);
  return model;
}

const ad::GradcheckInput& row(const ad::GradcheckReport& r, const std::string& name) {
  for (const auto& in : r.inputs)
    if (in.name == name) return in;
  FAIL("no row named " << name);
  return r.inputs.front();
}

}  // namespace

TEST_CASE("a user module with a custom op and a residual connection passes, one row per named parameter") {
  std::mt19937_64 rng(11);
  nn::Sequential model = model_with<double>(false, rng);
  const ad::Tensor X = ad::Tensor::randn({4, 3}, rng), Y = ad::Tensor::randn({4, 2}, rng);
  const ad::GradcheckReport r = nn::check_gradients(model, X, Y, nn::mse_loss);
  CAPTURE(r.to_string());
  CHECK(r.ok);
  REQUIRE(r.inputs.size() == 5);
  const char* names[] = {"0.alpha", "0.fc.W", "0.fc.b", "1.W", "1.b"};
  for (std::size_t k = 0; k < 5; ++k) {
    CHECK(r.inputs[k].name == names[k]);
    CHECK(r.inputs[k].checked == model.named_parameters()[k].second.numel());
  }
  CHECK(r.max_rel_error < 1e-6);
}

TEST_CASE("the same module with one wrong derivative fails, and the report names the parameter") {
  std::mt19937_64 rng(11);
  nn::Sequential model = model_with<double>(true, rng);
  const ad::Tensor X = ad::Tensor::randn({4, 3}, rng), Y = ad::Tensor::randn({4, 2}, rng);
  const ad::GradcheckReport r = nn::check_gradients(model, X, Y, nn::mse_loss);
  CHECK_FALSE(r.ok);
  CHECK_FALSE(row(r, "0.alpha").ok);
  CHECK(row(r, "0.alpha").failures > 0);
  // Only alpha's derivative is wrong: fc's gradient flows through the
  // correct d gate / d a.
  CHECK(row(r, "0.fc.W").ok);
  CHECK(row(r, "1.W").ok);
  CHECK(r.to_string().find("0.alpha") != std::string::npos);
}

TEST_CASE("the check leaves every parameter's values and gradient as it found them") {
  std::mt19937_64 rng(12);
  nn::Sequential model = model_with<double>(false, rng);
  const ad::Tensor X = ad::Tensor::randn({4, 3}, rng), Y = ad::Tensor::randn({4, 2}, rng);
  nn::mse_loss(model(X), Y).backward();  // gradients the user had before the check
  std::vector<std::vector<double>> values, grads;
  for (const auto& p : model.parameters()) {
    values.emplace_back(p.values().begin(), p.values().end());
    const ad::Tensor g = p.grad();
    grads.emplace_back(g.values().begin(), g.values().end());
  }
  CHECK(nn::check_gradients(model, X, Y).ok);
  const auto after = model.parameters();
  for (std::size_t k = 0; k < after.size(); ++k) {
    const ad::Tensor g = after[k].grad();
    CHECK(std::vector<double>(after[k].values().begin(), after[k].values().end()) == values[k]);
    CHECK(std::vector<double>(g.values().begin(), g.values().end()) == grads[k]);
  }
}

TEST_CASE("parameters are put back when the loss throws in the middle of the check") {
  std::mt19937_64 rng(13);
  nn::Sequential model = model_with<double>(false, rng);
  const ad::Tensor X = ad::Tensor::randn({2, 3}, rng), Y = ad::Tensor::randn({2, 2}, rng);
  const std::vector<double> before(model.parameters()[0].values().begin(),
                                   model.parameters()[0].values().end());
  int calls = 0;
  auto flaky = [&](const ad::Tensor& p, const ad::Tensor& y) {
    if (++calls == 3) throw std::runtime_error("flaky loss");  // the second numeric evaluation
    return nn::mse_loss(p, y);
  };
  CHECK_THROWS_WITH_AS(nn::check_gradients(model, X, Y, flaky), "flaky loss", std::runtime_error);
  const auto after = model.parameters()[0].values();
  CHECK(std::vector<double>(after.begin(), after.end()) == before);
  CHECK(calls == 3);
}

TEST_CASE("a float module is checked in float with float-sized step and tolerances") {
  std::mt19937_64 rng(14);
  nn::SequentialF good = model_with<float>(false, rng);
  std::mt19937_64 rng2(14);
  nn::SequentialF bad = model_with<float>(true, rng2);
  const ad::TensorF X = ad::TensorF::randn({4, 3}, rng), Y = ad::TensorF::randn({4, 2}, rng);
  const ad::GradcheckReport r = nn::check_gradients(good, X, Y);
  CAPTURE(r.to_string());
  CHECK(r.ok);
  CHECK(r.options.step == nn::float_gradcheck_options().step);
  const ad::GradcheckReport wrong = nn::check_gradients(bad, X, Y);
  CHECK_FALSE(wrong.ok);
  CHECK_FALSE(row(wrong, "0.alpha").ok);
  // Options the caller sets are used as given.
  ad::GradcheckOptions mine;
  mine.step = 1e-2;
  mine.abs_tolerance = 1e-2;
  CHECK(nn::check_gradients(good, X, Y, mine).options.step == 1e-2);
}

TEST_CASE("directional checks run on any module too") {
  std::mt19937_64 rng(15);
  nn::Sequential good = model_with<double>(false, rng);
  const ad::Tensor X = ad::Tensor::randn({4, 3}, rng), Y = ad::Tensor::randn({4, 2}, rng);
  ad::GradcheckOptions o;
  o.directional = true;
  o.directions = 3;
  const ad::GradcheckReport r = nn::check_gradients(good, X, Y, o);
  CHECK(r.ok);
  CHECK(r.inputs.size() == 3);
}

TEST_CASE("a model without parameters or a loss of more than one element is refused, naming it") {
  nn::Sequential empty;
  const ad::Tensor X = ad::Tensor::zeros({2, 2});
  CHECK_THROWS_WITH_AS(nn::check_gradients(empty, X, X),
                       doctest::Contains("the Sequential has no parameters"), std::invalid_argument);
  std::mt19937_64 rng(16);
  nn::Sequential model = model_with<double>(false, rng);
  const ad::Tensor X3 = ad::Tensor::zeros({2, 3}), Y = ad::Tensor::zeros({2, 2});
  auto elementwise = [](const ad::Tensor& p, const ad::Tensor& y) { return p - y; };
  CHECK_THROWS_WITH_AS(nn::check_gradients(model, X3, Y, elementwise),
                       doctest::Contains("the loss of the Sequential gave shape [2, 2]"),
                       std::invalid_argument);
}

TEST_CASE("a loss given by name works for modules and networks alike") {
  std::mt19937_64 rng(17);
  nn::Network net({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  const ad::Tensor X = ad::Tensor::randn({4, 2}, rng), Y = ad::Tensor::randn({4, 1}, rng);
  const ad::GradcheckReport via_network = nn::check_gradients(net, X, Y, nn::mse_loss);
  CHECK(via_network.ok);
  CHECK(via_network.inputs[0].name == "layer1/W");  // a Network keeps its own path and row names
  nn::Module& as_module = net;
  const ad::GradcheckReport via_module = nn::check_gradients(as_module, X, Y, nn::mse_loss);
  CHECK(via_module.ok);
  CHECK(via_module.inputs[0].name == "layer1.W");
  REQUIRE(via_module.inputs.size() == via_network.inputs.size());
  for (std::size_t k = 0; k < via_module.inputs.size(); ++k)
    CHECK(via_module.inputs[k].checked == via_network.inputs[k].checked);
}

TEST_CASE("a float network with a loss that only takes float is checked in float") {
  std::mt19937_64 rng(18);
  nn::NetworkT<float> net({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  const ad::TensorF X = ad::TensorF::randn({4, 2}, rng), Y = ad::TensorF::randn({4, 1}, rng);
  const ad::GradcheckReport r = nn::check_gradients(net, X, Y, nn::mse_loss);
  CAPTURE(r.to_string());
  CHECK(r.ok);
  CHECK(r.options.step == nn::float_gradcheck_options().step);
  // A generic loss still runs on a double copy, at the default step.
  CHECK(nn::check_gradients(net, X, Y).options.step == ad::GradcheckOptions{}.step);
}

TEST_CASE("tied weights, one tensor under two names, are checked once under the first name") {
  struct Tied : nn::Module {
    ad::Tensor W = ad::Tensor::from({2, 2}, {0.5, -0.3, 0.2, 0.8});
    ad::Tensor same;
    Tied() {
      same = W;  // shares W's storage
      register_parameter("encoder", W);
      register_parameter("decoder", same);
    }
    ad::Tensor forward(const ad::Tensor& x) override {
      return ad::matmul(ad::tanh(ad::matmul(x, W)), same.t());
    }
  };
  Tied model;
  REQUIRE(model.named_parameters().size() == 2);
  std::mt19937_64 rng(19);
  const ad::Tensor X = ad::Tensor::randn({3, 2}, rng), Y = ad::Tensor::randn({3, 2}, rng);
  const ad::GradcheckReport r = nn::check_gradients(model, X, Y);
  CAPTURE(r.to_string());
  CHECK(r.ok);
  REQUIRE(r.inputs.size() == 1);
  CHECK(r.inputs[0].name == "encoder");
}
