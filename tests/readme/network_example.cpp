#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

int main() {
  std::mt19937_64 rng(1);
  ad::Tensor X = ad::Tensor::from({4, 2}, {0, 0, 0, 1, 1, 0, 1, 1});  // XOR: four points...
  ad::Tensor Y = ad::Tensor::from({4, 1}, {0, 1, 1, 0});              // ...and their labels
  // f = f^2 o f^1: 2 inputs, 4 tanh neurons, 1 linear output, N(0, 1) initial weights
  nn::Network net({2, 4, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  fmt::print("depth {}, {} connections\n", net.depth(), net.connectivity());
  // full-batch gradient descent on C = 1/(2N) sum_i ||f(x_i) - y_i||^2
  nn::GradientDescent opt(net.parameters(), /*learning_rate=*/0.1);
  auto history = nn::fit(net, X, Y, nn::mse_loss, opt, {.max_epochs = 5000, .patience = 5000});
  fmt::print("loss {:.3g} -> {:.3g}\n", history.loss.front(), history.loss.back());
  fmt::print("f(X) = {}\n", net(X));
  auto check = nn::check_gradients(net, X, Y);        // tape vs finite differences
  auto grads = nn::backprop_reference(net, X, Y);    // the textbook recursion, no tape
  fmt::print("gradcheck {}, dC/db^2 = {}\n", check.ok ? "passed" : "FAILED", grads[1].bias[0]);
  nn::save(net, "xor.adnn");
  nn::Network again = nn::load("xor.adnn");
}
