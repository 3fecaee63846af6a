// C = op(A) op(B) with either operand transposed by the product itself
// (gemm's flags) rather than by a recorded copy. Derivatives:
//   dop(A) = dC op(B)^T,  dop(B) = op(A)^T dC,
// each again a product of this kind, so that the gradients it records can be
// differentiated once more.
#include <array>
#include <stdexcept>
#include <tuple>

#include <autodiff/gemm.hpp>

#include "tensor_matmul_transposed.hpp"
#include "tensor_record.hpp"

namespace ad::detail {
namespace {

constexpr std::array<const char*, 4> op_names{"matmul", "matmul_nt", "matmul_tn", "matmul_tt"};

}  // namespace

template <class T>
TensorT<T> matmul_transposed(const TensorT<T>& a, const TensorT<T>& b, bool trans_a, bool trans_b) {
  const char* const op = op_names[(trans_a ? 2 : 0) + (trans_b ? 1 : 0)];
  check_input(a, op);
  check_input(b, op);
  TensorImpl<T>& ia = impl_of(a);
  TensorImpl<T>& ib = impl_of(b);
  if (ia.shape.rank() != 2 || ib.shape.rank() != 2)
    throw std::invalid_argument(fmt::format("ad::{}: needs two 2-d operands, got {} and {}", op,
                                            ia.shape.to_string(), ib.shape.to_string()));
  // op(A) is [m, k], op(B) is [k, n]; each stored row-major as it is.
  const std::size_t lda = ia.shape[1], ldb = ib.shape[1];
  const std::size_t m = trans_a ? ia.shape[1] : ia.shape[0];
  const std::size_t k = trans_a ? ia.shape[0] : ia.shape[1];
  const std::size_t n = trans_b ? ib.shape[0] : ib.shape[1];
  if ((trans_b ? ib.shape[1] : ib.shape[0]) != k)
    throw std::invalid_argument(fmt::format("ad::{}: the contracted extents of {} and {} differ", op,
                                            ia.shape.to_string(), ib.shape.to_string()));
  const std::size_t dims[] = {m, n};
  const Shape shape(dims, op);
  std::vector<T> c = take_buffer<T>(m * n, false);
  if (!c.empty())
    linalg::gemm<T>(trans_a, trans_b, m, n, k, T(1), ia.values.data(), lda, ib.values.data(), ldb, T(0),
                    c.data(), n);
  return record(
      std::source_location{}, op, shape, std::move(c), {&a, &b}, {read_for(b, a), read_for(a, b)},
      [pa = &ia, pb = &ib, trans_a, trans_b, m, n, k, lda, ldb](TensorImpl<T>& out) {
        if (out.grad.empty() || k == 0) {  // no product runs: the operands' gradients are zeros
          grad_of(*pa);
          grad_of(*pb);
          return;
        }
        // A gradient not allocated yet is written by its product (beta = 0);
        // an operand used twice (x^T x) gets both products in one buffer.
        T *ga = nullptr, *gb = nullptr;
        T beta_a = T(1), beta_b = T(1);
        if (pa == pb) {
          ga = gb = grad_of(*pa);
        } else {
          std::tie(ga, beta_a) = grad_for_product(*pa);
          std::tie(gb, beta_b) = grad_for_product(*pb);
        }
        const T* dc = out.grad.data();
        const T* va = pa->values.data();
        const T* vb = pb->values.data();
        if (ga != nullptr) {
          if (!trans_a)  // dA [m, k] = dC [m, n] op(B)^T [n, k]
            linalg::gemm<T>(false, !trans_b, m, k, n, T(1), dc, n, vb, ldb, beta_a, ga, lda);
          else  // dA [k, m] = (dC op(B)^T)^T = op(B) [k, n] dC^T [n, m]
            linalg::gemm<T>(trans_b, true, k, m, n, T(1), vb, ldb, dc, n, beta_a, ga, lda);
        }
        if (gb != nullptr) {
          if (!trans_b)  // dB [k, n] = op(A)^T [k, m] dC [m, n]
            linalg::gemm<T>(!trans_a, false, k, n, m, T(1), va, lda, dc, n, beta_b, gb, ldb);
          else  // dB [n, k] = (op(A)^T dC)^T = dC^T [n, m] op(A) [m, k]
            linalg::gemm<T>(true, trans_a, n, k, m, T(1), dc, n, va, lda, beta_b, gb, ldb);
        }
      },
      [trans_a, trans_b](const TensorT<T>&, const TensorT<T>& g, const Gradients<T>& in) -> Gradients<T> {
        // The same four products, recorded.
        Gradients<T> r(2);
        if (wants_grad(in[0]))
          r[0] = trans_a ? matmul_transposed(in[1], g, trans_b, true)
                         : matmul_transposed(g, in[1], false, !trans_b);
        if (wants_grad(in[1]))
          r[1] = trans_b ? matmul_transposed(g, in[0], true, trans_a)
                         : matmul_transposed(in[0], g, !trans_a, false);
        return r;
      });
}

template TensorT<float> matmul_transposed(const TensorT<float>&, const TensorT<float>&, bool, bool);
template TensorT<double> matmul_transposed(const TensorT<double>&, const TensorT<double>&, bool, bool);

}  // namespace ad::detail
