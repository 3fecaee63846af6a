// bench_scalar's output: the table (primary clock), the line with the other
// clock, the lines flagging a gradient that disagrees, and the CSV.
#pragma once

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "cpu_model.hpp"
#include "scalar_result.hpp"

namespace bench::scalar {

inline std::string build_note() {
  std::string s = fmt::format("compiler {}", __VERSION__);
#if defined(__OPTIMIZE__)
  s += ", optimised";
#else
  s += ", NOT optimised";
#endif
#if defined(NDEBUG)
  s += ", NDEBUG";
#endif
#if defined(__AVX512F__)
  s += ", AVX-512 enabled (-march)";
#elif defined(__AVX2__)
  s += ", AVX2 enabled (-march)";
#else
  s += ", baseline x86-64 ISA (no -march=native)";
#endif
#if defined(__FAST_MATH__)
  s += ", -ffast-math (do not report these numbers)";
#endif
  return s + "; every library compiled with the same flags";
}

inline std::string fmt_ns(double ns) {
  if (std::isnan(ns)) return "-";
  return fmt::format("{:.0f}", ns);
}
inline std::string fmt_ratio(double x) {
  if (std::isnan(x)) return "-";
  return x >= 100 ? fmt::format("{:.0f}", x) : x >= 10 ? fmt::format("{:.1f}", x) : fmt::format("{:.2f}", x);
}
inline std::string fmt_bytes(double x) { return std::isnan(x) ? "-" : fmt::format("{:.1f}", x); }
inline std::string fmt_diff(double d) { return fmt::format("{:.1e}", d); }
inline std::string_view clock_name(int clock) { return clock == cpu ? "thread CPU time" : "wall clock"; }

// BENCHMARKS.md's memory figure for rosenbrock: bytes per elementary op, 9 per term
inline double bytes_per_rosenbrock_op(const Result& r) {
  return r.workload == Workload::rosenbrock && r.n > 1 ? r.tape_bytes[tool_ours] / (9.0 * double(r.n - 1))
                                                       : NAN;
}

inline std::string ours_over_best_cell(const Result& r, int clock) {
  const Tool b = r.best_peer(clock);
  return b == tool_count ? "-" : fmt::format("{} ({})", fmt_ratio(r.ours_over_best(clock)), tool_names[b]);
}

inline void print_header_row() {
  fmt::print(
      "{:<22} {:>8} {:>3} | {:>10} | {:>10} {:>6} | {:>6} {:>8} {:>6} | {:<17} | {:>6} {:>6} {:>8} {:>6} | "
      "{}\n",
      "", "", "", "", "", "", "ratio", "", "", "ours / best peer", "B/op", "", "", "", "");
  fmt::print(
      "{:<22} {:>8} {:>3} | {:>10} | {:>10} {:>6} | {:>6} {:>8} {:>6} | {:<17} | {:>6} {:>6} {:>8} {:>6} | "
      "{}\n",
      "workload", "N", "rep", "double ns", "ours ns", "ratio", "ADOL-C", "CoDiPack", "Adept", "(time)",
      "ours", "ADOL-C", "CoDiPack", "Adept", "check (norm-wise rel. diff of the gradient)");
}

inline void print_row(const Result& r) {
  const std::string_view name = bench::name(r.workload);
  if (r.error[0] != '\0') {
    fmt::print("{:<22} {:>8} ERROR: {}\n", name, r.n, r.error);
    return;
  }
  const int c = r.primary;
  std::string check;
  if (r.have_closed_form) check += fmt::format("exact {} ", fmt_diff(r.ours_vs_closed_form.normwise));
  for (Tool t : peers)
    if (r.have_gradient[t])
      check += fmt::format("{} {} ", tool_names[t], fmt_diff(r.peer_vs_ours[t].normwise));
  check += r.ok() ? "ok" : "FAILED";
  fmt::print(
      "{:<22} {:>8} {:>3} | {:>10} | {:>10} {:>6} | {:>6} {:>8} {:>6} | {:<17} | {:>6} {:>6} {:>8} {:>6} | "
      "{}\n",
      name, r.n, r.reps, fmt_ns(r.median(tool_double, c)), fmt_ns(r.median(tool_ours, c)),
      fmt_ratio(r.ratio(tool_ours, c)), fmt_ratio(r.ratio(tool_adolc, c)),
      fmt_ratio(r.ratio(tool_codipack, c)), fmt_ratio(r.ratio(tool_adept, c)), ours_over_best_cell(r, c),
      fmt_bytes(r.bytes_per_op(tool_ours)), fmt_bytes(r.bytes_per_op(tool_adolc)),
      fmt_bytes(r.bytes_per_op(tool_codipack)), fmt_bytes(r.bytes_per_op(tool_adept)), check);
  const int other = 1 - c;
  fmt::print(
      "{:<22} {:>8}     {}: double {} ns, ours {} ns; ratio ours {}, ADOL-C {}, CoDiPack {}, Adept {}; ours "
      "/ best "
      "peer {}\n",
      "", "", clock_name(other), fmt_ns(r.median(tool_double, other)), fmt_ns(r.median(tool_ours, other)),
      fmt_ratio(r.ratio(tool_ours, other)), fmt_ratio(r.ratio(tool_adolc, other)),
      fmt_ratio(r.ratio(tool_codipack, other)), fmt_ratio(r.ratio(tool_adept, other)),
      ours_over_best_cell(r, other));
  if (r.have_closed_form && !(r.ours_vs_closed_form.normwise <= closed_form_tolerance))
    fmt::print(
        "  ! {} N={}: OUR gradient differs from the closed form: max |diff| / max |exact| = {} (threshold "
        "{:.0e})\n",
        name, r.n, fmt_diff(r.ours_vs_closed_form.normwise), closed_form_tolerance);
  for (Tool t : peers)
    if (!r.peer_agrees(t))
      fmt::print(
          "  ! {} N={}: {}'s gradient differs from ours: max |diff| / max |ours| = {} (threshold {:.0e}){}\n",
          name, r.n, tool_names[t], fmt_diff(r.peer_vs_ours[t].normwise), peer_tolerance,
          r.have_closed_form ? fmt::format("; {} vs the closed form: {}", tool_names[t],
                                           fmt_diff(r.peer_vs_closed_form[t].normwise))
                             : "");
  if (r.workload == Workload::rosenbrock)
    fmt::print(
        "{:<22} {:>8}     bytes / (9 (n-1)) = {:.2f} B per elementary op (ours, tape + constants + "
        "adjoints)\n",
        "", "", bytes_per_rosenbrock_op(r));
  if (r.phases) {
    const double total = r.phase_total;  // timed with the parts, not in the main run
    auto pct = [&](double x) { return 100.0 * x / total; };
    fmt::print(
        "{:<22} {:>8}     phases of ours, fastest sample, ns (% of {:.0f} ns per gradient timed with them): "
        "record {:.0f} ({:.0f}%), "
        "zero adjoints {:.0f} ({:.0f}%), sweep {:.0f} ({:.0f}%), read gradient {:.0f} ({:.0f}%)\n",
        "", "", total, r.phase_record, pct(r.phase_record), r.phase_zero, pct(r.phase_zero), r.phase_sweep,
        pct(r.phase_sweep), r.phase_read, pct(r.phase_read));
  }
  std::fflush(stdout);
}

inline std::string csv_number(double x) { return std::isnan(x) ? "" : fmt::format("{:.6g}", x); }

inline void write_csv(const std::string& path, const std::vector<Result>& results) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write " + path);
  out << "workload,n,inputs,reps,clock";
  // per tool: the primary clock's median/min/max, then both clocks' medians
  for (std::string_view t : tool_keys)
    out << fmt::format(",{0}_inner,{0}_median_ns,{0}_min_ns,{0}_max_ns,{0}_cpu_median_ns,{0}_wall_median_ns",
                       t);
  for (std::size_t t = tool_ours; t < tool_count; ++t)
    out << fmt::format(
        ",{0}_ratio,{0}_ratio_paired_median,{0}_ratio_paired_min,{0}_ratio_paired_max,{0}_ratio_of_minima,"
        "{0}_cpu_ratio,{0}_wall_ratio,{0}_tape_bytes,{0}_tape_ops,{0}_bytes_per_op,{0}_f",
        tool_keys[t]);
  for (Tool t : peers)
    out << fmt::format(",{0}_vs_ours_normwise,{0}_vs_ours_elementwise,{0}_vs_closed_form_normwise",
                       tool_keys[t]);
  out << ",best_peer,ours_over_best_peer,best_peer_cpu,ours_over_best_peer_cpu,best_peer_wall,ours_over_best_"
         "peer_wall,"
         "speedup_vs_adolc,ours_nodes,ours_leaves,ours_tape_bytes_reserved,ours_bytes_per_node,"
         "ours_bytes_per_rosenbrock_op,adolc_in_core,codipack_statements,adept_statements,"
         "ours_vs_closed_form_normwise,ours_vs_closed_form_elementwise,f_double,"
         "phase_total_ns,phase_record_ns,phase_zero_ns,phase_sweep_ns,phase_read_ns,check,error\n";
  const double nan = NAN;
  auto either = [&](bool have, double x) { return csv_number(have ? x : nan); };
  auto best_name = [](const Result& r, int clock) {
    const Tool b = r.best_peer(clock);
    return b == tool_count ? std::string() : std::string(tool_keys[b]);
  };
  for (const Result& r : results) {
    const int c = r.primary;
    out << fmt::format("{},{},{},{},{}", bench::name(r.workload), r.n, r.inputs, r.reps,
                       c == cpu ? "thread_cpu" : "wall");
    for (int t = 0; t < tool_count; ++t)
      out << fmt::format(",{},{},{},{},{},{}", r.measured[t] ? std::to_string(r.inner[t]) : "",
                         csv_number(r.time[c][t].median), csv_number(r.time[c][t].min),
                         csv_number(r.time[c][t].max), csv_number(r.time[cpu][t].median),
                         csv_number(r.time[wall][t].median));
    for (int i = tool_ours; i < tool_count; ++i) {
      const Tool t = static_cast<Tool>(i);
      out << fmt::format(
          ",{},{},{},{},{},{},{},{},{},{},{}", csv_number(r.ratio(t, c)),
          csv_number(r.ratio_paired[t].median), csv_number(r.ratio_paired[t].min),
          csv_number(r.ratio_paired[t].max), csv_number(r.time[c][t].min / r.time[c][tool_double].min),
          csv_number(r.ratio(t, cpu)), csv_number(r.ratio(t, wall)),
          either(r.tape_ops[t] > 0, r.tape_bytes[t]), r.tape_ops[t] ? std::to_string(r.tape_ops[t]) : "",
          csv_number(r.bytes_per_op(t)), r.measured[t] ? fmt::format("{:.17g}", r.f[t]) : "");
    }
    for (Tool t : peers)
      out << fmt::format(",{},{},{}", either(r.have_gradient[t], r.peer_vs_ours[t].normwise),
                         either(r.have_gradient[t], r.peer_vs_ours[t].elementwise),
                         either(r.have_gradient[t] && r.have_closed_form, r.peer_vs_closed_form[t].normwise));
    out << fmt::format(",{},{},{},{},{},{}", best_name(r, c), csv_number(r.ours_over_best(c)),
                       best_name(r, cpu), csv_number(r.ours_over_best(cpu)), best_name(r, wall),
                       csv_number(r.ours_over_best(wall)));
    out << fmt::format(",{},{},{},{},{},{}", csv_number(r.median(tool_adolc, c) / r.median(tool_ours, c)),
                       r.nodes, r.leaves, r.tape_reserved,
                       csv_number(r.nodes ? r.tape_bytes[tool_ours] / double(r.nodes) : nan),
                       csv_number(bytes_per_rosenbrock_op(r)));
    out << fmt::format(
        ",{},{},{}", r.have_gradient[tool_adolc] ? (r.adolc_in_core ? "1" : "0") : "",
        r.peer_statements[tool_codipack] ? std::to_string(r.peer_statements[tool_codipack]) : "",
        r.peer_statements[tool_adept] ? std::to_string(r.peer_statements[tool_adept]) : "");
    out << fmt::format(",{},{},{:.17g}", either(r.have_closed_form, r.ours_vs_closed_form.normwise),
                       either(r.have_closed_form, r.ours_vs_closed_form.elementwise), r.f[tool_double]);
    out << fmt::format(",{},{},{},{},{}", either(r.phases, r.phase_total), either(r.phases, r.phase_record),
                       either(r.phases, r.phase_zero), either(r.phases, r.phase_sweep),
                       either(r.phases, r.phase_read));
    std::string error = r.error;
    std::replace(error.begin(), error.end(), ',', ';');
    out << fmt::format(",{},{}\n", r.ok() ? "ok" : "FAILED", error);
  }
}

}  // namespace bench::scalar
