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
    const bool kink = std::fabs(forward - backward) > 1e-3 * (1.0 + std::max(std::fabs(forward), std::fabs(backward)));
    return {(plus - minus) / (2 * h), kink};
  }
};

void record(GradcheckInput& in, std::size_t index, double analytic, double numeric, bool kink,
            const GradcheckOptions& o) {
  ++in.checked;
  const double abs_error = std::fabs(analytic - numeric);
  const double rel_error = abs_error / std::max(std::fabs(numeric), 1e-300);
  const bool pass = abs_error <= o.abs_tolerance + o.rel_tolerance * std::fabs(numeric);
  if (!pass && kink) {
    ++in.kinks;
    return;
  }
  if (!pass) ++in.failures;
  if (abs_error > in.max_abs_error || in.checked == 1) {
    in.max_abs_error = abs_error;
    in.worst_index = index;
    in.analytic_at_worst = analytic;
    in.numeric_at_worst = numeric;
  }
  if (std::fabs(numeric) > o.abs_tolerance) in.max_rel_error = std::max(in.max_rel_error, rel_error);
}

}  // namespace

GradcheckReport run_gradcheck(const std::function<double(const std::vector<std::vector<double>>&)>& value,
                              const std::vector<std::vector<double>>& point_in,
                              const std::vector<std::vector<double>>& analytic, std::vector<std::string> names,
                              std::vector<Shape> shapes, const GradcheckOptions& options) {
  GradcheckReport report;
  report.options = options;
  std::vector<std::vector<double>> point = point_in;
  const Probe probe{value, options};
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
      record(in, 0, along, numeric, kink, options);
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
        record(in, i, analytic[k][i], numeric, kink, options);
        analytic_all_zero = analytic_all_zero && analytic[k][i] == 0.0;
        numeric_max = std::max(numeric_max, std::fabs(numeric));
      }
      in.vacuous = analytic_all_zero && numeric_max > options.abs_tolerance;
      report.inputs.push_back(in);
    }
  }
  for (auto& in : report.inputs) {
    in.ok = in.failures == 0 && !in.vacuous;
    report.ok = report.ok && in.ok;
    report.max_abs_error = std::max(report.max_abs_error, in.max_abs_error);
    report.max_rel_error = std::max(report.max_rel_error, in.max_rel_error);
  }
  return report;
}

}  // namespace ad::detail

namespace ad {

std::string GradcheckReport::to_string() const {
  std::string out = fmt::format("gradcheck: {} (h = {:g}, pass if |analytic - numeric| <= {:g} + {:g} |numeric|)\n",
                                ok ? "PASSED" : "FAILED", options.step, options.abs_tolerance, options.rel_tolerance);
  out += fmt::format("  {:<16} {:>10} {:>8} {:>6} {:>11} {:>11} {:>8} {:>14} {:>14}  {}\n", "input", "shape", "checked",
                     "kinks", "max abs err", "max rel err", "worst", "analytic", "numeric", "verdict");
  for (const auto& in : inputs) {
    std::string verdict = in.ok ? "ok" : (in.vacuous ? "VACUOUS: tape gradient is all zero" : "MISMATCH");
    if (in.ok && in.kinks > 0) verdict += fmt::format(" ({} kink{} skipped)", in.kinks, in.kinks > 1 ? "s" : "");
    out += fmt::format("  {:<16} {:>10} {:>8} {:>6} {:>11.3e} {:>11.3e} {:>8} {:>14.7g} {:>14.7g}  {}\n", in.name,
                       in.shape.to_string(), in.checked, in.kinks, in.max_abs_error, in.max_rel_error, in.worst_index,
                       in.analytic_at_worst, in.numeric_at_worst, verdict);
  }
  return out;
}

}  // namespace ad
