// Test helper: the tape gradient of a function of several double tensors
// against central differences,
//
//   dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / (2 h),
//
// whose truncation error is O(h^2 L''') and rounding error O(eps L / h); with
// h = 1e-6 and values of order 1 both stay near 1e-10.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <autodiff/autodiff.hpp>

namespace adtest {

using TensorFn = std::function<ad::Tensor(const std::vector<ad::Tensor>&)>;

struct GradCheckReport {
  double max_abs = 0.0;     // max |tape - fd| over all entries
  double max_rel = 0.0;     // max |tape - fd| / max(|tape|, |fd|), over entries where that is above 1e-6
  double max_scaled = 0.0;  // max |tape - fd| / max(1, |fd|): what the tolerance applies to
  std::size_t entries = 0;  // gradient entries compared
  std::string worst;        // where max_scaled was reached

  bool ok(double tolerance) const { return max_scaled <= tolerance; }
};

// The largest errors seen by all checks in this process, for a final summary.
inline GradCheckReport& worst_seen() {
  static GradCheckReport report;
  return report;
}

// Tape gradient of loss(xs) (a one-element tensor) with respect to every x in
// xs, compared with central differences. The xs are copied into fresh leaves,
// so the caller's tensors are untouched.
inline GradCheckReport gradcheck(const TensorFn& loss, const std::vector<ad::Tensor>& xs, double step = 1e-6) {
  std::vector<ad::Tensor> leaves;
  for (const ad::Tensor& x : xs) leaves.push_back(x.detach().requires_grad(true));
  ad::Tensor value = loss(leaves);
  value.backward();

  GradCheckReport report;
  for (std::size_t k = 0; k < leaves.size(); ++k) {
    const ad::Tensor grad = leaves[k].grad();
    if (!(grad.shape() == leaves[k].shape()))
      throw std::logic_error(fmt::format("gradcheck: the gradient of input {} has shape {}, the input {}", k,
                                         grad.shape().to_string(), leaves[k].shape().to_string()));
    const std::vector<double> tape(grad.values().begin(), grad.values().end());
    // Finite differences on constants: nothing records, values stay writable.
    std::vector<ad::Tensor> probe;
    for (const ad::Tensor& x : leaves) probe.push_back(x.detach());
    auto entries = probe[k].mutable_values();
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const double saved = entries[i];
      double up = 0.0, down = 0.0;
      {
        ad::NoGrad off;
        entries[i] = saved + step;
        up = loss(probe).item();
        entries[i] = saved - step;
        down = loss(probe).item();
      }
      entries[i] = saved;
      const double fd = (up - down) / (2.0 * step);
      const double abs_err = std::fabs(tape[i] - fd);
      const double magnitude = std::max(std::fabs(tape[i]), std::fabs(fd));
      const double rel_err = magnitude > 1e-6 ? abs_err / magnitude : 0.0;
      const double scaled = abs_err / std::max(1.0, std::fabs(fd));
      // NaN compares false: make it the worst possible error instead.
      constexpr double inf = std::numeric_limits<double>::infinity();
      const double scaled_or_inf = std::isnan(scaled) ? inf : scaled;
      report.max_abs = std::max(report.max_abs, std::isnan(abs_err) ? inf : abs_err);
      report.max_rel = std::max(report.max_rel, std::isnan(rel_err) ? inf : rel_err);
      if (scaled_or_inf > report.max_scaled || report.worst.empty()) {
        report.max_scaled = std::max(report.max_scaled, scaled_or_inf);
        report.worst = fmt::format("input {} {} entry {}: tape {:.12g}, finite difference {:.12g}", k,
                                   leaves[k].shape().to_string(), i, tape[i], fd);
      }
      ++report.entries;
    }
  }
  GradCheckReport& seen = worst_seen();
  seen.max_abs = std::max(seen.max_abs, report.max_abs);
  seen.max_rel = std::max(seen.max_rel, report.max_rel);
  if (report.max_scaled >= seen.max_scaled) {
    seen.max_scaled = report.max_scaled;
    seen.worst = report.worst;
  }
  seen.entries += report.entries;
  return report;
}

// For an op with any output shape: checks L = sum(w * op(xs)) with a fixed
// random weighting w drawn from rng (entries of either sign, magnitude in
// [0.5, 1.5]), so every output element contributes with its own weight.
inline GradCheckReport gradcheck_op(const TensorFn& op, const std::vector<ad::Tensor>& xs, std::mt19937_64& rng,
                                    double step = 1e-6) {
  ad::Shape out_shape;
  {
    ad::NoGrad off;
    out_shape = op(xs).shape();
  }
  std::uniform_real_distribution<double> magnitude(0.5, 1.5);
  std::bernoulli_distribution negative(0.5);
  std::vector<double> w(out_shape.numel());
  for (double& v : w) v = negative(rng) ? -magnitude(rng) : magnitude(rng);
  const ad::Tensor weights = ad::Tensor::from(out_shape, std::move(w));
  return gradcheck([&](const std::vector<ad::Tensor>& in) { return ad::sum(weights * op(in)); }, xs, step);
}

// A tensor of `shape` with entries drawn uniformly from [lo, hi].
inline ad::Tensor uniform(const ad::Shape& shape, double lo, double hi, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(shape.numel());
  for (double& x : v) x = u(rng);
  return ad::Tensor::from(shape, std::move(v));
}

// Entries with |x| in [lo, hi] and a random sign: keeps away from a kink at 0.
inline ad::Tensor away_from_zero(const ad::Shape& shape, double lo, double hi, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::bernoulli_distribution negative(0.5);
  std::vector<double> v(shape.numel());
  for (double& x : v) x = negative(rng) ? -u(rng) : u(rng);
  return ad::Tensor::from(shape, std::move(v));
}

}  // namespace adtest
