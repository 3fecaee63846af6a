// Built against the installed package by the consumer_* tests: the AD layer
// alone, then a small network trained, saved and loaded through ad::nn.
#include <cmath>
#include <cstdio>
#include <random>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

bool derivative_is_right() {
  ad::Tape tape;
  ad::Var x = 1.5;
  ad::Var f = x * ad::exp(x);
  const double df = ad::gradient(f, {x})[0];
  const double expected = std::exp(1.5) * (1.0 + 1.5);  // d/dx x e^x = e^x (1 + x)
  if (std::fabs(df - expected) > 1e-12 * expected) {
    fmt::print("consumer: wrong derivative {} (expected {})\n", df, expected);
    return false;
  }
  fmt::print("consumer: d/dx x e^x at 1.5 = {}\n", df);
  return true;
}

// XOR with a 2-4-1 network: a few hundred steps of Adam lower the loss; the
// network saved and loaded (as an .adnn file and as a named state) computes
// the same outputs.
bool network_trains_and_reloads() {
  std::mt19937_64 rng(1);
  const ad::Tensor X = ad::Tensor::from({4, 2}, {0, 0, 0, 1, 1, 0, 1, 1});
  const ad::Tensor Y = ad::Tensor::from({4, 1}, {0, 1, 1, 0});
  nn::Network net({2, 4, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::Adam<double> opt(net.parameters(), 0.05);
  const double before = nn::mse_loss(net(X), Y).item();
  auto history = nn::fit(net, X, Y, nn::mse_loss, opt, {.max_epochs = 300, .patience = 300});
  const double after = nn::mse_loss(net(X), Y).item();
  if (!(after < 0.5 * before)) {
    fmt::print("consumer: training did not lower the loss ({} -> {})\n", before, after);
    return false;
  }
  nn::save(net, "consumer-xor.adnn");
  const nn::Network again = nn::load("consumer-xor.adnn");
  nn::Sequential layers;
  layers.add("layer1", std::make_unique<nn::Dense>(2, 4, nn::Activation::tanh, rng))
      .add("layer2", std::make_unique<nn::Dense>(4, 1, nn::Activation::identity, rng));
  nn::load_into(layers, "consumer-xor.adnn");
  nn::save(layers, "consumer-xor.adst");
  nn::Sequential twice;
  twice.add("layer1", std::make_unique<nn::Dense>(2, 4, nn::Activation::tanh, rng))
      .add("layer2", std::make_unique<nn::Dense>(4, 1, nn::Activation::identity, rng));
  nn::load_into(twice, "consumer-xor.adst");
  const ad::Tensor a = net(X), b = again(X), c = twice(X);
  for (std::size_t i = 0; i < 4; ++i)
    if (a.values()[i] != b.values()[i] || a.values()[i] != c.values()[i]) {
      fmt::print("consumer: reloaded network differs at {}\n", i);
      return false;
    }
  std::remove("consumer-xor.adnn");
  std::remove("consumer-xor.adst");
  fmt::print("consumer: XOR loss {:.3g} -> {:.3g} in {} epochs, reloaded identically\n", before, after,
             history.epochs);
  return true;
}

}  // namespace

int main() {
  if (!derivative_is_right() || !network_trains_and_reloads()) return 1;
  fmt::print("consumer: ok\n");
  return 0;
}
