// Internal: how a tensor op records itself. An op computes its output values,
// then calls record() with two lambdas written next to its forward:
// - `backward` pushes the output's gradient to its inputs on plain arrays
//   (the fast first-order sweep of Tensor::backward());
// - `graph` says the same with tensor ops, which record themselves: it
//   receives the output and the gradient reaching it as tensors and returns
//   one gradient per input (undefined where an input takes none). The
//   recorded sweep (ad::gradient_recorded) runs it, so gradients can be
//   differentiated again (docs/decisions/0006-tensor-second-derivatives.md).
#pragma once

#include <array>
#include <cmath>
#include <optional>
#include <source_location>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <autodiff/tape.hpp>
#include <autodiff/tensor.hpp>

#include "tensor_tape.hpp"

namespace ad::detail {

// A node of a tensor of element type T: it also has the recorded backward.
template <class T>
struct TypedNode : TensorNode {
  using TensorNode::TensorNode;
  // d(root)/d(input k) as recorded tensors, given the output and d(root)/d(output).
  virtual std::vector<TensorT<T>> backward_graph(const TensorT<T>& output, const TensorT<T>& grad_output) = 0;
  // The inputs as typed handles (sharing their storage).
  std::vector<TensorT<T>> typed_inputs() const {
    std::vector<TensorT<T>> in;
    in.reserve(inputs.size());
    for (const auto& i : inputs) in.push_back(tensor_of(std::static_pointer_cast<TensorImpl<T>>(i)));
    return in;
  }
};

// The graph lambda's signature: (output, grad_output, inputs) -> per-input gradients.
template <class T>
using Gradients = std::vector<TensorT<T>>;

template <class T, class Backward, class Graph>
struct LambdaNode final : TypedNode<T> {
  LambdaNode(std::string_view op, Backward fn, Graph g)
      : TypedNode<T>(op), backward_fn(std::move(fn)), graph_fn(std::move(g)) {}
  // Never called after drop_saved(): a swept node is kept off the tape.
  void backward(TensorImplBase& output) override { (*backward_fn)(static_cast<TensorImpl<T>&>(output)); }
  std::vector<TensorT<T>> backward_graph(const TensorT<T>& output, const TensorT<T>& grad_output) override {
    return (*graph_fn)(output, grad_output, this->typed_inputs());
  }
  void drop_saved() noexcept override {
    backward_fn.reset();
    graph_fn.reset();
  }
  std::optional<Backward> backward_fn;
  std::optional<Graph> graph_fn;
};

// Whether input k of a graph lambda wants a gradient.
template <class T>
bool wants_grad(const TensorT<T>& input) {
  return detail::impl_of(input).requires_grad;
}

// The gradient buffer of an input that wants one, or nullptr (a constant).
template <class T>
T* grad_of(TensorImpl<T>& input) {
  return input.requires_grad ? input.grad_buffer().data() : nullptr;
}

// For a backward that writes a whole input gradient with one matrix product:
// the gradient buffer (nullptr for a constant) and the product's beta. A
// gradient not allocated yet gets a buffer left unfilled and beta = 0, so the
// product writes it (instead of adding to zeros that would first have to be
// written: 800 KB per step for the first layer of a 784-256 network); an
// existing one gets beta = 1. Call it right before the product that writes
// the whole buffer.
template <class T>
std::pair<T*, T> grad_for_product(TensorImpl<T>& input) {
  if (!input.requires_grad) return {nullptr, T(1)};
  if (input.grad.empty()) {
    input.grad = take_buffer<T>(input.values.size(), false);
    return {input.grad.data(), T(0)};
  }
  return {input.grad.data(), T(1)};
}

// Inputs are checked before any work: a stale tensor (its tape was cleared)
// cannot be used, because its recorded history is gone.
template <class T>
void check_input(const TensorT<T>& x, std::string_view op) {
  const TensorImpl<T>& i = detail::impl_of(x);
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
                                      const std::vector<const TensorImplBase*>& inputs,
                                      std::source_location where);

template <class T, class Inputs>
void check_values(std::string_view op, const std::vector<T>& values, const Inputs& inputs,
                  std::source_location where) {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i])) [[unlikely]] {
      std::vector<const TensorImplBase*> in;
      for (const TensorT<T>* t : inputs) in.push_back(&detail::impl_of(*t));
      throw_value_anomaly(op, i, double(values[i]), in, where);
    }
}

// Wraps the output values in a tensor and, when an input requires a gradient
// and recording is on, records the op with `backward` as its derivative.
// `inputs` is any range of `const TensorT<T>*`; `reads` lists the tensors
// whose values the backward reads (null entries are skipped: an operand whose
// values only the gradient of an input that needs none would read), each an
// input or kept alive by the backward: the sweep checks that none was written
// in place in between (SavedVersion). The op's own output needs no entry: a
// tensor with history cannot be written in place.
template <class T, class Inputs, class Reads, class Backward, class Graph>
TensorT<T> record_with_inputs(std::source_location where, std::string_view op, const Shape& shape,
                              std::vector<T> values, const Inputs& inputs, const Reads& reads,
                              Backward backward, Graph graph) {
  if (anomaly_depth > 0) [[unlikely]]
    check_values(op, values, inputs, where);
  auto out = make_impl<T>(shape, std::move(values));
  bool needs_grad = false;
  for (const TensorT<T>* in : inputs) needs_grad = needs_grad || detail::impl_of(*in).requires_grad;
  if (!needs_grad) return tensor_of(std::move(out));
  TensorTape* tape = current_tensor_tape();
  if (tape == nullptr) return tensor_of(std::move(out));  // NoGrad
  for (const TensorT<T>* in : inputs) {
    const TensorImpl<T>& i = detail::impl_of(*in);
    if (i.node != nullptr && i.tape != nullptr && i.tape != tape)
      throw std::logic_error(fmt::format(
          "ad::{}: an input ('{}' {}) was recorded on another tape than the one recording now (an enclosing "
          "ad::Tape, or the default tape outside one); one op cannot join two recordings: detach() the input "
          "to "
          "use its values as a constant",
          op, i.name, i.shape.to_string()));
  }
  auto node = std::make_unique<LambdaNode<T, Backward, Graph>>(op, std::move(backward), std::move(graph));
  node->where = where;
  node->inputs.reserve(std::size(inputs));
  for (const TensorT<T>* in : inputs) node->inputs.push_back(detail::impl_ptr_of(*in));
  for (const TensorT<T>* r : reads)
    if (r != nullptr) node->save_version(detail::impl_of(*r));
  out->node = std::move(node);
  out->requires_grad = true;
  tape->record(*out);
  return tensor_of(std::move(out));
}

template <class T, class Backward, class Graph>
TensorT<T> record(std::source_location where, std::string_view op, const Shape& shape, std::vector<T> values,
                  std::initializer_list<const TensorT<T>*> inputs,
                  std::initializer_list<const TensorT<T>*> reads, Backward backward, Graph graph) {
  return record_with_inputs<T>(where, op, shape, std::move(values), inputs, reads, std::move(backward),
                               std::move(graph));
}

// For `reads`: `operand` if the gradient of `other` (which reads it) is
// wanted, else null (x W^T reads x only for dW, W only for dx).
template <class T>
const TensorT<T>* read_for(const TensorT<T>& operand, const TensorT<T>& other) {
  return other.defined() && detail::impl_of(other).requires_grad ? &operand : nullptr;
}

// ---- helpers for graph lambdas (recorded ops, differentiable again) ----

// g summed over the axes along which a tensor of `shape` was broadcast to g's
// shape (the gradient of broadcasting).
template <class T>
TensorT<T> sum_to(const TensorT<T>& g, const Shape& shape);
// g (whose shape is `shape` with some axes reduced, dropped unless `keepdim`)
// repeated along those axes to `shape` (the gradient of a reduction).
template <class T>
TensorT<T> expand_reduced(const TensorT<T>& g, const Shape& shape,
                          const std::array<bool, Shape::max_rank>& reduced);
// A tensor without history holding f(i) for every element index i of `shape`.
template <class T, class F>
TensorT<T> constant_like(const Shape& shape, F&& f) {
  std::vector<T> v(shape.numel());
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(f(i));
  return TensorT<T>::from(shape, std::move(v));
}
// The error a graph lambda gives for an op without a recorded backward.
[[noreturn]] void throw_no_second_derivative(std::string_view op, std::string_view why);

}  // namespace ad::detail
