// bench_gmm: ADBench's Gaussian-mixture objective (bench/gmm_objective.hpp)
// with ad::Var: what one gradient costs over what one objective costs on
// plain double, per problem size (d, K, n), with the tape re-recorded for
// every gradient as in a fitting loop.
//
// One gradient = tape.clear(); theta_i = Var(v_i) (leaves, into a vector of
// Vars allocated once); f = objective(theta); ad::gradient(f, theta, out).
// The two contenders alternate (double, gradient, double, ...); each sample
// is a batch of calls timed with this thread's CPU time and with the wall
// clock; ratios divide medians taken in the same process. See bench/README.md.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include <autodiff/autodiff.hpp>

#include "cpu_model.hpp"
#include "gmm_objective.hpp"
#include "options.hpp"
#include "side_by_side.hpp"

namespace {

// The compiler must assume the pointee is read and anything in memory
// written: keeps the double objective from being hoisted out of the loop.
inline void do_not_optimize(const void* p) { asm volatile("" : : "g"(p) : "memory"); }

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Protocol {
  double warmup_s = 0.1;  // per contender (or one call, if a call takes longer than heavy_s)
  double batch_s = 0.01;  // a sample is a batch of calls lasting at least this long
  double heavy_s = 0.05;
  int reps = 7;
};

struct Contender {
  Contender(std::string name_, std::function<void()> call_)
      : name(std::move(name_)), call(std::move(call_)) {}
  std::string name;
  std::function<void()> call;
  long calls_per_sample = 1;
  std::vector<double> cpu_ns, wall_ns;  // per call, one per repetition
};

// Times `calls` calls: {thread CPU seconds, wall seconds}.
std::pair<double, double> time_calls(Contender& c, long calls) {
  const double cpu0 = thread_cpu_seconds();
  const bench::Clock::time_point wall0 = bench::Clock::now();
  for (long i = 0; i < calls; ++i) c.call();
  return {thread_cpu_seconds() - cpu0, bench::seconds_since(wall0)};
}

// Warm up and size each batch, then sample in turn, A B A B ..., so that a
// slow phase of the shared machine hits both contenders.
void measure(std::vector<Contender>& contenders, const Protocol& protocol) {
  for (Contender& c : contenders) {
    double per_call = time_calls(c, 1).first;
    if (per_call < protocol.heavy_s) {
      double spent = per_call;
      for (long k = 1; spent < protocol.warmup_s; k *= 2) {
        const double t = time_calls(c, k).first;
        spent += t;
        per_call = t / double(k);
      }
    }
    c.calls_per_sample =
        std::max(1L, static_cast<long>(std::ceil(protocol.batch_s / std::max(per_call, 1e-9))));
  }
  for (int r = 0; r < protocol.reps; ++r)
    for (Contender& c : contenders) {
      const auto [cpu, wall] = time_calls(c, c.calls_per_sample);
      c.cpu_ns.push_back(cpu * 1e9 / double(c.calls_per_sample));
      c.wall_ns.push_back(wall * 1e9 / double(c.calls_per_sample));
    }
}

struct Options {
  std::vector<std::size_t> dims{2, 10, 64};
  std::vector<std::size_t> components{5};
  std::size_t n = 1000;
  bool quick = false;
  std::string csv;  // empty: no CSV rows
  Protocol protocol;
};

struct Result {
  std::size_t d = 0, k = 0, n = 0, parameters = 0;
  bench::Summary objective_cpu, objective_wall, gradient_cpu, gradient_wall;
  std::size_t nodes = 0, bytes = 0;
  double f_double = 0.0, f_tape = 0.0, alpha_difference = 0.0;
  bool ok = false;
};

Result run_size(std::size_t d, std::size_t k, const Options& o) {
  const bench::gmm::Problem p = bench::gmm::make_problem(d, k, o.n);
  Result r;
  r.d = d;
  r.k = k;
  r.n = o.n;
  r.parameters = p.parameters.size();

  const std::vector<double> theta_double = p.parameters;
  auto objective_double = [&] {
    do_not_optimize(theta_double.data());
    const double f = bench::gmm::objective<double>(p, std::span<const double>(theta_double));
    do_not_optimize(&f);
    return f;
  };
  r.f_double = objective_double();

  ad::Tape tape;
  std::vector<ad::Var> theta(p.parameters.size());
  std::vector<double> g(p.parameters.size());
  auto gradient = [&] {
    tape.clear();
    for (std::size_t i = 0; i < theta.size(); ++i) theta[i] = ad::Var(p.parameters[i]);
    const ad::Var f = bench::gmm::objective<ad::Var>(p, std::span<const ad::Var>(theta));
    ad::gradient(f, theta, g);
    do_not_optimize(g.data());
    return f.value();
  };

  std::vector<Contender> contenders;
  contenders.push_back({"objective (double)", [&] { objective_double(); }});
  contenders.push_back({"gradient (ad::Var)", [&] { gradient(); }});
  measure(contenders, o.protocol);
  r.objective_cpu = bench::summarise(contenders[0].cpu_ns);
  r.objective_wall = bench::summarise(contenders[0].wall_ns);
  r.gradient_cpu = bench::summarise(contenders[1].cpu_ns);
  r.gradient_wall = bench::summarise(contenders[1].wall_ns);

  // One more gradient, untimed, for the tape figures and the checks: f as on
  // double, and d/d alpha as the hand-derived responsibilities.
  r.f_tape = gradient();
  r.nodes = tape.size();
  r.bytes = tape.bytes_used();
  const std::vector<double> exact = bench::gmm::alpha_gradient(p);
  double scale = 1.0;
  for (std::size_t c = 0; c < k; ++c) {
    r.alpha_difference = std::max(r.alpha_difference, std::fabs(g[c] - exact[c]));
    scale = std::max(scale, std::fabs(exact[c]));
  }
  r.alpha_difference /= scale;
  r.ok = std::fabs(r.f_tape - r.f_double) <= 1e-10 * std::max(1.0, std::fabs(r.f_double)) &&
         r.alpha_difference <= 1e-10;
  return r;
}

std::string microseconds(double ns) {
  return ns >= 1e7 ? fmt::format("{:.0f}", ns * 1e-3) : fmt::format("{:.1f}", ns * 1e-3);
}

void print_header() {
  fmt::print(
      "{:>3} {:>3} {:>6} {:>7} {:>3} | {:>11} | {:>11} {:>21} | {:>6} {:>6} | {:>10} {:>8} {:>6} {:>7} | "
      "{}\n",
      "d", "K", "n", "params", "rep", "f us (cpu)", "grad us", "[min, max] (cpu)", "ratio", "wall", "nodes",
      "MB", "B/node", "ns/node", "check");
}

void print_row(const Result& r, int reps) {
  const double ratio_cpu = r.gradient_cpu.median / r.objective_cpu.median;
  const double ratio_wall = r.gradient_wall.median / r.objective_wall.median;
  fmt::print(
      "{:>3} {:>3} {:>6} {:>7} {:>3} | {:>11} | {:>11} {:>21} | {:>6.1f} {:>6.1f} | {:>10} {:>8.1f} {:>6.1f} "
      "{:>7.1f} | {}\n",
      r.d, r.k, r.n, r.parameters, reps, microseconds(r.objective_cpu.median),
      microseconds(r.gradient_cpu.median),
      fmt::format("[{}, {}]", microseconds(r.gradient_cpu.min), microseconds(r.gradient_cpu.max)), ratio_cpu,
      ratio_wall, r.nodes, double(r.bytes) / 1e6, double(r.bytes) / double(r.nodes),
      r.gradient_cpu.median / double(r.nodes),
      fmt::format("f {:.1e}, alpha {:.1e} {}",
                  std::fabs(r.f_tape - r.f_double) / std::max(1.0, std::fabs(r.f_double)), r.alpha_difference,
                  r.ok ? "ok" : "FAILED"));
  std::fflush(stdout);
}

constexpr std::string_view usage = R"(usage: bench_gmm [options]
  --d LIST      dimensions (comma list; default 2,10,64)
  --k LIST      components (comma list; default 5; ADBench also has 25)
  --n N         points (default 1000; ADBench also has 10000)
  --quick       n = 100 and 3 short repetitions: a smoke run of a second or two
  --reps R      repetitions per contender (default 7)
  --csv FILE    append the suite's rows (workload,dtype,threads,contestant,median,min,max,unit)
)";

Options parse(int argc, char** argv) {
  Options o;
  bool n_given = false, reps_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", a));
      return argv[++i];
    };
    if (a == "--d") {
      o.dims = bench::positive_integers(value(), a);
    } else if (a == "--k") {
      o.components = bench::positive_integers(value(), a);
    } else if (a == "--n") {
      o.n = bench::positive_integer(value(), a);
      n_given = true;
    } else if (a == "--reps") {
      o.protocol.reps = static_cast<int>(std::min<std::size_t>(bench::positive_integer(value(), a), 1000));
      reps_given = true;
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "--csv") {
      o.csv = value();
    } else if (a == "--help" || a == "-h") {
      fmt::print("{}", usage);
      std::exit(0);
    } else {
      throw std::invalid_argument(fmt::format("unknown option '{}'\n{}", a, usage));
    }
  }
  if (o.quick) {
    if (!n_given) o.n = 100;
    if (!reps_given) o.protocol.reps = 3;
    o.protocol.warmup_s = 0.01;
    o.protocol.batch_s = 0.001;
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = parse(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_gmm: {}\n", e.what());
    return 2;
  }

  fmt::print(
      "bench_gmm: ADBench's GMM objective, log p(X | alpha, mu, Q) + Wishart prior; tape re-recorded for "
      "every gradient\n");
  fmt::print("machine: {} x {}; threads used: 1\n", sysconf(_SC_NPROCESSORS_ONLN), bench::cpu_model());
  fmt::print(
      "timing: thread CPU time (and wall time: column 'wall'), objective and gradient alternate per "
      "repetition, a sample is a batch of >= {:.0f} ms; us = median per call; ratio = gradient / objective "
      "(medians; ADBench's figure, target <= 8)\n",
      o.protocol.batch_s * 1e3);
  fmt::print(
      "nodes = tape.size() per gradient; MB, B/node = tape.bytes_used() (nodes, constants, adjoints); "
      "ns/node = gradient time (cpu) / nodes; check = |f - f_double| and the alpha gradient vs the closed "
      "form, "
      "relative\n\n");
  print_header();

  bench::ResultLog log;
  try {
    log = bench::ResultLog(o.csv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_gmm: {}\n", e.what());
    return 1;
  }
  bool all_ok = true;
  for (std::size_t k : o.components)
    for (std::size_t d : o.dims) {
      try {
        const Result r = run_size(d, k, o);
        print_row(r, o.protocol.reps);
        all_ok = all_ok && r.ok;
        const std::string workload = fmt::format("GMM d={} K={} n={}", d, k, o.n);
        log.add(workload, "double", 1, "double", r.objective_cpu, "ns");
        log.add(workload, "double", 1, "ours", r.gradient_cpu, "ns");
      } catch (const std::exception& e) {
        fmt::print("{:>3} {:>3} {:>6} ERROR: {}\n", d, k, o.n, e.what());
        all_ok = false;
      }
    }
  if (!all_ok) {
    fmt::print(stderr, "bench_gmm: a check FAILED (see the check column)\n");
    return 1;
  }
  return 0;
}
