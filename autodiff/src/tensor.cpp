// TensorT's own members: factories, inspection, gradients and identity.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include <autodiff/parallel.hpp>
#include <autodiff/tensor.hpp>

#include "tensor_impl.hpp"
#include "tensor_tape.hpp"
#include "thread_state.hpp"

namespace ad {
namespace {

template <class T>
std::shared_ptr<detail::TensorImpl<T>> make_impl(const Shape& shape, std::vector<T> values) {
  return detail::make_impl<T>(shape, std::move(values));
}

}  // namespace

template <class T>
detail::TensorImpl<T>& TensorT<T>::impl() const {
  if (!impl_)
    throw std::logic_error("ad::Tensor: the tensor is empty (default-constructed); it holds no values");
  return *impl_;
}

template <class T>
TensorT<T> TensorT<T>::zeros(const Shape& shape) {
  return full(shape, T(0));
}
template <class T>
TensorT<T> TensorT<T>::ones(const Shape& shape) {
  return full(shape, T(1));
}
template <class T>
TensorT<T> TensorT<T>::full(const Shape& shape, T value) {
  return TensorT(make_impl(shape, std::vector<T>(shape.numel(), value)));
}
template <class T>
TensorT<T> TensorT<T>::scalar(T value) {
  return full(Shape{}, value);
}

template <class T>
TensorT<T> TensorT<T>::from(const Shape& shape, std::vector<T> values) {
  if (values.size() != shape.numel())
    throw std::invalid_argument(fmt::format("ad::Tensor::from: shape {} holds {} values but {} were given",
                                            shape.to_string(), shape.numel(), values.size()));
  return TensorT(make_impl(shape, std::move(values)));
}
template <class T>
TensorT<T> TensorT<T>::from(const Shape& shape, std::initializer_list<T> values) {
  return from(shape, std::vector<T>(values));
}

template <class T>
TensorT<T> TensorT<T>::randn(const Shape& shape, std::mt19937_64& rng) {
  std::normal_distribution<T> normal(T(0), T(1));
  std::vector<T> v(shape.numel());
  for (T& x : v) x = normal(rng);
  return TensorT(make_impl(shape, std::move(v)));
}
template <class T>
TensorT<T> TensorT<T>::rand(const Shape& shape, std::mt19937_64& rng) {
  std::uniform_real_distribution<T> uniform(T(0), T(1));
  std::vector<T> v(shape.numel());
  for (T& x : v) x = uniform(rng);
  return TensorT(make_impl(shape, std::move(v)));
}
template <class T>
TensorT<T> TensorT<T>::arange(T start, T stop, T step) {
  if (!(step != T(0)) || !std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step))
    throw std::invalid_argument(fmt::format(
        "ad::Tensor::arange: start {}, stop {}, step {} do not define a finite range", start, stop, step));
  // The count is checked as a double, before the conversion to size_t (which
  // is undefined for values it cannot hold); (stop - start) may overflow to
  // an infinity, which the check catches too.
  const double count = std::ceil((double(stop) - double(start)) / double(step));
  if (count >= double(Shape::max_numel))
    throw std::length_error(fmt::format(
        "ad::Tensor::arange: start {}, stop {}, step {} give {:.6g} elements; a tensor holds at most {} "
        "(Shape::max_numel)",
        start, stop, step, count, Shape::max_numel));
  const std::size_t n = count > 0 ? static_cast<std::size_t>(count) : 0;
  const std::size_t dims[] = {n};
  const Shape shape(dims, "Tensor::arange");
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<T>(start + static_cast<T>(i) * step);
  return TensorT(make_impl(shape, std::move(v)));
}
template <class T>
TensorT<T> TensorT<T>::eye(std::size_t n) {
  const std::size_t dims[] = {n, n};
  const Shape shape(dims, "Tensor::eye");  // checks n * n before anything is allocated
  std::vector<T> v(shape.numel(), T(0));
  for (std::size_t i = 0; i < n; ++i) v[i * n + i] = T(1);
  return TensorT(make_impl(shape, std::move(v)));
}

template <class T>
const Shape& TensorT<T>::shape() const {
  return impl().shape;
}
template <class T>
std::span<const T> TensorT<T>::values() const {
  return impl().values;
}
template <class T>
T TensorT<T>::item() const {
  const auto& i = impl();
  if (i.values.size() != 1)
    throw std::invalid_argument(
        fmt::format("ad::Tensor::item: the tensor has shape {} ({} elements), not one element",
                    i.shape.to_string(), i.values.size()));
  return i.values[0];
}
template <class T>
T TensorT<T>::at(std::initializer_list<std::size_t> index) const {
  const auto& i = impl();
  if (index.size() != i.shape.rank())
    throw std::out_of_range(fmt::format("ad::Tensor::at: {} indices for a tensor of shape {}", index.size(),
                                        i.shape.to_string()));
  std::size_t flat = 0, axis = 0;
  for (std::size_t k : index) {
    if (k >= i.shape[axis])
      throw std::out_of_range(fmt::format("ad::Tensor::at: index {} is out of range for axis {} of shape {}",
                                          k, axis, i.shape.to_string()));
    flat = flat * i.shape[axis] + k;
    ++axis;
  }
  return i.values[flat];
}

template <class T>
TensorT<T>& TensorT<T>::requires_grad(bool on) {
  auto& i = impl();
  if (!i.is_leaf())
    throw std::logic_error(fmt::format(
        "ad::Tensor::requires_grad: '{}' {} is the result of an op, not a leaf; only leaves can be marked "
        "(use detach() to make a leaf from its values)",
        i.name, i.shape.to_string()));
  i.requires_grad = on;
  return *this;
}

template <class T>
bool TensorT<T>::requires_grad_enabled() const {
  return impl().requires_grad;
}
template <class T>
bool TensorT<T>::is_leaf() const {
  return impl().is_leaf();
}
template <class T>
bool TensorT<T>::has_grad() const {
  return impl().has_grad();
}
template <class T>
const std::string& TensorT<T>::name() const {
  return impl().name;
}
template <class T>
std::uint32_t TensorT<T>::version() const {
  return impl().version;
}

template <class T>
TensorT<T> TensorT<T>::grad() const {
  const auto& i = impl();
  if (i.grad.empty()) return zeros(i.shape);
  return TensorT(make_impl(i.shape, i.grad));
}
template <class T>
std::span<T> TensorT<T>::grad_values() {
  impl().grad_zero = false;  // the caller may write it
  return impl().grad;
}
template <class T>
std::span<const T> TensorT<T>::grad_view() const {
  return impl().grad;
}
template <class T>
void TensorT<T>::clear_grad() noexcept {
  if (impl_ == nullptr) return;
  impl_->free_grad();
  impl_->grad_zero = false;
}
template <class T>
std::vector<T> TensorT<T>::exchange_grad(std::vector<T> g) {
  auto& i = impl();
  if (!g.empty() && g.size() != i.values.size())
    throw std::invalid_argument(
        fmt::format("ad::Tensor::exchange_grad: {} gradient values for '{}' {} ({} elements)", g.size(),
                    i.name, i.shape.to_string(), i.values.size()));
  i.grad_zero = false;
  return std::exchange(i.grad, std::move(g));
}
template <class T>
void TensorT<T>::zero_grad() {
  auto& g = impl().grad;
  // A training step clears every parameter's gradient: T2's first weight
  // alone is 1.6 MB in double, a serial stretch worth splitting (ad::parallel_for).
  parallel_for(g.size(), parallel_grain, [&g](std::size_t begin, std::size_t end) {
    std::fill(g.begin() + begin, g.begin() + end, T(0));
  });
  impl().grad_zero = !g.empty();
}

template <class T>
void TensorT<T>::backward(bool retain_graph) {
  auto& i = impl();
  if (i.values.size() != 1)
    throw std::invalid_argument(fmt::format(
        "ad::Tensor::backward: the tensor has shape {}; backward() without a seed needs a one-element "
        "tensor (pass a seed of the same shape for a vector-Jacobian product)",
        i.shape.to_string()));
  backward(ones(i.shape), retain_graph);
}

template <class T>
void TensorT<T>::backward(const TensorT& seed, bool retain_graph) {
  auto& i = impl();
  if (!(seed.shape() == i.shape))
    throw std::invalid_argument(
        fmt::format("ad::Tensor::backward: the seed has shape {} but the tensor has shape {}",
                    seed.shape().to_string(), i.shape.to_string()));
  if (!i.requires_grad)
    throw std::logic_error(fmt::format(
        "ad::Tensor::backward: '{}' {} does not require grad: no input of its computation was marked with "
        "requires_grad(true), or it was computed inside NoGrad",
        i.name, i.shape.to_string()));
  detail::check_recorded_here(i, "ad::Tensor::backward");
  if (i.stale)
    throw std::logic_error(
        "ad::Tensor::backward: the tensor's tape was cleared or destroyed; its history is gone");
  if (i.graph_released)
    throw std::logic_error(
        "ad::Tensor::backward: the graph of this tensor was already released by an earlier backward(); "
        "pass retain_graph = true to sweep it twice");
  const auto s = seed.values();
  if (i.is_leaf()) {  // d leaf / d leaf = seed, accumulated like any leaf gradient; nothing to sweep
    detail::ThreadState* me = &detail::this_thread_state();
    detail::ThreadState* expected = nullptr;
    while (!i.accumulating.compare_exchange_weak(expected, me, std::memory_order_acquire,
                                                 std::memory_order_relaxed)) {
      if (expected == me)
        throw std::logic_error(fmt::format(
            "ad::Tensor::backward: '{}' {} is already receiving gradients from a backward() running on this "
            "thread",
            i.name, i.shape.to_string()));
      std::this_thread::yield();  // another thread's sweep holds it: wait our turn
      expected = nullptr;
    }
    try {
      auto& g = i.grad_buffer();
      for (std::size_t k = 0; k < g.size(); ++k) g[k] += s[k];
    } catch (...) {
      i.accumulating.store(nullptr, std::memory_order_release);
      throw;
    }
    i.grad_zero = false;
    i.accumulating.store(nullptr, std::memory_order_release);
    return;
  }
  // Only leaves accumulate across backward() calls: a recorded root starts
  // this sweep from the seed alone, not from what a retained sweep left.
  auto& g = i.grad_buffer();
  std::copy(s.begin(), s.end(), g.begin());
  i.tape->backward(i, retain_graph);
}

template <class T>
TensorT<T>& TensorT<T>::name(std::string n) {
  impl().name = std::move(n);
  return *this;
}

template <class T>
TensorT<T> TensorT<T>::detach() const {
  const auto& i = impl();
  auto copy = make_impl(i.shape, i.values);
  copy->name = i.name;
  return TensorT(std::move(copy));
}

template <class T>
std::span<T> TensorT<T>::mutable_values() {
  auto& i = impl();
  if (i.node != nullptr)
    throw std::logic_error(fmt::format(
        "ad::Tensor::mutable_values: '{}' {} was produced by a recorded op; writing its values would make "
        "the recorded gradient wrong (write to a leaf, or detach() first)",
        i.name, i.shape.to_string()));
  ++i.version;  // an op recorded before this call that reads these values must not sweep (SavedVersion)
  return i.values;
}

template class TensorT<float>;
template class TensorT<double>;

namespace detail {

void check_recorded_here(const TensorImplBase& t, const char* who) {
  if (t.recorder == nullptr || t.recorder == this_thread_state_if_any()) return;
  // A recorded tensor belongs to the thread that recorded it: its tape is
  // that thread's, and only that thread may sweep it or record on it.
  std::string op;
  {
    std::lock_guard guard(t.recorder->lock);
    op = t.node != nullptr ? std::string(t.node->op) : std::string("an op");
  }
  throw std::logic_error(
      fmt::format("{}: '{}' {} (made by {}) was recorded on another thread's tape; a recorded tensor belongs "
                  "to the thread "
                  "that recorded it: differentiate it on that thread (leaves may be shared)",
                  who, t.name, t.shape.to_string(), op));
}

}  // namespace detail

}  // namespace ad
