#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include <nn/perceptron.hpp>

namespace nn {

Perceptron::Perceptron(std::vector<double> weights, double bias, Activation psi)
    : weights_(std::move(weights)), bias_(bias), psi_(psi) {
  if (weights_.empty()) throw std::invalid_argument("nn::Perceptron: needs at least one weight");
}

double Perceptron::operator()(std::span<const double> x) const {
  if (x.size() != weights_.size())
    throw std::invalid_argument(
        fmt::format("nn::Perceptron: {} inputs for a perceptron with {} weights", x.size(), weights_.size()));
  double a = bias_;
  for (std::size_t i = 0; i < x.size(); ++i) a += weights_[i] * x[i];
  return value(psi_, a);
}

ad::Var Perceptron::operator()(std::span<const ad::Var> x, std::span<const ad::Var> weights, const ad::Var& bias) const {
  if (x.size() != weights.size())
    throw std::invalid_argument(
        fmt::format("nn::Perceptron: {} inputs for {} weights", x.size(), weights.size()));
  ad::Var a = bias;
  for (std::size_t i = 0; i < x.size(); ++i) a += weights[i] * x[i];
  const ad::OpCode op = op_code(psi_);  // the activation table's op
  return op == ad::OpCode::leaf ? a : ad::apply_unary(op, a);
}

std::string Perceptron::hyperplane() const {
  std::string s;
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    const double w = weights_[i];
    if (i == 0)
      s += fmt::format("{:g} x{}", w, i + 1);
    else
      s += fmt::format(" {} {:g} x{}", w < 0 ? '-' : '+', std::fabs(w), i + 1);
  }
  s += fmt::format(" {} {:g} = 0", bias_ < 0 ? '-' : '+', std::fabs(bias_));
  return s;
}

PerceptronTraining Perceptron::train(const std::vector<std::vector<double>>& inputs, const std::vector<double>& targets,
                                     double learning_rate, std::size_t max_epochs) {
  if (inputs.size() != targets.size() || inputs.empty())
    throw std::invalid_argument(fmt::format("nn::Perceptron::train: {} inputs and {} targets (need equal, non-zero)",
                                            inputs.size(), targets.size()));
  if (!std::isfinite(learning_rate) || learning_rate <= 0)
    throw std::invalid_argument(
        fmt::format("nn::Perceptron::train: the learning rate must be finite and > 0, got {}", learning_rate));
  PerceptronTraining result;
  for (std::size_t epoch = 0; epoch < max_epochs; ++epoch) {
    std::size_t mistakes = 0;
    for (std::size_t s = 0; s < inputs.size(); ++s) {
      const double error = targets[s] - (*this)(inputs[s]);
      if (error == 0.0) continue;
      ++mistakes;
      for (std::size_t i = 0; i < weights_.size(); ++i) weights_[i] += learning_rate * error * inputs[s][i];
      bias_ += learning_rate * error;
    }
    result.epochs = epoch + 1;
    result.misclassified = mistakes;
    if (mistakes == 0) {
      result.converged = true;
      result.verdict = fmt::format("separated after {} epochs by {}", result.epochs, hyperplane());
      return result;
    }
  }
  result.verdict = fmt::format(
      "not separable by a hyperplane: still {} misclassified after {} epochs (the perceptron rule cycles on data "
      "that is not linearly separable)",
      result.misclassified, result.epochs);
  return result;
}

}  // namespace nn
