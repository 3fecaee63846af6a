#include <nn/layers/pool.hpp>

#include <stdexcept>

#include <fmt/format.h>

namespace nn {

namespace {

// The options with the stride's 0 resolved, checked once at construction
// (the op checks them again against each input's size).
ad::Pool2dOptions checked(const char* layer, ad::Pool2dOptions o) {
  for (std::size_t axis = 0; axis < 2; ++axis)
    if (o.stride[axis] == 0) o.stride[axis] = o.kernel[axis];
  const auto text = [&] {
    return fmt::format("{}x{}, stride {}x{}, padding {}x{}", o.kernel[0], o.kernel[1], o.stride[0],
                       o.stride[1], o.padding[0], o.padding[1]);
  };
  if (o.kernel[0] == 0 || o.kernel[1] == 0)
    throw std::invalid_argument(fmt::format("nn::{}({}): the kernel must be at least 1x1", layer, text()));
  if (2 * o.padding[0] > o.kernel[0] || 2 * o.padding[1] > o.kernel[1])
    throw std::invalid_argument(
        fmt::format("nn::{}({}): the padding must be at most half the kernel", layer, text()));
  return o;
}

ad::Pool2dOptions square(std::size_t kernel, std::size_t stride, std::size_t padding) {
  return {{kernel, kernel}, {stride, stride}, {padding, padding}};
}

std::string describe(const char* layer, const ad::Pool2dOptions& o) {
  return fmt::format("{}({}x{}, stride {}x{}, padding {}x{})", layer, o.kernel[0], o.kernel[1], o.stride[0],
                     o.stride[1], o.padding[0], o.padding[1]);
}

}  // namespace

template <class T>
MaxPool2dT<T>::MaxPool2dT(std::size_t kernel, std::size_t stride, std::size_t padding)
    : MaxPool2dT(square(kernel, stride, padding)) {}
template <class T>
MaxPool2dT<T>::MaxPool2dT(const ad::Pool2dOptions& options) : options_(checked("MaxPool2d", options)) {}
template <class T>
ad::TensorT<T> MaxPool2dT<T>::forward(const ad::TensorT<T>& x) {
  return ad::max_pool2d(x, options_);
}
template <class T>
std::string MaxPool2dT<T>::architecture() const {
  return describe("MaxPool2d", options_);
}

template <class T>
AvgPool2dT<T>::AvgPool2dT(std::size_t kernel, std::size_t stride, std::size_t padding)
    : AvgPool2dT(square(kernel, stride, padding)) {}
template <class T>
AvgPool2dT<T>::AvgPool2dT(const ad::Pool2dOptions& options) : options_(checked("AvgPool2d", options)) {}
template <class T>
ad::TensorT<T> AvgPool2dT<T>::forward(const ad::TensorT<T>& x) {
  return ad::avg_pool2d(x, options_);
}
template <class T>
std::string AvgPool2dT<T>::architecture() const {
  return describe("AvgPool2d", options_);
}

template <class T>
ad::TensorT<T> AdaptiveAvgPool2dT<T>::forward(const ad::TensorT<T>& x) {
  return ad::adaptive_avg_pool2d(x);
}

template class MaxPool2dT<float>;
template class MaxPool2dT<double>;
template class AvgPool2dT<float>;
template class AvgPool2dT<double>;
template class AdaptiveAvgPool2dT<float>;
template class AdaptiveAvgPool2dT<double>;

}  // namespace nn
