#include <nn/layers/shape.hpp>

#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <autodiff/tensor_shape_ops.hpp>

namespace nn {

template <class T>
ad::TensorT<T> FlattenT<T>::forward(const ad::TensorT<T>& x) {
  const ad::Shape& s = x.shape();
  const auto rank = static_cast<std::int64_t>(s.rank());
  // A rank-0 input is one element: PyTorch flattens it as if it had one axis.
  const std::int64_t axes = rank == 0 ? 1 : rank;
  const std::int64_t start = start_axis_ < 0 ? start_axis_ + axes : start_axis_;
  const std::int64_t end = end_axis_ < 0 ? end_axis_ + axes : end_axis_;
  if (start < 0 || start >= axes || end < 0 || end >= axes || start > end)
    throw std::invalid_argument(
        fmt::format("nn::Flatten: axes {} .. {} do not fit an input of shape {} (rank {}; need start <= end)",
                    start_axis_, end_axis_, s.to_string(), rank));
  if (rank == 0) return ad::reshape(x, ad::Shape{1});
  std::vector<std::size_t> dims(s.begin(), s.begin() + start);
  std::size_t merged = 1;
  for (std::int64_t a = start; a <= end; ++a) merged *= s[static_cast<std::size_t>(a)];
  dims.push_back(merged);
  dims.insert(dims.end(), s.begin() + end + 1, s.end());
  return ad::reshape(x, ad::Shape(std::span<const std::size_t>(dims)));
}

template <class T>
std::string FlattenT<T>::architecture() const {
  return fmt::format("Flatten({}, {})", start_axis_, end_axis_);
}

template <class T>
ReshapeT<T>::ReshapeT(std::vector<std::size_t> shape) : shape_(std::move(shape)) {
  if (shape_.size() + 1 > ad::Shape::max_rank)
    throw std::invalid_argument(
        fmt::format("nn::Reshape: [{}] has {} axes; with the batch axis at most {} fit",
                    fmt::join(shape_, ", "), shape_.size(), ad::Shape::max_rank - 1));
  for (std::size_t d : shape_)
    if (d == 0)
      throw std::invalid_argument(
          fmt::format("nn::Reshape: [{}] has a zero extent", fmt::join(shape_, ", ")));
  // One sample must fit a tensor.
  std::size_t count = 1;
  for (std::size_t d : shape_) {
    if (count > ad::Shape::max_numel / d)
      throw std::invalid_argument(
          fmt::format("nn::Reshape: [{}] has more elements than a tensor can hold", fmt::join(shape_, ", ")));
    count *= d;
  }
}

template <class T>
ad::TensorT<T> ReshapeT<T>::forward(const ad::TensorT<T>& x) {
  const ad::Shape& s = x.shape();
  std::size_t per_sample = 1;
  for (std::size_t d : shape_) per_sample *= d;
  std::size_t have = 1;  // the elements of one sample: the extents after the batch axis
  for (std::size_t a = 1; a < s.rank(); ++a) have *= s[a];
  if (s.rank() == 0 || have != per_sample)
    throw std::invalid_argument(fmt::format(
        "nn::Reshape: input of shape {} cannot be viewed as [N, {}] ({} elements per sample, {} needed)",
        s.to_string(), fmt::join(shape_, ", "), s.rank() == 0 ? 0 : have, per_sample));
  std::vector<std::size_t> dims{s[0]};
  dims.insert(dims.end(), shape_.begin(), shape_.end());
  return ad::reshape(x, ad::Shape(std::span<const std::size_t>(dims)));
}

template <class T>
std::string ReshapeT<T>::architecture() const {
  return fmt::format("Reshape([{}])", fmt::join(shape_, ", "));
}

template class FlattenT<float>;
template class FlattenT<double>;
template class ReshapeT<float>;
template class ReshapeT<double>;

}  // namespace nn
