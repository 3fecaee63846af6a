// ad::gradcheck: does the tape's gradient of a function agree with central
// finite differences? For scalar code (a function of std::span<const Var>)
// and for tensor code (a function of std::vector<TensorT<T>>).
//
//   auto report = ad::gradcheck([](const std::vector<ad::Tensor>& p) { return loss(p[0]); }, {W});
//   if (!report.ok) fmt::print("{}", report);   // a table per input: worst entry, errors
//
// Numeric derivatives: (f(x + h e_i) - f(x - h e_i)) / 2h, evaluated in double
// (a float function is evaluated on double copies of its inputs when it can
// be called with double tensors, e.g. a generic lambda taking `const auto&`).
// An entry passes when |analytic - numeric| <= abs_tolerance +
// rel_tolerance * |numeric| (PyTorch's rule and defaults).
// Three failure modes get special treatment:
// - vacuous: the tape's gradient of an input is exactly zero everywhere while
//   the numeric one is not. A silently disconnected parameter is a failure,
//   never a pass.
// - kink: where the forward and backward one-sided differences disagree, the
//   stencil straddles a non-differentiable point (relu or abs at 0, a min/max
//   tie...): such entries are reported and counted, not failed.
// - inconclusive: both values are small enough to pass by abs_tolerance alone
//   while they disagree by more than rel_tolerance, above the finite
//   differences' rounding noise (a derivative off by a factor 20 where the
//   gradient is 1e-7 would pass PyTorch's rule). Not ok: the report says to
//   check at a point where the gradient is larger, or to set `perturbation`.
// The relative error reported is |analytic - numeric| / max(|analytic|,
// |numeric|) over every entry the differences resolve (about 10 / rel_tolerance
// times their rounding noise epsilon |f| / h), including entries that pass by
// the absolute tolerance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include <autodiff/shape.hpp>
#include <autodiff/tape.hpp>
#include <autodiff/tensor.hpp>
#include <autodiff/var.hpp>

namespace ad {

struct GradcheckOptions {
  double step = 1e-6;  // h
  double abs_tolerance = 1e-5;
  double rel_tolerance = 1e-3;
  // Check directional derivatives along random directions instead of every
  // entry: 2 evaluations per direction instead of 2 per parameter.
  bool directional = false;
  std::size_t directions = 4;
  std::uint64_t seed = 0;
  // Also check at a second point, x + perturbation * (1 + |x|) * N(0, 1) per
  // entry (seeded by `seed`): a wrong derivative that happens to be small at x
  // (a trained model, a saturated unit) shows there; each input's row counts
  // the failures at both points (checked_perturbed: the second's entries). Unset: off for ad::gradcheck, 0.1
  // for nn::check_gradients; 0 turns it off.
  std::optional<double> perturbation = std::nullopt;
};

struct GradcheckInput {
  std::string name;  // the tensor's name, or "x" for scalar inputs / "direction k"
  Shape shape;
  std::size_t checked = 0;            // entries compared (at the given point)
  std::size_t checked_perturbed = 0;  // and at the perturbed point (options.perturbation)
  std::size_t failures = 0;
  std::size_t kinks = 0;         // entries whose stencil straddles a kink (not failures)
  std::size_t inconclusive = 0;  // entries passing by abs_tolerance alone while disagreeing (see above)
  double max_abs_error = 0;
  double max_rel_error = 0;
  std::size_t worst_index = 0;  // flat index of the largest error
  double analytic_at_worst = 0;
  double numeric_at_worst = 0;
  bool vacuous = false;                   // all-zero analytic gradient, non-zero numeric one
  bool worst_at_perturbed_point = false;  // the worst entry is from the second point (perturbation)
  bool ok = true;
};

struct GradcheckReport {
  bool ok = true;
  std::vector<GradcheckInput> inputs;
  double max_abs_error = 0;
  double max_rel_error = 0;
  bool perturbed = false;  // the counts include a second, perturbed point
  GradcheckOptions options;
  std::string to_string() const;  // the table
};

namespace detail {

// The engine, on flattened double inputs: `value` evaluates f, `analytic`
// gives the tape's gradient (one vector per input). `epsilon` is the machine
// epsilon of the type f is evaluated in (the finite differences' noise).
GradcheckReport run_gradcheck(const std::function<double(const std::vector<std::vector<double>>&)>& value,
                              const std::vector<std::vector<double>>& point,
                              const std::vector<std::vector<double>>& analytic,
                              std::vector<std::string> names, std::vector<Shape> shapes,
                              const GradcheckOptions& options, double epsilon = 2.220446049250313e-16);
// The second point of options.perturbation (the same for the same seed).
std::vector<std::vector<double>> perturbed_point(const std::vector<std::vector<double>>& point,
                                                 const GradcheckOptions& options);
// Adds the second point's comparisons to each input's row of `report`.
void merge_perturbed(GradcheckReport& report, GradcheckReport perturbed);
inline bool perturbs(const GradcheckOptions& o) { return o.perturbation.has_value() && *o.perturbation > 0; }

template <class T>
std::vector<double> to_doubles(std::span<const T> v) {
  return std::vector<double>(v.begin(), v.end());
}

}  // namespace detail

// Scalar code: f(std::span<const ad::Var>) -> ad::Var, checked at point x.
template <class F>
  requires std::is_invocable_r_v<Var, F, std::span<const Var>>
GradcheckReport gradcheck(F&& f, const std::vector<double>& x, const GradcheckOptions& options = {}) {
  auto check_at = [&](const std::vector<double>& at) {
    std::vector<double> analytic;
    {
      Tape tape;
      const std::vector<Var> vars(at.begin(), at.end());
      const Var y = f(std::span<const Var>(vars));
      analytic = y.is_constant() ? std::vector<double>(at.size(), 0.0) : gradient(y, vars);
    }
    auto value = [&](const std::vector<std::vector<double>>& p) {
      NoGrad off;  // Vars are constants here: plain evaluation
      const std::vector<Var> vars(p[0].begin(), p[0].end());
      return f(std::span<const Var>(vars)).value();
    };
    return detail::run_gradcheck(value, {at}, {analytic}, {"x"}, {Shape{at.size()}}, options);
  };
  GradcheckReport report = check_at(x);
  if (detail::perturbs(options))
    detail::merge_perturbed(report, check_at(detail::perturbed_point({x}, options)[0]));
  return report;
}

// Tensor code: f(const std::vector<TensorT<T>>&) -> one-element TensorT<T>.
template <class F, class T>
GradcheckReport gradcheck(F&& f, const std::vector<TensorT<T>>& inputs,
                          const GradcheckOptions& options = {}) {
  std::vector<std::string> names;
  std::vector<Shape> shapes;
  std::vector<std::vector<double>> start;
  for (const auto& x : inputs) {
    names.push_back(x.name().empty() ? fmt::format("input {}", names.size()) : x.name());
    shapes.push_back(x.shape());
    start.push_back(detail::to_doubles<T>(x.values()));
  }
  constexpr bool in_double = std::is_invocable_v<F, const std::vector<TensorT<double>>&>;
  auto check_at = [&](const std::vector<std::vector<double>>& point) {
    std::vector<std::vector<double>> analytic;
    {
      std::vector<TensorT<T>> leaves;
      for (std::size_t k = 0; k < inputs.size(); ++k) {
        leaves.push_back(TensorT<T>::from(shapes[k], std::vector<T>(point[k].begin(), point[k].end())));
        leaves.back().name(inputs[k].name());
        leaves.back().requires_grad(true);
      }
      TensorT<T> y = f(leaves);
      // A result that does not depend on any input has an all-zero gradient
      // (which the check then reports as vacuous if f does vary).
      if (y.requires_grad_enabled()) y.backward();
      for (auto& leaf : leaves) {
        const TensorT<T> g = leaf.grad();
        analytic.push_back(detail::to_doubles<T>(g.values()));
      }
    }
    auto value = [&](const std::vector<std::vector<double>>& p) -> double {
      NoGrad off;
      if constexpr (in_double) {
        std::vector<TensorT<double>> xs;
        for (std::size_t k = 0; k < p.size(); ++k) xs.push_back(TensorT<double>::from(shapes[k], p[k]));
        return double(f(xs).item());
      } else {
        std::vector<TensorT<T>> xs;
        for (std::size_t k = 0; k < p.size(); ++k)
          xs.push_back(TensorT<T>::from(shapes[k], std::vector<T>(p[k].begin(), p[k].end())));
        return double(f(xs).item());
      }
    };
    using Evaluated = std::conditional_t<in_double, double, T>;
    return detail::run_gradcheck(value, point, analytic, names, shapes, options,
                                 double(std::numeric_limits<Evaluated>::epsilon()));
  };
  GradcheckReport report = check_at(start);
  if (detail::perturbs(options))
    detail::merge_perturbed(report, check_at(detail::perturbed_point(start, options)));
  return report;
}
template <class F, class T>
GradcheckReport gradcheck(F&& f, std::initializer_list<TensorT<T>> inputs,
                          const GradcheckOptions& options = {}) {
  return gradcheck(std::forward<F>(f), std::vector<TensorT<T>>(inputs), options);
}

}  // namespace ad

template <>
struct fmt::formatter<ad::GradcheckReport> : fmt::formatter<std::string> {
  template <class FormatContext>
  auto format(const ad::GradcheckReport& r, FormatContext& ctx) const {
    return fmt::formatter<std::string>::format(r.to_string(), ctx);
  }
};
