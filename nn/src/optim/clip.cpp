#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include <nn/optim/clip.hpp>

namespace nn {

template <class T>
double clip_grad_norm(const std::vector<ad::TensorT<T>>& parameters, double max_norm, double norm_type) {
  if (!std::isfinite(max_norm) || max_norm <= 0.0)
    throw std::invalid_argument(
        fmt::format("nn::clip_grad_norm: max_norm must be finite and > 0, got {}", max_norm));
  if (!(norm_type > 0.0))
    throw std::invalid_argument(
        fmt::format("nn::clip_grad_norm: norm_type must be > 0 (or infinity), got {}", norm_type));
  // ||g||_p = (sum |g_i|^p)^(1/p) over every component of every gradient,
  // accumulated in double; p = infinity: max |g_i|.
  const bool largest = std::isinf(norm_type);
  double accumulated = 0.0;
  for (ad::TensorT<T> p : parameters) {  // a handle: grad_values() is the parameter's own
    if (!p.defined()) continue;
    for (T g : p.grad_values()) {
      const double magnitude = std::abs(static_cast<double>(g));
      if (largest)
        accumulated = std::isnan(magnitude) ? magnitude : std::max(accumulated, magnitude);
      else if (norm_type == 2.0)
        accumulated += magnitude * magnitude;
      else if (norm_type == 1.0)
        accumulated += magnitude;
      else
        accumulated += std::pow(magnitude, norm_type);
    }
  }
  const double norm = largest            ? accumulated
                      : norm_type == 2.0 ? std::sqrt(accumulated)
                      : norm_type == 1.0 ? accumulated
                                         : std::pow(accumulated, 1.0 / norm_type);
  if (!std::isfinite(norm)) return norm;
  const double factor = max_norm / (norm + 1e-6);
  if (factor < 1.0) {
    const T scale = static_cast<T>(factor);
    for (ad::TensorT<T> p : parameters)
      if (p.defined())
        for (T& g : p.grad_values()) g *= scale;
  }
  return norm;
}

template <class T>
void clip_grad_value(const std::vector<ad::TensorT<T>>& parameters, double clip_value) {
  if (!std::isfinite(clip_value) || clip_value <= 0.0)
    throw std::invalid_argument(
        fmt::format("nn::clip_grad_value: clip_value must be finite and > 0, got {}", clip_value));
  const T high = static_cast<T>(clip_value), low = -high;
  for (ad::TensorT<T> p : parameters)
    if (p.defined())
      for (T& g : p.grad_values()) g = g < low ? low : g > high ? high : g;
}

template double clip_grad_norm(const std::vector<ad::TensorT<float>>&, double, double);
template double clip_grad_norm(const std::vector<ad::TensorT<double>>&, double, double);
template void clip_grad_value(const std::vector<ad::TensorT<float>>&, double);
template void clip_grad_value(const std::vector<ad::TensorT<double>>&, double);

}  // namespace nn
