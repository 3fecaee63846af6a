// Gradients of gradients for tensor code: the recorded sweep returns
// gradients as tensors on the tape, so that they can be differentiated again.
//
//   ad::Tensor x = ad::Tensor::from({3}, {1, 2, 3}).requires_grad(true);
//   ad::Tensor f = ad::sum(ad::exp(x) * x);
//   ad::Tensor g = ad::gradient_recorded(f, {x})[0];   // df/dx, recorded
//   ad::sum(g * v).backward();                          // x.grad() = H v
//
//   ad::Tensor Hv = ad::hvp(f_of_x, x0, v);   // f_of_x: (const Tensor&) -> one-element Tensor
//   ad::Tensor H  = ad::hessian(f_of_x, x0);  // [n, n], n = x0.numel()
//   ad::Tensor J  = ad::jacobian(F, x0);      // [m, n]: one recording, one sweep per output
//   auto Hv_net   = ad::hvp(loss, net.parameters(), directions);  // loss: () -> one-element Tensor
//
// Every op of the Tensor contract has a recorded backward (written beside its
// forward in src/tensor_*.cpp, built from the same derivative formulas as the
// scalar op table), except user-defined ops (ad::custom_op), whose backward
// runs on plain arrays: reaching one in a recorded sweep throws.
// Recording follows the usual rules: the sweep's ops record on the tape of
// the output, and nothing records inside ad::NoGrad (the gradients then come
// out as plain values).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <autodiff/higher_order.hpp>
#include <autodiff/tensor.hpp>
#include <autodiff/tensor_ops.hpp>

namespace ad {

// d(seed . y)/d x_k for each of `xs` (which must require grad), as tensors
// recorded on y's tape. Without a seed, y must have one element. An input
// that y does not depend on gets zeros (without history).
template <class T>
std::vector<TensorT<T>> gradient_recorded(const TensorT<T>& y, const std::vector<TensorT<T>>& xs,
                                          const TensorT<T>& seed = TensorT<T>());

namespace detail {

template <class T>
void require_one_element(const TensorT<T>& y, const char* fn) {
  if (!y.defined() || y.numel() != 1)
    throw std::invalid_argument(
        fmt::format("ad::{}: the function must return a one-element tensor, got shape {}", fn,
                    y.defined() ? y.shape().to_string() : std::string("(empty)")));
}

// A fresh leaf with x's values, to differentiate with respect to.
template <class T>
TensorT<T> leaf_copy(const TensorT<T>& x) {
  TensorT<T> leaf = x.detach();
  leaf.requires_grad(true);
  return leaf;
}

// One reverse sweep from several roots at once, root k seeded with seeds[k]
// (the gradient of sum_k seeds[k] . roots[k]); frees the graph it swept.
template <class T>
void backward_seeded(const std::vector<TensorT<T>>& roots, const std::vector<TensorT<T>>& seeds);

// Runs `sweep` (which calls backward) and returns the gradients it leaves on
// `params`, leaving their own accumulated .grad as it was.
template <class T, class Sweep>
std::vector<TensorT<T>> gradients_aside(Sweep&& sweep, const std::vector<TensorT<T>>& params) {
  std::vector<std::vector<T>> saved;
  saved.reserve(params.size());
  for (TensorT<T> p : params) saved.push_back(p.exchange_grad({}));  // a handle: p's own gradient
  struct Restore {
    const std::vector<TensorT<T>>& params;
    std::vector<std::vector<T>>& saved;
    ~Restore() {
      for (std::size_t k = 0; k < params.size(); ++k)
        TensorT<T>(params[k]).exchange_grad(std::move(saved[k]));
    }
  } restore{params, saved};
  sweep();
  std::vector<TensorT<T>> out;
  out.reserve(params.size());
  for (TensorT<T> p : params)
    out.push_back(p.has_grad() ? TensorT<T>::from(p.shape(), p.exchange_grad({}))
                               : TensorT<T>::zeros(p.shape()));
  return out;
}

}  // namespace detail

// H v for a loss of several tensors: loss() computes a one-element tensor
// from `params` (leaves that require grad, e.g. a network's parameters);
// returns one tensor per parameter. Cost: one recorded gradient and one more
// sweep. The parameters' accumulated .grad are left untouched.
template <class T, class F>
std::vector<TensorT<T>> hvp(F&& loss, const std::vector<TensorT<T>>& params,
                            const std::vector<TensorT<T>>& v) {
  if (v.size() != params.size())
    throw std::invalid_argument(
        fmt::format("ad::hvp: {} direction tensors for {} parameter tensors", v.size(), params.size()));
  for (std::size_t k = 0; k < params.size(); ++k)
    if (!(v[k].shape() == params[k].shape()))
      throw std::invalid_argument(
          fmt::format("ad::hvp: direction {} has shape {} for a parameter of shape {}", k,
                      v[k].shape().to_string(), params[k].shape().to_string()));
  const TensorT<T> y = loss();
  detail::require_one_element(y, "hvp");
  std::vector<TensorT<T>> zeros;
  for (const TensorT<T>& p : params) zeros.push_back(TensorT<T>::zeros(p.shape()));
  if (!y.requires_grad_enabled()) return zeros;
  const std::vector<TensorT<T>> g = gradient_recorded(y, params);
  // H v = d(g . v)/d params: one sweep from every recorded gradient at once,
  // gradient k seeded with v_k (no inner-product ops on the tape).
  std::vector<TensorT<T>> roots, seeds;
  for (std::size_t k = 0; k < g.size(); ++k) {
    if (!g[k].requires_grad_enabled()) continue;  // this gradient does not depend on the parameters
    roots.push_back(g[k]);
    seeds.push_back(v[k]);
  }
  if (roots.empty()) return zeros;
  return detail::gradients_aside<T>([&] { detail::backward_seeded(roots, seeds); }, params);
}

// H(x) v for f: (const TensorT<T>&) -> one-element tensor.
template <class T, class F>
TensorT<T> hvp(F&& f, const TensorT<T>& x, const TensorT<T>& v) {
  const TensorT<T> leaf = detail::leaf_copy(x);
  return hvp([&] { return f(leaf); }, std::vector<TensorT<T>>{leaf}, std::vector<TensorT<T>>{v})[0];
}

// The Hessian of f: (const TensorT<T>&) -> one-element tensor at x, as an
// [n, n] tensor (n = x.numel(), row-major over x's elements): one recorded
// gradient, then one sweep from each of its entries.
template <class T, class F>
TensorT<T> hessian(F&& f, const TensorT<T>& x) {
  const std::size_t n = x.numel();
  const std::size_t dims[] = {n, n};
  const Shape shape(dims, "hessian");  // n * n checked before anything is allocated
  std::vector<T> H(shape.numel(), T(0));
  TensorT<T> leaf = detail::leaf_copy(x);
  const TensorT<T> y = f(leaf);
  detail::require_one_element(y, "hessian");
  if (y.requires_grad_enabled()) {
    TensorT<T> g = gradient_recorded(y, {leaf})[0];
    if (g.requires_grad_enabled()) {
      std::vector<T> e(n, T(0));
      for (std::size_t i = 0; i < n; ++i) {
        e[i] = T(1);
        leaf.clear_grad();
        g.backward(TensorT<T>::from(g.shape(), e), /*retain_graph=*/true);
        e[i] = T(0);
        const std::span<const T> row = leaf.grad_view();
        std::copy(row.begin(), row.end(), H.begin() + static_cast<std::ptrdiff_t>(i * n));
      }
    }
  }
  return TensorT<T>::from(shape, std::move(H));
}

// The Jacobian of F: (const TensorT<T>&) -> tensor of m elements at x, as an
// [m, n] tensor: one recording, one reverse sweep per output element.
template <class T, class F>
TensorT<T> jacobian(F&& f, const TensorT<T>& x) {
  const std::size_t n = x.numel();
  TensorT<T> leaf = detail::leaf_copy(x);
  TensorT<T> y = f(leaf);
  const std::size_t m = y.numel();
  const std::size_t dims[] = {m, n};
  const Shape shape(dims, "jacobian");  // m * n checked before anything is allocated
  std::vector<T> J(shape.numel(), T(0));
  if (y.requires_grad_enabled()) {
    std::vector<T> e(m, T(0));
    for (std::size_t r = 0; r < m; ++r) {
      e[r] = T(1);
      leaf.clear_grad();
      y.backward(TensorT<T>::from(y.shape(), e), /*retain_graph=*/true);
      e[r] = T(0);
      const std::span<const T> row = leaf.grad_view();
      std::copy(row.begin(), row.end(), J.begin() + static_cast<std::ptrdiff_t>(r * n));
    }
  }
  return TensorT<T>::from(shape, std::move(J));
}

// u^T J of F at x (one sweep), shaped like x; u has F(x)'s shape.
template <class T, class F>
TensorT<T> vjp(F&& f, const TensorT<T>& x, const TensorT<T>& u) {
  const TensorT<T> leaf = detail::leaf_copy(x);
  TensorT<T> y = f(leaf);
  if (!(u.shape() == y.shape()))
    throw std::invalid_argument(fmt::format("ad::vjp: the weights have shape {} but F(x) has shape {}",
                                            u.shape().to_string(), y.shape().to_string()));
  if (!y.requires_grad_enabled()) return TensorT<T>::zeros(x.shape());
  y.backward(u.detach());
  return leaf.has_grad() ? leaf.grad() : TensorT<T>::zeros(x.shape());
}

// Second-order check for tensor code: H v from hvp() against central
// differences of the gradient along `directions` pseudo-random +-1
// directions (reproducible). Use double: differences of float gradients are
// too noisy for these tolerances.
template <class T, class F>
GradgradcheckReport gradgradcheck(F&& f, const TensorT<T>& x, std::size_t directions = 3, double h = 1e-5,
                                  double abs_tolerance = 1e-5, double rel_tolerance = 1e-3) {
  GradgradcheckReport report;
  const std::size_t n = x.numel();
  auto grad_at = [&](const std::vector<T>& p) {
    TensorT<T> leaf = TensorT<T>::from(x.shape(), p);
    leaf.requires_grad(true);
    TensorT<T> y = f(leaf);
    detail::require_one_element(y, "gradgradcheck");
    if (y.requires_grad_enabled()) y.backward();
    return leaf.has_grad() ? std::vector<T>(leaf.grad_view().begin(), leaf.grad_view().end())
                           : std::vector<T>(n, T(0));
  };
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  const std::vector<T> x0(x.values().begin(), x.values().end());
  std::vector<T> v(n);
  for (std::size_t d = 0; d < directions; ++d) {
    detail::next_sign_direction(state, v);
    const TensorT<T> Hv = hvp(f, x, TensorT<T>::from(x.shape(), v));
    std::vector<T> plus = x0, minus = x0;
    for (std::size_t i = 0; i < n; ++i) {
      plus[i] += static_cast<T>(h) * v[i];
      minus[i] -= static_cast<T>(h) * v[i];
    }
    detail::compare_direction(report, Hv.values(), grad_at(plus), grad_at(minus), h, abs_tolerance,
                              rel_tolerance);
  }
  return report;
}

}  // namespace ad
