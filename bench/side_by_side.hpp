// Timing contestants side by side in one process (BENCHMARKS.md, rules of
// measurement), shared by bench_mlp and bench_fashion:
//   - every contestant is warmed up, then its calls are batched so that one
//     sample lasts about Protocol::sample_s;
//   - samples alternate A B C A B C ..., so a slow phase of a shared machine
//     hits every contestant alike; medians of >= 5 samples are compared;
//   - samples are wall-clock time (steady_clock): with 2 threads the work of
//     the helper threads has to count.
// Also the CSV rows every bench program appends (ResultLog) and the peak
// resident memory of this process.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/resource.h>

#include "summary.hpp"

namespace bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Protocol {
  double warmup_s = 0.15;  // per contestant, and at least 3 calls
  double sample_s = 0.03;  // one sample is a batch of calls lasting about this long
  int reps = 11;           // samples per contestant (>= 5)
};

// One thing being timed. `step` makes one call (one training step); an
// empty `step` is a contestant that was not built in (its columns say so).
// `settle` runs after each of its samples, outside the timing: OpenBLAS's
// workers spin for about 2^28 cycles after a call, stealing the second core
// from whoever is timed next unless we wait for them to go to sleep.
struct Contestant {
  std::string name;
  std::function<void()> step;
  std::function<void()> settle;
  long calls_per_sample = 1;
  std::vector<double> samples_us;  // microseconds per call, one per repetition

  bool built() const { return static_cast<bool>(step); }
  Summary summary() const { return summarise(samples_us); }
};

inline double time_calls(Contestant& c, long calls) {
  const Clock::time_point start = Clock::now();
  for (long i = 0; i < calls; ++i) c.step();
  return seconds_since(start);
}

// Warms every contestant up, sizes its batch, then takes protocol.reps
// samples of each in turn.
inline void measure(std::vector<Contestant>& contestants, const Protocol& protocol) {
  for (Contestant& c : contestants) {
    if (!c.built()) continue;
    double spent = 0.0, per_call = 0.0;
    long calls = 0;
    for (long k = 1; spent < protocol.warmup_s || calls < 3; k *= 2) {
      const double t = time_calls(c, k);
      spent += t;
      calls += k;
      per_call = t / double(k);
    }
    c.calls_per_sample = std::max(1L, std::lround(protocol.sample_s / std::max(per_call, 1e-9)));
    if (c.settle) c.settle();
  }
  for (int r = 0; r < protocol.reps; ++r)
    for (Contestant& c : contestants) {
      if (!c.built()) continue;
      c.samples_us.push_back(time_calls(c, c.calls_per_sample) * 1e6 / double(c.calls_per_sample));
      if (c.settle) c.settle();
    }
}

// A pause long enough for OpenBLAS's spinning workers to go to sleep.
inline void let_blas_workers_sleep() { std::this_thread::sleep_for(std::chrono::milliseconds(120)); }

// Rows appended to a CSV file shared by the whole suite:
//   workload,dtype,threads,contestant,median,min,max,unit
// The header is written when the file is new or empty.
class ResultLog {
 public:
  ResultLog() = default;
  explicit ResultLog(const std::string& path) : path_(path) {
    if (path_.empty()) return;
    std::ifstream probe(path_, std::ios::binary | std::ios::ate);
    const bool empty = !probe || probe.tellg() <= 0;
    out_.open(path_, std::ios::app);
    if (!out_) throw std::runtime_error("cannot append to " + path_);
    if (empty) out_ << "workload,dtype,threads,contestant,median,min,max,unit\n";
  }
  void add(const std::string& workload, const std::string& dtype, int threads, const std::string& contestant,
           const Summary& s, const std::string& unit) {
    if (!out_.is_open()) return;
    auto number = [](double x) {
      if (std::isnan(x)) return std::string();
      char text[32];
      std::snprintf(text, sizeof text, "%.6g", x);
      return std::string(text);
    };
    out_ << workload << ',' << dtype << ',' << threads << ',' << contestant << ',' << number(s.median) << ','
         << number(s.min) << ',' << number(s.max) << ',' << unit << '\n';
    out_.flush();
  }

 private:
  std::string path_;
  std::ofstream out_;
};

// Peak resident set size of this process so far, in MiB (getrusage reports KiB on Linux).
inline double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;
}

// Resident set size now, in MiB (VmRSS of /proc/self/status; NaN elsewhere).
inline double current_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      double kib = NAN;
      status >> kib;
      return kib / 1024.0;
    }
    status.ignore(1 << 12, '\n');
  }
  return NAN;
}

}  // namespace bench
