// matmul and dot. Products go through ad::linalg::gemm (our packed kernel or
// the system CBLAS; docs/decisions/0002-matmul-path.md).
#include <stdexcept>

#include <autodiff/gemm.hpp>
#include <autodiff/tensor_ops.hpp>

#include "tensor_record.hpp"

namespace ad {
namespace {

using detail::grad_of;
using detail::TensorImpl;

// How a (batched) product lays out: `batch` products of [m, k] x [k, n];
// an operand with stride 0 is shared by every product of the batch.
struct MatmulPlan {
  Shape out;
  std::size_t batch = 1, m = 0, k = 0, n = 0;
  std::size_t stride_a = 0, stride_b = 0;
};

MatmulPlan plan_matmul(const Shape& a, const Shape& b) {
  if (a.rank() < 2 || b.rank() < 2)
    throw std::invalid_argument(fmt::format(
        "ad::matmul: needs operands with at least 2 axes, got {} and {} (use dot() for two vectors, or reshape "
        "a vector to [1, n] or [n, 1])",
        a.to_string(), b.to_string()));
  MatmulPlan p;
  p.m = a[a.rank() - 2];
  p.k = a[a.rank() - 1];
  p.n = b[b.rank() - 1];
  if (b[b.rank() - 2] != p.k)
    throw std::invalid_argument(fmt::format(
        "ad::matmul: inner extents differ: {} x {} (the last axis of the first operand must equal the second-to-last "
        "of the second)",
        a.to_string(), b.to_string()));
  const Shape& batched = a.rank() >= b.rank() ? a : b;
  const bool batch_match = a.rank() == 2 || b.rank() == 2 || a.rank() == b.rank();
  bool same_batch = batch_match;
  if (batch_match && a.rank() == b.rank())
    for (std::size_t axis = 0; axis + 2 < a.rank(); ++axis) same_batch = same_batch && a[axis] == b[axis];
  if (!same_batch)
    throw std::invalid_argument(fmt::format(
        "ad::matmul: batch axes of {} and {} differ (they must be equal, or one operand 2-d and shared)",
        a.to_string(), b.to_string()));
  std::array<std::size_t, Shape::max_rank> dims{};
  for (std::size_t axis = 0; axis + 2 < batched.rank(); ++axis) {
    dims[axis] = batched[axis];
    p.batch *= batched[axis];
  }
  dims[batched.rank() - 2] = p.m;
  dims[batched.rank() - 1] = p.n;
  p.out = Shape(std::span<const std::size_t>(dims.data(), batched.rank()));
  p.stride_a = a.rank() == 2 && b.rank() > 2 ? 0 : p.m * p.k;
  p.stride_b = b.rank() == 2 && a.rank() > 2 ? 0 : p.k * p.n;
  return p;
}

}  // namespace

// C = A B;  dA += dC B^T,  dB += A^T dC  (summed over the batch where shared)
template <class T>
TensorT<T> matmul(const TensorT<T>& a, const TensorT<T>& b, std::source_location where) {
  detail::check_input(a, "matmul");
  detail::check_input(b, "matmul");
  TensorImpl<T>& ia = a.impl();
  TensorImpl<T>& ib = b.impl();
  const MatmulPlan p = plan_matmul(ia.shape, ib.shape);
  std::vector<T> c(p.out.numel());
  for (std::size_t s = 0; s < p.batch; ++s)
    linalg::gemm<T>(false, false, p.m, p.n, p.k, T(1), ia.values.data() + s * p.stride_a, p.k,
                    ib.values.data() + s * p.stride_b, p.n, T(0), c.data() + s * p.m * p.n, p.n);
  return detail::record(where, "matmul", p.out, std::move(c), {&a, &b}, [pa = &ia, pb = &ib, p](TensorImpl<T>& out) {
    T* ga = grad_of(*pa);
    T* gb = grad_of(*pb);
    for (std::size_t s = 0; s < p.batch; ++s) {
      const T* dc = out.grad.data() + s * p.m * p.n;
      if (ga != nullptr)
        linalg::gemm<T>(false, true, p.m, p.k, p.n, T(1), dc, p.n, pb->values.data() + s * p.stride_b, p.n, T(1),
                        ga + s * p.stride_a, p.k);
      if (gb != nullptr)
        linalg::gemm<T>(true, false, p.k, p.n, p.m, T(1), pa->values.data() + s * p.stride_a, p.k, dc, p.n, T(1),
                        gb + s * p.stride_b, p.n);
    }
  });
}

// y = sum_i a_i b_i;  da += dy b,  db += dy a
template <class T>
TensorT<T> dot(const TensorT<T>& a, const TensorT<T>& b, std::source_location where) {
  detail::check_input(a, "dot");
  detail::check_input(b, "dot");
  TensorImpl<T>& ia = a.impl();
  TensorImpl<T>& ib = b.impl();
  if (ia.shape.rank() != 1 || !(ia.shape == ib.shape))
    throw std::invalid_argument(fmt::format("ad::dot: needs two 1-d tensors of equal length, got {} and {}",
                                            ia.shape.to_string(), ib.shape.to_string()));
  T y = T(0);
  for (std::size_t i = 0; i < ia.values.size(); ++i) y += ia.values[i] * ib.values[i];
  return detail::record(where, "dot", Shape{}, std::vector<T>{y}, {&a, &b}, [pa = &ia, pb = &ib](TensorImpl<T>& out) {
    const T g = out.grad[0];
    if (T* ga = grad_of(*pa))
      for (std::size_t i = 0; i < pa->values.size(); ++i) ga[i] += g * pb->values[i];
    if (T* gb = grad_of(*pb))
      for (std::size_t i = 0; i < pb->values.size(); ++i) gb[i] += g * pa->values[i];
  });
}

template TensorT<float> matmul(const TensorT<float>&, const TensorT<float>&, std::source_location);
template TensorT<double> matmul(const TensorT<double>&, const TensorT<double>&, std::source_location);
template TensorT<float> dot(const TensorT<float>&, const TensorT<float>&, std::source_location);
template TensorT<double> dot(const TensorT<double>&, const TensorT<double>&, std::source_location);

}  // namespace ad
