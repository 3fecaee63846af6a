// A user's hello-world: one scalar gradient and one network training step.
#include <random>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

int main() {
  ad::Tape tape;
  ad::Var x = 0.5, y = 2.0;
  ad::Var f = ad::sin(x) * y + ad::exp(x / y);
  const std::vector<double> g = ad::gradient(f, {x, y});
  std::mt19937_64 rng(42);
  nn::Network net({2, 16, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  const ad::Tensor X = ad::Tensor::randn({8, 2}, rng), Y = ad::Tensor::randn({8, 1}, rng);
  nn::GradientDescent opt(net.parameters(), 0.1);
  ad::Tensor loss = nn::mse_loss(net(X), Y);
  loss.backward();
  opt.step();
  fmt::print("df/dx = {}, loss = {}\n", g[0], loss.item());
}
