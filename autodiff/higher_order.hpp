// Gradients of gradients for scalar code: a *recorded* reverse sweep returns
// the gradient as Vars on the tape, so it can be differentiated again.
//
//   ad::Tape tape;
//   std::vector<ad::Var> x = {1.0, 2.0};
//   ad::Var f = ...;
//   std::vector<ad::Var> g = ad::gradient_recorded(f, x);   // df/dx, recorded
//   double d2f_dx0dx1 = ad::gradient(g[0], x)[1];
//
//   auto Hv = ad::hvp(f, x0, v);     // Hessian-vector product, f: span<const Var> -> Var
//   auto H  = ad::hessian(f, x0);    // n Hessian rows from one recorded gradient
//   auto J  = ad::jacobian(F, x0);   // F: span<const Var> -> vector<Var>; one sweep per row
//
// The recorded sweep instantiates each op's derivative formula from the op
// table (scalar_ops.hpp) with T = ad::Var, so every built-in op has its
// second derivative. User-defined ops (ad::CustomOp) give their derivative
// as plain doubles: differentiating through them twice throws.
// This header is for ad::Var; tensor code has the same helpers in
// tensor_higher_order.hpp.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include <autodiff/scalar_reductions.hpp>
#include <autodiff/tape.hpp>
#include <autodiff/var.hpp>

namespace ad {

// d y / d x_i as Vars recorded on y's tape (which must be the active tape), so
// that they can be differentiated again. The sweep appends its nodes to the
// tape: the tape grows by a few nodes per node swept.
std::vector<Var> gradient_recorded(const Var& y, std::span<const Var> xs);

namespace detail {
template <class F>
Var call_scalar(F& f, const std::vector<Var>& x) {
  return f(std::span<const Var>(x));
}
}  // namespace detail

// H(x) v for f: span<const Var> -> Var, at the cost of about two gradients:
// one recording of f, then forward over reverse on that tape (a pass of
// tangents along v, one sweep of adjoints and their tangents), recording
// nothing more. The same numbers as differentiating gradient_recorded(f) . v,
// to rounding.
template <class F>
std::vector<double> hvp(F&& f, const std::vector<double>& x, const std::vector<double>& v) {
  if (v.size() != x.size())
    throw std::invalid_argument(
        fmt::format("ad::hvp: direction has {} entries for {} inputs", v.size(), x.size()));
  Tape tape;
  const std::vector<Var> xs(x.begin(), x.end());
  const Var y = detail::call_scalar(f, xs);
  if (y.is_constant()) return std::vector<double>(x.size(), 0.0);
  return detail::Recorder::hvp_sweep(y, xs, v);
}

// The Hessian of f at x, row by row: one recorded gradient, then one sweep
// from each of its entries.
template <class F>
std::vector<std::vector<double>> hessian(F&& f, const std::vector<double>& x) {
  Tape tape;
  const std::vector<Var> xs(x.begin(), x.end());
  const Var y = detail::call_scalar(f, xs);
  std::vector<std::vector<double>> H(x.size(), std::vector<double>(x.size(), 0.0));
  if (y.is_constant()) return H;
  const std::vector<Var> g = gradient_recorded(y, xs);
  for (std::size_t i = 0; i < g.size(); ++i)
    if (!g[i].is_constant()) H[i] = gradient(g[i], xs);
  return H;
}

// The Jacobian of F: span<const Var> -> std::vector<Var> at x, by reverse
// mode: one recording, one sweep per output (row).
template <class F>
std::vector<std::vector<double>> jacobian(F&& f, const std::vector<double>& x) {
  Tape tape;
  const std::vector<Var> xs(x.begin(), x.end());
  const std::vector<Var> ys = f(std::span<const Var>(xs));
  std::vector<std::vector<double>> J(ys.size(), std::vector<double>(x.size(), 0.0));
  for (std::size_t r = 0; r < ys.size(); ++r)
    if (!ys[r].is_constant()) J[r] = gradient(ys[r], xs);
  return J;
}

// The vector-Jacobian product u^T J of F at x (one sweep).
template <class F>
std::vector<double> vjp(F&& f, const std::vector<double>& x, const std::vector<double>& u) {
  Tape tape;
  const std::vector<Var> xs(x.begin(), x.end());
  const std::vector<Var> ys = f(std::span<const Var>(xs));
  if (u.size() != ys.size())
    throw std::invalid_argument(fmt::format("ad::vjp: {} weights for {} outputs", u.size(), ys.size()));
  Var s = 0.0;
  for (std::size_t r = 0; r < ys.size(); ++r) s += ys[r] * u[r];
  if (s.is_constant()) return std::vector<double>(x.size(), 0.0);
  return gradient(s, xs);
}

struct GradgradcheckReport {
  bool ok = true;
  double max_abs_error = 0;
  double max_rel_error = 0;
  std::size_t directions = 0;
  std::string to_string() const {
    return fmt::format("gradgradcheck: {} ({} directions, max abs error {:.3e}, max rel error {:.3e})\n",
                       ok ? "PASSED" : "FAILED", directions, max_abs_error, max_rel_error);
  }
};

namespace detail {

// The next reproducible pseudo-random direction of +-1 entries (an LCG), for
// the scalar and the tensor gradgradcheck alike.
template <class T>
void next_sign_direction(std::uint64_t& state, std::vector<T>& v) {
  for (T& e : v) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    e = (state >> 63) ? T(1) : T(-1);
  }
}

// Compares one direction's H v with the central differences of the gradient
// (gp - gm) / 2h, entry by entry, into `report`.
template <class Hv, class G>
void compare_direction(GradgradcheckReport& report, const Hv& hv, const G& gp, const G& gm, double h,
                       double abs_tolerance, double rel_tolerance) {
  for (std::size_t i = 0; i < gp.size(); ++i) {
    const double numeric = (double(gp[i]) - double(gm[i])) / (2 * h);
    const double err = std::fabs(double(hv[i]) - numeric);
    report.max_abs_error = std::max(report.max_abs_error, err);
    if (std::fabs(numeric) > abs_tolerance)
      report.max_rel_error = std::max(report.max_rel_error, err / std::fabs(numeric));
    if (err > abs_tolerance + rel_tolerance * std::fabs(numeric)) report.ok = false;
  }
  ++report.directions;
}

}  // namespace detail

// Second-order check: H v from hvp() against central differences of the
// gradient, (grad f(x + h v) - grad f(x - h v)) / 2h, along `directions`
// pseudo-random directions (entries +-1, reproducible).
template <class F>
GradgradcheckReport gradgradcheck(F&& f, const std::vector<double>& x, std::size_t directions = 3,
                                  double h = 1e-5, double abs_tolerance = 1e-5, double rel_tolerance = 1e-3) {
  GradgradcheckReport report;
  auto grad_at = [&](const std::vector<double>& p) {
    Tape tape;
    const std::vector<Var> xs(p.begin(), p.end());
    const Var y = detail::call_scalar(f, xs);
    return y.is_constant() ? std::vector<double>(p.size(), 0.0) : gradient(y, xs);
  };
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  std::vector<double> v(x.size());
  for (std::size_t d = 0; d < directions; ++d) {
    detail::next_sign_direction(state, v);
    const std::vector<double> Hv = hvp(f, x, v);
    std::vector<double> plus = x, minus = x;
    for (std::size_t i = 0; i < x.size(); ++i) {
      plus[i] += h * v[i];
      minus[i] -= h * v[i];
    }
    detail::compare_direction(report, Hv, grad_at(plus), grad_at(minus), h, abs_tolerance, rel_tolerance);
  }
  return report;
}

// ---- many small Jacobians and gradients: reusing a tape and the outputs --------
// The functions above record on a fresh tape and return fresh vectors; in a
// loop of many small problems that costs more than the differentiation (a
// 3x3 Jacobian: bench/bench_jacobian.cpp). These overloads record on the
// caller's tape and write into the caller's buffers instead:
//
//   ad::Tape tape;                              // outside the loop
//   std::vector<std::vector<double>> J;         // sized by the first call
//   std::vector<double> g(n);
//   for (...) {
//     ad::jacobian(F, x, tape, J);              // J[r][i] = dF_r/dx_i
//     const double fx = ad::gradient(f, x, tape, g);   // g = df/dx; returns f(x)
//   }
//
// - Each call starts with tape.clear(): the Vars recorded on the tape before
//   are stale afterwards (using one throws std::logic_error, as after any
//   clear()). The recording of F at x stays on the tape until the next clear,
//   so it can be inspected (describe, to_dot, tape.size()).
// - The tape must be the one recording on this thread: not an outer tape
//   while an inner one is alive, not inside NoGrad (std::logic_error).
// - J is resized to F's m outputs by n inputs; when the sizes repeat, its rows
//   keep their memory, so after the first call neither the tape nor J
//   allocates. The input Vars live on the stack for n <= 16 (in one vector
//   beyond). What still allocates is F's own std::vector<Var> result.
// - gradient() checks g.size() == x.size() (std::invalid_argument).

namespace detail {

inline void reuse_tape(Tape& tape, const char* function) {
  if (Tape::active() != &tape)
    throw std::logic_error(fmt::format(
        "ad::{}: the tape given must be the one recording on this thread ({}); it is cleared and F is "
        "recorded on it",
        function,
        Tape::active() == nullptr
            ? "none records now: inside NoGrad, or the tape belongs to another thread"
            : "another tape records now: an inner tape, or the tape is another thread's"));
  tape.clear();
}

// body(xs) with xs the leaves holding x, recorded on the active tape.
template <class Body>
decltype(auto) with_leaves(std::span<const double> x, Body&& body) {
  constexpr std::size_t on_stack = 16;
  if (x.size() <= on_stack) {
    std::array<Var, on_stack> leaves;  // constants until assigned: they record nothing
    for (std::size_t i = 0; i < x.size(); ++i) leaves[i] = Var(x[i]);
    return body(std::span<const Var>(leaves.data(), x.size()));
  }
  const std::vector<Var> leaves(x.begin(), x.end());
  return body(std::span<const Var>(leaves));
}

}  // namespace detail

// The Jacobian of F: span<const Var> -> std::vector<Var> at x into J (m rows
// of n), recorded on `tape` (cleared first); one sweep per row.
template <class F>
void jacobian(F&& f, std::span<const double> x, Tape& tape, std::vector<std::vector<double>>& J) {
  detail::reuse_tape(tape, "jacobian");
  detail::with_leaves(x, [&](std::span<const Var> xs) {
    const auto ys = f(xs);
    J.resize(ys.size());
    for (std::size_t r = 0; r < ys.size(); ++r) {
      J[r].resize(x.size());
      gradient(ys[r], xs, std::span<double>(J[r]));  // a constant row is 0
    }
  });
}

// The gradient of f: span<const Var> -> Var at x into g (g.size() == x.size()),
// recorded on `tape` (cleared first); returns f(x).
template <class F>
double gradient(F&& f, std::span<const double> x, Tape& tape, std::span<double> g) {
  if (g.size() != x.size())
    throw std::invalid_argument(
        fmt::format("ad::gradient: the gradient span holds {} values for {} inputs", g.size(), x.size()));
  detail::reuse_tape(tape, "gradient");
  return detail::with_leaves(x, [&](std::span<const Var> xs) {
    const Var y = f(xs);
    gradient(y, xs, g);
    return y.value();
  });
}

}  // namespace ad

template <>
struct fmt::formatter<ad::GradgradcheckReport> : fmt::formatter<std::string> {
  template <class FormatContext>
  auto format(const ad::GradgradcheckReport& r, FormatContext& ctx) const {
    return fmt::formatter<std::string>::format(r.to_string(), ctx);
  }
};
