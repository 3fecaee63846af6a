// Specification by comparison: nn's LayerNorm, BatchNorm1d, BatchNorm2d,
// Embedding and Flatten compute what torch::nn's modules of the same names
// compute, to 1e-10 relative in double: outputs, the gradients of the input
// and of every parameter, and batch norm's running statistics after three
// training steps and its outputs in evaluation mode.
//
// Built only when LibTorch is found (tests/CMakeLists.txt); the same rules
// are checked against hand-computed values in test_nn_layers.cpp in every
// build. Dropout cannot match LibTorch's random masks; test_nn_layers.cpp
// checks its rule instead.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <utility>
#include <vector>

// clang-format off
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/autograd.h>
// clang-format on

// LibTorch (c10/util/logging_is_not_google_glog.h) defines a CHECK macro that
// aborts; doctest's must be the one these tests use.
#undef CHECK
#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
#include <nn/layers/embedding.hpp>
#include <nn/layers/norm.hpp>
#include <nn/layers/shape.hpp>

namespace {

constexpr double tolerance = 1e-10;

ad::Tensor random_tensor(const ad::Shape& shape, std::uint64_t seed, double offset = 0.0) {
  std::mt19937_64 rng(seed);
  ad::Tensor t = ad::Tensor::randn(shape, rng);
  for (double& v : t.mutable_values()) v = 1.5 * v + offset;
  return t;
}

torch::Tensor to_torch(const ad::Tensor& t) {
  std::vector<std::int64_t> sizes(t.shape().begin(), t.shape().end());
  return torch::tensor(std::vector<double>(t.values().begin(), t.values().end()), torch::kFloat64)
      .reshape(sizes);
}

// The largest |ours - theirs| / max(1, |theirs|), after checking the shapes agree.
double difference(const ad::Tensor& ours, const torch::Tensor& theirs) {
  const torch::Tensor t = theirs.detach().to(torch::kFloat64).contiguous();
  const std::vector<std::size_t> sizes(t.sizes().begin(), t.sizes().end());
  const std::vector<std::size_t> shape(ours.shape().begin(), ours.shape().end());
  REQUIRE(shape == sizes);
  double worst = 0.0;
  const auto v = ours.values();
  for (std::size_t i = 0; i < v.size(); ++i) {
    const double reference = t.data_ptr<double>()[i];
    worst = std::max(worst, std::abs(v[i] - reference) / std::max(1.0, std::abs(reference)));
  }
  return worst;
}

// Sets a torch parameter or buffer to our tensor's values.
void copy_into(torch::Tensor& theirs, const ad::Tensor& ours) {
  torch::NoGradGuard off;
  theirs.copy_(to_torch(ours));
}

struct ParameterPair {
  const char* name;
  ad::Tensor ours;
  torch::Tensor theirs;
};

// One forward and backward of sum(f(x) * probe) in both libraries: compares
// f(x) and the gradients of x and of each parameter.
void compare_step(const std::function<ad::Tensor(const ad::Tensor&)>& ours,
                  const std::function<torch::Tensor(const torch::Tensor&)>& theirs,
                  const ad::Tensor& x_values, std::vector<ParameterPair> parameters, std::uint64_t seed) {
  ad::Tensor x = x_values.detach().requires_grad(true);
  torch::Tensor tx = to_torch(x_values).set_requires_grad(true);
  for (auto& p : parameters) p.ours.clear_grad();

  const ad::Tensor y = ours(x);
  const torch::Tensor ty = theirs(tx);
  CHECK(difference(y, ty) <= tolerance);
  const ad::Tensor probe = random_tensor(y.shape(), seed);
  ad::sum(y * probe).backward();
  std::vector<torch::Tensor> inputs{tx};
  for (const auto& p : parameters) inputs.push_back(p.theirs);
  const auto grads = torch::autograd::grad({torch::sum(ty * to_torch(probe))}, inputs);
  CHECK(difference(x.grad(), grads[0]) <= tolerance);
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    CAPTURE(parameters[k].name);
    CHECK(difference(parameters[k].ours.grad(), grads[k + 1]) <= tolerance);
  }
}

// Random weight and bias in both (a fresh layer's ones and zeros would hide
// a wrong formula).
template <class Ours, class Theirs>
void randomise_affine(Ours& ours, Theirs& theirs, std::uint64_t seed) {
  ad::Tensor w = ours.weight(), b = ours.bias();
  const ad::Tensor w0 = random_tensor(w.shape(), seed, 1.0), b0 = random_tensor(b.shape(), seed + 1);
  std::copy(w0.values().begin(), w0.values().end(), w.mutable_values().begin());
  std::copy(b0.values().begin(), b0.values().end(), b.mutable_values().begin());
  copy_into(theirs->weight, w);
  copy_into(theirs->bias, b);
}

// Three training steps on different batches (outputs, gradients, running
// statistics after each), then evaluation mode (outputs, input gradients).
template <class Ours, class Theirs>
void compare_batch_norm(Ours& ours, Theirs& theirs, const ad::Shape& shape) {
  theirs->to(torch::kFloat64);
  randomise_affine(ours, theirs, 10);
  auto forward = [&](const ad::Tensor& x) { return ours(x); };
  auto torch_forward = [&](const torch::Tensor& x) { return theirs->forward(x); };
  auto parameters = [&] {
    return std::vector<ParameterPair>{{"weight", ours.weight(), theirs->weight},
                                      {"bias", ours.bias(), theirs->bias}};
  };
  for (std::uint64_t step = 0; step < 3; ++step) {
    CAPTURE(step);
    compare_step(forward, torch_forward, random_tensor(shape, 20 + step, double(step)), parameters(),
                 30 + step);
    CHECK(difference(ours.running_mean(), theirs->running_mean) <= tolerance);
    CHECK(difference(ours.running_var(), theirs->running_var) <= tolerance);
  }
  CHECK(ours.running_mean().values()[0] != 0.0);
  ours.eval();
  theirs->eval();
  compare_step(forward, torch_forward, random_tensor(shape, 40), parameters(), 41);
}

}  // namespace

TEST_CASE("LayerNorm over the last two axes matches torch::nn::LayerNorm") {
  nn::LayerNorm ours({4, 5});
  torch::nn::LayerNorm theirs(torch::nn::LayerNormOptions({4, 5}).eps(1e-5));
  theirs->to(torch::kFloat64);
  randomise_affine(ours, theirs, 1);
  compare_step([&](const ad::Tensor& x) { return ours(x); },
               [&](const torch::Tensor& x) { return theirs->forward(x); }, random_tensor({3, 4, 5}, 2, 0.5),
               {{"weight", ours.weight(), theirs->weight}, {"bias", ours.bias(), theirs->bias}}, 3);
}

TEST_CASE("LayerNorm without affine parameters and with a larger eps matches torch::nn::LayerNorm") {
  nn::LayerNorm ours({6}, 0.1, false);
  torch::nn::LayerNorm theirs(torch::nn::LayerNormOptions({6}).eps(0.1).elementwise_affine(false));
  theirs->to(torch::kFloat64);
  compare_step([&](const ad::Tensor& x) { return ours(x); },
               [&](const torch::Tensor& x) { return theirs->forward(x); }, random_tensor({2, 3, 6}, 4), {},
               5);
}

TEST_CASE("BatchNorm1d on [N, C] matches torch::nn::BatchNorm1d in training and evaluation mode") {
  nn::BatchNorm1d ours(3);
  torch::nn::BatchNorm1d theirs(torch::nn::BatchNorm1dOptions(3));
  compare_batch_norm(ours, theirs, {6, 3});
}

TEST_CASE("BatchNorm1d on [N, C, L] with its own momentum and eps matches torch::nn::BatchNorm1d") {
  nn::BatchNorm1d ours(3, 1e-3, 0.3);
  torch::nn::BatchNorm1d theirs(torch::nn::BatchNorm1dOptions(3).eps(1e-3).momentum(0.3));
  compare_batch_norm(ours, theirs, {4, 3, 5});
}

TEST_CASE("BatchNorm2d matches torch::nn::BatchNorm2d in training and evaluation mode") {
  nn::BatchNorm2d ours(2);
  torch::nn::BatchNorm2d theirs(torch::nn::BatchNorm2dOptions(2));
  compare_batch_norm(ours, theirs, {3, 2, 4, 5});
}

TEST_CASE("Embedding matches torch::nn::Embedding, repeated indices included") {
  std::mt19937_64 rng(50);
  nn::Embedding ours(7, 4, rng);
  torch::nn::Embedding theirs(torch::nn::EmbeddingOptions(7, 4));
  theirs->to(torch::kFloat64);
  copy_into(theirs->weight, ours.weight());
  const std::vector<double> indices = {3, 0, 6, 3, 3, 1};
  const ad::Tensor idx = ad::Tensor::from({2, 3}, indices);
  const torch::Tensor torch_idx = to_torch(idx).to(torch::kLong);
  const ad::Tensor y = ours(idx);
  const torch::Tensor ty = theirs->forward(torch_idx);
  CHECK(difference(y, ty) <= tolerance);
  const ad::Tensor probe = random_tensor(y.shape(), 51);
  ad::sum(y * probe).backward();
  const auto grads = torch::autograd::grad({torch::sum(ty * to_torch(probe))}, {theirs->weight});
  CHECK(difference(ours.weight().grad(), grads[0]) <= tolerance);
}

TEST_CASE("Flatten matches torch::nn::Flatten for the default and for inner axes") {
  for (const auto& [start, end] : {std::pair<std::int64_t, std::int64_t>{1, -1}, {1, 2}, {0, -2}, {-3, 3}}) {
    CAPTURE(start);
    CAPTURE(end);
    nn::Flatten ours(start, end);
    torch::nn::Flatten theirs(torch::nn::FlattenOptions().start_dim(start).end_dim(end));
    compare_step([&](const ad::Tensor& x) { return ours(x); },
                 [&](const torch::Tensor& x) { return theirs->forward(x); }, random_tensor({2, 3, 4, 5}, 60),
                 {}, 61);
  }
}
