// LibTorch's side of bench_mlp and bench_fashion, written the way a LibTorch
// user writes a training loop: torch::nn::Sequential of Linear layers and
// activations, a loss from torch::nn::functional, torch::optim.
#include "libtorch_peer.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include <torch/torch.h>

// OpenBLAS's own thread count: LibTorch calls BLAS through libblas.so.3,
// Debian's OpenBLAS, whose pool torch::set_num_threads does not touch.
extern "C" void openblas_set_num_threads(int threads);
extern "C" char* openblas_get_config();

namespace bench::libtorch {

namespace {

torch::Dtype dtype_of(bool use_double) { return use_double ? torch::kFloat64 : torch::kFloat32; }

// A Sequential of Linear layers with `hidden` between them, starting from
// the given parameters (W^1, b^1, ...; W^L of shape [outputs, inputs]).
template <class Hidden>
torch::nn::Sequential make_mlp(const std::vector<std::size_t>& sizes, const Parameters& parameters,
                               torch::Dtype dtype) {
  if (parameters.size() != 2 * (sizes.size() - 1))
    throw std::invalid_argument("libtorch peer: two parameter arrays per layer expected");
  torch::nn::Sequential net;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    net->push_back(torch::nn::Linear(std::int64_t(sizes[l]), std::int64_t(sizes[l + 1])));
    if (l + 2 < sizes.size()) net->push_back(Hidden());
  }
  net->to(dtype);
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> tensors = net->parameters();  // weight, bias of each Linear, in order
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::vector<double>& values = parameters[i];
    if (std::size_t(tensors[i].numel()) != values.size())
      throw std::invalid_argument("libtorch peer: parameter " + std::to_string(i) + " has the wrong size");
    auto source = torch::from_blob(const_cast<double*>(values.data()), tensors[i].sizes(), torch::kFloat64);
    tensors[i].copy_(source);
  }
  return net;
}

torch::Tensor tensor_from(const std::vector<double>& values, std::int64_t rows, torch::Dtype dtype) {
  const std::int64_t cols = std::int64_t(values.size()) / rows;
  return torch::from_blob(const_cast<double*>(values.data()), {rows, cols}, torch::kFloat64)
      .to(dtype)
      .clone();
}

}  // namespace

std::string description() {
  std::string text = "LibTorch " + std::string(TORCH_VERSION);
  if (const char* config = openblas_get_config()) text += std::string(" (BLAS: ") + config + ")";
  return text;
}

void set_threads(int torch_threads, int blas_threads) {
  torch::set_num_threads(torch_threads);
  openblas_set_num_threads(blas_threads);
}

// ---- MlpTrainer -----------------------------------------------------------

struct MlpTrainer::Impl {
  torch::nn::Sequential net;
  torch::optim::SGD optimizer;
  torch::Tensor x, y;
  double half_over_batch;

  Impl(torch::nn::Sequential net_, double learning_rate, torch::Tensor x_, torch::Tensor y_)
      : net(std::move(net_)),
        optimizer(net->parameters(), torch::optim::SGDOptions(learning_rate)),
        x(std::move(x_)),
        y(std::move(y_)),
        half_over_batch(0.5 / double(x.size(0))) {}
};

MlpTrainer::MlpTrainer(const std::vector<std::size_t>& sizes, const Parameters& parameters,
                       const std::vector<double>& x, const std::vector<double>& y, bool use_double,
                       double learning_rate) {
  const torch::Dtype dtype = dtype_of(use_double);
  const std::int64_t batch = std::int64_t(x.size() / sizes.front());
  impl_ = std::make_unique<Impl>(make_mlp<torch::nn::Tanh>(sizes, parameters, dtype), learning_rate,
                                 tensor_from(x, batch, dtype), tensor_from(y, batch, dtype));
}

MlpTrainer::~MlpTrainer() = default;

double MlpTrainer::step(bool want_loss) {
  Impl& s = *impl_;
  s.optimizer.zero_grad();
  // 1/(2B) sum (f(x) - y)^2
  torch::Tensor loss = torch::nn::functional::mse_loss(
                           s.net->forward(s.x), s.y, torch::nn::functional::MSELossFuncOptions(torch::kSum)) *
                       s.half_over_batch;
  loss.backward();
  s.optimizer.step();
  return want_loss ? loss.item<double>() : NAN;
}

// ---- ClassifierTrainer ----------------------------------------------------

struct ClassifierTrainer::Impl {
  torch::nn::Sequential net;
  torch::optim::Adam optimizer;

  Impl(torch::nn::Sequential net_, double learning_rate)
      : net(std::move(net_)), optimizer(net->parameters(), torch::optim::AdamOptions(learning_rate)) {}
};

ClassifierTrainer::ClassifierTrainer(const std::vector<std::size_t>& sizes, const Parameters& parameters,
                                     double learning_rate)
    : impl_(std::make_unique<Impl>(make_mlp<torch::nn::ReLU>(sizes, parameters, torch::kFloat32),
                                   learning_rate)) {}

ClassifierTrainer::~ClassifierTrainer() = default;

double ClassifierTrainer::epoch(const std::vector<float>& images, const std::vector<std::int64_t>& labels,
                                const std::vector<std::size_t>& order, std::size_t batch) {
  Impl& s = *impl_;
  const std::int64_t count = std::int64_t(labels.size());
  const std::int64_t features = std::int64_t(images.size()) / count;
  // Views of the caller's arrays: nothing is copied here.
  const torch::Tensor all_images = torch::from_blob(const_cast<float*>(images.data()), {count, features});
  const torch::Tensor all_labels =
      torch::from_blob(const_cast<std::int64_t*>(labels.data()), {count}, torch::kInt64);
  std::vector<std::int64_t> shuffled(order.begin(), order.end());
  const torch::Tensor permutation = torch::from_blob(shuffled.data(), {count}, torch::kInt64);
  double total = 0.0;
  std::size_t batches = 0;
  for (std::int64_t first = 0; first < count; first += std::int64_t(batch), ++batches) {
    const torch::Tensor rows = permutation.slice(0, first, std::min(count, first + std::int64_t(batch)));
    s.optimizer.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(
        s.net->forward(all_images.index_select(0, rows)), all_labels.index_select(0, rows));
    loss.backward();
    s.optimizer.step();
    total += loss.item<double>();
  }
  return total / double(batches);
}

double ClassifierTrainer::accuracy(const std::vector<float>& images,
                                   const std::vector<std::int64_t>& labels) {
  torch::NoGradGuard no_grad;
  const std::int64_t count = std::int64_t(labels.size());
  const std::int64_t features = std::int64_t(images.size()) / count;
  const torch::Tensor x = torch::from_blob(const_cast<float*>(images.data()), {count, features});
  const torch::Tensor y = torch::from_blob(const_cast<std::int64_t*>(labels.data()), {count}, torch::kInt64);
  const torch::Tensor predicted = impl_->net->forward(x).argmax(1);
  return predicted.eq(y).sum().item<double>() / double(count);
}

}  // namespace bench::libtorch
