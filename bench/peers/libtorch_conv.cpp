// LibTorch's conv2d and max_pool2d steps for bench_conv (see libtorch_conv.hpp).
#include "libtorch_conv.hpp"

#include <torch/torch.h>

namespace bench::libtorch {

namespace {

torch::Tensor tensor_of(const std::vector<double>& values, std::vector<std::int64_t> sizes, bool use_double) {
  return torch::from_blob(const_cast<double*>(values.data()), sizes, torch::kFloat64)
      .to(use_double ? torch::kFloat64 : torch::kFloat32)
      .clone();
}

std::int64_t i64(std::size_t v) { return static_cast<std::int64_t>(v); }

}  // namespace

bool has_mkldnn() { return at::hasMKLDNN() && at::globalContext().userEnabledMkldnn(); }

struct ConvStep::Impl {
  ConvShape shape;
  torch::Tensor x, w, b, seed;
};

ConvStep::ConvStep(const ConvShape& s, const std::vector<double>& x, const std::vector<double>& w,
                   const std::vector<double>& b, const std::vector<double>& seed, bool use_double)
    : impl_(std::make_unique<Impl>()) {
  const std::int64_t out = (i64(s.height) + 2 * i64(s.padding) - i64(s.kernel)) + 1;
  const std::int64_t out_w = (i64(s.width) + 2 * i64(s.padding) - i64(s.kernel)) + 1;
  impl_->shape = s;
  impl_->x = tensor_of(x, {i64(s.batch), i64(s.in_channels), i64(s.height), i64(s.width)}, use_double)
                 .requires_grad_(s.input_grad);
  impl_->w = tensor_of(w, {i64(s.out_channels), i64(s.in_channels), i64(s.kernel), i64(s.kernel)}, use_double)
                 .requires_grad_(true);
  impl_->b = tensor_of(b, {i64(s.out_channels)}, use_double).requires_grad_(true);
  impl_->seed = tensor_of(seed, {i64(s.batch), i64(s.out_channels), out, out_w}, use_double);
}

ConvStep::~ConvStep() = default;

void ConvStep::forward() {
  torch::NoGradGuard off;
  torch::Tensor y = torch::conv2d(impl_->x, impl_->w, impl_->b, 1, i64(impl_->shape.padding));
  (void)y;
}

void ConvStep::forward_backward() {
  torch::Tensor y = torch::conv2d(impl_->x, impl_->w, impl_->b, 1, i64(impl_->shape.padding));
  y.backward(impl_->seed);
  if (impl_->shape.input_grad) impl_->x.mutable_grad().reset();
  impl_->w.mutable_grad().zero_();
  impl_->b.mutable_grad().zero_();
}

std::vector<double> ConvStep::weight_grad() const {
  // forward_backward() zeroes it after the step: run one more without zeroing.
  torch::Tensor y = torch::conv2d(impl_->x, impl_->w, impl_->b, 1, i64(impl_->shape.padding));
  y.backward(impl_->seed);
  const torch::Tensor g = impl_->w.grad().to(torch::kFloat64).contiguous();
  std::vector<double> out(g.data_ptr<double>(), g.data_ptr<double>() + g.numel());
  impl_->w.mutable_grad().zero_();
  impl_->b.mutable_grad().zero_();
  if (impl_->shape.input_grad) impl_->x.mutable_grad().reset();
  return out;
}

struct MaxPoolStep::Impl {
  torch::Tensor x, seed;
};

MaxPoolStep::MaxPoolStep(const std::array<std::size_t, 4>& s, const std::vector<double>& x,
                         const std::vector<double>& seed, bool use_double)
    : impl_(std::make_unique<Impl>()) {
  impl_->x = tensor_of(x, {i64(s[0]), i64(s[1]), i64(s[2]), i64(s[3])}, use_double).requires_grad_(true);
  impl_->seed = tensor_of(seed, {i64(s[0]), i64(s[1]), i64(s[2] / 2), i64(s[3] / 2)}, use_double);
}

MaxPoolStep::~MaxPoolStep() = default;

void MaxPoolStep::forward() {
  torch::NoGradGuard off;
  torch::Tensor y = torch::max_pool2d(impl_->x, 2);
  (void)y;
}

void MaxPoolStep::forward_backward() {
  torch::Tensor y = torch::max_pool2d(impl_->x, 2);
  y.backward(impl_->seed);
  impl_->x.mutable_grad().reset();
}

}  // namespace bench::libtorch
