#include <nn/layers/activation.hpp>

#include <stdexcept>

#include <fmt/format.h>

namespace nn {

template <class T>
ActivationLayerT<T>::ActivationLayerT(Activation psi) : psi_(psi) {
  if (find(psi) == nullptr)
    throw std::invalid_argument(
        fmt::format("nn::ActivationLayer: unknown activation (code {})", static_cast<unsigned>(psi)));
}

template <class T>
ad::TensorT<T> ActivationLayerT<T>::forward(const ad::TensorT<T>& x) {
  return apply(psi_, x);
}

template <class T>
std::string ActivationLayerT<T>::architecture() const {
  return fmt::format("ActivationLayer({})", name(psi_));
}

template class ActivationLayerT<float>;
template class ActivationLayerT<double>;

}  // namespace nn
