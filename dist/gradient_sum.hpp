// The gradient of a sum of per-rank objectives, for code that is not a
// Module: each rank holds part of the data and the same parameters, and
//   F(x) = sum over ranks r of f_r(x),   dF/dx = sum over ranks of df_r/dx
// in one call (an MPI_Allreduce of the values and gradients together).
//
//   // least squares, rows of (A, b) split over the ranks
//   ad::Tape tape;  ad::Var w = 0.0, c = 0.0;
//   ad::Var f = 0.0;  for (auto [a, b] : my_rows) f = f + ad::square(w * a + c - b);
//   auto [F, dF] = nn::distributed::gradient_of_sum(env, f, {w, c});   // the same on every rank
//
// The reduction order is fixed for a world size: the same bits on every rank
// and every run.
#pragma once

#include <initializer_list>
#include <span>
#include <vector>

#include <autodiff/tensor.hpp>
#include <autodiff/var.hpp>
#include <dist/environment.hpp>

namespace nn::distributed {

template <class V>
struct ValueAndGradient {
  V value;                  // F = sum of the ranks' objectives
  std::vector<V> gradient;  // dF/dx, in the order of xs
};

// Scalars (ad::Var). Collective.
ValueAndGradient<double> gradient_of_sum(const Environment& env, const ad::Var& f,
                                         std::span<const ad::Var> xs);
inline ValueAndGradient<double> gradient_of_sum(const Environment& env, const ad::Var& f,
                                                std::initializer_list<ad::Var> xs) {
  return gradient_of_sum(env, f, std::span<const ad::Var>(xs.begin(), xs.size()));
}

// Tensors: `f` a one-element tensor, xs leaves that require gradients. Runs
// f.backward() and returns F and dF/dx for each x (tensors of x's shapes,
// without history); the leaves' own gradients are left as they were (a
// leaf that had none gets a zero one). Collective.
template <class T>
struct TensorValueAndGradient {
  T value;
  std::vector<ad::TensorT<T>> gradient;
};
template <class T>
TensorValueAndGradient<T> gradient_of_sum(const Environment& env, const ad::TensorT<T>& f,
                                          const std::vector<ad::TensorT<T>>& xs);

extern template TensorValueAndGradient<float> gradient_of_sum(const Environment&, const ad::TensorT<float>&,
                                                              const std::vector<ad::TensorT<float>>&);
extern template TensorValueAndGradient<double> gradient_of_sum(const Environment&, const ad::TensorT<double>&,
                                                               const std::vector<ad::TensorT<double>>&);

}  // namespace nn::distributed
