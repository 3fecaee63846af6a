// The timing protocol of bench_scalar: contenders (callables making k calls)
// warmed up, batched into samples of a few milliseconds and sampled in turn,
// A B C A B C ..., so that a slow phase of a shared machine hits them alike.
// Every sample is timed with two clocks at once: this thread's CPU time
// (CLOCK_THREAD_CPUTIME_ID: leaves out the time slices other processes take,
// not their pressure on caches and memory bandwidth) and the wall clock.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

#include <time.h>

#include "summary.hpp"

namespace bench {

// The compiler must assume the pointee is read and anything in memory
// written: keeps the double baseline from being hoisted out of, or folded
// across, the timing loop.
inline void do_not_optimize(const void* p) { asm volatile("" : : "g"(p) : "memory"); }

enum class ClockKind { thread_cpu = 0, wall = 1 };
inline constexpr int clock_count = 2;

inline double seconds_on(ClockKind clock) {
  timespec ts{};
  clock_gettime(clock == ClockKind::thread_cpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Protocol {
  double warmup_s = 0.1;   // warm-up per contender (calls cheaper than heavy_s)
  double batch_s = 0.005;  // a sample is a batch of calls lasting at least this long
  double heavy_s = 0.05;   // calls this long are timed one by one, warmed up by one call
  double budget_s = 0.6;   // aim for about this much timing per problem, all contenders
  int min_reps = 5;
  int max_reps = 21;
  int fixed_reps = 0;                       // --reps
  ClockKind clock = ClockKind::thread_cpu;  // sizes the batches; the primary figures
};

// One thing being timed: `batch(k)` makes k calls.
struct Contender {
  Contender(std::string_view name_, std::function<void(long)> batch_)
      : name(name_), batch(std::move(batch_)) {}
  std::string_view name;
  std::function<void(long)> batch;
  long inner = 1;                            // calls per sample
  double per_call_s = 0.0;                   // estimate from the warm-up
  std::vector<double> samples[clock_count];  // ns per call, one per repetition, per clock

  const std::vector<double>& on(ClockKind clock) const { return samples[static_cast<int>(clock)]; }
};

template <class F>
std::function<void(long)> batched(F call) {
  return [call](long count) mutable {
    for (long i = 0; i < count; ++i) call();
  };
}

// Seconds that `count` calls took on each clock (the CPU clock read innermost).
inline std::pair<double, double> time_batch(Contender& c, long count) {
  const double wall0 = seconds_on(ClockKind::wall), cpu0 = seconds_on(ClockKind::thread_cpu);
  c.batch(count);
  const double cpu1 = seconds_on(ClockKind::thread_cpu), wall1 = seconds_on(ClockKind::wall);
  return {cpu1 - cpu0, wall1 - wall0};
}

inline double time_batch_on(Contender& c, long count, ClockKind clock) {
  const auto [cpu, wall] = time_batch(c, count);
  return clock == ClockKind::thread_cpu ? cpu : wall;
}

// Warm up and size each contender's batch, then take the samples in turn.
// Returns the number of repetitions.
inline int measure(std::vector<Contender>& contenders, const Protocol& protocol) {
  double per_rep_s = 0.0;
  for (Contender& c : contenders) {
    const double first = time_batch_on(c, 1, protocol.clock);
    c.per_call_s = first;
    if (first < protocol.heavy_s) {
      double spent = first;
      for (long k = 1; spent < protocol.warmup_s; k *= 2) {
        const double t = time_batch_on(c, k, protocol.clock);
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
    for (Contender& c : contenders) {
      const auto [cpu, wall] = time_batch(c, c.inner);
      c.samples[static_cast<int>(ClockKind::thread_cpu)].push_back(cpu * 1e9 / double(c.inner));
      c.samples[static_cast<int>(ClockKind::wall)].push_back(wall * 1e9 / double(c.inner));
    }
  return reps;
}

// Ratios of samples taken side by side (repetition r of a over repetition r
// of b): their spread says how much the machine moved during the run.
inline Summary paired_ratios(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> r;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) r.push_back(a[i] / b[i]);
  return summarise(std::move(r));
}

}  // namespace bench
