// LibTorch's Fashion-MNIST CNN for bench_cnn (see libtorch_cnn_peer.hpp).
#include "libtorch_cnn_peer.hpp"

#include <stdexcept>
#include <string>
#include <utility>

#include <torch/torch.h>

namespace bench::libtorch {

struct CnnTrainer::Impl {
  torch::nn::Sequential net;
  torch::optim::Adam optimizer;

  Impl(torch::nn::Sequential net_, double learning_rate)
      : net(std::move(net_)), optimizer(net->parameters(), torch::optim::AdamOptions(learning_rate)) {}
};

namespace {

torch::nn::Sequential make_cnn(const std::vector<std::vector<double>>& parameters, double dropout) {
  using namespace torch::nn;
  Sequential net(Conv2d(Conv2dOptions(1, 32, 3)), ReLU(), MaxPool2d(MaxPool2dOptions(2)),
                 Conv2d(Conv2dOptions(32, 64, 3)), ReLU(), MaxPool2d(MaxPool2dOptions(2)), Flatten(),
                 Linear(1600, 128), ReLU(), Dropout(DropoutOptions(dropout)), Linear(128, 10));
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> tensors = net->parameters();  // weight, bias of each layer, in order
  if (tensors.size() != parameters.size())
    throw std::invalid_argument("libtorch CNN peer: expected " + std::to_string(tensors.size()) +
                                " parameter arrays, got " + std::to_string(parameters.size()));
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::vector<double>& values = parameters[i];
    if (std::size_t(tensors[i].numel()) != values.size())
      throw std::invalid_argument("libtorch CNN peer: parameter " + std::to_string(i) + " has " +
                                  std::to_string(values.size()) + " values, torch's has " +
                                  std::to_string(tensors[i].numel()));
    tensors[i].copy_(
        torch::from_blob(const_cast<double*>(values.data()), tensors[i].sizes(), torch::kFloat64));
  }
  return net;
}

}  // namespace

CnnTrainer::CnnTrainer(const std::vector<std::vector<double>>& parameters, double dropout,
                       double learning_rate)
    : impl_(std::make_unique<Impl>(make_cnn(parameters, dropout), learning_rate)) {}

CnnTrainer::~CnnTrainer() = default;

double CnnTrainer::epoch(const std::vector<float>& images, const std::vector<std::int64_t>& labels,
                         const std::vector<std::size_t>& order, std::size_t batch) {
  Impl& s = *impl_;
  s.net->train();
  const std::int64_t count = std::int64_t(labels.size());
  // Views of the caller's arrays: nothing is copied here.
  const torch::Tensor all_images = torch::from_blob(const_cast<float*>(images.data()), {count, 1, 28, 28});
  const torch::Tensor all_labels =
      torch::from_blob(const_cast<std::int64_t*>(labels.data()), {count}, torch::kInt64);
  std::vector<std::int64_t> shuffled(order.begin(), order.end());
  const std::int64_t steps = std::int64_t(shuffled.size());  // the order may cover part of the images
  const torch::Tensor permutation = torch::from_blob(shuffled.data(), {steps}, torch::kInt64);
  double total = 0.0;
  std::size_t batches = 0;
  for (std::int64_t first = 0; first < steps; first += std::int64_t(batch), ++batches) {
    const torch::Tensor rows = permutation.slice(0, first, std::min(steps, first + std::int64_t(batch)));
    s.optimizer.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(
        s.net->forward(all_images.index_select(0, rows)), all_labels.index_select(0, rows));
    loss.backward();
    s.optimizer.step();
    total += loss.item<double>();
  }
  return total / double(batches);
}

double CnnTrainer::accuracy(const std::vector<float>& images, const std::vector<std::int64_t>& labels) {
  Impl& s = *impl_;
  s.net->eval();
  torch::NoGradGuard no_grad;
  const std::int64_t count = std::int64_t(labels.size());
  const torch::Tensor all_images = torch::from_blob(const_cast<float*>(images.data()), {count, 1, 28, 28});
  const torch::Tensor all_labels =
      torch::from_blob(const_cast<std::int64_t*>(labels.data()), {count}, torch::kInt64);
  std::int64_t correct = 0;
  for (std::int64_t first = 0; first < count; first += 1000) {
    const std::int64_t last = std::min(count, first + 1000);
    const torch::Tensor predicted = s.net->forward(all_images.slice(0, first, last)).argmax(1);
    correct += predicted.eq(all_labels.slice(0, first, last)).sum().item<std::int64_t>();
  }
  return double(correct) / double(count);
}

}  // namespace bench::libtorch
