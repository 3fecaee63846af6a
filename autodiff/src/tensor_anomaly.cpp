// Anomaly detection for tensor ops: the messages. The checks themselves sit in
// record_with_inputs (forward values) and TensorTape::backward (gradients).
#include <cmath>

#include <fmt/format.h>

#include <autodiff/tape.hpp>
#include "tensor_tape.hpp"

#include "tensor_record.hpp"

namespace ad::detail {
namespace {

std::string where_text(std::source_location where) {
  if (where.line() == 0) return "an operator or internal call (no source line)";
  return fmt::format("{}:{}", where.file_name(), where.line());
}

template <class T>
std::string summary(const TensorImpl<T>& t) {
  double lo = INFINITY, hi = -INFINITY;
  std::size_t bad = 0;
  for (T v : t.values) {
    if (!std::isfinite(v)) ++bad;
    lo = std::min(lo, double(v));
    hi = std::max(hi, double(v));
  }
  std::string s = fmt::format("'{}' {} values in [{:.4g}, {:.4g}]", t.name, t.shape.to_string(), lo, hi);
  if (bad) s += fmt::format(" ({} not finite)", bad);
  return s;
}

std::string summary_any(const TensorImplBase& t) {
  return t.dtype == DType::float32 ? summary(static_cast<const TensorImpl<float>&>(t))
                                   : summary(static_cast<const TensorImpl<double>&>(t));
}

template <class T>
bool grad_finite(const TensorImpl<T>& t, std::size_t& index) {
  for (std::size_t i = 0; i < t.grad.size(); ++i)
    if (!std::isfinite(t.grad[i])) {
      index = i;
      return false;
    }
  return true;
}

}  // namespace

std::string describe_inputs_for_anomaly(const std::vector<const TensorImplBase*>& inputs) {
  std::string s;
  for (std::size_t k = 0; k < inputs.size(); ++k) s += fmt::format("{}input {}: {}", k ? "; " : "", k, summary_any(*inputs[k]));
  return s;
}

void throw_value_anomaly(std::string_view op, std::size_t index, double value,
                         const std::vector<const TensorImplBase*>& inputs, std::source_location where) {
  throw AnomalyError(fmt::format("ad::DetectAnomaly: {} produced {} at element {} ({}), recorded at {}", op, value,
                                 index, describe_inputs_for_anomaly(inputs), where_text(where)));
}

void check_backward_anomaly(const TensorImplBase& output) {
  for (const auto& input : output.node->inputs) {
    std::size_t index = 0;
    const bool finite = input->dtype == DType::float32
                            ? grad_finite(static_cast<const TensorImpl<float>&>(*input), index)
                            : grad_finite(static_cast<const TensorImpl<double>&>(*input), index);
    if (finite) continue;
    std::vector<const TensorImplBase*> in;
    for (const auto& i : output.node->inputs) in.push_back(i.get());
    throw AnomalyError(fmt::format(
        "ad::DetectAnomaly: the backward of {} (output {}) made the gradient of its input '{}' {} not finite at "
        "element {} ({}), recorded at {}",
        output.node->op, output.shape.to_string(), input->name, input->shape.to_string(), index,
        describe_inputs_for_anomaly(in), where_text(output.node->where)));
  }
}

}  // namespace ad::detail
