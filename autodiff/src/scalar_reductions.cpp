// The reductions of scalar_reductions.hpp: each computes its value and one
// partial per operand, side by side, and records them as one node (or, over
// runs of consecutive nodes, the value only: scalar_record.hpp).
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <autodiff/scalar_reductions.hpp>
#include <autodiff/tape.hpp>

namespace ad {

namespace detail {

void check_constant_result(std::string_view op, double y, std::initializer_list<double> inputs,
                           std::source_location where);  // src/var.cpp

Var Recorder::reduction(OpCode code, std::span<const Var> operands, std::span<const double> partials,
                        double y, std::source_location where) {
  Tape* t = active_tape;
  std::size_t recorded = 0;
  for (const Var& v : operands) {
    if (t != nullptr && v.stamp_ == t->stamp_)
      ++recorded;
    else
      check_operand_not_stale(code, v);  // a constant, or an enclosing tape's Var
  }
  if (recorded == 0) {
    check_constant_result(op_info(code).name, y, {}, where);
    return Var(y, 0, 0);
  }
  const std::size_t first = t->many_inputs_.size();
  const std::uint32_t stamp = t->stamp_;
  if (recorded <= 8) {  // a few operands (a dot of 3-vectors): cheaper than the growth calls below
    for (std::size_t i = 0; i < operands.size(); ++i)
      if (operands[i].stamp_ == stamp) {
        t->many_inputs_.push_back(operands[i].id_);
        t->many_partials_.push_back(partials[i]);
      }
  } else {
    // Longer lists grow once, then take plain stores: a push_back per
    // operand checks the capacity every time and keeps the copy from
    // vectorising (64 dots of 64 Vars with constant weights, recorded and
    // swept: 1.4x faster).
    t->many_inputs_.resize(first + recorded);
    t->many_partials_.resize(first + recorded);
    std::uint32_t* const inputs = t->many_inputs_.data() + first;
    double* const kept = t->many_partials_.data() + first;
    if (recorded == operands.size()) {  // every operand on this tape: the common case
      for (std::size_t i = 0; i < operands.size(); ++i) {
        inputs[i] = operands[i].id_;
        kept[i] = partials[i];
      }
    } else {
      std::size_t j = 0;
      for (std::size_t i = 0; i < operands.size(); ++i)
        if (operands[i].stamp_ == stamp) {
          inputs[j] = operands[i].id_;
          kept[j++] = partials[i];
        }
    }
  }
  const std::uint32_t id = t->push(y, pack(code, no_operand, no_operand) | many_operands,
                                   static_cast<double>(first), static_cast<double>(recorded));
  return recorded_reduction(*t, code, id, y, operands.size(), where);
}

Var Recorder::run_reduction(OpCode code, std::uint32_t first, std::uint32_t second, std::uint32_t count,
                            double y, std::source_location where) {
  Tape* t = active_tape;
  const bool two_runs = code == OpCode::dot;
  const std::uint32_t id =
      t->push(y, pack(code, link(first), two_runs ? link(second) : no_operand) | many_operands,
              static_cast<double>(count), 0.0);
  return recorded_reduction(*t, code, id, y, two_runs ? 2 * std::size_t{count} : count, where);
}

bool Recorder::is_run(std::span<const Var> xs, std::uint32_t stamp) noexcept {
  // A span longer than any run (ids have 28 bits) is not one, and the tag
  // sums below cannot carry into the stamp.
  if (xs.empty() || stamp == 0 || xs.size() > operand_mask) return false;
  // Without an early exit: one compare per operand, no branch (a dot per
  // row of a matrix checks two runs per call).
  const std::uint64_t first = tag(stamp, xs[0].id_);
  std::uint64_t mismatch = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) mismatch |= tag(xs[i]) ^ (first + i);
  return mismatch == 0;
}

Var Recorder::recorded_reduction(Tape& t, OpCode code, std::uint32_t id, double y, std::size_t operand_count,
                                 std::source_location where) {
  if (t.anomaly_enabled()) {
    t.remember_location(id, where);
    if (!std::isfinite(y))
      throw AnomalyError(
          fmt::format("ad::DetectAnomaly: {} produced {} from {} inputs (node #{}), recorded at {}",
                      op_info(code).name, y, operand_count, id, source_text(where)));
  }
  return Var(y, id, t.stamp_);
}

// Per-thread scratch for the partials and operand lists: a reduction in a
// loop (a dot per row of a matrix) then allocates nothing after the first.
std::vector<double>& scratch_partials(std::size_t n) {
  thread_local std::vector<double> partials;
  partials.resize(n);
  return partials;
}
std::vector<Var>& scratch_operands() {
  thread_local std::vector<Var> operands;
  operands.clear();
  return operands;
}

}  // namespace detail

namespace {

// sum_i a(i) b(i) in four interleaved partial sums, as BLAS dots add: four
// independent chains of additions instead of one, so a long dot runs at the
// multiply-add throughput rather than one addition's latency per term (a
// 64-term row of bench_gmm's Q (x - mu) took 4 cycles a term). Under four
// terms it is the left-to-right loop; beyond, it agrees with that loop to
// rounding, and the partials (the other operand's values) are exact.
template <class A, class B>
double interleaved_dot(std::size_t n, A a, B b) {
  if (n == 0) return 0.0;
  if (n < 4) {
    double s = a(0) * b(0);
    for (std::size_t i = 1; i < n; ++i) s += a(i) * b(i);
    return s;
  }
  double s0 = a(0) * b(0), s1 = a(1) * b(1), s2 = a(2) * b(2), s3 = a(3) * b(3);
  std::size_t i = 4;
  for (; i + 4 <= n; i += 4) {
    s0 += a(i) * b(i);
    s1 += a(i + 1) * b(i + 1);
    s2 += a(i + 2) * b(i + 2);
    s3 += a(i + 3) * b(i + 3);
  }
  double s = (s0 + s1) + (s2 + s3);
  for (; i < n; ++i) s += a(i) * b(i);
  return s;
}

// The stamp of the recording that records now (0: nothing records).
std::uint32_t current_stamp() noexcept {
  const Tape* t = Tape::active();
  return t != nullptr ? t->stamp() : 0;
}

}  // namespace

Var sum(std::span<const Var> xs, std::source_location where) {
  double y = 0.0;
  for (std::size_t i = 0; i < xs.size(); ++i) y = i == 0 ? xs[0].value() : y + xs[i].value();
  if (detail::Recorder::is_run(xs, current_stamp()))
    return detail::Recorder::run_reduction(OpCode::sum, xs[0].id(), 0, static_cast<std::uint32_t>(xs.size()),
                                           y, where);
  std::vector<double>& ones = detail::scratch_partials(xs.size());
  std::fill(ones.begin(), ones.end(), 1.0);  // d/dx_i = 1
  return detail::Recorder::reduction(OpCode::sum, xs, ones, y, where);
}

Var dot(std::span<const Var> x, std::span<const Var> y, std::source_location where) {
  if (x.size() != y.size())
    throw std::invalid_argument(
        fmt::format("ad::dot: the operands have {} and {} entries", x.size(), y.size()));
  // One pass over the operands gives the value and whether x and y are runs
  // (Recorder::is_run's test, read beside each value: the recording of a
  // long dot is mostly these reads).
  using detail::Recorder;
  const std::uint32_t stamp = current_stamp();
  std::uint64_t off_runs = x.empty() || stamp == 0 || x.size() > detail::operand_mask ? 1 : 0;
  const std::uint32_t x0 = x.empty() ? 0 : x[0].id(), y0 = y.empty() ? 0 : y[0].id();
  const std::uint64_t x_tag = Recorder::tag(stamp, x0), y_tag = Recorder::tag(stamp, y0);
  const double value = interleaved_dot(
      x.size(),
      [&](std::size_t i) {
        off_runs |= Recorder::tag(x[i]) ^ (x_tag + i);
        return x[i].value();
      },
      [&](std::size_t i) {
        off_runs |= Recorder::tag(y[i]) ^ (y_tag + i);
        return y[i].value();
      });
  if (off_runs == 0)
    return detail::Recorder::run_reduction(OpCode::dot, x0, y0, static_cast<std::uint32_t>(x.size()), value,
                                           where);
  // Operands x then y; d/dx_i = y_i, d/dy_i = x_i. Every operand gets a
  // place (a constant becomes a leaf when the dot records), so the recorded
  // backward finds y_i's node beside x_i's.
  std::vector<Var>& operands = detail::scratch_operands();
  operands.insert(operands.end(), x.begin(), x.end());
  operands.insert(operands.end(), y.begin(), y.end());
  const bool records = stamp != 0 && std::any_of(operands.begin(), operands.end(),
                                                 [&](const Var& v) { return v.stamp() == stamp; });
  if (records)
    for (Var& v : operands)
      if (v.stamp() != stamp) {
        detail::Recorder::check_operand_not_stale(OpCode::dot, v);
        v = Var(v.value());  // a leaf holding the constant
      }
  std::vector<double>& partials = detail::scratch_partials(2 * x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    partials[i] = y[i].value();
    partials[x.size() + i] = x[i].value();
  }
  return detail::Recorder::reduction(OpCode::dot, operands, partials, value, where);
}

Var dot(std::span<const Var> x, std::span<const double> w, std::source_location where) {
  if (x.size() != w.size())
    throw std::invalid_argument(
        fmt::format("ad::dot: {} Vars and {} constant weights; the sizes must agree", x.size(), w.size()));
  const double value = interleaved_dot(
      x.size(), [x](std::size_t i) { return x[i].value(); }, [w](std::size_t i) { return w[i]; });
  return detail::Recorder::reduction(OpCode::dot_constant, x, w, value, where);  // d/dx_i = w_i
}

Var squared_norm(std::span<const Var> xs, std::source_location where) {
  double y = 0.0;
  if (detail::Recorder::is_run(xs, current_stamp())) {
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const double v = xs[i].value();
      y = i == 0 ? v * v : y + v * v;
    }
    return detail::Recorder::run_reduction(OpCode::squared_norm, xs[0].id(), 0,
                                           static_cast<std::uint32_t>(xs.size()), y, where);
  }
  std::vector<double>& partials = detail::scratch_partials(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double v = xs[i].value();
    y = i == 0 ? v * v : y + v * v;
    partials[i] = 2.0 * v;  // d/dx_i = 2 x_i
  }
  return detail::Recorder::reduction(OpCode::squared_norm, xs, partials, y, where);
}

Var logsumexp(std::span<const Var> xs, std::source_location where) {
  double m = -std::numeric_limits<double>::infinity();
  bool nan = false;
  for (const Var& x : xs) {
    m = std::max(m, x.value());
    nan = nan || std::isnan(x.value());
  }
  double y;
  if (nan)
    y = std::numeric_limits<double>::quiet_NaN();
  else if (std::isinf(m))
    y = m;  // every x_i is -inf (the sum is 0), or one is +inf
  else {
    double s = 0.0;
    for (const Var& x : xs) s += std::exp(x.value() - m);
    y = m + std::log(s);
  }
  if (detail::Recorder::is_run(xs, current_stamp()))
    return detail::Recorder::run_reduction(OpCode::logsumexp, xs[0].id(), 0,
                                           static_cast<std::uint32_t>(xs.size()), y, where);
  std::vector<double>& partials = detail::scratch_partials(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) partials[i] = std::exp(xs[i].value() - y);  // softmax(x)_i
  return detail::Recorder::reduction(OpCode::logsumexp, xs, partials, y, where);
}

}  // namespace ad
