// nn::check_gradients for any Module: the module is evaluated as it is, with
// its parameters' values replaced by the points the finite differences need.
#include <nn/check_gradients.hpp>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

#include <autodiff/guards.hpp>

namespace nn::detail {
namespace {

// Keeps every parameter's values and gradient and puts them back when it goes
// out of scope (normally or through an exception), so the check leaves the
// model exactly as it found it.
template <class T>
class ParameterGuard {
 public:
  explicit ParameterGuard(const typename ModuleT<T>::template Named<ad::TensorT<T>>& named) {
    for (const auto& [name, p] : named) {
      parameters_.push_back(p);
      values_.emplace_back(p.values().begin(), p.values().end());
      gradients_.emplace_back(p.grad_view().begin(), p.grad_view().end());
    }
  }
  ~ParameterGuard() {
    for (std::size_t k = 0; k < parameters_.size(); ++k) {
      auto out = parameters_[k].mutable_values();  // leaves only (checked before the guard exists)
      std::copy(values_[k].begin(), values_[k].end(), out.begin());
      parameters_[k].exchange_grad(gradients_[k]);
    }
  }
  ParameterGuard(const ParameterGuard&) = delete;
  ParameterGuard& operator=(const ParameterGuard&) = delete;

 private:
  std::vector<ad::TensorT<T>> parameters_;
  std::vector<std::vector<T>> values_, gradients_;
};

// Keeps the values of every buffer a forward may write in place (batch
// norm's running statistics in training mode) and puts them back: the
// check's many forwards must not leave the model with other statistics.
template <class T>
class BufferGuard {
 public:
  explicit BufferGuard(const typename ModuleT<T>::template Named<ad::TensorT<T>>& named) {
    for (const auto& [name, b] : named)
      if (b.defined() && b.is_leaf()) {  // only a leaf's values can be written in place
        buffers_.push_back(b);
        values_.emplace_back(b.values().begin(), b.values().end());
      }
  }
  ~BufferGuard() {
    for (std::size_t k = 0; k < buffers_.size(); ++k) {
      // Written only where they changed: a write counts as a new version.
      const auto now = buffers_[k].values();
      if (!std::equal(now.begin(), now.end(), values_[k].begin(), values_[k].end())) {
        auto out = buffers_[k].mutable_values();
        std::copy(values_[k].begin(), values_[k].end(), out.begin());
      }
    }
  }
  BufferGuard(const BufferGuard&) = delete;
  BufferGuard& operator=(const BufferGuard&) = delete;

 private:
  std::vector<ad::TensorT<T>> buffers_;
  std::vector<std::vector<T>> values_;
};

template <class T>
ad::TensorT<T> evaluate(ModuleT<T>& model, const ad::TensorT<T>& X, const ad::TensorT<T>& Y,
                        const ModelLoss<T>& loss) {
  ad::TensorT<T> y = loss(model(X), Y);
  if (!y.defined() || y.numel() != 1)
    throw std::invalid_argument(fmt::format(
        "nn::check_gradients: the loss of the {} gave {}; it must be a one-element tensor", model.type_name(),
        y.defined() ? "shape " + y.shape().to_string() : std::string("an empty tensor")));
  return y;
}

}  // namespace

template <class T>
ad::GradcheckReport check_module_gradients(ModuleT<T>& model, const ad::TensorT<T>& X,
                                           const ad::TensorT<T>& Y, const ModelLoss<T>& loss,
                                           const ad::GradcheckOptions& options) {
  // A tensor registered under several names (tied weights) is one set of
  // variables: checked once, under its first name. (Two rows would write the
  // same storage, and the second write would undo the first's perturbation.)
  typename ModuleT<T>::template Named<ad::TensorT<T>> named;
  for (auto& [name, p] : model.named_parameters()) {
    bool seen = false;
    for (const auto& [other_name, other] : named) seen = seen || (p.defined() && other.is_same(p));
    if (!seen) named.emplace_back(std::move(name), std::move(p));
  }
  if (named.empty())
    throw std::invalid_argument(
        fmt::format("nn::check_gradients: the {} has no parameters to check", model.type_name()));
  std::vector<std::vector<double>> point;
  std::vector<std::string> names;
  std::vector<ad::Shape> shapes;
  for (const auto& [name, p] : named) {
    if (!p.defined())
      throw std::invalid_argument(fmt::format(
          "nn::check_gradients: parameter '{}' of the {} is an empty tensor", name, model.type_name()));
    if (!p.is_leaf())
      throw std::invalid_argument(fmt::format(
          "nn::check_gradients: parameter '{}' of the {} was produced by an op; parameters must be leaves",
          name, model.type_name()));
    point.emplace_back(p.values().begin(), p.values().end());
    names.push_back(name);
    shapes.push_back(p.shape());
  }
  ParameterGuard<T> guard(named);
  BufferGuard<T> buffer_guard(model.named_buffers());
  const ad::GradcheckOptions o = gradcheck_options_for<T>(options);

  auto write = [&](const std::vector<std::vector<double>>& at) {
    for (std::size_t k = 0; k < named.size(); ++k) {
      ad::TensorT<T> p = named[k].second;
      auto out = p.mutable_values();
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(at[k][i]);
    }
  };
  auto value = [&](const std::vector<std::vector<double>>& at) -> double {
    write(at);
    ad::NoGrad off;
    return static_cast<double>(evaluate(model, X, Y, loss).item());
  };
  // The tape's gradient at `at`, from cleared gradients, against the
  // finite differences around it.
  auto check_at = [&](const std::vector<std::vector<double>>& at) {
    write(at);
    for (auto& [name, p] : named) p.clear_grad();
    {
      ad::TensorT<T> y = evaluate(model, X, Y, loss);
      if (y.requires_grad_enabled()) y.backward();
    }
    std::vector<std::vector<double>> analytic;
    for (const auto& [name, p] : named) {
      const ad::TensorT<T> g = p.grad();
      analytic.emplace_back(g.values().begin(), g.values().end());
    }
    return ad::detail::run_gradcheck(value, at, analytic, names, shapes, o,
                                     double(std::numeric_limits<T>::epsilon()));
  };
  ad::GradcheckReport report = check_at(point);
  if (ad::detail::perturbs(o)) {
    // The second point in the model's own precision, so that both sides see
    // the same values.
    std::vector<std::vector<double>> second = ad::detail::perturbed_point(point, o);
    for (auto& input : second)
      for (double& x : input) x = static_cast<double>(static_cast<T>(x));
    ad::detail::merge_perturbed(report, check_at(second));
  }
  return report;
}

template ad::GradcheckReport check_module_gradients(ModuleT<float>&, const ad::TensorT<float>&,
                                                    const ad::TensorT<float>&, const ModelLoss<float>&,
                                                    const ad::GradcheckOptions&);
template ad::GradcheckReport check_module_gradients(ModuleT<double>&, const ad::TensorT<double>&,
                                                    const ad::TensorT<double>&, const ModelLoss<double>&,
                                                    const ad::GradcheckOptions&);

}  // namespace nn::detail
