// The perceptron: one neuron y = H(w . x + b), with H the Heaviside step
// (H(a) = 1 for a >= 0, else 0). Its parameters theta = (w1, ..., wn, b)
// define the hyperplane w . x + b = 0, and the neuron answers 1 on one side
// of it (and on it), 0 on the other.
//
// Shown here: the two worked examples, the hyperplane, the perceptron rule
// learning AND and OR, and XOR, which no hyperplane separates. Writes
// perceptron.svg: the four inputs of each problem with the learned line.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <nn/nn.hpp>

#include "svg_plot.hpp"
#include "tour.hpp"

namespace {

void worked_example(const std::vector<double>& w, double b, const std::vector<double>& x) {
  const nn::Perceptron p(w, b, nn::Activation::heaviside);
  double a = b;
  for (std::size_t i = 0; i < w.size(); ++i) a += w[i] * x[i];
  fmt::print("  theta = (w1, w2, w3, b) = ({}, {})  x = ({})\n", fmt::join(w, ", "), b, fmt::join(x, ", "));
  fmt::print("    a = w . x + b = {:g}   y = H(a) = {:g}     hyperplane: {}\n", a, p({x[0], x[1], x[2]}),
             p.hyperplane());
}

const std::vector<std::vector<double>> corners = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};

// Learns `targets` on the four corners of the unit square with the rule
// w <- w + eta (y - yhat) x, b <- b + eta (y - yhat), from theta = 0.
nn::Perceptron learn(const char* name, const std::vector<double>& targets, std::size_t max_epochs) {
  nn::Perceptron p({0.0, 0.0}, 0.0, nn::Activation::heaviside);
  const nn::PerceptronTraining result = p.train(corners, targets, /*learning_rate=*/1.0, max_epochs);
  fmt::print("  {:<3}: {} after {} epoch(s), {} misclassified in the last one\n", name,
             result.converged ? "converged" : "did NOT converge", result.epochs, result.misclassified);
  fmt::print("       learned hyperplane {}   ({})\n", p.hyperplane(), result.verdict);
  fmt::print("       x1 x2 | target  output\n");
  for (std::size_t i = 0; i < corners.size(); ++i)
    fmt::print("        {:g}  {:g} |   {:g}      {:g}{}\n", corners[i][0], corners[i][1], targets[i],
               p(corners[i]), p(corners[i]) == targets[i] ? "" : "   <- wrong");
  return p;
}

// One panel: the four corners coloured by target, and the learned line
// w1 x1 + w2 x2 + b = 0 (points exactly on it count as class 1, as H(0) = 1).
tour::Plot panel(const std::string& name, const std::vector<double>& targets, const nn::Perceptron& p) {
  std::vector<double> x0, y0, x1, y1;
  for (std::size_t i = 0; i < corners.size(); ++i) {
    (targets[i] > 0.5 ? x1 : x0).push_back(corners[i][0]);
    (targets[i] > 0.5 ? y1 : y0).push_back(corners[i][1]);
  }
  tour::Plot plot(name, "x1", "x2");
  plot.limits(-0.5, 1.5, -0.5, 1.5)
      .scatter("target 0", x0, y0, "#1f77b4")
      .scatter("target 1", x1, y1, "#d62728");
  const double w1 = p.weights()[0], w2 = p.weights()[1], b = p.bias();
  if (w2 != 0)  // x2 = -(w1 x1 + b) / w2
    plot.line("learned line", {-0.5, 1.5}, {-(w1 * -0.5 + b) / w2, -(w1 * 1.5 + b) / w2}, "#2ca02c");
  else if (w1 != 0)  // vertical: x1 = -b / w1
    plot.line("learned line", {-b / w1, -b / w1}, {-0.5, 1.5}, "#2ca02c");
  return plot;
}

}  // namespace

int main(int argc, char** argv) try {
  const tour::Args args(argc, argv);
  const auto out = args.out_dir();

  fmt::print("The two worked examples, inputs x = (0, 1, 1):\n");
  worked_example({1.0, 0.0, 1.0}, -1.0, {0, 1, 1});  // a = 0 + 0 + 1 - 1 = 0, H(0) = 1
  worked_example({1.0, 0.5, -1.0}, 0.0, {0, 1, 1});  // a = 0 + 0.5 - 1 = -0.5, H(-0.5) = 0

  fmt::print("\nThe perceptron rule on the corners of the unit square, from theta = 0, eta = 1:\n");
  const std::vector<double> and_targets = {0, 0, 0, 1}, or_targets = {0, 1, 1, 1}, xor_targets = {0, 1, 1, 0};
  const nn::Perceptron and_p = learn("AND", and_targets, 100);
  const nn::Perceptron or_p = learn("OR", or_targets, 100);
  // XOR: (0,1) and (1,0) must be on one side, (0,0) and (1,1) on the other;
  // adding the two inequalities of each pair gives 2b + w1 + w2 >= 0 and < 0
  // at once, so no line exists and the rule cycles forever.
  const nn::Perceptron xor_p = learn("XOR", xor_targets, args.smoke() ? 20 : 100);

  const auto path = out / "perceptron.svg";
  tour::write_panels(path,
                     {panel("AND (separable)", and_targets, and_p), panel("OR (separable)", or_targets, or_p),
                      panel("XOR (the rule's last line)", xor_targets, xor_p)},
                     400, 320);
  fmt::print("\n");
  tour::wrote(path, "the three problems with the learned lines; XOR's last line still misclassifies");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "perceptron: %s\n", e.what());
  return 1;
}
