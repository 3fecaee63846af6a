// ad::TensorT<T>: an n-d array (row-major, float or double) whose operations
// are recorded for reverse-mode differentiation, PyTorch-style.
//
//   ad::Tensor W = ad::Tensor::randn({16, 2}, rng).requires_grad(true).name("W1");
//   ad::Tensor L = ad::mean(ad::square(ad::tanh(ad::matmul(X, W.t()))));
//   L.backward();          // W.grad() now holds dL/dW
//
// - Value semantics for users, a cheap shared handle underneath: copying a
//   tensor shares its storage (like PyTorch), `detach()` gives a tensor
//   without history, `clone()` a deep copy.
// - An op records itself when one of its inputs requires a gradient, on the
//   innermost ad::Tape of this thread or, with none, on a per-thread default
//   tape; nothing records inside ad::NoGrad.
// - backward() frees the graph it swept unless `retain_graph`, so a training
//   loop's memory stays flat without clearing anything. Gradients of leaves
//   *accumulate* across backward() calls until zero_grad(), as in PyTorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <autodiff/shape.hpp>

namespace ad {

namespace detail {
// The storage and recording behind a tensor: private to the library
// (autodiff/src/tensor_impl.hpp), reached only through TensorAccess.
template <class T>
struct TensorImpl;
struct TensorAccess;
}  // namespace detail

template <class T>
class TensorT {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "ad::TensorT holds float or double elements");

 public:
  using value_type = T;

  // An empty handle (no storage); most operations on it throw.
  TensorT() = default;

  // ---- factories ----
  // A Shape is checked when it is made (shape.hpp: at most 8 axes, at most
  // Shape::max_numel elements); eye and arange check the shape they compute,
  // throwing std::length_error naming themselves.
  static TensorT zeros(const Shape& shape);
  static TensorT ones(const Shape& shape);
  static TensorT full(const Shape& shape, T value);
  // Values in row-major order; values.size() must equal shape.numel().
  static TensorT from(const Shape& shape, std::vector<T> values);
  static TensorT from(const Shape& shape, std::initializer_list<T> values);
  static TensorT scalar(T value);
  // A one-element constant: what the op table's derivative formulas
  // (scalar_ops.hpp) call `constant<T>(v)`, so that they also run on tensors.
  static TensorT constant(double value) { return scalar(static_cast<T>(value)); }
  // i.i.d. N(0, 1) and U[0, 1) draws from `rng` (reproducible for a seed).
  static TensorT randn(const Shape& shape, std::mt19937_64& rng);
  static TensorT rand(const Shape& shape, std::mt19937_64& rng);
  // start, start + step, ... below stop (1-d). Non-finite bounds or step, or
  // a zero step: std::invalid_argument; a count of Shape::max_numel or more:
  // std::length_error.
  static TensorT arange(T start, T stop, T step = T(1));
  static TensorT eye(std::size_t n);

  // ---- inspection ----
  bool defined() const noexcept { return impl_ != nullptr; }
  const Shape& shape() const;
  std::size_t numel() const { return shape().numel(); }
  std::size_t rank() const { return shape().rank(); }
  std::span<const T> values() const;
  // The only element of a one-element tensor.
  T item() const;
  // Element at a multi-index (bounds-checked), for tests and printing.
  T at(std::initializer_list<std::size_t> index) const;

  // ---- gradients ----
  // Marks a leaf as a parameter to differentiate with respect to.
  TensorT& requires_grad(bool on = true);
  bool requires_grad_enabled() const;
  bool is_leaf() const;
  // d(root)/d(this) accumulated by backward() calls (zeros if none reached
  // it yet); a tensor of this tensor's shape, without history.
  TensorT grad() const;
  bool has_grad() const;
  // The gradient in place, for optimisers and gradient clipping: writable,
  // no copy, empty when no gradient reached this tensor yet. Writes are not
  // recorded.
  std::span<T> grad_values();
  // The same, read-only (empty when none).
  std::span<const T> grad_view() const;
  // Fills the gradient with zeros (kept allocated: the next backward() adds
  // into it without allocating).
  void zero_grad();
  // Drops the gradient: has_grad() is false until a backward() reaches this
  // tensor again (PyTorch's `p.grad = None`).
  void clear_grad() noexcept;
  // Replaces the gradient with `g` (numel() values, or empty for none) and
  // returns the one it had (empty if none), without copying either: for code
  // that runs a sweep of its own and must leave the accumulated gradient as
  // it found it (ad::hvp, nn::check_gradients). Throws std::invalid_argument
  // for any other size.
  std::vector<T> exchange_grad(std::vector<T> g);
  // One reverse sweep from this tensor. A one-element tensor is seeded with 1;
  // any other needs `seed` of the same shape (a vector-Jacobian product).
  void backward(bool retain_graph = false);
  void backward(const TensorT& seed, bool retain_graph = false);

  // ---- identity ----
  TensorT& name(std::string n);
  const std::string& name() const;
  // The same values, no history, not requiring grad (shares nothing: a copy).
  TensorT detach() const;
  TensorT clone() const { return detach(); }
  // In-place write access to a leaf's values, for initialisation and
  // optimisers (a step reads grad_values() and writes mutable_values(), once
  // per parameter); throws for tensors with history. Each call counts as a
  // write (version() goes up by one): an op recorded before it whose backward
  // reads these values then makes backward() throw std::logic_error instead
  // of computing a gradient from the new values (as PyTorch does). Write
  // through the span right away: writes through a span kept across a forward
  // are not seen.
  std::span<T> mutable_values();
  // How many times the values were handed out for writing (PyTorch's _version).
  std::uint32_t version() const;
  // Whether both handles share one storage (copies of one tensor): the same
  // parameter, seen twice (tied weights, a parameter given twice).
  bool is_same(const TensorT& other) const noexcept { return impl_ == other.impl_; }

  // ---- shape views ----
  TensorT t() const;  // transpose of a 2-d tensor

 private:
  // The storage is the library's own (ops record through it, the sweep
  // writes gradients through it); users hold a handle and go through the
  // members above.
  friend struct detail::TensorAccess;
  explicit TensorT(std::shared_ptr<detail::TensorImpl<T>> impl) : impl_(std::move(impl)) {}
  detail::TensorImpl<T>& impl() const;

  std::shared_ptr<detail::TensorImpl<T>> impl_;
};

using Tensor = TensorT<double>;
using TensorF = TensorT<float>;

extern template class TensorT<float>;
extern template class TensorT<double>;

}  // namespace ad
