#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

// softsign(x) = x / (1 + |x|) as a user op: its forward values and its
// derivative 1 / (1 + |x|)^2, written by hand.
ad::Tensor softsign(const ad::Tensor& x) {
  std::vector<double> y(x.numel());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = x.values()[i] / (1 + std::abs(x.values()[i]));
  return ad::custom_op<double>("softsign", {x}, x.shape(), y, [](const ad::CustomGradient<double>& g) {
    for (std::size_t i = 0; i < g.grad_output.size(); ++i)
      g.grad_inputs[0][i] += g.grad_output[i] / std::pow(1 + std::abs(g.inputs[0][i]), 2);
  });
}

struct Residual : nn::Module {  // x + fc2(softsign(fc1(x)))
  nn::Dense fc1, fc2;
  Residual(std::size_t n, std::mt19937_64& rng)
      : fc1(n, n, nn::Activation::identity, rng), fc2(n, n, nn::Activation::identity, rng) {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  ad::Tensor forward(const ad::Tensor& x) override { return x + fc2(softsign(fc1(x))); }
};

int main() {
  std::mt19937_64 rng(1);
  nn::Sequential model;  // owns modules of any kind, named "0", "1", ...
  model.add<Residual>(4, rng).add<nn::Dense>(4, 1, nn::Activation::identity, rng);
  for (const auto& [name, p] : model.named_parameters()) fmt::print("{} {}\n", name, p.shape().to_string());
  ad::Tensor X = ad::Tensor::randn({16, 4}, rng), Y = ad::Tensor::randn({16, 1}, rng);
  nn::Adam<double> opt(model.parameters(), /*learning_rate=*/0.01);
  for (int step = 0; step < 200; ++step) {
    opt.zero_grad();
    nn::mse_loss(model(X), Y).backward();
    opt.step();
  }
  auto check = nn::check_gradients(model, X, Y, nn::mse_loss);  // every named parameter, the custom op too
  fmt::print("{}", check);
  nn::save(model, "model.adst");  // every parameter and buffer by name, dtype and shape
  nn::Sequential again;
  again.add<Residual>(4, rng).add<nn::Dense>(4, 1, nn::Activation::identity, rng);
  nn::load_into(again, "model.adst");  // checks every name and shape first, says which differs
  fmt::print("reloaded loss {:.4g}\n", nn::mse_loss(again(X), Y).item());
  return check.ok ? 0 : 1;
}
