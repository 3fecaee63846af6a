#include <algorithm>
#include <cmath>
#include <random>

#include <autodiff/gradcheck.hpp>

namespace ad::detail {
namespace {

// Compares one analytic derivative with the central difference around it and
// records the outcome in `input`.
struct Probe {
  const std::function<double(const std::vector<std::vector<double>>&)>& value;
  const GradcheckOptions& options;

  // Central difference of f along `direction` (same layout as the point), and
  // whether the one-sided differences disagree (a kink inside the stencil).
  std::pair<double, bool> differentiate(std::vector<std::vector<double>>& point,
                                        const std::vector<std::vector<double>>& direction) const {
    const double h = options.step;
    auto shifted = [&](double t) {
      for (std::size_t k = 0; k < point.size(); ++k)
        for (std::size_t i = 0; i < point[k].size(); ++i) point[k][i] += t * direction[k][i];
      const double f = value(point);
      for (std::size_t k = 0; k < point.size(); ++k)
        for (std::size_t i = 0; i < point[k].size(); ++i) point[k][i] -= t * direction[k][i];
      return f;
    };
    const double plus = shifted(h), minus = shifted(-h), centre = value(point);
    const double forward = (plus - centre) / h, backward = (centre - minus) / h;
    // Smooth f: forward - backward = h f'' + O(h^2), tiny. A kink makes them
    // differ by the jump in the slope.
    const bool kink =
        std::fabs(forward - backward) > 1e-3 * (1.0 + std::max(std::fabs(forward), std::fabs(backward)));
    return {(plus - minus) / (2 * h), kink};
  }
};

// What one comparison counts against: the tolerances, and the smallest
// derivative the finite differences resolve to the relative tolerance. A
// central difference carries rounding noise of about epsilon |f(x)| / h; a
// derivative 10 / rel_tolerance times larger is resolved with a margin.
struct Limits {
  const GradcheckOptions& options;
  double resolved;
};

void record(GradcheckInput& in, std::size_t index, double analytic, double numeric, bool kink,
            const Limits& limits) {
  const GradcheckOptions& o = limits.options;
  ++in.checked;
  const double abs_error = std::fabs(analytic - numeric);
  const double scale = std::max(std::fabs(analytic), std::fabs(numeric));
  const double rel_error = scale > 0 ? abs_error / scale : 0.0;
  const bool resolved = scale > limits.resolved;
  const bool pass = abs_error <= o.abs_tolerance + o.rel_tolerance * std::fabs(numeric);
  if (!pass && kink) {
    ++in.kinks;
    return;
  }
  if (!pass) ++in.failures;
  // Passing by the absolute tolerance alone, while disagreeing by more than
  // the relative one at values the differences resolve: not a pass.
  if (pass && !kink && resolved && rel_error > o.rel_tolerance) ++in.inconclusive;
  if (abs_error > in.max_abs_error || in.checked == 1) {
    in.max_abs_error = abs_error;
    in.worst_index = index;
    in.analytic_at_worst = analytic;
    in.numeric_at_worst = numeric;
  }
  if (resolved) in.max_rel_error = std::max(in.max_rel_error, rel_error);
}

}  // namespace

GradcheckReport run_gradcheck(const std::function<double(const std::vector<std::vector<double>>&)>& value,
                              const std::vector<std::vector<double>>& point_in,
                              const std::vector<std::vector<double>>& analytic,
                              std::vector<std::string> names, std::vector<Shape> shapes,
                              const GradcheckOptions& options, double epsilon) {
  GradcheckReport report;
  report.options = options;
  std::vector<std::vector<double>> point = point_in;
  const Probe probe{value, options};
  const double noise = epsilon * (std::fabs(value(point)) + 1e-300) / options.step;
  const Limits limits{options, 10 * noise / std::max(options.rel_tolerance, 1e-300)};
  std::vector<std::vector<double>> direction(point.size());
  for (std::size_t k = 0; k < point.size(); ++k) direction[k].assign(point[k].size(), 0.0);

  if (options.directional) {
    std::mt19937_64 rng(options.seed);
    std::normal_distribution<double> normal;
    for (std::size_t d = 0; d < options.directions; ++d) {
      GradcheckInput in;
      in.name = fmt::format("direction {}", d);
      double along = 0;  // <analytic gradient, v>
      for (std::size_t k = 0; k < point.size(); ++k)
        for (std::size_t i = 0; i < point[k].size(); ++i) {
          direction[k][i] = normal(rng);
          along += analytic[k][i] * direction[k][i];
        }
      const auto [numeric, kink] = probe.differentiate(point, direction);
      record(in, 0, along, numeric, kink, limits);
      in.vacuous = along == 0.0 && std::fabs(numeric) > options.abs_tolerance;
      report.inputs.push_back(in);
    }
  } else {
    for (std::size_t k = 0; k < point.size(); ++k) {
      GradcheckInput in;
      in.name = names[k];
      in.shape = shapes[k];
      bool analytic_all_zero = true;
      double numeric_max = 0;
      for (std::size_t i = 0; i < point[k].size(); ++i) {
        direction[k][i] = 1.0;
        const auto [numeric, kink] = probe.differentiate(point, direction);
        direction[k][i] = 0.0;
        record(in, i, analytic[k][i], numeric, kink, limits);
        analytic_all_zero = analytic_all_zero && analytic[k][i] == 0.0;
        numeric_max = std::max(numeric_max, std::fabs(numeric));
      }
      in.vacuous = analytic_all_zero && numeric_max > options.abs_tolerance;
      report.inputs.push_back(in);
    }
  }
  for (auto& in : report.inputs) {
    in.ok = in.failures == 0 && !in.vacuous && in.inconclusive == 0;
    report.ok = report.ok && in.ok;
    report.max_abs_error = std::max(report.max_abs_error, in.max_abs_error);
    report.max_rel_error = std::max(report.max_rel_error, in.max_rel_error);
  }
  return report;
}

std::vector<std::vector<double>> perturbed_point(const std::vector<std::vector<double>>& point,
                                                 const GradcheckOptions& options) {
  std::mt19937_64 rng(options.seed ^ 0x9e3779b97f4a7c15ull);
  std::normal_distribution<double> normal;
  const double scale = options.perturbation.value_or(0.0);
  std::vector<std::vector<double>> out = point;
  for (auto& input : out)
    for (double& x : input) x += scale * (1.0 + std::fabs(x)) * normal(rng);
  return out;
}

void merge_perturbed(GradcheckReport& report, GradcheckReport perturbed) {
  report.perturbed = true;
  for (std::size_t k = 0; k < report.inputs.size() && k < perturbed.inputs.size(); ++k) {
    GradcheckInput& in = report.inputs[k];
    const GradcheckInput& second = perturbed.inputs[k];
    in.checked_perturbed += second.checked;
    in.failures += second.failures;
    in.kinks += second.kinks;
    in.inconclusive += second.inconclusive;
    if (second.max_abs_error > in.max_abs_error) {
      in.max_abs_error = second.max_abs_error;
      in.worst_index = second.worst_index;
      in.analytic_at_worst = second.analytic_at_worst;
      in.numeric_at_worst = second.numeric_at_worst;
      in.worst_at_perturbed_point = true;
    }
    in.max_rel_error = std::max(in.max_rel_error, second.max_rel_error);
    in.vacuous = in.vacuous || second.vacuous;
    in.ok = in.ok && second.ok;
  }
  report.ok = report.ok && perturbed.ok;
  report.max_abs_error = std::max(report.max_abs_error, perturbed.max_abs_error);
  report.max_rel_error = std::max(report.max_rel_error, perturbed.max_rel_error);
}

}  // namespace ad::detail

namespace ad {

std::string GradcheckReport::to_string() const {
  std::size_t inconclusive = 0;
  for (const auto& in : inputs) inconclusive += in.inconclusive;
  std::string out =
      fmt::format("gradcheck: {} (h = {:g}, pass if |analytic - numeric| <= {:g} + {:g} |numeric|{})\n",
                  ok                 ? "PASSED"
                  : inconclusive > 0 ? "INCONCLUSIVE"
                                     : "FAILED",
                  options.step, options.abs_tolerance, options.rel_tolerance,
                  perturbed ? fmt::format("; at the given point and at a perturbed one, scale {:g}",
                                          options.perturbation.value_or(0))
                            : std::string());
  out += fmt::format("  {:<16} {:>10} {:>8} {:>6} {:>11} {:>11} {:>8} {:>14} {:>14}  {}\n", "input", "shape",
                     "checked", "kinks", "max abs err", "max rel err", "worst", "analytic", "numeric",
                     "verdict");
  for (const auto& in : inputs) {
    std::string verdict = in.ok             ? "ok"
                          : in.vacuous      ? "VACUOUS: tape gradient is all zero"
                          : in.failures > 0 ? "MISMATCH"
                                            : fmt::format("INCONCLUSIVE: {} small entr{} disagree",
                                                          in.inconclusive, in.inconclusive > 1 ? "ies" : "y");
    if (in.ok && in.kinks > 0)
      verdict += fmt::format(" ({} kink{} skipped)", in.kinks, in.kinks > 1 ? "s" : "");
    if (in.worst_at_perturbed_point) verdict += " (worst at the perturbed point)";
    out += fmt::format("  {:<16} {:>10} {:>8} {:>6} {:>11.3e} {:>11.3e} {:>8} {:>14.7g} {:>14.7g}  {}\n",
                       in.name, in.shape.to_string(), in.checked, in.kinks, in.max_abs_error,
                       in.max_rel_error, in.worst_index, in.analytic_at_worst, in.numeric_at_worst, verdict);
  }
  if (inconclusive > 0)
    out += fmt::format(
        "  warning: {} entr{} passed only by the absolute tolerance {:g} while analytic and numeric values "
        "differ by "
        "more than the relative tolerance {:g}: the gradient is too small here to tell; check at a point "
        "where "
        "it is larger (or set GradcheckOptions::perturbation)\n",
        inconclusive, inconclusive > 1 ? "ies" : "y", options.abs_tolerance, options.rel_tolerance);
  return out;
}

}  // namespace ad
