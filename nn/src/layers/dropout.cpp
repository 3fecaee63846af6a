#include <nn/layers/dropout.hpp>

#include <cmath>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include <autodiff/tensor_ops.hpp>

namespace nn {

template <class T>
DropoutT<T>::DropoutT(T p, std::uint64_t seed) : p_(p), rng_(seed) {
  // Written so that NaN fails too.
  if (!(p >= T(0) && p < T(1)))
    throw std::invalid_argument(fmt::format("nn::Dropout: p = {} is not a probability in [0, 1)", p));
}

template <class T>
ad::TensorT<T> DropoutT<T>::forward(const ad::TensorT<T>& x) {
  if (!this->is_training() || p_ == T(0)) return x;
  // m_i = 0 with probability p, else 1 / (1 - p): kept where u_i >= p for
  // u_i uniform on [0, 1) from the top 53 bits of one draw (the same
  // sequence on every platform, unlike std::uniform_real_distribution).
  const T keep_scale = T(1) / (T(1) - p_);
  std::vector<T> mask(x.numel());
  for (T& m : mask) {
    const double u = static_cast<double>(rng_() >> 11) * 0x1p-53;
    m = u >= static_cast<double>(p_) ? keep_scale : T(0);
  }
  return x * ad::TensorT<T>::from(x.shape(), std::move(mask));
}

template <class T>
std::string DropoutT<T>::architecture() const {
  return fmt::format("Dropout(p={})", p_);
}

template class DropoutT<float>;
template class DropoutT<double>;

}  // namespace nn
