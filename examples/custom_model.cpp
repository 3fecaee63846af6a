// A model of your own: an nn::Module with a residual connection and a
// nonlinearity the library does not have, written as an ad::custom_op (its
// forward and its derivative by hand). Once it is a Module, everything the
// library does for its own layers works for it: nn::fit trains it,
// nn::save / nn::load_into store and restore it by parameter name,
// nn::check_gradients verifies its gradient against central differences.
//
// The nonlinearity is the "smooth absolute value" s(u) = sqrt(1 + u^2) - 1,
// with s'(u) = u / sqrt(1 + u^2) = u / (s(u) + 1). The block is
//   r(x) = x + W2 s(W1 x + b1) + b2,
// and the model  Dense(1 -> 16, tanh) -> r -> r -> Dense(16 -> 1)  fits
// y = sin(3x) + x / 2 on [-2, 2]. At the end the same block is built with a
// derivative that forgets a factor, and check_gradients catches it, naming the
// parameters whose gradients are wrong.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <autodiff/autodiff.hpp>
#include <autodiff/custom_op.hpp>
#include <nn/nn.hpp>

#include "svg_plot.hpp"
#include "tour.hpp"

namespace {

// s(u) element-wise, as a user-defined op: the values are computed here, and
// the backward adds s'(u) * grad into the input's gradient. `derivative_factor`
// is 1 for the correct derivative; the broken model uses 1/2.
ad::Tensor smooth_abs(const ad::Tensor& u, double derivative_factor) {
  std::vector<double> values(u.numel());
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = std::sqrt(1 + u.values()[i] * u.values()[i]) - 1;
  return ad::custom_op<double>("smooth_abs", {u}, u.shape(), std::move(values),
                               [derivative_factor](const ad::CustomGradient<double>& g) {
                                 for (std::size_t i = 0; i < g.grad_output.size(); ++i)
                                   g.grad_inputs[0][i] += derivative_factor * g.inputs[0][i] /
                                                          (g.output[i] + 1) * g.grad_output[i];
                               });
}

// The residual block: a Module because it registers its two layers.
struct SmoothResidual : nn::Module {
  nn::Dense fc1, fc2;
  double derivative_factor;
  SmoothResidual(std::size_t width, std::mt19937_64& rng, double factor = 1.0)
      : fc1(width, width, nn::Activation::identity, rng, nn::Init::xavier),
        fc2(width, width, nn::Activation::identity, rng, nn::Init::xavier),
        derivative_factor(factor) {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  ad::Tensor forward(const ad::Tensor& x) override { return x + fc2(smooth_abs(fc1(x), derivative_factor)); }
  std::string type_name() const override { return "SmoothResidual"; }
};

nn::Sequential make_model(std::uint64_t seed, double derivative_factor = 1.0) {
  std::mt19937_64 rng(seed);
  nn::Sequential model;
  model.add<nn::Dense>(1, 16, nn::Activation::tanh, rng, nn::Init::xavier)
      .add<SmoothResidual>(16, rng, derivative_factor)
      .add<SmoothResidual>(16, rng, derivative_factor)
      .add<nn::Dense>(16, 1, nn::Activation::identity, rng, nn::Init::xavier);
  return model;
}

}  // namespace

int main(int argc, char** argv) try {
  const tour::Args args(argc, argv);
  const auto out = args.out_dir();
  const std::size_t epochs = args.smoke() ? 5 : args.quick() ? 150 : 400;

  // Data: y = sin(3x) + x/2 + N(0, 0.05^2) at 256 points of [-2, 2].
  const std::size_t n = 256;
  std::mt19937_64 data_rng(3);
  std::normal_distribution<double> noise(0.0, 0.05);
  std::vector<double> xs(n), ys(n);
  for (std::size_t i = 0; i < n; ++i) {
    xs[i] = -2.0 + 4.0 * double(i) / double(n - 1);
    ys[i] = std::sin(3 * xs[i]) + xs[i] / 2 + noise(data_rng);
  }
  const ad::Tensor X = ad::Tensor::from({n, 1}, xs), Y = ad::Tensor::from({n, 1}, ys);

  nn::Sequential model = make_model(7);
  fmt::print("the model's parameters, by name:\n");
  for (const auto& [name, p] : model.named_parameters())
    fmt::print("  {:<10} {}\n", name, p.shape().to_string());

  // 1. Train it with the library's loop: Adam, mini-batches of 32.
  nn::Adam<double> opt(model.parameters(), 3e-3);
  const nn::History history =
      nn::fit(model, X, Y, nn::mse_loss, opt,
              {.max_epochs = epochs, .batch_size = 32, .patience = epochs, .seed = 1});
  fmt::print("\nnn::fit: {} epochs, loss {:.4f} -> {:.5f} ({})\n", history.epochs, history.loss.front(),
             history.loss.back(), history.stop_reason);

  // 2. Save it by name and load it into a freshly built model (other initial
  // weights): the predictions agree to the bit.
  const std::filesystem::path file = out / "custom_model.adst";
  nn::save(model, file.string());
  nn::Sequential reloaded = make_model(99);
  nn::load_into(reloaded, file.string());
  const ad::Tensor before = model(X), after = reloaded(X);
  const bool same = std::ranges::equal(before.values(), after.values());
  fmt::print("nn::save + nn::load_into: predictions {} after reloading ({})\n",
             same ? "bit-identical" : "DIFFERENT", file.string());

  // 3. Verify the gradient of the whole model, custom op included, on a few
  // points (each parameter entry costs two evaluations).
  const ad::Tensor Xs = ad::Tensor::from({8, 1}, {-1.9, -1.3, -0.7, -0.2, 0.3, 0.8, 1.4, 1.9});
  const ad::Tensor Ys = ad::sin(3.0 * Xs) + 0.5 * Xs;
  const ad::GradcheckReport check = nn::check_gradients(model, Xs, Ys, nn::mse_loss);
  fmt::print("\nnn::check_gradients of the trained model:\n{}\n", check);

  // 4. The same model with a derivative that forgets a factor 2: caught.
  nn::Sequential broken = make_model(7, /*derivative_factor=*/0.5);
  const ad::GradcheckReport caught = nn::check_gradients(broken, Xs, Ys, nn::mse_loss);
  std::vector<std::string> failed;
  for (const auto& row : caught.inputs)
    if (!row.ok) failed.push_back(row.name);
  fmt::print("with smooth_abs' derivative halved, check_gradients {}; wrong rows: {}\n",
             caught.ok ? "PASSED (unexpected)" : "FAILED, as it should", fmt::join(failed, ", "));
  fmt::print(
      "(the rows that pass are the parameters after the last smooth_abs: their gradients never go\n"
      " through its derivative; every row before it is wrong by the missing factor)\n");

  std::vector<double> fitted(after.values().begin(), after.values().end());
  std::vector<double> epochs_axis(history.loss.size());
  for (std::size_t e = 0; e < epochs_axis.size(); ++e) epochs_axis[e] = double(e + 1);
  tour::Plot fit_plot("a custom residual model fits sin(3x) + x/2", "x", "y");
  fit_plot.scatter("data", xs, ys, "#7f7f7f").line("model (reloaded)", xs, fitted);
  tour::Plot loss_plot("training loss (nn::fit, Adam)", "epoch", "loss");
  loss_plot.line("mean squared loss", epochs_axis, history.loss).log_y();
  const auto path = out / "custom_model.svg";
  tour::write_panels(path, {fit_plot, loss_plot}, 640, 420);
  tour::wrote(path, "the fit and the loss curve");
  return same && check.ok && !caught.ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "custom_model: %s\n", e.what());
  return 1;
}
