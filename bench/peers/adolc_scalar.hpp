// ADOL-C on the scalar workloads: the peer bench_scalar measures against when
// libadolc-dev is installed (bench/peers/adolc.cmake compiles adolc_scalar.cpp
// into bench_scalar and defines AD_BENCH_HAVE_ADOLC). This header does not
// include ADOL-C, so bench_scalar.cpp builds the same with or without it.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "../scalar_workloads.hpp"

namespace bench::adolc {

// What one recording holds, from ADOL-C's tapestats.
struct TapeStats {
  std::size_t operations = 0;  // 1 byte each
  std::size_t locations = 0;   // 4 bytes each (locint)
  std::size_t values = 0;      // 8 bytes each
  std::size_t taylors = 0;     // 8 bytes each: the values keep=1 stores for the reverse sweep
  bool in_core = false;        // nothing spilled to ADOL-C's tape files
  double bytes() const { return double(operations) + 4.0 * double(locations) + 8.0 * double(values + taylors); }
};

// One gradient per call, re-recorded every time as a training loop does:
// trace_on(tag, keep = 1) .. x_i <<= v_i .. f .. >>= .. trace_off(), then
// fos_reverse on the Taylor values the recording kept (ADOL-C's fastest
// re-taping path). The constructor records once to size ADOL-C's buffers so
// that every later tape stays in memory.
class Gradient {
 public:
  explicit Gradient(const Problem& problem);
  ~Gradient();
  Gradient(const Gradient&) = delete;
  Gradient& operator=(const Gradient&) = delete;

  void operator()();
  std::span<const double> gradient() const;
  double value() const;
  TapeStats stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace bench::adolc
