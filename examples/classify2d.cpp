// Binary classification in the plane: two interleaved half-moons, which no
// straight line separates. A 2-16-16-1 tanh network outputs a logit s(x);
// the model's probability of class 1 is p = sigma(s) = 1 / (1 + e^-s), and
// training minimises the cross-entropy
//   C = mean_i [ -y_i log p_i - (1 - y_i) log(1 - p_i) ],
// computed from the logits (nn::binary_cross_entropy_with_logits) so it stays
// finite for any s. Full-batch Adam.
// Writes classify2d.svg: p(x) over the plane (the decision boundary is where
// the colour turns white, p = 0.5) with the training points on top.
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

struct Moons {
  std::vector<double> x;  // [n, 2], row-major
  std::vector<double> label;
};

// Upper moon: (cos t, sin t); lower moon: (1 - cos t, 0.5 - sin t), t in
// [0, pi], plus Gaussian noise of standard deviation `noise`.
Moons make_moons(std::size_t n, double noise, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> angle(0.0, std::numbers::pi);
  std::normal_distribution<double> jitter(0.0, noise);
  Moons m;
  for (std::size_t i = 0; i < n; ++i) {
    const double t = angle(rng);
    const bool lower = i % 2 == 1;
    m.x.push_back((lower ? 1 - std::cos(t) : std::cos(t)) + jitter(rng));
    m.x.push_back((lower ? 0.5 - std::sin(t) : std::sin(t)) + jitter(rng));
    m.label.push_back(lower ? 1.0 : 0.0);
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) try {
  const tour::Args args(argc, argv);
  const auto out = args.out_dir();
  const std::size_t n = 300, epochs = args.smoke() ? 30 : args.quick() ? 400 : 1000;

  std::mt19937_64 rng(5);
  const Moons data = make_moons(n, 0.15, rng);
  const ad::Tensor X = ad::Tensor::from({n, 2}, data.x), Y = ad::Tensor::from({n, 1}, data.label);

  nn::Network net({2, 16, 16, 1}, nn::Activation::tanh, nn::Activation::identity, rng, nn::Init::xavier);
  nn::Adam<double> opt(net.parameters(), /*learning_rate=*/0.01);
  const nn::History history = nn::fit(net, X, Y, nn::binary_cross_entropy_with_logits<double>, opt,
                                      {.max_epochs = epochs, .tolerance = 0.0, .patience = epochs});

  // Accuracy: predict class 1 where the logit is >= 0 (p >= 0.5).
  std::size_t correct = 0;
  {
    ad::NoGrad off;
    const ad::Tensor logits = net(X);
    for (std::size_t i = 0; i < n; ++i) correct += (logits.at({i, 0}) >= 0) == (data.label[i] > 0.5);
  }
  fmt::print("two moons, {} points (noise 0.15); 2-16-16-1 tanh network, {} parameters\n", n,
             net.parameter_count());
  fmt::print(
      "full-batch Adam (eta 0.01), {} epochs: cross-entropy {:.3f} -> {:.4f}, training accuracy {:.1f}%\n",
      history.epochs, history.loss.front(), history.loss.back(), 100.0 * double(correct) / double(n));

  // p(x) = sigma(s(x)) on a grid covering the data.
  const std::size_t nx = 80, ny = 60;
  const double x0 = -1.6, x1 = 2.6, y0 = -1.2, y1 = 1.7;
  std::vector<double> grid;
  for (std::size_t j = 0; j < ny; ++j)
    for (std::size_t i = 0; i < nx; ++i) {
      grid.push_back(x0 + (double(i) + 0.5) * (x1 - x0) / double(nx));
      grid.push_back(y0 + (double(j) + 0.5) * (y1 - y0) / double(ny));
    }
  std::vector<double> probability;
  {
    ad::NoGrad off;
    const ad::Tensor p = ad::logistic(net(ad::Tensor::from({nx * ny, 2}, grid)));
    probability.assign(p.values().begin(), p.values().end());
  }
  std::vector<double> ax, ay, bx, by;
  for (std::size_t i = 0; i < n; ++i) {
    (data.label[i] > 0.5 ? bx : ax).push_back(data.x[2 * i]);
    (data.label[i] > 0.5 ? by : ay).push_back(data.x[2 * i + 1]);
  }
  tour::Plot plot("two moons: p(class 1 | x) and the decision boundary", "x1", "x2");
  plot.field(nx, ny, x0, x1, y0, y1, probability)
      .scatter("class 0", ax, ay, "#1f77b4")
      .scatter("class 1", bx, by, "#d62728");
  const auto path = out / "classify2d.svg";
  plot.write(path, 700, 480);

  std::vector<double> epoch_axis(history.loss.size());
  for (std::size_t e = 0; e < epoch_axis.size(); ++e) epoch_axis[e] = double(e + 1);
  tour::Plot curve("two moons: training loss", "epoch", "cross-entropy");
  curve.log_y().line("Adam, eta 0.01", epoch_axis, history.loss);
  const auto curve_path = out / "classify2d_loss.svg";
  curve.write(curve_path);
  tour::wrote(path, "decision boundary");
  tour::wrote(curve_path, "loss curve");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "classify2d: %s\n", e.what());
  return 1;
}
