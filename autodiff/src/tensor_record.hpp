// Internal: how a tensor op records itself. An op computes its output values,
// then calls record() with a lambda that pushes the output's gradient to its
// inputs. The lambda is the op's derivative, written next to its forward.
#pragma once

#include <stdexcept>
#include <string_view>
#include <utility>

#include <fmt/format.h>

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

// Wraps the output values in a tensor and, when an input requires a gradient
// and recording is on, records the op with `backward` as its derivative.
// `inputs` is any range of `const TensorT<T>*`.
template <class T, class Inputs, class Backward>
TensorT<T> record_with_inputs(std::string_view op, const Shape& shape, std::vector<T> values, const Inputs& inputs,
                              Backward backward) {
  auto out = std::make_shared<TensorImpl<T>>(shape, std::move(values));
  bool needs_grad = false;
  for (const TensorT<T>* in : inputs) needs_grad = needs_grad || in->impl().requires_grad;
  if (!needs_grad) return TensorT<T>(std::move(out));
  TensorTape* tape = current_tensor_tape();
  if (tape == nullptr) return TensorT<T>(std::move(out));  // NoGrad
  auto node = std::make_unique<LambdaNode<T, Backward>>(op, std::move(backward));
  for (const TensorT<T>* in : inputs) node->inputs.push_back(in->impl_ptr());
  out->node = std::move(node);
  out->requires_grad = true;
  tape->record(*out);
  return TensorT<T>(std::move(out));
}

template <class T, class Backward>
TensorT<T> record(std::string_view op, const Shape& shape, std::vector<T> values,
                  std::initializer_list<const TensorT<T>*> inputs, Backward backward) {
  return record_with_inputs<T>(op, shape, std::move(values), inputs, std::move(backward));
}

}  // namespace ad::detail
