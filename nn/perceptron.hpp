// nn::Perceptron: the single neuron y = psi(sum_i w_i x_i + b).
//
//   nn::Perceptron p({1.0, 0.0, 1.0}, -1.0, nn::Activation::heaviside);
//   p({0, 1, 1});   // = H(0 + 0 + 1 - 1) = H(0) = 1
//
// With the Heaviside step it separates the input space by the hyperplane
// w . x + b = 0, and the classical perceptron rule learns w and b for
// linearly separable data.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include <autodiff/var.hpp>
#include <nn/activation.hpp>

namespace nn {

struct PerceptronTraining {
  bool converged = false;          // an epoch classified every sample correctly
  std::size_t epochs = 0;          // epochs run
  std::size_t misclassified = 0;   // in the last epoch
  std::string verdict;             // one sentence for people
};

class Perceptron {
 public:
  Perceptron(std::vector<double> weights, double bias, Activation psi = Activation::heaviside);

  // psi(w . x + b); x.size() must equal the number of weights.
  double operator()(std::span<const double> x) const;
  double operator()(std::initializer_list<double> x) const { return (*this)({x.begin(), x.size()}); }
  // The same on ad::Var inputs and parameters, recorded on the active tape.
  ad::Var operator()(std::span<const ad::Var> x, std::span<const ad::Var> weights, const ad::Var& bias) const;

  const std::vector<double>& weights() const noexcept { return weights_; }
  double bias() const noexcept { return bias_; }
  Activation activation() const noexcept { return psi_; }

  // The decision boundary w . x + b = 0, e.g. "1 x1 + 0 x2 + 1 x3 - 1 = 0".
  std::string hyperplane() const;

  // The classical perceptron learning rule (Rosenblatt): for each sample,
  // w <- w + eta (y - yhat) x and b <- b + eta (y - yhat), epoch after epoch
  // until an epoch makes no mistake or `max_epochs` have run. Targets are
  // 0 or 1. Non-separable data (XOR) ends at the epoch limit, reported as
  // not separable.
  PerceptronTraining train(const std::vector<std::vector<double>>& inputs, const std::vector<double>& targets,
                           double learning_rate = 1.0, std::size_t max_epochs = 100);

 private:
  std::vector<double> weights_;
  double bias_;
  Activation psi_;
};

}  // namespace nn
