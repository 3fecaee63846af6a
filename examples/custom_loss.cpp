// A loss of your own, written as a plain C++ lambda on tensors: the Huber loss
//   h(r) = r^2 / 2                 for |r| <= delta
//   h(r) = delta (|r| - delta / 2) for |r| >  delta,     r = f(x) - y,
// quadratic near zero and linear in the tails, so outliers pull less than
// under the squared loss. No derivative is written anywhere: the tape records
// the lambda's operations and the sweep differentiates them.
//
// Fits a line y = w x + b to data with 20% gross outliers, with the squared
// loss and with Huber's, then asks ad::gradcheck whether the sweep's gradient
// of the Huber objective agrees with central finite differences.
#include <cmath>
#include <cstdio>
#include <exception>
#include <random>
#include <vector>

#include <fmt/format.h>

#include <autodiff/autodiff.hpp>
#include <autodiff/gradcheck.hpp>
#include <nn/nn.hpp>

#include "svg_plot.hpp"
#include "tour.hpp"

namespace {

constexpr double delta = 1.0;

// min(|r|, delta) is the quadratic part; what |r| exceeds delta by is the
// linear part: h = inner^2 / 2 + delta (|r| - inner) matches both branches.
auto huber = [](const ad::Tensor& prediction, const ad::Tensor& target) {
  const ad::Tensor r = ad::abs(prediction - target);
  const ad::Tensor inner = ad::min(r, delta);
  return ad::mean(0.5 * ad::square(inner) + delta * (r - inner));
};

}  // namespace

int main(int argc, char** argv) try {
  const tour::Args args(argc, argv);
  const auto out = args.out_dir();
  const std::size_t epochs = args.smoke() ? 50 : 2000;

  // y = 2 x + 1 + N(0, 0.1^2); every fifth point is an outlier lifted by 6.
  const std::size_t n = 60;
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::normal_distribution<double> noise(0.0, 0.1);
  std::vector<double> xs(n), ys(n);
  for (std::size_t i = 0; i < n; ++i) {
    xs[i] = uniform(rng);
    ys[i] = 2 * xs[i] + 1 + noise(rng) + (i % 5 == 0 ? 6.0 : 0.0);
  }
  const ad::Tensor X = ad::Tensor::from({n, 1}, xs), Y = ad::Tensor::from({n, 1}, ys);

  // A line is a network with one layer and no activation: f(x) = W x + b.
  auto fit_line = [&](const char* name, auto loss) {
    std::mt19937_64 init(2);
    nn::Network line({1, 1}, nn::Activation::identity, nn::Activation::identity, init);
    nn::GradientDescent<double> opt(line.parameters(), 0.1);
    const nn::History h =
        nn::fit(line, X, Y, loss, opt, {.max_epochs = epochs, .tolerance = 0.0, .patience = epochs});
    const std::vector<double> theta = line.flat_parameters();  // w, b
    fmt::print("  {:<14} w = {:+.3f}  b = {:+.3f}   (final loss {:.4f})\n", name, theta[0], theta[1],
               h.loss.back());
    return theta;
  };
  fmt::print("line fit to y = 2x + 1 with 20% outliers (+6), gradient descent, {} epochs:\n", epochs);
  const std::vector<double> mse_line = fit_line("squared loss", nn::mse_loss<double>);
  const std::vector<double> huber_line = fit_line("Huber loss", huber);
  fmt::print("  (the truth is w = +2, b = +1: the outliers drag the squared-loss intercept up)\n\n");

  // gradcheck 1: the Huber objective as a function of the line's parameters.
  const ad::Tensor W = ad::Tensor::from({1, 1}, {huber_line[0] + 0.3}).name("W");
  const ad::Tensor b = ad::Tensor::from({1}, {huber_line[1] - 0.2}).name("b");
  auto objective = [&](const std::vector<ad::Tensor>& p) { return huber(ad::matmul(X, p[0].t()) + p[1], Y); };
  const ad::GradcheckReport by_parameters = ad::gradcheck(objective, {W, b});
  fmt::print("gradcheck of the Huber objective w.r.t. the line's parameters:\n{}\n", by_parameters);

  // gradcheck 2: the loss itself, w.r.t. a batch of predictions.
  const ad::Tensor P = ad::Tensor::randn({8, 1}, rng).name("prediction");
  const ad::Tensor T = ad::Tensor::randn({8, 1}, rng);
  const ad::GradcheckReport by_predictions =
      ad::gradcheck([&](const std::vector<ad::Tensor>& p) { return huber(p[0], T); }, {P});
  fmt::print("gradcheck of the Huber loss w.r.t. 8 predictions:\n{}\n", by_predictions);

  tour::Plot plot("line fits with outliers: squared loss vs Huber", "x", "y");
  plot.scatter("data", xs, ys, "#7f7f7f")
      .line("squared loss", {-1, 1}, {mse_line[1] - mse_line[0], mse_line[1] + mse_line[0]})
      .line("Huber", {-1, 1}, {huber_line[1] - huber_line[0], huber_line[1] + huber_line[0]})
      .line("truth 2x + 1", {-1, 1}, {-1, 3}, "#2ca02c");
  const auto path = out / "custom_loss.svg";
  plot.write(path);
  tour::wrote(path, "the data and both fitted lines");
  return by_parameters.ok && by_predictions.ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "custom_loss: %s\n", e.what());
  return 1;
}
