// Internal: how a tensor op records itself. An op computes its output values,
// then calls record() with a lambda that pushes the output's gradient to its
// inputs. The lambda is the op's derivative, written next to its forward.
#pragma once

#include <cmath>
#include <source_location>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include <autodiff/tape.hpp>
#include <autodiff/tensor.hpp>

namespace ad::detail {

template <class T, class Backward>
struct LambdaNode final : TensorNode {
  LambdaNode(std::string_view op, Backward fn) : TensorNode(op), backward_fn(std::move(fn)) {}
  void backward(TensorImplBase& output) override { backward_fn(static_cast<TensorImpl<T>&>(output)); }
  Backward backward_fn;
};

// The gradient buffer of an input that wants one, or nullptr (a constant).
template <class T>
T* grad_of(TensorImpl<T>& input) {
  return input.requires_grad ? input.grad_buffer().data() : nullptr;
}

// Inputs are checked before any work: a stale tensor (its tape was cleared)
// cannot be used, because its recorded history is gone.
template <class T>
void check_input(const TensorT<T>& x, std::string_view op) {
  const TensorImpl<T>& i = x.impl();
  if (i.stale)
    throw std::logic_error(fmt::format(
        "ad::{}: an input ('{}' {}) was recorded on a tape that has since been cleared or destroyed; "
        "its history is gone (detach() it to use its values as a constant)",
        op, i.name, i.shape.to_string()));
}

// Anomaly mode (ad::DetectAnomaly): throws AnomalyError if an op produced a
// NaN or an infinity, naming the op, its inputs and the line that called it.
std::string describe_inputs_for_anomaly(const std::vector<const TensorImplBase*>& inputs);
[[noreturn]] void throw_value_anomaly(std::string_view op, std::size_t index, double value,
                                      const std::vector<const TensorImplBase*>& inputs, std::source_location where);

template <class T, class Inputs>
void check_values(std::string_view op, const std::vector<T>& values, const Inputs& inputs, std::source_location where) {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i])) [[unlikely]] {
      std::vector<const TensorImplBase*> in;
      for (const TensorT<T>* t : inputs) in.push_back(&t->impl());
      throw_value_anomaly(op, i, double(values[i]), in, where);
    }
}

// Wraps the output values in a tensor and, when an input requires a gradient
// and recording is on, records the op with `backward` as its derivative.
// `inputs` is any range of `const TensorT<T>*`.
template <class T, class Inputs, class Backward>
TensorT<T> record_with_inputs(std::source_location where, std::string_view op, const Shape& shape,
                              std::vector<T> values, const Inputs& inputs, Backward backward) {
  if (anomaly_depth > 0) [[unlikely]]
    check_values(op, values, inputs, where);
  auto out = std::make_shared<TensorImpl<T>>(shape, std::move(values));
  bool needs_grad = false;
  for (const TensorT<T>* in : inputs) needs_grad = needs_grad || in->impl().requires_grad;
  if (!needs_grad) return TensorT<T>(std::move(out));
  TensorTape* tape = current_tensor_tape();
  if (tape == nullptr) return TensorT<T>(std::move(out));  // NoGrad
  for (const TensorT<T>* in : inputs) {
    const TensorImpl<T>& i = in->impl();
    if (i.node != nullptr && i.tape != nullptr && i.tape != tape)
      throw std::logic_error(fmt::format(
          "ad::{}: an input ('{}' {}) was recorded on another tape than the one recording now (an enclosing "
          "ad::Tape, or the default tape outside one); one op cannot join two recordings: detach() the input to "
          "use its values as a constant",
          op, i.name, i.shape.to_string()));
  }
  auto node = std::make_unique<LambdaNode<T, Backward>>(op, std::move(backward));
  node->where = where;
  for (const TensorT<T>* in : inputs) node->inputs.push_back(in->impl_ptr());
  out->node = std::move(node);
  out->requires_grad = true;
  tape->record(*out);
  return TensorT<T>(std::move(out));
}

template <class T, class Backward>
TensorT<T> record(std::source_location where, std::string_view op, const Shape& shape, std::vector<T> values,
                  std::initializer_list<const TensorT<T>*> inputs, Backward backward) {
  return record_with_inputs<T>(where, op, shape, std::move(values), inputs, std::move(backward));
}

}  // namespace ad::detail
