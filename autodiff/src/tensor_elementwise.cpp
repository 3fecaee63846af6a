// Element-wise tensor ops. The maths functions come from the scalar op table
// (scalar_ops.hpp): the same value and the same derivative as ad::Var, applied
// to every element, so scalar and tensor code agree by construction.
#include <stdexcept>

#include <autodiff/scalar_ops.hpp>
#include <autodiff/tensor_ops.hpp>

#include "broadcast.hpp"
#include "tensor_record.hpp"

namespace ad {
namespace {

using detail::grad_of;
using detail::TensorImpl;

// y = Op(x); dx += dy * Op'(x, y)
template <class Op, class T>
TensorT<T> unary(const char* op, const TensorT<T>& x, std::source_location where) {
  detail::check_input(x, op);
  TensorImpl<T>& in = x.impl();
  std::vector<T> y(in.values.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = static_cast<T>(Op::value(in.values[i]));
  return detail::record(where, op, in.shape, std::move(y), {&x}, [px = &in](TensorImpl<T>& out) {
    T* gx = grad_of(*px);
    if (gx == nullptr) return;
    for (std::size_t i = 0; i < out.values.size(); ++i)
      gx[i] += out.grad[i] * static_cast<T>(Op::derivative(px->values[i], out.values[i]));
  });
}

// y = Op(a, b) with broadcasting; da += dy * dOp/da, db += dy * dOp/db, each
// summed over the axes its operand was broadcast along.
template <class Op, class T>
TensorT<T> binary(const char* op, const TensorT<T>& a, const TensorT<T>& b, std::source_location where) {
  detail::check_input(a, op);
  detail::check_input(b, op);
  TensorImpl<T>& ia = a.impl();
  TensorImpl<T>& ib = b.impl();
  const Shape shape = broadcast_shapes(ia.shape, ib.shape, op);
  std::vector<T> y(shape.numel());
  detail::for_each_broadcast(shape, ia.shape, ib.shape, [&](std::size_t i, std::size_t j, std::size_t k) {
    y[i] = static_cast<T>(Op::value(ia.values[j], ib.values[k]));
  });
  return detail::record(where, op, shape, std::move(y), {&a, &b}, [pa = &ia, pb = &ib](TensorImpl<T>& out) {
    T* ga = grad_of(*pa);
    T* gb = grad_of(*pb);
    const T* va = pa->values.data();
    const T* vb = pb->values.data();
    detail::for_each_broadcast(out.shape, pa->shape, pb->shape, [&](std::size_t i, std::size_t j, std::size_t k) {
      const T g = out.grad[i];
      if (ga != nullptr) ga[j] += g * static_cast<T>(Op::d_a(va[j], vb[k], out.values[i]));
      if (gb != nullptr) gb[k] += g * static_cast<T>(Op::d_b(va[j], vb[k], out.values[i]));
    });
  });
}

}  // namespace

#define AD_DEFINE_TENSOR_UNARY(name, Struct)       \
  template <class T>                               \
  TensorT<T> name(const TensorT<T>& x, std::source_location where) { \
    return unary<ops::Struct>(#name, x, where);    \
  }                                                \
  template TensorT<float> name(const TensorT<float>&, std::source_location); \
  template TensorT<double> name(const TensorT<double>&, std::source_location);
AD_UNARY_OPS(AD_DEFINE_TENSOR_UNARY)
#undef AD_DEFINE_TENSOR_UNARY

// A scalar operand is a one-element constant tensor: it broadcasts and takes
// no gradient.
#define AD_DEFINE_TENSOR_BINARY(name, Struct)                                        \
  template <class T>                                                                 \
  TensorT<T> name(const TensorT<T>& a, const TensorT<T>& b, std::source_location where) {             \
    return binary<ops::Struct>(#name, a, b, where);                                                   \
  }                                                                                                   \
  template <class T>                                                                                  \
  TensorT<T> name(const TensorT<T>& a, std::type_identity_t<T> b, std::source_location where) {       \
    return binary<ops::Struct>(#name, a, TensorT<T>::scalar(b), where);                               \
  }                                                                                                   \
  template <class T>                                                                                  \
  TensorT<T> name(std::type_identity_t<T> a, const TensorT<T>& b, std::source_location where) {       \
    return binary<ops::Struct>(#name, TensorT<T>::scalar(a), b, where);                               \
  }                                                                                                   \
  template TensorT<float> name(const TensorT<float>&, const TensorT<float>&, std::source_location);   \
  template TensorT<double> name(const TensorT<double>&, const TensorT<double>&, std::source_location);\
  template TensorT<float> name(const TensorT<float>&, float, std::source_location);                   \
  template TensorT<double> name(const TensorT<double>&, double, std::source_location);                \
  template TensorT<float> name(float, const TensorT<float>&, std::source_location);                   \
  template TensorT<double> name(double, const TensorT<double>&, std::source_location);
AD_BINARY_OPS(AD_DEFINE_TENSOR_BINARY)
#undef AD_DEFINE_TENSOR_BINARY

// y = x^2; dx += dy * 2x
template <class T>
TensorT<T> square(const TensorT<T>& x, std::source_location where) {
  detail::check_input(x, "square");
  TensorImpl<T>& in = x.impl();
  std::vector<T> y(in.values.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = in.values[i] * in.values[i];
  return detail::record(where, "square", in.shape, std::move(y), {&x}, [px = &in](TensorImpl<T>& out) {
    if (T* gx = grad_of(*px))
      for (std::size_t i = 0; i < out.values.size(); ++i) gx[i] += out.grad[i] * T(2) * px->values[i];
  });
}

// y = min(max(x, lo), hi); dx += dy where lo <= x <= hi (the gradient passes
// at the bounds themselves, as in PyTorch)
template <class T>
TensorT<T> clamp(const TensorT<T>& x, std::type_identity_t<T> lo, std::type_identity_t<T> hi, std::source_location where) {
  detail::check_input(x, "clamp");
  if (!(lo <= hi)) throw std::invalid_argument(fmt::format("ad::clamp: lower bound {} exceeds upper bound {}", lo, hi));
  TensorImpl<T>& in = x.impl();
  std::vector<T> y(in.values.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = in.values[i] < lo ? lo : (in.values[i] > hi ? hi : in.values[i]);
  return detail::record(where, "clamp", in.shape, std::move(y), {&x}, [px = &in, lo, hi](TensorImpl<T>& out) {
    if (T* gx = grad_of(*px))
      for (std::size_t i = 0; i < out.values.size(); ++i)
        if (px->values[i] >= lo && px->values[i] <= hi) gx[i] += out.grad[i];
  });
}

// y = c ? a : b; da += dy where c, db += dy where not c
template <class T>
TensorT<T> where(const TensorT<T>& condition, const TensorT<T>& a, const TensorT<T>& b, std::source_location where) {
  detail::check_input(condition, "where");
  detail::check_input(a, "where");
  detail::check_input(b, "where");
  TensorImpl<T>& ic = condition.impl();
  TensorImpl<T>& ia = a.impl();
  TensorImpl<T>& ib = b.impl();
  const Shape shape = broadcast_shapes(ia.shape, ib.shape, "where");
  if (!(ic.shape == shape) && ic.values.size() != 1)
    throw std::invalid_argument(fmt::format("ad::where: the condition has shape {} but a and b broadcast to {}",
                                            ic.shape.to_string(), shape.to_string()));
  const bool scalar_condition = ic.values.size() == 1;
  std::vector<T> y(shape.numel());
  detail::for_each_broadcast(shape, ia.shape, ib.shape, [&](std::size_t i, std::size_t j, std::size_t k) {
    y[i] = ic.values[scalar_condition ? 0 : i] != T(0) ? ia.values[j] : ib.values[k];
  });
  return detail::record(where, "where", shape, std::move(y), {&a, &b},
                        [pc = condition.impl_ptr(), pa = &ia, pb = &ib, scalar_condition](TensorImpl<T>& out) {
                          T* ga = grad_of(*pa);
                          T* gb = grad_of(*pb);
                          detail::for_each_broadcast(
                              out.shape, pa->shape, pb->shape, [&](std::size_t i, std::size_t j, std::size_t k) {
                                const bool take_a = pc->values[scalar_condition ? 0 : i] != T(0);
                                if (take_a && ga != nullptr) ga[j] += out.grad[i];
                                if (!take_a && gb != nullptr) gb[k] += out.grad[i];
                              });
                        });
}

template TensorT<float> square(const TensorT<float>&, std::source_location);
template TensorT<double> square(const TensorT<double>&, std::source_location);
template TensorT<float> clamp(const TensorT<float>&, float, float, std::source_location);
template TensorT<double> clamp(const TensorT<double>&, double, double, std::source_location);
template TensorT<float> where(const TensorT<float>&, const TensorT<float>&, const TensorT<float>&, std::source_location);
template TensorT<double> where(const TensorT<double>&, const TensorT<double>&, const TensorT<double>&, std::source_location);

}  // namespace ad
