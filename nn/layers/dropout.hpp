// nn::DropoutT<T>: inverted dropout (Srivastava et al. 2014, as PyTorch's
// nn.Dropout computes it). In training mode each element of the input is
// zeroed with probability p and the survivors are scaled by 1 / (1 - p), so
// the expected output equals the input and evaluation needs no rescaling:
//
//   training:  y = x * m,   m_i = 0 with probability p, 1 / (1 - p) otherwise
//   eval:      y = x        (the input itself; nothing is recorded)
//
// The mask m is a constant tensor, so the gradient is dy/dx = m (and the
// second derivative 0) through the ordinary product node. Each layer draws
// its masks from its own std::mt19937_64, seeded at construction: the same
// seed and the same sequence of forward calls give the same masks.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include <autodiff/tensor.hpp>
#include <nn/module.hpp>

namespace nn {

template <class T>
class DropoutT : public ModuleT<T> {
 public:
  static constexpr std::uint64_t default_seed = 0x5eed'd50f'0000'0001ULL;

  // p: the probability of zeroing an element, in [0, 1) (p = 0 is the
  // identity); anything else (NaN included) throws std::invalid_argument
  // "nn::Dropout: p = <p> is not a probability in [0, 1)".
  explicit DropoutT(T p = T(0.5), std::uint64_t seed = default_seed);

  ad::TensorT<T> forward(const ad::TensorT<T>& x) override;
  std::string type_name() const override { return "Dropout"; }
  std::string architecture() const override;  // "Dropout(p=0.5)"

  T p() const noexcept { return p_; }
  // Restarts the mask sequence from `seed`.
  void seed(std::uint64_t seed) { rng_.seed(seed); }

 private:
  T p_;
  std::mt19937_64 rng_;
};

using Dropout = DropoutT<double>;
using DropoutF = DropoutT<float>;

extern template class DropoutT<float>;
extern template class DropoutT<double>;

}  // namespace nn
