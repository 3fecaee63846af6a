// fmt support for tensors: `fmt::print("{}", W)` prints
//   Tensor(shape=[2, 3], dtype=float64, name="W1", values=[[1, 2, 3], [4, 5, 6]])
// abbreviating long axes as "a, b, c, ..., x, y, z" so big tensors stay readable.
#pragma once

#include <string>
#include <type_traits>

#include <fmt/format.h>

#include <autodiff/tensor.hpp>

namespace ad::detail {
// The nested-bracket rendering of the values (abbreviated past `edge_items`
// per axis on each side when an axis is longer than 2 * edge_items).
template <class T>
std::string format_values(const TensorT<T>& t, std::size_t edge_items = 3);
}  // namespace ad::detail

template <class T>
struct fmt::formatter<ad::TensorT<T>> {
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }
  template <class FormatContext>
  auto format(const ad::TensorT<T>& t, FormatContext& ctx) const {
    if (!t.defined()) return fmt::format_to(ctx.out(), "Tensor(undefined)");
    auto out = fmt::format_to(ctx.out(), "Tensor(shape={}, dtype={}", t.shape().to_string(),
                              std::is_same_v<T, float> ? "float32" : "float64");
    if (!t.name().empty()) out = fmt::format_to(out, ", name=\"{}\"", t.name());
    if (t.requires_grad_enabled()) out = fmt::format_to(out, ", requires_grad");
    return fmt::format_to(out, ", values={})", ad::detail::format_values(t));
  }
};
