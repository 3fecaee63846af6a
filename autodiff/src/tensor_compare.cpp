// Element-wise comparisons: masks of 1 and 0, constants without history.
#include <functional>

#include <autodiff/tensor_compare.hpp>

#include "broadcast.hpp"
#include "tensor_record.hpp"

namespace ad {
namespace {

// mask[i] = holds(a[ia], b[ib]) ? 1 : 0 over the broadcast shape of a and b.
template <class T, class Holds>
TensorT<T> compare(const TensorT<T>& a, const TensorT<T>& b, Holds holds, const char* op) {
  detail::check_input(a, op);
  detail::check_input(b, op);
  const auto& va = detail::impl_of(a).values;
  const auto& vb = detail::impl_of(b).values;
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  std::vector<T> mask(shape.numel());
  detail::for_each_broadcast(shape, a.shape(), b.shape(), [&](std::size_t i, std::size_t ia, std::size_t ib) {
    mask[i] = holds(va[ia], vb[ib]) ? T(1) : T(0);
  });
  return TensorT<T>::from(shape, std::move(mask));
}

}  // namespace

#define AD_DEFINE_TENSOR_COMPARISON(op, Holds)                                          \
  template <class T>                                                                    \
  TensorT<T> operator op(const TensorT<T>& a, const TensorT<T>& b) {                    \
    return compare(a, b, Holds<T>{}, "operator" #op);                                   \
  }                                                                                     \
  template <class T>                                                                    \
  TensorT<T> operator op(const TensorT<T>& a, std::type_identity_t<T> b) {              \
    return compare(a, TensorT<T>::scalar(b), Holds<T>{}, "operator" #op);               \
  }                                                                                     \
  template <class T>                                                                    \
  TensorT<T> operator op(std::type_identity_t<T> a, const TensorT<T>& b) {              \
    return compare(TensorT<T>::scalar(a), b, Holds<T>{}, "operator" #op);               \
  }                                                                                     \
  template TensorT<float> operator op(const TensorT<float>&, const TensorT<float>&);    \
  template TensorT<float> operator op(const TensorT<float>&, float);                    \
  template TensorT<float> operator op(float, const TensorT<float>&);                    \
  template TensorT<double> operator op(const TensorT<double>&, const TensorT<double>&); \
  template TensorT<double> operator op(const TensorT<double>&, double);                 \
  template TensorT<double> operator op(double, const TensorT<double>&);
AD_DEFINE_TENSOR_COMPARISON(<, std::less)
AD_DEFINE_TENSOR_COMPARISON(<=, std::less_equal)
AD_DEFINE_TENSOR_COMPARISON(>, std::greater)
AD_DEFINE_TENSOR_COMPARISON(>=, std::greater_equal)
AD_DEFINE_TENSOR_COMPARISON(==, std::equal_to)
AD_DEFINE_TENSOR_COMPARISON(!=, std::not_equal_to)
#undef AD_DEFINE_TENSOR_COMPARISON

}  // namespace ad
