// Reductions over many scalar Vars, each recorded as ONE node with one
// partial per operand: `ad::sum(xs)` costs one record and n (index, partial)
// pairs instead of n - 1 additions, and the sweep sends each operand its
// share in one tight loop. Values and gradients are those of the op-by-op
// loops they replace: sum, squared_norm and logsumexp add left to right, as
// `s += x[i]` does; dot adds in four interleaved partial sums, as BLAS dots
// do (the same as the loop under four terms, to rounding beyond; its
// gradient, the other operand's values, is exact). When the operands are
// consecutive nodes of the tape (a span recorded in one loop) the node
// stores no operand list at all: 32 bytes whatever the length.
//
//   ad::Var s = ad::sum(x);                 // x_0 + x_1 + ...
//   ad::Var d = ad::dot(w, x);              // w . x, Vars or constant weights
//   ad::Var q = ad::squared_norm(r);        // r_0^2 + r_1^2 + ...
//   ad::Var l = ad::logsumexp(a);           // log sum exp(a_i), without overflow
//
// Operands that are constants (or Vars of an enclosing tape) count in the
// value and get no partial; with no recorded operand the result is a
// constant. Second derivatives (hvp, hessian) go through these nodes too.
#pragma once

#include <initializer_list>
#include <source_location>
#include <span>

#include <autodiff/var.hpp>

namespace ad {

// x_0 + x_1 + ... (0 for no operand).
Var sum(std::span<const Var> xs, std::source_location where = std::source_location::current());
// sum_i x_i y_i. Throws std::invalid_argument when the sizes differ.
Var dot(std::span<const Var> x, std::span<const Var> y,
        std::source_location where = std::source_location::current());
Var dot(std::span<const Var> x, std::span<const double> w,
        std::source_location where = std::source_location::current());
// sum_i x_i^2.
Var squared_norm(std::span<const Var> xs, std::source_location where = std::source_location::current());
// log sum_i exp(x_i), computed as m + log sum_i exp(x_i - m) with m the
// largest x_i (no overflow); its partials are softmax(x). -inf for no operand;
// +inf when an x_i is +inf (partials NaN there, as exp(inf - inf)); NaN in, NaN out.
Var logsumexp(std::span<const Var> xs, std::source_location where = std::source_location::current());

inline Var sum(std::initializer_list<Var> xs, std::source_location where = std::source_location::current()) {
  return sum(std::span<const Var>(xs.begin(), xs.size()), where);
}
inline Var squared_norm(std::initializer_list<Var> xs,
                        std::source_location where = std::source_location::current()) {
  return squared_norm(std::span<const Var>(xs.begin(), xs.size()), where);
}
inline Var logsumexp(std::initializer_list<Var> xs,
                     std::source_location where = std::source_location::current()) {
  return logsumexp(std::span<const Var>(xs.begin(), xs.size()), where);
}

}  // namespace ad
