// bench_scalar: what one gradient costs on the scalar workloads S1-S7
// (BENCHMARKS.md), with the tape re-recorded for every gradient as in a
// training loop, against the same code on plain double and, when ADOL-C is
// installed, against ADOL-C in the same process.
//
// One gradient of ours = tape.clear(); x_i = Var(v_i) (leaves); f = w(x);
// ad::gradient(f, x, out) (one reverse sweep, every input's adjoint read).
// The contenders alternate, double / ours / ADOL-C / double / ..., each
// sample a batch of calls lasting a few milliseconds of this thread's CPU
// time, after a warm-up; ratios divide medians taken in the same process.
// See bench/README.md.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fmt/format.h>

#include <autodiff/autodiff.hpp>

#include "scalar_workloads.hpp"
#if defined(AD_BENCH_HAVE_ADOLC)
#include "peers/adolc_scalar.hpp"
#endif

template <>
struct bench::Passive<ad::Var> {
  static double value(const ad::Var& v) { return v.value(); }
};

namespace {

using bench::Problem;
using bench::Workload;

constexpr bool have_adolc =
#if defined(AD_BENCH_HAVE_ADOLC)
    true;
#else
    false;
#endif

// The compiler must assume the pointee is read and anything in memory
// written: keeps the double baseline from being hoisted out of, or folded
// across, the timing loop.
inline void do_not_optimize(const void* p) { asm volatile("" : : "g"(p) : "memory"); }

// Which clock times the samples. The default, this thread's CPU time, does
// not count the time slices other processes take on a shared machine (they
// still leave colder caches behind); wall time is the alternative.
enum class ClockKind { thread_cpu, wall };
ClockKind g_clock = ClockKind::thread_cpu;

double now_seconds() {
  timespec ts{};
  clock_gettime(g_clock == ClockKind::thread_cpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// ---- timing -----------------------------------------------------------------

struct Protocol {
  double warmup_s = 0.1;   // warm-up per contender (calls cheaper than heavy_s)
  double batch_s = 0.005;  // a sample is a batch of calls lasting at least this long
  double heavy_s = 0.05;   // calls this long are timed one by one, warmed up by one call
  double budget_s = 0.6;   // aim for about this much timing per problem, all contenders
  int min_reps = 5;
  int max_reps = 21;
  int fixed_reps = 0;      // --reps
};

// One thing being timed: `batch(k)` makes k calls.
struct Contender {
  Contender(std::string_view name_, std::function<void(long)> batch_) : name(name_), batch(std::move(batch_)) {}
  std::string_view name;
  std::function<void(long)> batch;
  long inner = 1;               // calls per sample
  double per_call_s = 0.0;      // estimate from the warm-up
  std::vector<double> samples;  // ns per call, one per repetition
};

template <class F>
std::function<void(long)> batched(F call) {
  return [call](long count) mutable {
    for (long i = 0; i < count; ++i) call();
  };
}

double time_batch(Contender& c, long count) {
  const double start = now_seconds();
  c.batch(count);
  return now_seconds() - start;
}

// Warm up and size each contender's batch, then take the samples in turn:
// A B C A B C ... so that a slow phase of the machine hits every contender.
int measure(std::vector<Contender>& contenders, const Protocol& protocol) {
  double per_rep_s = 0.0;
  for (Contender& c : contenders) {
    const double first = time_batch(c, 1);
    c.per_call_s = first;
    if (first < protocol.heavy_s) {
      double spent = first;
      for (long k = 1; spent < protocol.warmup_s; k *= 2) {
        const double t = time_batch(c, k);
        spent += t;
        c.per_call_s = t / double(k);
      }
    }
    c.per_call_s = std::max(c.per_call_s, 1e-9);  // a clock that did not tick
    c.inner = std::max(1L, static_cast<long>(std::ceil(protocol.batch_s / c.per_call_s)));
    per_rep_s += double(c.inner) * c.per_call_s;
  }
  int reps = protocol.fixed_reps;
  if (reps <= 0)
    reps = std::clamp(static_cast<int>(protocol.budget_s / per_rep_s), protocol.min_reps, protocol.max_reps);
  for (int r = 0; r < reps; ++r)
    for (Contender& c : contenders) c.samples.push_back(time_batch(c, c.inner) * 1e9 / double(c.inner));
  return reps;
}

struct Summary {
  double median = NAN, min = NAN, max = NAN;
};

Summary summarise(std::vector<double> v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  s.median = v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
  s.min = v.front();
  s.max = v.back();
  return s;
}

// Ratios of samples taken side by side (repetition r of a over repetition r
// of b): their spread says how much the machine moved during the run.
Summary paired_ratios(const Contender& a, const Contender& b) {
  std::vector<double> r;
  for (std::size_t i = 0; i < a.samples.size() && i < b.samples.size(); ++i) r.push_back(a.samples[i] / b.samples[i]);
  return summarise(std::move(r));
}

// ---- one problem --------------------------------------------------------------

enum Tool { tool_double, tool_ours, tool_adolc, tool_count };
constexpr std::string_view tool_names[tool_count] = {"double", "ours", "ADOL-C"};

// Everything measured on one (workload, N). Trivially copyable: a child
// process sends it back through a pipe.
struct Result {
  Workload workload{};
  std::size_t n = 0, inputs = 0;
  int reps = 0;
  bool measured[tool_count] = {};
  long inner[tool_count] = {};
  Summary time[tool_count];         // ns per gradient (per evaluation for double)
  Summary ratio_paired[tool_count]; // tool / double, sample by sample
  double f[tool_count] = {};        // the function value each tool computed
  // our tape after the sweep
  std::size_t nodes = 0, tape_bytes = 0, tape_reserved = 0;
  // ADOL-C's tape
  std::size_t adolc_operations = 0;
  double adolc_bytes = 0.0;
  bool adolc_in_core = false;
  // gradient checks
  bool have_closed_form = false, have_adolc_gradient = false;
  bench::Difference ours_vs_closed_form, adolc_vs_closed_form, ours_vs_adolc;
  // --phases: ns per gradient of the parts of ours
  bool phases = false;
  double phase_record = 0, phase_zero = 0, phase_sweep = 0, phase_read = 0, phase_total = 0;
  char error[512] = {};

  double ratio(Tool t) const { return time[t].median / time[tool_double].median; }
  bool ok() const {
    // correct tools agree to rounding level; a wrong adjoint is off by O(1)
    constexpr double tolerance = 1e-10;
    if (error[0] != '\0') return false;
    if (have_closed_form && !(ours_vs_closed_form.normwise <= tolerance)) return false;
    if (have_adolc_gradient && !(ours_vs_adolc.normwise <= tolerance)) return false;
    return std::fabs(f[tool_ours] - f[tool_double]) <= 1e-10 * std::max(1.0, std::fabs(f[tool_double]));
  }
};
static_assert(std::is_trivially_copyable_v<Result>);

struct Options {
  std::vector<Workload> workloads{std::begin(bench::all_workloads), std::end(bench::all_workloads)};
  std::vector<std::size_t> sizes{1024, 16384, 1048576};
  std::string csv = "bench_scalar.csv";
  bool quick = false;
  bool adolc = have_adolc;
  bool isolate = have_adolc;  // each problem in a child process (ADOL-C's store never shrinks)
  bool phases = false;
  std::vector<Tool> only;     // --only: time just these tools
  Protocol protocol;
};

bool wanted(const Options& o, Tool t) {
  if (t == tool_adolc && !o.adolc) return false;
  return o.only.empty() || std::find(o.only.begin(), o.only.end(), t) != o.only.end();
}

// Split of our gradient into its parts, by difference of separately timed
// pieces (each piece's fastest sample): recording (clear, leaves, f), zeroing of the adjoint array (timed
// on an array of the same length), the sweep (backward minus zeroing) and
// the gradient read (ad::gradient minus backward: the input checks and the
// gather of the input adjoints).
void measure_phases(const Problem& p, ad::Tape& tape, std::vector<ad::Var>& xs, std::vector<double>& g,
                    const Protocol& protocol, Result& r) {
  auto record = [&] {
    tape.clear();
    for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = ad::Var(p.x[i]);
    return p(std::span<const ad::Var>(xs));
  };
  std::vector<double> zeros;
  std::vector<Contender> parts;
  parts.push_back({"record", batched([&] {
                     ad::Var f = record();
                     do_not_optimize(&f);
                   })});
  parts.push_back({"record+backward", batched([&] {
                     ad::Var f = record();
                     tape.backward(f);
                     do_not_optimize(tape.adjoints().data());
                   })});
  parts.push_back({"record+gradient", batched([&] {
                     ad::Var f = record();
                     ad::gradient(f, xs, g);
                     do_not_optimize(g.data());
                   })});
  const std::size_t adjoint_count = tape.adjoints().size();
  parts.push_back({"zero adjoints", batched([&] {
                     zeros.clear();
                     zeros.assign(adjoint_count, 0.0);
                     do_not_optimize(zeros.data());
                   })});
  measure(parts, protocol);
  // minima, not medians: noise only adds time, and differences of noisy
  // medians can come out negative on a busy machine
  const double rec = summarise(parts[0].samples).min, bwd = summarise(parts[1].samples).min;
  const double full = summarise(parts[2].samples).min, zero = summarise(parts[3].samples).min;
  r.phases = true;
  r.phase_record = rec;
  r.phase_zero = zero;
  r.phase_sweep = bwd - rec - zero;
  r.phase_read = full - bwd;
  r.phase_total = full;
}

Result run_problem(Workload w, std::size_t n, const Options& o) {
  Result r;
  r.workload = w;
  const Problem p = bench::make_problem(w, n);
  r.n = p.n;
  r.inputs = p.x.size();

  // plain double: the same template, T = double
  const std::vector<double> xd = p.x;
  auto evaluate_double = [&] {
    do_not_optimize(xd.data());
    const double f = p(std::span<const double>(xd));
    do_not_optimize(&f);
    return f;
  };
  r.f[tool_double] = evaluate_double();

  // ours: re-record and sweep for every gradient
  ad::Tape tape;
  std::vector<ad::Var> xs(p.x.size());
  std::vector<double> g(p.x.size());
  double f_ours = 0.0;
  auto gradient_ours = [&] {
    tape.clear();
    for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = ad::Var(p.x[i]);
    const ad::Var f = p(std::span<const ad::Var>(xs));
    ad::gradient(f, xs, g);
    do_not_optimize(g.data());
    f_ours = f.value();
  };

  std::vector<Contender> contenders;
  if (wanted(o, tool_double)) contenders.push_back({tool_names[tool_double], batched(evaluate_double)});
  if (wanted(o, tool_ours)) contenders.push_back({tool_names[tool_ours], batched(gradient_ours)});
#if defined(AD_BENCH_HAVE_ADOLC)
  std::optional<bench::adolc::Gradient> adolc;
  if (wanted(o, tool_adolc)) {
    adolc.emplace(p);
    contenders.push_back({tool_names[tool_adolc], batched([&] {
                            (*adolc)();
                            do_not_optimize(adolc->gradient().data());
                          })});
  }
#endif

  r.reps = measure(contenders, o.protocol);
  const Contender* baseline = nullptr;
  for (const Contender& c : contenders)
    if (c.name == tool_names[tool_double]) baseline = &c;
  for (const Contender& c : contenders) {
    const Tool t = static_cast<Tool>(std::find(std::begin(tool_names), std::end(tool_names), c.name) -
                                     std::begin(tool_names));
    r.measured[t] = true;
    r.inner[t] = c.inner;
    r.time[t] = summarise(c.samples);
    if (baseline != nullptr) r.ratio_paired[t] = paired_ratios(c, *baseline);
  }

  // one more gradient of ours, untimed, for the tape figures and the checks
  gradient_ours();
  r.f[tool_ours] = f_ours;
  r.nodes = tape.size();
  r.tape_bytes = tape.bytes_used();
  r.tape_reserved = tape.bytes_reserved();
  if (const auto exact = bench::closed_form_gradient(p)) {
    r.have_closed_form = true;
    r.ours_vs_closed_form = bench::difference(g, *exact);
  }
#if defined(AD_BENCH_HAVE_ADOLC)
  if (adolc) {
    (*adolc)();
    r.f[tool_adolc] = adolc->value();
    const bench::adolc::TapeStats s = adolc->stats();
    r.adolc_operations = s.operations;
    r.adolc_bytes = s.bytes();
    r.adolc_in_core = s.in_core;
    r.have_adolc_gradient = true;
    r.ours_vs_adolc = bench::difference(g, adolc->gradient());
    if (const auto exact = bench::closed_form_gradient(p))
      r.adolc_vs_closed_form = bench::difference(adolc->gradient(), *exact);
  }
#endif
  if (o.phases) measure_phases(p, tape, xs, g, o.protocol, r);
  return r;
}

Result run_problem_guarded(Workload w, std::size_t n, const Options& o) {
  try {
    return run_problem(w, n, o);
  } catch (const std::exception& e) {
    Result r;
    r.workload = w;
    r.n = n;
    std::snprintf(r.error, sizeof r.error, "%s", e.what());
    return r;
  }
}

// Runs the problem in a child process: ADOL-C's location store never
// shrinks, and every trace_on copies all of it, so a problem measured after a
// 2^20-sized one would pay for it. A child starts from the parent's clean state.
Result run_problem_isolated(Workload w, std::size_t n, const Options& o) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t child = fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    close(fds[0]);
    const Result r = run_problem_guarded(w, n, o);
    const char* bytes = reinterpret_cast<const char*>(&r);
    std::size_t sent = 0;
    while (sent < sizeof r) {
      const ssize_t k = write(fds[1], bytes + sent, sizeof r - sent);
      if (k <= 0) _exit(3);
      sent += static_cast<std::size_t>(k);
    }
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  Result r;
  char* bytes = reinterpret_cast<char*>(&r);
  std::size_t got = 0;
  while (got < sizeof r) {
    const ssize_t k = read(fds[0], bytes + got, sizeof r - got);
    if (k <= 0) break;
    got += static_cast<std::size_t>(k);
  }
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (got != sizeof r) {
    r = Result{};
    r.workload = w;
    r.n = n;
    std::snprintf(r.error, sizeof r.error, "the child process died (wait status %d)", status);
  }
  return r;
}

// ---- output -------------------------------------------------------------------

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "unknown";
}

std::string build_note() {
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
  return s;
}

std::string fmt_ns(double ns) {
  if (std::isnan(ns)) return "-";
  return fmt::format("{:.0f}", ns);
}
std::string fmt_ratio(double x) {
  if (std::isnan(x)) return "-";
  return x >= 100 ? fmt::format("{:.0f}", x) : x >= 10 ? fmt::format("{:.1f}", x) : fmt::format("{:.2f}", x);
}
std::string fmt_diff(double d) { return fmt::format("{:.1e}", d); }

double bytes_per_node(const Result& r) { return r.nodes ? double(r.tape_bytes) / double(r.nodes) : NAN; }
// BENCHMARKS.md's memory figure for rosenbrock: bytes per elementary op, 9 per term
double bytes_per_rosenbrock_op(const Result& r) {
  return r.workload == Workload::rosenbrock && r.n > 1 ? double(r.tape_bytes) / (9.0 * double(r.n - 1)) : NAN;
}

void print_header_row() {
  fmt::print("{:<22} {:>8} {:>3} | {:>11} | {:>11} {:>21} {:>6} | {:>11} {:>6} {:>8} | {:>9} {:>6} {:>7} | {}\n", "workload",
             "N", "rep", "double ns", "ours ns", "[min, max]", "ratio", "ADOL-C ns", "ratio", "speed-up", "nodes", "B/node",
             "A B/op", "check (max rel. diff)");
}

void print_row(const Result& r) {
  if (r.error[0] != '\0') {
    fmt::print("{:<22} {:>8} ERROR: {}\n", bench::name(r.workload), r.n, r.error);
    return;
  }
  std::string check;
  if (r.have_closed_form) check += fmt::format("exact {} ", fmt_diff(r.ours_vs_closed_form.normwise));
  if (r.have_adolc_gradient) check += fmt::format("adolc {} ", fmt_diff(r.ours_vs_adolc.normwise));
  check += r.ok() ? "ok" : "FAILED";
  const std::string range = r.measured[tool_ours]
                                ? fmt::format("[{}, {}]", fmt_ns(r.time[tool_ours].min), fmt_ns(r.time[tool_ours].max))
                                : "";
  const std::string adolc_per_op =
      r.adolc_operations ? fmt::format("{:.1f}", r.adolc_bytes / double(r.adolc_operations)) : "-";
  fmt::print("{:<22} {:>8} {:>3} | {:>11} | {:>11} {:>21} {:>6} | {:>11} {:>6} {:>8} | {:>9} {:>6.1f} {:>7} | {}\n",
             bench::name(r.workload), r.n, r.reps, fmt_ns(r.time[tool_double].median), fmt_ns(r.time[tool_ours].median),
             range, fmt_ratio(r.ratio(tool_ours)), fmt_ns(r.time[tool_adolc].median), fmt_ratio(r.ratio(tool_adolc)),
             fmt_ratio(r.time[tool_adolc].median / r.time[tool_ours].median), r.nodes, bytes_per_node(r), adolc_per_op,
             check);
  if (r.workload == Workload::rosenbrock)
    fmt::print("{:<22} {:>8}     bytes / (9 (n-1)) = {:.2f} B per elementary op (ours, tape + constants + adjoints)\n", "",
               "", bytes_per_rosenbrock_op(r));
  if (r.phases) {
    const double total = r.phase_total;  // timed with the parts, not in the main run
    auto pct = [&](double x) { return 100.0 * x / total; };
    fmt::print("{:<22} {:>8}     phases of ours, fastest sample, ns (% of {:.0f} ns per gradient timed with them): record {:.0f} ({:.0f}%), "
               "zero adjoints {:.0f} ({:.0f}%), sweep {:.0f} ({:.0f}%), read gradient {:.0f} ({:.0f}%)\n",
               "", "", total, r.phase_record, pct(r.phase_record), r.phase_zero, pct(r.phase_zero), r.phase_sweep,
               pct(r.phase_sweep), r.phase_read, pct(r.phase_read));
  }
  std::fflush(stdout);
}

std::string csv_number(double x) { return std::isnan(x) ? "" : fmt::format("{:.6g}", x); }

void write_csv(const std::string& path, const std::vector<Result>& results) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write " + path);
  out << "workload,n,inputs,reps";
  for (std::string_view t : {"double", "ours", "adolc"})
    out << fmt::format(",{0}_inner,{0}_median_ns,{0}_min_ns,{0}_max_ns", t);
  out << ",clock,ours_ratio,ours_ratio_paired_median,ours_ratio_paired_min,ours_ratio_paired_max,ours_ratio_of_minima,"
         "adolc_ratio,adolc_ratio_paired_median,adolc_ratio_paired_min,adolc_ratio_paired_max,adolc_ratio_of_minima,"
         "speedup_vs_adolc,speedup_vs_adolc_of_minima,ours_nodes,ours_tape_bytes,ours_tape_bytes_reserved,"
         "ours_bytes_per_node,ours_bytes_per_rosenbrock_op,adolc_operations,adolc_bytes,adolc_bytes_per_op,"
         "ours_vs_closed_form_normwise,ours_vs_closed_form_elementwise,ours_vs_adolc_normwise,"
         "ours_vs_adolc_elementwise,adolc_vs_closed_form_normwise,f_double,f_ours,f_adolc,"
         "phase_total_ns,phase_record_ns,phase_zero_ns,phase_sweep_ns,phase_read_ns,check,error\n";
  for (const Result& r : results) {
    out << fmt::format("{},{},{},{}", bench::name(r.workload), r.n, r.inputs, r.reps);
    for (int t = 0; t < tool_count; ++t)
      out << fmt::format(",{},{},{},{}", r.measured[t] ? std::to_string(r.inner[t]) : "", csv_number(r.time[t].median),
                         csv_number(r.time[t].min), csv_number(r.time[t].max));
    const double nan = NAN;
    auto either = [&](bool have, double x) { return csv_number(have ? x : nan); };
    out << fmt::format(",{}", g_clock == ClockKind::thread_cpu ? "thread_cpu" : "wall");
    for (Tool t : {tool_ours, tool_adolc})
      out << fmt::format(",{},{},{},{},{}", csv_number(r.ratio(t)), csv_number(r.ratio_paired[t].median),
                         csv_number(r.ratio_paired[t].min), csv_number(r.ratio_paired[t].max),
                         csv_number(r.time[t].min / r.time[tool_double].min));
    out << fmt::format(",{},{}", csv_number(r.time[tool_adolc].median / r.time[tool_ours].median),
                       csv_number(r.time[tool_adolc].min / r.time[tool_ours].min));
    out << fmt::format(",{},{},{},{},{},{},{},{}", r.nodes, r.tape_bytes, r.tape_reserved, csv_number(bytes_per_node(r)),
                       csv_number(bytes_per_rosenbrock_op(r)), r.adolc_operations, csv_number(r.adolc_bytes),
                       either(r.adolc_operations > 0, r.adolc_bytes / double(r.adolc_operations)));
    out << fmt::format(",{},{},{},{},{}", either(r.have_closed_form, r.ours_vs_closed_form.normwise),
                       either(r.have_closed_form, r.ours_vs_closed_form.elementwise),
                       either(r.have_adolc_gradient, r.ours_vs_adolc.normwise),
                       either(r.have_adolc_gradient, r.ours_vs_adolc.elementwise),
                       either(r.have_adolc_gradient && r.have_closed_form, r.adolc_vs_closed_form.normwise));
    out << fmt::format(",{:.17g},{:.17g},{}", r.f[tool_double], r.f[tool_ours],
                       r.have_adolc_gradient ? fmt::format("{:.17g}", r.f[tool_adolc]) : "");
    out << fmt::format(",{},{},{},{},{}", either(r.phases, r.phase_total), either(r.phases, r.phase_record),
                       either(r.phases, r.phase_zero), either(r.phases, r.phase_sweep), either(r.phases, r.phase_read));
    std::string error = r.error;
    std::replace(error.begin(), error.end(), ',', ';');
    out << fmt::format(",{},{}\n", r.ok() ? "ok" : "FAILED", error);
  }
}

// ---- command line -----------------------------------------------------------------

constexpr std::string_view usage = R"(usage: bench_scalar [options]
  --workload NAME   only this workload (repeatable; comma lists allowed): sum_iter prod_iter
                    log_sum_exp normal_log_pdf stochastic_volatility rosenbrock mlp_scalar
  --n N             only this size (repeatable; comma lists allowed); default 1024,16384,1048576
  --quick           sizes 1024 and 16384, 5 short repetitions (a smoke run of a few seconds)
  --csv FILE        where the CSV goes (default bench_scalar.csv in the working directory)
  --reps R          exactly R repetitions per problem (default: 5 to 21, about 0.6 s per problem)
  --only TOOL       time only double, ours or adolc (repeatable): for profiling
  --clock cpu|wall  time with this thread's CPU time (default: other processes' time slices
                    on a shared machine are not counted) or with wall-clock time
  --phases          also split our gradient into record / zero adjoints / sweep / read
  --no-adolc        do not measure ADOL-C even when it was found at build time
  --in-process      run every problem in this process (default: one child process per
                    problem when ADOL-C is measured; its location store never shrinks)
  --threads 1       accepted for symmetry with the tensor benchmarks: the scalar tape is
                    per thread and this benchmark runs on one thread
)";

std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> parts;
  for (std::size_t start = 0; start <= s.size();) {
    const std::size_t comma = std::min(s.find(',', start), s.size());
    if (comma > start) parts.emplace_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return parts;
}

Options parse(int argc, char** argv) {
  Options o;
  std::vector<Workload> workloads;
  std::vector<std::size_t> sizes;
  bool sizes_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", a));
      return argv[++i];
    };
    if (a == "--workload") {
      for (const std::string& s : split_commas(value())) {
        const auto w = bench::workload_named(s);
        if (!w) throw std::invalid_argument(fmt::format("unknown workload '{}'", s));
        workloads.push_back(*w);
      }
    } else if (a == "--n") {
      for (const std::string& s : split_commas(value())) sizes.push_back(std::stoull(s));
      sizes_given = true;
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "--csv") {
      o.csv = value();
    } else if (a == "--reps") {
      o.protocol.fixed_reps = std::stoi(std::string(value()));
      if (o.protocol.fixed_reps < 1) throw std::invalid_argument("--reps needs at least 1");
    } else if (a == "--only") {
      const std::string_view t = value();
      if (t == "double") o.only.push_back(tool_double);
      else if (t == "ours") o.only.push_back(tool_ours);
      else if (t == "adolc") o.only.push_back(tool_adolc);
      else throw std::invalid_argument(fmt::format("--only takes double, ours or adolc, not '{}'", t));
    } else if (a == "--clock") {
      const std::string_view c = value();
      if (c == "cpu") g_clock = ClockKind::thread_cpu;
      else if (c == "wall") g_clock = ClockKind::wall;
      else throw std::invalid_argument(fmt::format("--clock takes cpu or wall, not '{}'", c));
    } else if (a == "--phases") {
      o.phases = true;
    } else if (a == "--no-adolc") {
      o.adolc = false;
    } else if (a == "--in-process") {
      o.isolate = false;
    } else if (a == "--threads") {
      if (value() != "1")
        throw std::invalid_argument("bench_scalar runs on one thread (a scalar tape records on its own thread)");
    } else if (a == "--help" || a == "-h") {
      fmt::print("{}", usage);
      std::exit(0);
    } else {
      throw std::invalid_argument(fmt::format("unknown option '{}'\n{}", a, usage));
    }
  }
  if (!workloads.empty()) o.workloads = workloads;
  if (o.quick) {
    o.sizes = {1024, 16384};
    o.protocol.warmup_s = 0.01;
    o.protocol.batch_s = 0.001;
    o.protocol.budget_s = 0.0;
    o.protocol.min_reps = o.protocol.max_reps = 5;
  }
  if (sizes_given) o.sizes = sizes;
  std::sort(o.sizes.begin(), o.sizes.end());
  o.sizes.erase(std::unique(o.sizes.begin(), o.sizes.end()), o.sizes.end());
  if (!o.adolc) o.isolate = false;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = parse(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_scalar: {}\n", e.what());
    return 2;
  }

  fmt::print("bench_scalar: scalar workloads, tape re-recorded for every gradient\n");
  fmt::print("machine: {} x {}; threads used: 1\n", sysconf(_SC_NPROCESSORS_ONLN), cpu_model());
  fmt::print("build: {}\n", build_note());
  fmt::print("ADOL-C: {}\n", !have_adolc ? "not built in (libadolc-dev not found at configure time)"
                             : o.adolc  ? (o.isolate ? "measured in the same process as ours, one child process per problem"
                                                     : "measured in this process (problems run smallest N first)")
                                        : "skipped (--no-adolc)");
  fmt::print("timing: {} clock; contenders alternate (double, ours, ADOL-C, ...) per repetition; a sample is a batch "
             "of >= {:.0f} ms; ns = median per gradient [min, max]; ratio = median / median of double\n",
             g_clock == ClockKind::thread_cpu ? "thread CPU-time" : "wall", o.protocol.batch_s * 1e3);
  fmt::print("nodes = our tape size; B/node = tape.bytes_used() (nodes + constants + adjoints) / nodes; "
             "A B/op = ADOL-C tape + kept Taylor values per operation; check = norm-wise relative difference of the "
             "gradient from the closed form (exact) and from ADOL-C\n\n");
  print_header_row();

  // Smallest N first (mlp_scalar with the first): in-process ADOL-C then never
  // follows a larger recording than the current one.
  std::vector<Result> results;
  bool all_ok = true;
  for (std::size_t si = 0; si < o.sizes.size(); ++si) {
    for (Workload w : o.workloads) {
      if (!bench::scales_with_n(w) && si > 0) continue;
      const std::size_t n = o.sizes[si];
      Result r;
      try {
        r = o.isolate ? run_problem_isolated(w, n, o) : run_problem_guarded(w, n, o);
      } catch (const std::exception& e) {
        r = Result{};
        r.workload = w;
        r.n = n;
        std::snprintf(r.error, sizeof r.error, "%s", e.what());
      }
      print_row(r);
      all_ok = all_ok && r.ok();
      results.push_back(r);
    }
  }
  try {
    write_csv(o.csv, results);
    fmt::print("\nCSV written to {}\n", o.csv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_scalar: {}\n", e.what());
    return 1;
  }
  if (!all_ok) {
    fmt::print(stderr, "bench_scalar: a gradient check FAILED (see the check column)\n");
    return 1;
  }
  return 0;
}
