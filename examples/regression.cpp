// Regression: fit y = sin(x) on [-pi, pi] with a 1-16-16-1 tanh network and
// compare two optimisers from the same initial weights, on the same
// mini-batches (16 samples, reshuffled each epoch):
//   SGD with momentum:  v <- mu v + g,  theta <- theta - eta v
//   Adam:               per-parameter steps from running moments of g and g^2
// Loss: C = 1/(2N) sum_i (f(x_i) - sin(x_i))^2.
// Writes regression_loss.svg (both loss curves) and regression_fit.svg.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <numbers>
#include <random>
#include <vector>

#include <fmt/format.h>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

#include "svg_plot.hpp"
#include "tour.hpp"

namespace {

// The network's predictions on a grid, without recording.
std::vector<double> predict(const nn::Network& net, const std::vector<double>& xs) {
  ad::NoGrad off;
  const ad::Tensor y = net(ad::Tensor::from({xs.size(), 1}, xs));
  return {y.values().begin(), y.values().end()};
}

}  // namespace

int main(int argc, char** argv) try {
  const tour::Args args(argc, argv);
  const auto out = args.out_dir();
  const std::size_t epochs = args.smoke() ? 20 : args.quick() ? 200 : 600;
  const double pi = std::numbers::pi;

  // 128 training points evenly spaced over [-pi, pi].
  const std::size_t n = 128;
  std::vector<double> xs(n), ys(n);
  for (std::size_t i = 0; i < n; ++i) {
    xs[i] = -pi + 2 * pi * double(i) / double(n - 1);
    ys[i] = std::sin(xs[i]);
  }
  const ad::Tensor X = ad::Tensor::from({n, 1}, xs), Y = ad::Tensor::from({n, 1}, ys);

  // Xavier initialisation keeps tanh away from saturation for inputs up to pi.
  std::mt19937_64 rng(7);
  const nn::Network initial({1, 16, 16, 1}, nn::Activation::tanh, nn::Activation::identity, rng,
                            nn::Init::xavier);
  nn::Network sgd_net = initial.clone(), adam_net = initial.clone();
  nn::SGD<double> sgd(sgd_net.parameters(), /*learning_rate=*/0.02, /*momentum=*/0.9);
  nn::Adam<double> adam(adam_net.parameters(), /*learning_rate=*/0.005);

  const nn::FitOptions options{
      .max_epochs = epochs, .batch_size = 16, .tolerance = 0.0, .patience = epochs, .seed = 3};
  fmt::print("1-16-16-1 tanh network ({} parameters), {} points, batches of 16, {} epochs\n",
             initial.parameter_count(), n, epochs);
  const nn::History h_sgd = nn::fit(sgd_net, X, Y, nn::mse_loss, sgd, options);
  const nn::History h_adam = nn::fit(adam_net, X, Y, nn::mse_loss, adam, options);

  fmt::print("{:>8} | {:>12} {:>12}\n", "epoch", "SGD+momentum", "Adam");
  for (std::size_t e : {std::size_t{0}, epochs / 10, epochs / 4, epochs / 2, epochs - 1})
    fmt::print("{:>8} | {:>12.3e} {:>12.3e}\n", e + 1, h_sgd.loss[e], h_adam.loss[e]);

  // Fit quality on a fine grid (including points between the training ones).
  std::vector<double> grid(401), truth(401);
  for (std::size_t i = 0; i < grid.size(); ++i) {
    grid[i] = -pi + 2 * pi * double(i) / double(grid.size() - 1);
    truth[i] = std::sin(grid[i]);
  }
  const std::vector<double> f_sgd = predict(sgd_net, grid), f_adam = predict(adam_net, grid);
  auto max_error = [&](const std::vector<double>& f) {
    double e = 0;
    for (std::size_t i = 0; i < f.size(); ++i) e = std::max(e, std::fabs(f[i] - truth[i]));
    return e;
  };
  fmt::print("max |f(x) - sin(x)| on [-pi, pi]: SGD+momentum {:.3g}, Adam {:.3g}\n", max_error(f_sgd),
             max_error(f_adam));

  std::vector<double> epoch_axis(epochs);
  for (std::size_t e = 0; e < epochs; ++e) epoch_axis[e] = double(e + 1);
  tour::Plot losses("sin(x) regression: training loss", "epoch", "loss C");
  losses.log_y().line("SGD, momentum 0.9", epoch_axis, h_sgd.loss).line("Adam", epoch_axis, h_adam.loss);
  tour::Plot fit("sin(x) regression: the fitted functions", "x", "y");
  fit.scatter("training points", xs, ys, "#bbbbbb")
      .line("sin(x)", grid, truth, "#000000")
      .line("SGD+momentum", grid, f_sgd, "#1f77b4")
      .line("Adam", grid, f_adam, "#d62728");
  const auto loss_path = out / "regression_loss.svg", fit_path = out / "regression_fit.svg";
  losses.write(loss_path);
  fit.write(fit_path);
  tour::wrote(loss_path, "loss curves, SGD vs Adam");
  tour::wrote(fit_path, "sin(x) and both fits");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "regression: %s\n", e.what());
  return 1;
}
