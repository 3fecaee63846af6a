// Classification metrics on model outputs (no gradients).
//
//   std::vector<std::size_t> predicted = nn::argmax(logits);   // [N, C] -> N classes
//   double acc = nn::accuracy(logits, labels);                  // fraction in [0, 1]
#pragma once

#include <cstddef>
#include <vector>

#include <autodiff/tensor.hpp>

namespace nn {

// The index of the largest entry along the last axis, for every row (every
// index of the leading axes, in row-major order): [N, C] gives N indices, a
// 1-d tensor one. Ties give the first; a NaN counts as the largest (it
// propagates, as in torch.argmax), so a diverged model never looks right.
template <class T>
std::vector<std::size_t> argmax(const ad::TensorT<T>& x);

// The fraction of rows of logits or probabilities [N, C] whose argmax is the
// label. Throws std::invalid_argument for another shape or label count and
// std::out_of_range for a label >= C.
template <class T>
double accuracy(const ad::TensorT<T>& scores, const std::vector<std::size_t>& labels);

extern template std::vector<std::size_t> argmax(const ad::TensorT<float>&);
extern template std::vector<std::size_t> argmax(const ad::TensorT<double>&);
extern template double accuracy(const ad::TensorT<float>&, const std::vector<std::size_t>&);
extern template double accuracy(const ad::TensorT<double>&, const std::vector<std::size_t>&);

}  // namespace nn
