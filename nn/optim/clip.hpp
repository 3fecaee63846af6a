// Gradient clipping, between backward() and the optimiser's step():
//
//   loss.backward();
//   const double norm = nn::clip_grad_norm(model.parameters(), /*max_norm=*/1.0);
//   if (std::isfinite(norm)) opt.step();  // else: the gradients overflowed or are NaN
//
// Parameters that received no gradient are skipped (as PyTorch skips a None
// grad).
#pragma once

#include <limits>
#include <vector>

#include <autodiff/tensor.hpp>

namespace nn {

// torch.nn.utils.clip_grad_norm_: the norm of all gradients together, taken
// as one vector (norm_type p > 0, or infinity for the largest |g|); when
// max_norm / (norm + 1e-6) < 1 every gradient is multiplied by that factor.
// Returns the norm before clipping. A non-finite norm (a NaN or infinite
// gradient, or an overflow) leaves every gradient as it was and is returned
// for the caller to act on (nn::fit stops with `diverged`); PyTorch's default
// would multiply the gradients by NaN. max_norm must be finite and > 0 and
// norm_type > 0 (std::invalid_argument otherwise).
template <class T>
double clip_grad_norm(const std::vector<ad::TensorT<T>>& parameters, double max_norm, double norm_type = 2.0);

// torch.nn.utils.clip_grad_value_: clamps every gradient component to
// [-clip_value, clip_value] (NaN stays NaN). clip_value must be finite and > 0.
template <class T>
void clip_grad_value(const std::vector<ad::TensorT<T>>& parameters, double clip_value);

extern template double clip_grad_norm(const std::vector<ad::TensorT<float>>&, double, double);
extern template double clip_grad_norm(const std::vector<ad::TensorT<double>>&, double, double);
extern template void clip_grad_value(const std::vector<ad::TensorT<float>>&, double);
extern template void clip_grad_value(const std::vector<ad::TensorT<double>>&, double);

}  // namespace nn
