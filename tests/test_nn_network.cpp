// Specification: nn::NetworkT and nn::DenseT, the structure of a feed-forward
// network f = f^d o ... o f^1 with f^L(x) = psi^L(W^L x + b^L): its size
// measures, its parameters Theta, its forward trace, copies, initialisers.
#include <cmath>
#include <cstddef>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

double sample_variance(std::span<const double> v) {
  double mean = 0.0;
  for (double x : v) mean += x;
  mean /= double(v.size());
  double s = 0.0;
  for (double x : v) s += (x - mean) * (x - mean);
  return s / double(v.size() - 1);
}

nn::Network example_network(std::uint64_t seed = 42) {
  std::mt19937_64 rng(seed);
  return nn::Network({2, 16, 16, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
}

}  // namespace

TEST_CASE("depth counts layers, not the input") {
  CHECK(example_network().depth() == 3);
  std::mt19937_64 rng(1);
  CHECK(nn::Network({4, 1}, nn::Activation::tanh, nn::Activation::identity, rng).depth() == 1);
  CHECK(example_network().sizes() == std::vector<std::size_t>{2, 16, 16, 1});
}

TEST_CASE("connectivity counts the non-zero weights and drops when a weight is set to zero") {
  nn::Network net = example_network();
  // 2*16 + 16*16 + 16*1 connections; biases are not connections.
  CHECK(net.connectivity() == 304);
  ad::Tensor W2 = net.layers()[1].weights();  // a handle on the layer's storage
  W2.mutable_values()[7] = 0.0;
  CHECK(net.connectivity() == 303);
  // A zero bias is not a connection either way.
  ad::Tensor b1 = net.layers()[0].bias();
  b1.mutable_values()[0] = 0.0;
  CHECK(net.connectivity() == 303);
}

TEST_CASE("parameters are W^1, b^1, ..., W^d, b^d with the layers' shapes, sharing storage") {
  const nn::Network net = example_network();
  const auto theta = net.parameters();
  REQUIRE(theta.size() == 6);
  CHECK(theta[0].shape() == ad::Shape{16, 2});
  CHECK(theta[1].shape() == ad::Shape{16});
  CHECK(theta[2].shape() == ad::Shape{16, 16});
  CHECK(theta[3].shape() == ad::Shape{16});
  CHECK(theta[4].shape() == ad::Shape{1, 16});
  CHECK(theta[5].shape() == ad::Shape{1});
  for (std::size_t L = 0; L < 3; ++L) {
    CHECK(theta[2 * L].values().data() == net.layers()[L].weights().values().data());
    CHECK(theta[2 * L + 1].values().data() == net.layers()[L].bias().values().data());
    CHECK(theta[2 * L].requires_grad_enabled());
    CHECK(theta[2 * L + 1].requires_grad_enabled());
  }
  CHECK(net.parameter_count() == 304 + 33);
}

TEST_CASE("flat parameters follow the order of parameters() and round-trip through set_flat_parameters") {
  nn::Network net = example_network();
  const std::vector<double> flat = net.flat_parameters();
  REQUIRE(flat.size() == net.parameter_count());
  // Row-major, tensor after tensor.
  std::size_t offset = 0;
  for (const auto& t : net.parameters())
    for (double v : t.values()) CHECK(flat[offset++] == v);
  CHECK(flat[0] == net.layers()[0].weights().at({0, 0}));
  CHECK(flat[1] == net.layers()[0].weights().at({0, 1}));
  CHECK(flat[2] == net.layers()[0].weights().at({1, 0}));
  CHECK(flat[32] == net.layers()[0].bias().at({0}));

  std::vector<double> changed(flat.size());
  for (std::size_t i = 0; i < changed.size(); ++i) changed[i] = 0.001 * double(i) - 0.1;
  net.set_flat_parameters(changed);
  CHECK(net.flat_parameters() == changed);
  CHECK(net.layers()[2].bias().at({0}) == changed.back());
  net.set_flat_parameters(flat);
  CHECK(net.flat_parameters() == flat);

  std::vector<double> short_by_one(flat.begin(), flat.end() - 1);
  CHECK_THROWS_AS(net.set_flat_parameters(short_by_one), std::invalid_argument);
  CHECK(net.flat_parameters() == flat);
}

TEST_CASE("forward_trace keeps a[L] = W^L z[L-1] + b^L and z[L] = psi(a[L]) for every layer") {
  const nn::Network net = example_network();
  std::mt19937_64 rng(3);
  const ad::Tensor X = ad::Tensor::randn({5, 2}, rng);
  const auto trace = net.forward_trace(X);
  REQUIRE(trace.a.size() == 4);
  REQUIRE(trace.z.size() == 4);
  CHECK_FALSE(trace.a[0].defined());
  CHECK(trace.z[0].values().data() == X.values().data());
  for (std::size_t L = 1; L <= 3; ++L) {
    const auto& layer = net.layers()[L - 1];
    const std::size_t rows = layer.outputs(), cols = layer.inputs();
    REQUIRE(trace.a[L].shape() == ad::Shape{5, rows});
    REQUIRE(trace.z[L].shape() == ad::Shape{5, rows});
    for (std::size_t i = 0; i < 5; ++i)
      for (std::size_t r = 0; r < rows; ++r) {
        double a = layer.bias().at({r});
        for (std::size_t c = 0; c < cols; ++c) a += layer.weights().at({r, c}) * trace.z[L - 1].at({i, c});
        CHECK(trace.a[L].at({i, r}) == doctest::Approx(a).epsilon(1e-13).scale(1.0));
        const double z = L == 3 ? a : std::tanh(a);
        CHECK(trace.z[L].at({i, r}) == doctest::Approx(z).epsilon(1e-13).scale(1.0));
      }
  }
  const ad::Tensor f = net(X);
  CHECK(std::vector<double>(f.values().begin(), f.values().end()) ==
        std::vector<double>(trace.z[3].values().begin(), trace.z[3].values().end()));
}

TEST_CASE("a single sample [n_0] gives the output [n_d], equal to the batch row") {
  const nn::Network net = example_network();
  const ad::Tensor X = ad::Tensor::from({2, 2}, {0.5, -1.0, 2.0, 0.25});
  const ad::Tensor batch = net(X);
  const ad::Tensor one = net(ad::Tensor::from(ad::Shape{2}, {2.0, 0.25}));
  CHECK(one.shape() == ad::Shape{1});
  CHECK(one.values()[0] == doctest::Approx(batch.at({1, 0})).epsilon(1e-14));
  CHECK_THROWS_AS(net(ad::Tensor::from(ad::Shape{3}, {1.0, 2.0, 3.0})), std::invalid_argument);
}

TEST_CASE("clone makes an independent copy with equal outputs") {
  nn::Network net = example_network();
  nn::Network twin = net.clone();
  const ad::Tensor X = ad::Tensor::from({1, 2}, {0.3, 0.7});
  CHECK(twin.flat_parameters() == net.flat_parameters());
  CHECK(twin(X).item() == net(X).item());
  const std::vector<double> before = net.flat_parameters();
  std::vector<double> changed = before;
  for (double& v : changed) v += 1.0;
  twin.set_flat_parameters(changed);
  CHECK(net.flat_parameters() == before);
  CHECK(twin(X).item() != net(X).item());
  CHECK(twin.layers()[0].weights().requires_grad_enabled());
  CHECK(twin.layers()[0].weights().is_leaf());
}

TEST_CASE("copying a network shares its parameters") {
  nn::Network net = example_network();
  nn::Network copy = net;  // NOLINT(performance-unnecessary-copy-initialization): sharing is the point
  std::vector<double> changed = net.flat_parameters();
  changed[0] = 123.0;
  copy.set_flat_parameters(changed);
  CHECK(net.flat_parameters()[0] == 123.0);
  CHECK(net.layers()[0].weights().values().data() == copy.layers()[0].weights().values().data());
}

TEST_CASE("a layer keeps one activation per neuron and the Heaviside gradient policy") {
  std::mt19937_64 rng(2);
  const std::vector<nn::Activation> per_neuron = {nn::Activation::relu, nn::Activation::tanh, nn::Activation::identity};
  nn::Dense layer(2, 3, per_neuron, rng);
  CHECK(layer.activations() == per_neuron);
  CHECK(layer.inputs() == 2);
  CHECK(layer.outputs() == 3);
  CHECK(layer.heaviside_gradient() == nn::HeavisideGradient::zero);
  layer.set_heaviside_gradient(nn::HeavisideGradient::straight_through);
  CHECK(layer.clone().heaviside_gradient() == nn::HeavisideGradient::straight_through);
  // Each column gets its own psi.
  const ad::Tensor x = ad::Tensor::from({1, 2}, {0.4, -0.9});
  const auto out = layer.forward_trace(x);
  CHECK(out.z.at({0, 0}) == (out.a.at({0, 0}) > 0 ? out.a.at({0, 0}) : 0.0));
  CHECK(out.z.at({0, 1}) == doctest::Approx(std::tanh(out.a.at({0, 1}))).epsilon(1e-15));
  CHECK(out.z.at({0, 2}) == out.a.at({0, 2}));
  CHECK_THROWS_AS(nn::Dense(2, 3, std::vector<nn::Activation>{nn::Activation::relu}, rng), std::invalid_argument);
  CHECK_THROWS_AS(nn::Dense(0, 3, nn::Activation::relu, rng), std::invalid_argument);
}

TEST_CASE("networks reject inconsistent layers and too few sizes") {
  std::mt19937_64 rng(2);
  CHECK_THROWS_AS(nn::Network({3}, nn::Activation::tanh, nn::Activation::identity, rng), std::invalid_argument);
  std::vector<nn::Dense> layers;
  layers.emplace_back(2, 3, nn::Activation::tanh, rng);
  layers.emplace_back(4, 1, nn::Activation::identity, rng);
  CHECK_THROWS_AS(nn::Network(std::move(layers)), std::invalid_argument);
  CHECK_THROWS_AS(nn::Network(std::vector<nn::Dense>{}), std::invalid_argument);
}

TEST_CASE("Init::normal, xavier and he draw weights with variance 1, 2/(in+out) and 2/in") {
  const std::size_t in = 400, out = 300;  // 120000 weights: the variance estimate is good to about 0.5%
  struct Expectation {
    nn::Init init;
    double variance;
    bool zero_bias;
  };
  for (const Expectation& e : {Expectation{nn::Init::normal, 1.0, false},
                               Expectation{nn::Init::xavier, 2.0 / double(in + out), true},
                               Expectation{nn::Init::he, 2.0 / double(in), true}}) {
    std::mt19937_64 rng(123);
    const nn::Dense layer(in, out, nn::Activation::relu, rng, e.init);
    INFO("init " << static_cast<int>(e.init));
    CHECK(sample_variance(layer.weights().values()) == doctest::Approx(e.variance).epsilon(0.03));
    const auto b = layer.bias().values();
    if (e.zero_bias) {
      for (double v : b) CHECK(v == 0.0);
    } else {
      CHECK(sample_variance(b) == doctest::Approx(1.0).epsilon(0.25));
    }
  }
}

TEST_CASE("initialisation is reproducible for a seed and differs between seeds") {
  for (nn::Init init : {nn::Init::normal, nn::Init::xavier, nn::Init::he}) {
    std::mt19937_64 a(7), b(7), c(8);
    const nn::Network first({3, 5, 2}, nn::Activation::tanh, nn::Activation::identity, a, init);
    const nn::Network second({3, 5, 2}, nn::Activation::tanh, nn::Activation::identity, b, init);
    const nn::Network other({3, 5, 2}, nn::Activation::tanh, nn::Activation::identity, c, init);
    CHECK(first.flat_parameters() == second.flat_parameters());
    CHECK(first.flat_parameters() != other.flat_parameters());
  }
}

TEST_CASE("float networks have the same structure and evaluate in float") {
  std::mt19937_64 rng(42);
  const nn::NetworkT<float> net({2, 16, 16, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  CHECK(net.depth() == 3);
  CHECK(net.connectivity() == 304);
  CHECK(net.parameter_count() == 337);
  const ad::TensorF y = net(ad::TensorF::from({3, 2}, {0.f, 1.f, 1.f, 0.f, 1.f, 1.f}));
  CHECK(y.shape() == ad::Shape{3, 1});
  for (float v : y.values()) CHECK(std::isfinite(v));
}

TEST_CASE("a layer called directly (one fused op) gives forward()'s z and the same parameter gradients") {
  for (const nn::Activation psi :
       {nn::Activation::tanh, nn::Activation::logistic, nn::Activation::relu, nn::Activation::softsign,
        nn::Activation::softplus, nn::Activation::leaky_relu, nn::Activation::elu, nn::Activation::gelu,
        nn::Activation::silu}) {
    std::mt19937_64 rng(21);
    const nn::Dense layer(3, 5, psi, rng);
    const ad::Tensor X = ad::Tensor::randn({7, 3}, rng);
    std::vector<std::vector<double>> grads[2];
    std::vector<double> values[2];
    for (int fused = 0; fused < 2; ++fused) {
      for (auto p : layer.parameters()) p.zero_grad();
      const ad::Tensor z = fused ? layer(X) : layer.forward_trace(X).z;
      values[fused].assign(z.values().begin(), z.values().end());
      ad::sum(ad::square(z)).backward();
      for (const auto& p : layer.parameters()) {
        const ad::Tensor g = p.grad();
        grads[fused].emplace_back(g.values().begin(), g.values().end());
      }
    }
    CHECK(values[0] == values[1]);
    for (std::size_t k = 0; k < grads[0].size(); ++k)
      for (std::size_t i = 0; i < grads[0][k].size(); ++i)
        CHECK(grads[1][k][i] == doctest::Approx(grads[0][k][i]).epsilon(1e-14));
  }
}
