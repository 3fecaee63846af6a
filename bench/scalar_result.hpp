// What bench_scalar measures on one (workload, N): the tools, their times on
// both clocks, their tapes and the gradient checks (bench_scalar.cpp fills it,
// scalar_report.hpp prints it). Included by bench_scalar.cpp only: which peers
// are built in comes from its AD_BENCH_HAVE_* definitions.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string_view>
#include <type_traits>

#include "scalar_timing.hpp"
#include "scalar_workloads.hpp"

namespace bench::scalar {

enum Tool { tool_double, tool_ours, tool_adolc, tool_codipack, tool_adept, tool_count };
constexpr std::string_view tool_names[tool_count] = {"double", "ours", "ADOL-C", "CoDiPack", "Adept"};
// the names on the command line and in the CSV's columns
constexpr std::string_view tool_keys[tool_count] = {"double", "ours", "adolc", "codipack", "adept"};
constexpr Tool peers[] = {tool_adolc, tool_codipack, tool_adept};

constexpr bool built_in[tool_count] = {
    true, true,
#if defined(AD_BENCH_HAVE_ADOLC)
    true,
#else
    false,
#endif
#if defined(AD_BENCH_HAVE_CODIPACK)
    true,
#else
    false,
#endif
#if defined(AD_BENCH_HAVE_ADEPT)
    true,
#else
    false,
#endif
};

constexpr int cpu = static_cast<int>(bench::ClockKind::thread_cpu);
constexpr int wall = static_cast<int>(bench::ClockKind::wall);

// Correct tools agree to rounding level; a wrong adjoint is off by O(1).
constexpr double closed_form_tolerance = 1e-10;
constexpr double peer_tolerance = 1e-9;

// Everything measured on one (workload, N). Trivially copyable: a child
// process sends it back through a pipe.
struct Result {
  bench::Workload workload{};
  std::size_t n = 0, inputs = 0;
  int reps = 0;
  int primary = cpu;  // the clock that sized the batches and leads the table
  bool measured[tool_count] = {};
  long inner[tool_count] = {};
  bench::Summary time[bench::clock_count]
                     [tool_count];          // ns per gradient (per evaluation for double), per clock
  bench::Summary ratio_paired[tool_count];  // tool / double, sample by sample, primary clock
  double f[tool_count] = {};                // the function value each tool computed
  // tapes after the sweep: bytes and elementary operations as each library
  // counts them (ours: non-leaf nodes; ADOL-C: operations; CoDiPack: Jacobian
  // entries; Adept: operations)
  double tape_bytes[tool_count] = {};
  std::size_t tape_ops[tool_count] = {};
  std::size_t nodes = 0, leaves = 0, tape_reserved = 0;  // ours
  std::size_t peer_statements[tool_count] = {};          // CoDiPack, Adept
  bool adolc_in_core = false;
  // gradient checks
  bool have_closed_form = false;
  bench::Difference ours_vs_closed_form;
  bool have_gradient[tool_count] = {};         // a peer's gradient was compared with ours
  bench::Difference peer_vs_ours[tool_count];  // norm-wise relative to ours
  bench::Difference peer_vs_closed_form[tool_count];
  // --phases: ns per gradient of the parts of ours
  bool phases = false;
  double phase_record = 0, phase_zero = 0, phase_sweep = 0, phase_read = 0, phase_total = 0;
  char error[512] = {};

  double median(Tool t, int clock) const { return time[clock][t].median; }
  double ratio(Tool t, int clock) const { return median(t, clock) / median(tool_double, clock); }
  // The fastest peer measured (by median gradient time on `clock`), or tool_count.
  Tool best_peer(int clock) const {
    Tool best = tool_count;
    for (Tool t : peers)
      if (measured[t] && !std::isnan(median(t, clock)) &&
          (best == tool_count || median(t, clock) < median(best, clock)))
        best = t;
    return best;
  }
  double ours_over_best(int clock) const {
    const Tool b = best_peer(clock);
    return b == tool_count ? NAN : median(tool_ours, clock) / median(b, clock);
  }
  double bytes_per_op(Tool t) const { return tape_ops[t] ? tape_bytes[t] / double(tape_ops[t]) : NAN; }
  bool peer_agrees(Tool t) const { return !have_gradient[t] || peer_vs_ours[t].normwise <= peer_tolerance; }
  bool ok() const {
    if (error[0] != '\0') return false;
    if (have_closed_form && !(ours_vs_closed_form.normwise <= closed_form_tolerance)) return false;
    for (Tool t : peers)
      if (!peer_agrees(t)) return false;
    return std::fabs(f[tool_ours] - f[tool_double]) <= 1e-10 * std::max(1.0, std::fabs(f[tool_double]));
  }
};
static_assert(std::is_trivially_copyable_v<Result>);

}  // namespace bench::scalar
