// fmt support: `fmt::print("{}", x)` prints a Var's value with any double
// format spec (`{:.3f}`), like a double.
#pragma once

#include <fmt/format.h>

#include <autodiff/var.hpp>

template <>
struct fmt::formatter<ad::Var> : fmt::formatter<double> {
  template <class FormatContext>
  auto format(const ad::Var& v, FormatContext& ctx) const {
    return fmt::formatter<double>::format(v.value(), ctx);
  }
};
