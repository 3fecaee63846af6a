// bench_scalar: what one gradient costs on the scalar workloads S1-S7
// (BENCHMARKS.md), with the tape re-recorded for every gradient as in a
// training loop, against the same code on plain double and against the peers
// built in (bench/peers/): ADOL-C when installed, CoDiPack and Adept 2 when
// their sources were given at configure time. All in the same process.
//
// One gradient, every library alike: set the inputs, re-record f, seed 1,
// one reverse sweep, read every input's adjoint. For ours: tape.clear();
// x_i = Var(v_i) (leaves); f = w(x); ad::gradient(f, x, out). The contenders
// alternate, double / ours / peers / double / ..., each sample a batch of
// calls lasting a few milliseconds, timed with this thread's CPU time and the
// wall clock at once; ratios divide medians taken in the same process. See
// bench/README.md.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <autodiff/autodiff.hpp>

#include "options.hpp"
#include "scalar_report.hpp"
#include "scalar_result.hpp"
#include "scalar_timing.hpp"
#include "scalar_workloads.hpp"
#if defined(AD_BENCH_HAVE_ADOLC)
#include "peers/adolc_scalar.hpp"
#endif
#if defined(AD_BENCH_HAVE_CODIPACK)
#include "peers/codipack_scalar.hpp"
#endif
#if defined(AD_BENCH_HAVE_ADEPT)
#include "peers/adept_scalar.hpp"
#endif

template <>
struct bench::Passive<ad::Var> {
  static double value(const ad::Var& v) { return v.value(); }
};

namespace {

using namespace bench::scalar;
using bench::ClockKind;
using bench::Contender;
using bench::cpu_model;
using bench::do_not_optimize;
using bench::Problem;
using bench::Protocol;
using bench::Summary;
using bench::Workload;

struct Options {
  std::vector<Workload> workloads{std::begin(bench::all_workloads), std::end(bench::all_workloads)};
  std::vector<std::size_t> sizes{1024, 16384, 1048576};
  std::string csv = "bench_scalar.csv";
  bool quick = false;
  bool use[tool_count] = {true, true, built_in[tool_adolc], built_in[tool_codipack], built_in[tool_adept]};
  bool isolate = true;  // each problem in a child process, when a peer is measured
  bool phases = false;
  std::vector<Tool> only;  // --only: time just these tools
  Protocol protocol;
};

bool wanted(const Options& o, Tool t) {
  if (!o.use[t]) return false;
  return o.only.empty() || std::find(o.only.begin(), o.only.end(), t) != o.only.end();
}

bool any_peer(const Options& o) {
  return std::any_of(std::begin(peers), std::end(peers), [&](Tool t) { return o.use[t]; });
}

// Split of our gradient into its parts, by difference of separately timed
// pieces (each piece's fastest sample): recording (clear, leaves, f), zeroing
// of the adjoint array (timed on an array of the same length), the sweep
// (backward minus record minus zeroing) and the gradient read (ad::gradient
// minus backward: the input checks and the gather of the input adjoints).
void measure_phases(const Problem& p, ad::Tape& tape, std::vector<ad::Var>& xs, std::vector<double>& g,
                    const Protocol& protocol, Result& r) {
  auto record = [&] {
    tape.clear();
    for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = ad::Var(p.x[i]);
    return p(std::span<const ad::Var>(xs));
  };
  std::vector<double> zeros;
  std::vector<Contender> parts;
  parts.push_back({"record", bench::batched([&] {
                     ad::Var f = record();
                     do_not_optimize(&f);
                   })});
  parts.push_back({"record+backward", bench::batched([&] {
                     ad::Var f = record();
                     tape.backward(f);
                     do_not_optimize(tape.adjoints().data());
                   })});
  parts.push_back({"record+gradient", bench::batched([&] {
                     ad::Var f = record();
                     ad::gradient(f, xs, g);
                     do_not_optimize(g.data());
                   })});
  const std::size_t adjoint_count = tape.adjoints().size();
  parts.push_back({"zero adjoints", bench::batched([&] {
                     zeros.clear();
                     zeros.assign(adjoint_count, 0.0);
                     do_not_optimize(zeros.data());
                   })});
  bench::measure(parts, protocol);
  // minima, not medians: noise only adds time, and differences of noisy
  // medians can come out negative on a busy machine
  auto fastest = [&](int i) { return bench::summarise(parts[i].on(protocol.clock)).min; };
  const double rec = fastest(0), bwd = fastest(1), full = fastest(2), zero = fastest(3);
  r.phases = true;
  r.phase_record = rec;
  r.phase_zero = zero;
  r.phase_sweep = bwd - rec - zero;
  r.phase_read = full - bwd;
  r.phase_total = full;
}

// A peer's gradient as a contender: Peer has operator()() and gradient().
template <class Peer>
Contender peer_contender(Tool t, Peer& peer) {
  return {tool_names[t], bench::batched([&peer] {
            peer();
            do_not_optimize(peer.gradient().data());
          })};
}

// One more gradient of a peer, untimed: its f and how far its gradient is
// from ours (and from the closed form).
template <class Peer>
void check_peer(Tool t, Peer& peer, const Problem& p, std::span<const double> ours, Result& r) {
  peer();
  r.f[t] = peer.value();
  r.have_gradient[t] = true;
  r.peer_vs_ours[t] = bench::difference(peer.gradient(), ours);
  if (const auto exact = bench::closed_form_gradient(p))
    r.peer_vs_closed_form[t] = bench::difference(peer.gradient(), *exact);
}

Result run_problem(Workload w, std::size_t n, const Options& o) {
  Result r;
  r.workload = w;
  r.primary = static_cast<int>(o.protocol.clock);
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
  if (wanted(o, tool_double))
    contenders.push_back({tool_names[tool_double], bench::batched(evaluate_double)});
  if (wanted(o, tool_ours)) contenders.push_back({tool_names[tool_ours], bench::batched(gradient_ours)});
#if defined(AD_BENCH_HAVE_ADOLC)
  std::optional<bench::adolc::Gradient> adolc;
  if (wanted(o, tool_adolc)) contenders.push_back(peer_contender(tool_adolc, adolc.emplace(p)));
#endif
#if defined(AD_BENCH_HAVE_CODIPACK)
  std::optional<bench::codipack::Gradient> codipack;
  if (wanted(o, tool_codipack)) contenders.push_back(peer_contender(tool_codipack, codipack.emplace(p)));
#endif
#if defined(AD_BENCH_HAVE_ADEPT)
  std::optional<bench::adept::Gradient> adept;
  if (wanted(o, tool_adept)) contenders.push_back(peer_contender(tool_adept, adept.emplace(p)));
#endif

  r.reps = bench::measure(contenders, o.protocol);
  const Contender* baseline = nullptr;
  for (const Contender& c : contenders)
    if (c.name == tool_names[tool_double]) baseline = &c;
  for (const Contender& c : contenders) {
    const Tool t = static_cast<Tool>(std::find(std::begin(tool_names), std::end(tool_names), c.name) -
                                     std::begin(tool_names));
    r.measured[t] = true;
    r.inner[t] = c.inner;
    for (int clock = 0; clock < bench::clock_count; ++clock)
      r.time[clock][t] = bench::summarise(c.on(static_cast<ClockKind>(clock)));
    if (baseline != nullptr)
      r.ratio_paired[t] = bench::paired_ratios(c.on(o.protocol.clock), baseline->on(o.protocol.clock));
  }

  // one more gradient of each, untimed, for the tape figures and the checks
  gradient_ours();
  r.f[tool_ours] = f_ours;
  r.nodes = tape.size();
  for (std::uint32_t id = 0; id < r.nodes; ++id) r.leaves += tape.node(id).input_count == 0 ? 1 : 0;
  r.tape_bytes[tool_ours] = double(tape.bytes_used());
  r.tape_ops[tool_ours] = r.nodes - r.leaves;
  r.tape_reserved = tape.bytes_reserved();
  if (const auto exact = bench::closed_form_gradient(p)) {
    r.have_closed_form = true;
    r.ours_vs_closed_form = bench::difference(g, *exact);
  }
#if defined(AD_BENCH_HAVE_ADOLC)
  if (adolc) {
    check_peer(tool_adolc, *adolc, p, g, r);
    const bench::adolc::TapeStats s = adolc->stats();
    r.tape_bytes[tool_adolc] = s.bytes();
    r.tape_ops[tool_adolc] = s.operations;
    r.adolc_in_core = s.in_core;
  }
#endif
#if defined(AD_BENCH_HAVE_CODIPACK)
  if (codipack) {
    check_peer(tool_codipack, *codipack, p, g, r);
    const bench::codipack::TapeStats s = codipack->stats();
    r.tape_bytes[tool_codipack] = s.used_bytes;
    r.tape_ops[tool_codipack] = s.jacobian_entries;
    r.peer_statements[tool_codipack] = s.statements;
  }
#endif
#if defined(AD_BENCH_HAVE_ADEPT)
  if (adept) {
    check_peer(tool_adept, *adept, p, g, r);
    const bench::adept::TapeStats s = adept->stats();
    r.tape_bytes[tool_adept] = double(s.memory_bytes);
    r.tape_ops[tool_adept] = s.operations;
    r.peer_statements[tool_adept] = s.statements;
  }
#endif
  if (o.phases) measure_phases(p, tape, xs, g, o.protocol, r);
  return r;
}

Result failed(Workload w, std::size_t n, const char* what) {
  Result r;
  r.workload = w;
  r.n = n;
  std::snprintf(r.error, sizeof r.error, "%s", what);
  return r;
}

Result run_problem_guarded(Workload w, std::size_t n, const Options& o) {
  try {
    return run_problem(w, n, o);
  } catch (const std::exception& e) {
    return failed(w, n, e.what());
  }
}

// Runs the problem in a child process, so that every library starts from a
// clean state: ADOL-C's location store never shrinks and every trace_on
// copies all of it, and the peers' tapes are global and keep the largest
// recording's memory, so a problem measured after a 2^20-sized one would pay for it.
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
    const std::string what = fmt::format("the child process died (wait status {})", status);
    return failed(w, n, what.c_str());
  }
  return r;
}

// ---- command line -----------------------------------------------------------------

constexpr std::string_view usage = R"(usage: bench_scalar [options]
  --workload NAME   only this workload (repeatable; comma lists allowed): sum_iter prod_iter
                    log_sum_exp normal_log_pdf stochastic_volatility rosenbrock mlp_scalar
  --n N             only this size (repeatable; comma lists allowed); default 1024,16384,1048576
  --quick           sizes 1024 and 16384, 5 short repetitions (a smoke run of a few seconds)
  --csv FILE        where the CSV goes (default bench_scalar.csv in the working directory)
  --reps R          exactly R repetitions per problem (default: 5 to 21, about 0.6 s per problem)
  --only TOOL       time only double, ours, adolc, codipack or adept (repeatable): for profiling
  --clock cpu|wall  the clock that sizes the batches and leads the table: this thread's CPU
                    time (default: other processes' time slices are not counted) or the wall
                    clock; every sample is timed on both, the other shows on a second line
  --phases          also split our gradient into record / zero adjoints / sweep / read
  --no-adolc, --no-codipack, --no-adept, --no-peers
                    do not measure that peer (or any) even when it was built in
  --in-process      run every problem in this process (default: one child process per
                    problem when a peer is measured, so that each starts from a clean state)
  --threads 1       accepted for symmetry with the tensor benchmarks: the scalar tape is
                    per thread and this benchmark runs on one thread
)";

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
      for (const std::string& s : bench::split_list(value())) {
        const auto w = bench::workload_named(s);
        if (!w) throw std::invalid_argument(fmt::format("unknown workload '{}'", s));
        workloads.push_back(*w);
      }
    } else if (a == "--n") {
      for (std::size_t n : bench::positive_integers(value(), a)) sizes.push_back(n);
      sizes_given = true;
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "--csv") {
      o.csv = value();
    } else if (a == "--reps") {
      o.protocol.fixed_reps = static_cast<int>(bench::positive_integer(value(), a));
    } else if (a == "--only") {
      const std::string_view t = value();
      const auto* key = std::find(std::begin(tool_keys), std::end(tool_keys), t);
      if (key == std::end(tool_keys))
        throw std::invalid_argument(
            fmt::format("--only takes double, ours, adolc, codipack or adept, not '{}'", t));
      o.only.push_back(static_cast<Tool>(key - std::begin(tool_keys)));
    } else if (a == "--clock") {
      const std::string_view c = value();
      if (c == "cpu")
        o.protocol.clock = ClockKind::thread_cpu;
      else if (c == "wall")
        o.protocol.clock = ClockKind::wall;
      else
        throw std::invalid_argument(fmt::format("--clock takes cpu or wall, not '{}'", c));
    } else if (a == "--phases") {
      o.phases = true;
    } else if (a == "--no-adolc") {
      o.use[tool_adolc] = false;
    } else if (a == "--no-codipack") {
      o.use[tool_codipack] = false;
    } else if (a == "--no-adept") {
      o.use[tool_adept] = false;
    } else if (a == "--no-peers") {
      for (Tool t : peers) o.use[t] = false;
    } else if (a == "--in-process") {
      o.isolate = false;
    } else if (a == "--threads") {
      if (value() != "1")
        throw std::invalid_argument(
            "bench_scalar runs on one thread (a scalar tape records on its own thread)");
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
  if (!any_peer(o)) o.isolate = false;
  return o;
}

std::string peer_status(const Options& o, Tool t, std::string_view how_to_build) {
  if (!built_in[t]) return fmt::format("not built in ({})", how_to_build);
  return o.use[t] ? "measured" : fmt::format("skipped (--no-{} / --no-peers)", tool_keys[t]);
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

  const int primary = static_cast<int>(o.protocol.clock);
  fmt::print("bench_scalar: scalar workloads, tape re-recorded for every gradient\n");
  fmt::print("machine: {} x {}; threads used: 1\n", sysconf(_SC_NPROCESSORS_ONLN), cpu_model());
  fmt::print("build: {}\n", build_note());
  fmt::print("peers: ADOL-C {}; CoDiPack {}; Adept 2 {}\n",
             peer_status(o, tool_adolc, "libadolc-dev not found at configure time"),
             peer_status(o, tool_codipack, "configure with AD_CODIPACK_DIR or AD_SCALAR_PEERS_ARCHIVES"),
             peer_status(o, tool_adept, "configure with AD_ADEPT_DIR or AD_SCALAR_PEERS_ARCHIVES"));
  fmt::print("       {}\n", !any_peer(o) ? "no peer measured"
                            : o.isolate
                                ? "every peer in the same process as ours, one child process per problem"
                                : "every peer in this process (problems run smallest N first)");
  fmt::print(
      "timing: contenders alternate (double, ours, peers, ...) per repetition; a sample is a batch of >= "
      "{:.0f} ms "
      "timed on both clocks; table: {} (the other clock on the line below); ns = median per gradient; "
      "ratio = median / median of double; ours / best peer = our median / the fastest peer's median\n",
      o.protocol.batch_s * 1e3, clock_name(primary));
  fmt::print(
      "B/op = tape bytes per elementary operation as each library counts them: ours bytes_used() / non-leaf "
      "nodes; ADOL-C (tape + kept Taylor values) / operations; CoDiPack used memory / Jacobian entries; "
      "Adept "
      "Stack::memory() / operations. check = norm-wise relative difference of our gradient from the closed "
      "form "
      "(exact, <= {:.0e}) and of each peer's from ours (<= {:.0e})\n\n",
      closed_form_tolerance, peer_tolerance);
  print_header_row();

  // Smallest N first (mlp_scalar with the first): in-process peers then never
  // follow a larger recording than the current one.
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
        r = failed(w, n, e.what());
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
    fmt::print(stderr,
               "bench_scalar: a gradient check FAILED (see the check column and the lines marked !)\n");
    return 1;
  }
  return 0;
}
