// User-defined ops, like torch.autograd.Function: wrap external code or a
// hand-optimised kernel with its own forward and derivative, and it records,
// sweeps, prints and exports like a built-in op. ad::gradcheck is how its
// author checks the derivative.
//
//   // scalar: y = softclip(x) = log(1 + e^x) - log(1 + e^(x - 5))
//   const ad::CustomOp softclip("softclip",
//       [](double x) { return std::log1p(std::exp(x)) - std::log1p(std::exp(x - 5)); },
//       [](double x, double /*y*/) { return 1 / (1 + std::exp(-x)) - 1 / (1 + std::exp(5 - x)); });
//   ad::Var y = softclip(x);
//
//   // tensor: forward values computed by any code, backward fills input grads
//   ad::Tensor y = ad::custom_op<double>("my_scale", {x}, x.shape(), values,
//       [](const ad::CustomGradient<double>& g) {
//         for (std::size_t i = 0; i < g.grad_output.size(); ++i) g.grad_inputs[0][i] += 2 * g.grad_output[i];
//       });
#pragma once

#include <functional>
#include <memory>
#include <source_location>
#include <span>
#include <string>
#include <vector>

#include <autodiff/shape.hpp>
#include <autodiff/tensor.hpp>
#include <autodiff/var.hpp>

namespace ad {

namespace detail {
struct CustomScalarOp {
  std::string name;
  int arity = 1;
  std::function<double(double)> value1;
  std::function<double(double, double)> derivative1;  // (x, y) -> dy/dx
  std::function<double(double, double)> value2;
  std::function<double(double, double, double)> d_a, d_b;  // (a, b, y) -> dy/da, dy/db
};
}  // namespace detail

// A user-defined scalar op of one or two Var operands.
class CustomOp {
 public:
  // y = value(x); dy/dx = derivative(x, y).
  CustomOp(std::string name, std::function<double(double)> value, std::function<double(double, double)> derivative);
  // y = value(a, b); dy/da = d_a(a, b, y), dy/db = d_b(a, b, y).
  CustomOp(std::string name, std::function<double(double, double)> value,
           std::function<double(double, double, double)> d_a, std::function<double(double, double, double)> d_b);

  Var operator()(const Var& x, std::source_location where = std::source_location::current()) const;
  Var operator()(const Var& a, const Var& b, std::source_location where = std::source_location::current()) const;
  double operator()(double x) const { return def_->value1(x); }
  double operator()(double a, double b) const { return def_->value2(a, b); }
  const std::string& name() const noexcept { return def_->name; }

 private:
  // Shared with every tape that recorded the op, so a tape can sweep even
  // after the CustomOp object is gone.
  std::shared_ptr<const detail::CustomScalarOp> def_;
};

// What a tensor custom op's backward receives: the output's values and
// gradient, the inputs' values, and the gradient buffers to add into (an
// empty span for an input that needs no gradient).
template <class T>
struct CustomGradient {
  std::span<const T> output;
  std::span<const T> grad_output;
  std::vector<std::span<const T>> inputs;
  std::vector<Shape> input_shapes;
  std::vector<std::span<T>> grad_inputs;
};

template <class T>
using CustomBackward = std::function<void(const CustomGradient<T>&)>;

// Records a user-defined tensor op named `name` whose output (of `shape`) the
// caller computed as `values` from `inputs`; `backward` adds
// d(root)/d(input) into grad_inputs given grad_output.
template <class T>
TensorT<T> custom_op(std::string name, const std::vector<TensorT<T>>& inputs, const Shape& shape,
                     std::vector<T> values, CustomBackward<T> backward,
                     std::source_location where = std::source_location::current());

extern template TensorT<float> custom_op(std::string, const std::vector<TensorT<float>>&, const Shape&,
                                         std::vector<float>, CustomBackward<float>, std::source_location);
extern template TensorT<double> custom_op(std::string, const std::vector<TensorT<double>>&, const Shape&,
                                          std::vector<double>, CustomBackward<double>, std::source_location);

}  // namespace ad
