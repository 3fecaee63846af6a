#include <cmath>
#include <initializer_list>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include <autodiff/custom_op.hpp>

#include "tensor_record.hpp"

namespace ad {

CustomOp::CustomOp(std::string name, std::function<double(double)> value,
                   std::function<double(double, double)> derivative) {
  if (!value || !derivative)
    throw std::invalid_argument(fmt::format("ad::CustomOp '{}': needs a value and a derivative", name));
  auto def = std::make_shared<detail::CustomScalarOp>();
  def->name = std::move(name);
  def->arity = 1;
  def->value1 = std::move(value);
  def->derivative1 = std::move(derivative);
  def_ = std::move(def);
}

CustomOp::CustomOp(std::string name, std::function<double(double, double)> value,
                   std::function<double(double, double, double)> d_a,
                   std::function<double(double, double, double)> d_b) {
  if (!value || !d_a || !d_b)
    throw std::invalid_argument(
        fmt::format("ad::CustomOp '{}': needs a value and both partial derivatives", name));
  auto def = std::make_shared<detail::CustomScalarOp>();
  def->name = std::move(name);
  def->arity = 2;
  def->value2 = std::move(value);
  def->d_a = std::move(d_a);
  def->d_b = std::move(d_b);
  def_ = std::move(def);
}

Var CustomOp::operator()(const Var& x, std::source_location where) const {
  if (def_->arity != 1)
    throw std::invalid_argument(fmt::format("ad::CustomOp '{}' takes two operands", def_->name));
  return detail::Recorder::custom(def_, x, where);
}

Var CustomOp::operator()(const Var& a, const Var& b, std::source_location where) const {
  if (def_->arity != 2)
    throw std::invalid_argument(fmt::format("ad::CustomOp '{}' takes one operand", def_->name));
  return detail::Recorder::custom(def_, a, b, where);
}

namespace detail {

// Anomaly mode's check of an op's unrecorded (constant) result (var.cpp).
void check_constant_result(std::string_view op, double y, std::initializer_list<double> inputs,
                           std::source_location where);

// Operands are resolved as for built-in ops: an operand of the recording tape
// is a node; a constant (or an enclosing tape's Var) becomes a fresh leaf so
// the node has two inputs; a stale Var throws (via the binary slow path's
// classification, reused through a recorded `add` of the operand with 0).
Var Recorder::custom(const std::shared_ptr<const CustomScalarOp>& def, Var x, std::source_location where) {
  const double y = def->value1(x.value_);
  Tape* t = active_tape;
  if (t == nullptr || x.stamp_ != t->stamp_) {
    // Not an operand of the recording tape: a constant result (stale Vars
    // are diagnosed by the ordinary slow path, given a dummy finite result).
    unary_slow(OpCode::neg, x, 0.0, where);
    check_constant_result(def->name, y, {x.value_}, where);
    return Var(y, 0, 0);
  }
  const Var result(
      y, t->push(y, pack(OpCode::custom_unary, link(x.id_), no_operand), def->derivative1(x.value_, y), 0.0),
      t->stamp_);
  t->custom_ops_.emplace_back(result.id_, def);
  return t->anomaly_enabled() ? checked(*t, result, OpCode::custom_unary, {x.value_}, where) : result;
}

Var Recorder::custom(const std::shared_ptr<const CustomScalarOp>& def, Var a, Var b,
                     std::source_location where) {
  const double y = def->value2(a.value_, b.value_);
  Tape* t = active_tape;
  const bool a_recorded = t != nullptr && a.stamp_ == t->stamp_;
  const bool b_recorded = t != nullptr && b.stamp_ == t->stamp_;
  if (!a_recorded && !b_recorded) {
    binary_slow(OpCode::add, a, b, 0.0, where);  // diagnoses stale operands
    check_constant_result(def->name, y, {a.value_, b.value_}, where);
    return Var(y, 0, 0);
  }
  if (!a_recorded) a = leaf(a.value_);
  if (!b_recorded) b = leaf(b.value_);
  const Var result(y,
                   t->push(y, pack(OpCode::custom_binary, link(a.id_), link(b.id_)),
                           def->d_a(a.value_, b.value_, y), def->d_b(a.value_, b.value_, y)),
                   t->stamp_);
  t->custom_ops_.emplace_back(result.id_, def);
  return t->anomaly_enabled() ? checked(*t, result, OpCode::custom_binary, {a.value_, b.value_}, where)
                              : result;
}

}  // namespace detail

template <class T>
TensorT<T> custom_op(std::string name, const std::vector<TensorT<T>>& inputs, const Shape& shape,
                     std::vector<T> values, CustomBackward<T> backward, std::source_location where) {
  if (!backward)
    throw std::invalid_argument(fmt::format("ad::custom_op '{}': needs a backward function", name));
  if (values.size() != shape.numel())
    throw std::invalid_argument(fmt::format("ad::custom_op '{}': {} values for an output of shape {}", name,
                                            values.size(), shape.to_string()));
  std::vector<const TensorT<T>*> handles;
  std::vector<detail::TensorImpl<T>*> impls;
  for (const auto& x : inputs) {
    detail::check_input(x, "custom_op");
    handles.push_back(&x);
    impls.push_back(&detail::impl_of(x));
  }
  TensorT<T> out = detail::record_with_inputs<T>(
      where, name, shape, std::move(values), handles, handles,  // its backward sees every input's values
      [impls, fn = std::move(backward)](detail::TensorImpl<T>& o) {
        CustomGradient<T> g;
        g.output = o.values;
        g.grad_output = o.grad;
        for (auto* in : impls) {
          g.inputs.emplace_back(in->values);
          g.input_shapes.push_back(in->shape);
          T* gx = detail::grad_of(*in);
          g.grad_inputs.emplace_back(gx, gx == nullptr ? 0 : in->values.size());
        }
        fn(g);
      },
      [op = std::string(name)](const TensorT<T>&, const TensorT<T>&,
                               const detail::Gradients<T>&) -> detail::Gradients<T> {
        detail::throw_no_second_derivative(
            op,
            "a user-defined op (ad::custom_op) gives its backward on plain arrays, so it cannot be recorded");
      });
  // The op's own name (anomaly messages above used it already), kept by the
  // node: TensorNode::op is a view, so far of `name`, from now on of its copy.
  if (detail::TensorNode* node = detail::impl_of(out).node.get()) {
    node->owned_name = std::move(name);
    node->op = node->owned_name;
  }
  return out;
}

template TensorT<float> custom_op(std::string, const std::vector<TensorT<float>>&, const Shape&,
                                  std::vector<float>, CustomBackward<float>, std::source_location);
template TensorT<double> custom_op(std::string, const std::vector<TensorT<double>>&, const Shape&,
                                   std::vector<double>, CustomBackward<double>, std::source_location);

}  // namespace ad
