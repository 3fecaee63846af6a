// nn::Sequential: modules of any kind applied in order, owned by the
// sequence, named by position, with errors that say which module failed.
#include <doctest/doctest.h>

#include <memory>
#include <random>
#include <stdexcept>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

// The contract's user module: x + fc2(fc1(x)).
template <class T>
struct Residual : nn::ModuleT<T> {
  nn::DenseT<T> fc1, fc2;
  Residual(std::size_t n, std::mt19937_64& rng)
      : fc1(n, n, nn::Activation::tanh, rng), fc2(n, n, nn::Activation::identity, rng) {
    this->register_module("fc1", fc1);
    this->register_module("fc2", fc2);
  }
  ad::TensorT<T> forward(const ad::TensorT<T>& x) override { return x + fc2(fc1(x)); }
  std::string type_name() const override { return "Residual"; }
};

template <class T>
std::vector<std::string> names_of(const nn::ModuleT<T>& m) {
  std::vector<std::string> names;
  for (const auto& [name, p] : m.named_parameters()) names.push_back(name);
  return names;
}

}  // namespace

TEST_CASE("add<M> builds heterogeneous modules in place, names them by position and chains them") {
  std::mt19937_64 rng(7);
  nn::Sequential model;
  model.add<Residual<double>>(3, rng).add<nn::Dense>(3, 1, nn::Activation::identity, rng);
  CHECK(model.size() == 2);
  CHECK(model.type_name() == "Sequential");
  CHECK(names_of(model) ==
        std::vector<std::string>{"0.fc1.W", "0.fc1.b", "0.fc2.W", "0.fc2.b", "1.W", "1.b"});
  CHECK(model.parameter_count() == 2 * (9 + 3) + 3 + 1);
  CHECK(model[0].type_name() == "Residual");
  CHECK(model[1].type_name() == "Dense");

  const ad::Tensor X = ad::Tensor::randn({5, 3}, rng);
  const ad::Tensor expected = model[1](model[0](X));
  const ad::Tensor y = model(X);
  REQUIRE(y.shape() == ad::Shape{5, 1});
  for (std::size_t i = 0; i < 5; ++i) CHECK(y.values()[i] == expected.values()[i]);
}

TEST_CASE("modules can be added by value, as a unique_ptr, and under a name of their own") {
  std::mt19937_64 rng(1);
  nn::Sequential model;
  model.add(nn::Dense(2, 4, nn::Activation::tanh, rng))
      .add("encoder", std::make_unique<nn::Dense>(4, 4, nn::Activation::relu, rng))
      .add(std::make_unique<nn::Dense>(4, 1, nn::Activation::identity, rng));
  CHECK(names_of(model) == std::vector<std::string>{"0.W", "0.b", "encoder.W", "encoder.b", "2.W", "2.b"});
  CHECK(model(ad::Tensor::zeros({3, 2})).shape() == ad::Shape{3, 1});
}

TEST_CASE("sequences nest, and their names nest with them") {
  std::mt19937_64 rng(2);
  auto inner = std::make_unique<nn::Sequential>();
  inner->add<nn::Dense>(2, 2, nn::Activation::tanh, rng).add<nn::Dense>(2, 2, nn::Activation::tanh, rng);
  nn::Sequential outer;
  outer.add(std::move(inner)).add<nn::Dense>(2, 1, nn::Activation::identity, rng);
  CHECK(names_of(outer) == std::vector<std::string>{"0.0.W", "0.0.b", "0.1.W", "0.1.b", "1.W", "1.b"});
  const auto modules = outer.named_modules();
  REQUIRE(modules.size() == 5);
  CHECK(modules[2].first == "0.0");
}

TEST_CASE("gradients through a Sequential equal those of the same layers as a Network") {
  std::mt19937_64 rng(3);
  nn::Network net({3, 5, 2}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::Sequential model;  // copies of the layers share the network's parameters
  model.add(nn::Dense(net.layers()[0])).add(nn::Dense(net.layers()[1]));
  const ad::Tensor X = ad::Tensor::randn({4, 3}, rng), Y = ad::Tensor::randn({4, 2}, rng);

  nn::mse_loss(net(X), Y).backward();
  std::vector<std::vector<double>> expected;
  for (auto& p : net.parameters()) {
    const ad::Tensor g = p.grad();
    expected.emplace_back(g.values().begin(), g.values().end());
    p.zero_grad();
  }
  nn::mse_loss(model(X), Y).backward();
  const auto params = model.parameters();
  REQUIRE(params.size() == expected.size());
  for (std::size_t k = 0; k < params.size(); ++k) {
    const ad::Tensor grad = params[k].grad();
    const auto g = grad.values();
    REQUIRE(g.size() == expected[k].size());
    for (std::size_t i = 0; i < g.size(); ++i) CHECK(g[i] == expected[k][i]);
  }
}

TEST_CASE("operator[] gives the i-th module and refuses an index past the end") {
  std::mt19937_64 rng(4);
  nn::Sequential model;
  model.add<nn::Dense>(2, 3, nn::Activation::tanh, rng);
  auto& layer = dynamic_cast<nn::Dense&>(model[0]);
  CHECK(layer.outputs() == 3);
  const nn::Sequential& view = model;
  CHECK(view[0].parameter_count() == 9);
  CHECK_THROWS_WITH_AS(model[1], doctest::Contains("index 1 is past the end of a sequence of 1 modules"),
                       std::out_of_range);
}

TEST_CASE("an empty Sequential is the identity") {
  nn::Sequential model;
  CHECK(model.empty());
  const ad::Tensor x = ad::Tensor::from({2}, {1.5, -2.0});
  const ad::Tensor y = model(x);
  CHECK(y.values()[0] == 1.5);
  CHECK(y.values()[1] == -2.0);
}

TEST_CASE("a null module or a name used twice is refused, naming it") {
  std::mt19937_64 rng(5);
  nn::Sequential model;
  CHECK_THROWS_WITH_AS(model.add(std::unique_ptr<nn::Module>{}), doctest::Contains("module '0' is null"),
                       std::invalid_argument);
  model.add("head", std::make_unique<nn::Dense>(2, 1, nn::Activation::identity, rng));
  CHECK_THROWS_WITH_AS(model.add("head", std::make_unique<nn::Dense>(1, 1, nn::Activation::identity, rng)),
                       doctest::Contains("'head' is registered twice"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(model.add("a.b", std::make_unique<nn::Dense>(1, 1, nn::Activation::identity, rng)),
                       doctest::Contains("invalid name 'a.b'"), std::invalid_argument);
  CHECK(model.size() == 1);
}

TEST_CASE("an input a module refuses is reported with the module's position and kind") {
  std::mt19937_64 rng(6);
  nn::Sequential model;
  model.add<nn::Dense>(2, 3, nn::Activation::tanh, rng).add<nn::Dense>(4, 1, nn::Activation::identity, rng);
  CHECK_THROWS_WITH_AS(model(ad::Tensor::zeros({1, 2})),
                       doctest::Contains("nn::Sequential: module 1 (Dense)"), std::invalid_argument);
}

TEST_CASE("train and eval reach the modules a Sequential owns") {
  std::mt19937_64 rng(8);
  nn::Sequential model;
  model.add<Residual<double>>(2, rng);
  model.eval();
  CHECK_FALSE(model[0].is_training());
  CHECK_FALSE(dynamic_cast<Residual<double>&>(model[0]).fc2.is_training());
  model.train();
  CHECK(model[0].is_training());
}

TEST_CASE("a float Sequential runs in float") {
  std::mt19937_64 rng(9);
  nn::SequentialF model;
  model.add<Residual<float>>(2, rng).add<nn::DenseT<float>>(2, 1, nn::Activation::identity, rng);
  const ad::TensorF y = model(ad::TensorF::ones({3, 2}));
  CHECK(y.shape() == ad::Shape{3, 1});
  CHECK(names_of(model).size() == 6);
}

TEST_CASE("copies of a Sequential share its modules and their parameters") {
  std::mt19937_64 rng(10);
  nn::Sequential model;
  model.add<nn::Dense>(1, 1, nn::Activation::identity, rng);
  nn::Sequential copy = model;
  model.parameters()[0].mutable_values()[0] = 4.0;
  CHECK(copy.parameters()[0].values()[0] == 4.0);
}
