// bench_statement_floor: the fastest a statement-level tape could be on the
// scalar workloads, measured beside Adept 2 in one process (decision 0022).
//
// Issue 18 asks for <= 0.8x Adept's gradient time on S1-S7. Our tape keeps a
// node per elementary op (op identity for describe/to_dot, anomaly mode and
// second derivatives); Adept keeps one record per assignment. This program
// answers what a record per assignment could buy at best: a tape with
// Adept's layout and *nothing* of ours (per statement a 4-byte end offset and
// an 8-byte adjoint; per operand a 4-byte index and an 8-byte partial; no
// values, no op identity, no stamps, no checks), fed by hand-written
// statements whose partials are what an expression template would compute.
// If even this tape cannot beat Adept by 20% on a workload, no statement
// design that keeps our guarantees will.
//
// Built only when Adept's sources are given (bench/peers/adept.cmake):
//   bench_statement_floor [--workload LIST] [--n LIST] [--reps R]
// Thread CPU time; double, floor tape and Adept alternate per repetition.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "cpu_model.hpp"
#include "options.hpp"
#include "peers/adept_scalar.hpp"
#include "scalar_timing.hpp"
#include "scalar_workloads.hpp"

namespace {

using bench::Problem;
using bench::Workload;

// A handle: the value (the recording computes with it) and the statement
// whose adjoint is the handle's.
struct Handle {
  double value;
  std::uint32_t id;
};

class StatementTape {
 public:
  void clear() noexcept { statements_ = operands_ = 0; }

  Handle leaf(double v) {
    if (statements_ == end_.size()) [[unlikely]]
      grow(1, 0);
    end_[statements_] = operands_;
    return {v, statements_++};
  }

  // One assignment: its value and, per operand, the statement and the partial.
  template <std::size_t N>
  Handle record(double value, const std::uint32_t (&ids)[N], const double (&partials)[N]) {
    if (statements_ == end_.size() || operands_ + N > index_.size()) [[unlikely]]
      grow(1, N);
    std::uint32_t* index = index_.data() + operands_;
    double* partial = partial_.data() + operands_;
    for (std::size_t i = 0; i < N; ++i) {
      index[i] = ids[i];
      partial[i] = partials[i];
    }
    operands_ += static_cast<std::uint32_t>(N);
    end_[statements_] = operands_;
    return {value, statements_++};
  }

  // Adjoints of every statement for the seed d(root)/d(root) = 1.
  std::span<const double> sweep(std::uint32_t root) {
    adjoint_.assign(statements_, 0.0);
    double* adj = adjoint_.data();
    adj[root] = 1.0;
    for (std::uint32_t s = root + 1; s-- > 0;) {
      const double a = adj[s];
      if (a == 0.0) continue;
      for (std::uint32_t p = s == 0 ? 0 : end_[s - 1]; p < end_[s]; ++p) adj[index_[p]] += a * partial_[p];
    }
    return adjoint_;
  }

  std::size_t statements() const noexcept { return statements_; }
  std::size_t operands() const noexcept { return operands_; }
  std::size_t bytes() const noexcept { return statements_ * (4 + 8) + operands_ * (4 + 8); }

 private:
  // Amortised growth, as Adept's stack: the arrays keep their size across clear().
  void grow(std::size_t statements, std::size_t operands) {
    end_.resize(std::max(2 * end_.size(), end_.size() + statements + 1024));
    const std::size_t ops = std::max(2 * index_.size(), index_.size() + operands + 4096);
    index_.resize(ops);
    partial_.resize(ops);
  }

  std::vector<std::uint32_t> end_, index_;
  std::vector<double> partial_, adjoint_;
  std::uint32_t statements_ = 0, operands_ = 0;
};

// ---- the workloads as statements (bench/scalar_workloads.hpp line by line) ----

Handle sum_iter(StatementTape& t, std::span<const Handle> x) {
  Handle s = t.leaf(0.0);
  for (const Handle& xi : x) s = t.record(s.value + xi.value, {s.id, xi.id}, {1.0, 1.0});
  return s;
}

Handle prod_iter(StatementTape& t, std::span<const Handle> x) {
  Handle p = t.leaf(1.0);
  for (const Handle& xi : x) p = t.record(p.value * xi.value, {p.id, xi.id}, {xi.value, p.value});
  return p;
}

Handle log_sum_exp(StatementTape& t, std::span<const Handle> x) {
  double m = x[0].value;
  for (const Handle& xi : x) m = std::max(m, xi.value);
  Handle s = t.leaf(0.0);
  for (const Handle& xi : x) {
    const double e = std::exp(xi.value - m);
    s = t.record(s.value + e, {s.id, xi.id}, {1.0, e});
  }
  return t.record(std::log(s.value) + m, {s.id}, {1.0 / s.value});
}

Handle normal_log_pdf(StatementTape& t, std::span<const Handle> y) {
  const Handle mu = t.leaf(bench::normal_mu), sigma = t.leaf(bench::normal_sigma);
  Handle ss = t.leaf(0.0);
  for (const Handle& yi : y) {
    const Handle d = t.record(yi.value - mu.value, {yi.id, mu.id}, {1.0, -1.0});
    ss = t.record(ss.value + d.value * d.value, {ss.id, d.id, d.id}, {1.0, d.value, d.value});
  }
  const double n = static_cast<double>(y.size()), s2 = sigma.value * sigma.value;
  const double q = -0.5 * ss.value / s2;
  // d/dss = -1/(2 sigma^2); d/dsigma = ss / sigma^3 - n / sigma = -2 q / sigma - n / sigma
  return t.record(q - n * std::log(sigma.value), {ss.id, sigma.id},
                  {-0.5 / s2, -2.0 * q / sigma.value - n / sigma.value});
}

Handle stochastic_volatility(StatementTape& t, std::span<const Handle> x, std::span<const double> y) {
  const std::size_t n = y.size();
  const Handle phi = x[n], sigma = x[n + 1], mu = x[n + 2];
  const double P = phi.value, S = sigma.value, M = mu.value;
  Handle lp = t.leaf(0.0);
  // h = mu + sigma x_0 / r with r = sqrt(1 - phi^2): dr/dphi = -phi / r
  const double r = std::sqrt(1.0 - P * P), w = S * x[0].value / r;
  Handle h =
      t.record(M + w, {mu.id, sigma.id, x[0].id, phi.id}, {1.0, x[0].value / r, S / r, (w / r) * (P / r)});
  for (std::size_t i = 0; i < n; ++i) {
    const double X = x[i].value;
    if (i > 0) {  // h = mu + sigma x_i + phi (h - mu): mu reached twice, merged
      const double d = h.value - M;
      h = t.record(M + S * X + P * d, {mu.id, sigma.id, x[i].id, phi.id, h.id}, {1.0 - P, X, S, d, P});
    }
    const double sv = std::exp(0.5 * h.value);
    const Handle s = t.record(sv, {h.id}, {0.5 * sv});
    const double zv = y[i] / sv;
    const Handle z = t.record(zv, {s.id}, {-zv / sv});
    // lp += -z^2 / 2 - log(s) - x_i^2 / 2
    const double term = ((-0.5 * (zv * zv)) - std::log(sv)) - 0.5 * (X * X);
    lp = t.record(lp.value + term, {lp.id, z.id, s.id, x[i].id}, {1.0, -zv, -1.0 / sv, -X});
  }
  const double cs = S / 5.0, cm = M / 10.0;
  const double prior = std::log(5.0 * (1.0 + cs * cs)) + std::log(10.0 * (1.0 + cm * cm));
  lp = t.record(lp.value - prior, {lp.id, sigma.id, mu.id},
                {1.0, -(2.0 * cs / (1.0 + cs * cs)) / 5.0, -(2.0 * cm / (1.0 + cm * cm)) / 10.0});
  return t.record(lp.value - std::log(2.0), {lp.id}, {1.0});
}

Handle rosenbrock(StatementTape& t, std::span<const Handle> x) {
  Handle f = t.leaf(0.0);
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    const double x0 = x[i].value;
    // operands as an expression lists them: x_i twice in x_i * x_i, a and b twice below
    const Handle a = t.record(x[i + 1].value - x0 * x0, {x[i + 1].id, x[i].id, x[i].id}, {1.0, -x0, -x0});
    const Handle b = t.record(1.0 - x0, {x[i].id}, {-1.0});
    const double h = 100.0 * a.value;
    f = t.record(f.value + (h * a.value + b.value * b.value), {f.id, a.id, a.id, b.id, b.id},
                 {1.0, h, 100.0 * a.value, b.value, b.value});
  }
  return f;
}

Handle mlp_scalar(StatementTape& t, std::span<const Handle> theta, std::span<const double> X,
                  std::span<const double> Y) {
  using M = bench::Mlp;
  const Handle* W1 = theta.data();
  const Handle* b1 = W1 + M::hidden1 * M::in;
  const Handle* W2 = b1 + M::hidden1;
  const Handle* b2 = W2 + M::hidden2 * M::hidden1;
  const Handle* W3 = b2 + M::hidden2;
  const Handle* b3 = W3 + M::out * M::hidden2;
  std::array<Handle, M::hidden1> a1{};
  std::array<Handle, M::hidden2> a2{};
  Handle loss = t.leaf(0.0);
  auto neuron = [&](Handle z, const Handle* w,
                    std::span<const Handle> a) {  // z += w_k a_k, one statement each
    for (std::size_t k = 0; k < a.size(); ++k)
      z = t.record(z.value + w[k].value * a[k].value, {z.id, w[k].id, a[k].id},
                   {1.0, a[k].value, w[k].value});
    return z;
  };
  for (std::size_t s = 0; s < M::batch; ++s) {
    const double* xs = &X[s * M::in];
    for (std::size_t j = 0; j < M::hidden1; ++j) {
      Handle z = b1[j];
      for (std::size_t k = 0; k < M::in; ++k) {
        const Handle& w = W1[j * M::in + k];
        z = t.record(z.value + w.value * xs[k], {z.id, w.id}, {1.0, xs[k]});
      }
      const double a = std::tanh(z.value);
      a1[j] = t.record(a, {z.id}, {1.0 - a * a});
    }
    for (std::size_t j = 0; j < M::hidden2; ++j) {
      const Handle z = neuron(b2[j], W2 + j * M::hidden1, a1);
      const double a = std::tanh(z.value);
      a2[j] = t.record(a, {z.id}, {1.0 - a * a});
    }
    const Handle o = neuron(b3[0], W3, a2);
    const Handle e = t.record(o.value - Y[s], {o.id}, {1.0});
    loss = t.record(loss.value + e.value * e.value, {loss.id, e.id, e.id}, {1.0, e.value, e.value});
  }
  const double c = 2.0 * static_cast<double>(M::batch);
  return t.record(loss.value / c, {loss.id}, {1.0 / c});
}

// One gradient on the floor tape, re-recorded per call as the peers' are.
class FloorGradient {
 public:
  explicit FloorGradient(const Problem& p) : p_(p), x_(p.x.size()), gradient_(p.x.size()) {}

  void operator()() {
    tape_.clear();
    for (std::size_t i = 0; i < x_.size(); ++i) x_[i] = tape_.leaf(p_.x[i]);
    const Handle f = record();
    const std::span<const double> adj = tape_.sweep(f.id);
    for (std::size_t i = 0; i < x_.size(); ++i) gradient_[i] = adj[x_[i].id];
    value_ = f.value;
  }
  std::span<const double> gradient() const { return gradient_; }
  double value() const { return value_; }
  const StatementTape& tape() const { return tape_; }

 private:
  Handle record() {
    const std::span<const Handle> x(x_);
    switch (p_.workload) {
      case Workload::sum_iter:
        return sum_iter(tape_, x);
      case Workload::prod_iter:
        return prod_iter(tape_, x);
      case Workload::log_sum_exp:
        return log_sum_exp(tape_, x);
      case Workload::normal_log_pdf:
        return normal_log_pdf(tape_, x);
      case Workload::stochastic_volatility:
        return stochastic_volatility(tape_, x, p_.data);
      case Workload::rosenbrock:
        return rosenbrock(tape_, x);
      case Workload::mlp_scalar:
        return mlp_scalar(tape_, x, p_.features, p_.data);
    }
    throw std::logic_error("bench_statement_floor: unknown workload");
  }

  const Problem& p_;
  StatementTape tape_;
  std::vector<Handle> x_;
  std::vector<double> gradient_;
  double value_ = 0.0;
};

void run(Workload w, std::size_t n, const bench::Protocol& protocol) {
  const Problem p = bench::make_problem(w, n);
  FloorGradient floor(p);
  bench::adept::Gradient adept(p);
  floor();
  adept();
  const bench::Difference diff = bench::difference(floor.gradient(), adept.gradient());
  double sink = 0.0;
  std::vector<bench::Contender> contenders;
  contenders.emplace_back("double", bench::batched([&] {
                            sink += p(std::span<const double>(p.x));
                            bench::do_not_optimize(&sink);
                          }));
  contenders.emplace_back("floor", bench::batched([&] { floor(); }));
  contenders.emplace_back("adept", bench::batched([&] { adept(); }));
  const int reps = bench::measure(contenders, protocol);
  constexpr auto cpu = bench::ClockKind::thread_cpu;
  const double d = bench::summarise(contenders[0].on(cpu)).median;
  const bench::Summary fl = bench::summarise(contenders[1].on(cpu)),
                       ad = bench::summarise(contenders[2].on(cpu));
  const bench::Summary paired = bench::paired_ratios(contenders[1].on(cpu), contenders[2].on(cpu));
  const bench::adept::TapeStats stats = adept.stats();
  const double floor_bytes =
      static_cast<double>(floor.tape().bytes()) / static_cast<double>(floor.tape().operands());
  const double adept_bytes = static_cast<double>(stats.memory_bytes) / static_cast<double>(stats.operations);
  fmt::print(
      "{:<22} {:>6} {:>3} | {:>9.0f} | {:>9.1f}x {:>9.1f}x | {:>5.2f} [{:.2f}, {:.2f}] | {:>5.1f} {:>5.1f} | "
      "{:.1e}{}\n",
      bench::name(w), p.n, reps, d, fl.median / d, ad.median / d, fl.median / ad.median, paired.min,
      paired.max, floor_bytes, adept_bytes, diff.normwise, diff.normwise <= 1e-12 ? "" : "  DIFFERS");
}

}  // namespace

int main(int argc, char** argv) try {
  std::vector<Workload> workloads;
  std::vector<std::size_t> sizes;
  bench::Protocol protocol;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 >= argc && (a == "--workload" || a == "--n" || a == "--reps"))
      throw std::invalid_argument(fmt::format("{} needs a value", a));
    if (a == "--workload") {
      for (const std::string& s : bench::split_list(argv[++i])) {
        const auto w = bench::workload_named(s);
        if (!w) throw std::invalid_argument(fmt::format("--workload: unknown workload '{}'", s));
        workloads.push_back(*w);
      }
    } else if (a == "--n") {
      sizes = bench::positive_integers(argv[++i], "--n");
    } else if (a == "--reps") {
      protocol.fixed_reps = static_cast<int>(bench::positive_integer(argv[++i], "--reps"));
    } else {
      throw std::invalid_argument(
          fmt::format("unknown option '{}' (--workload LIST, --n LIST, --reps R)", a));
    }
  }
  if (workloads.empty()) workloads.assign(std::begin(bench::all_workloads), std::end(bench::all_workloads));
  if (sizes.empty()) sizes = {1024, 16384};
  fmt::print(
      "bench_statement_floor: a statement tape with Adept's layout and none of ad::Var's guarantees, against "
      "Adept 2\n"
      "machine: {}; thread CPU time; double, floor and Adept alternate per repetition; ratios: median / "
      "median of double;\n"
      "floor / Adept: medians [min, max of the paired ratios]; B/op: floor bytes (offsets, adjoints, "
      "operands) and\n"
      "Adept's Stack::memory() per operand; diff: the floor's gradient against Adept's, norm-wise "
      "relative\n\n",
      bench::cpu_model());
  fmt::print("{:<22} {:>6} {:>3} | {:>9} | {:>10} {:>10} | {:<19} | {:>5} {:>5} | {}\n", "workload", "N",
             "rep", "double ns", "floor", "Adept", "floor / Adept", "B/op", "Adept", "diff");
  for (Workload w : workloads) {
    if (!bench::scales_with_n(w)) {
      run(w, 0, protocol);
      continue;
    }
    for (std::size_t n : sizes) run(w, n, protocol);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_statement_floor: %s\n", e.what());
  return 2;
}
