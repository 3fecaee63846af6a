// CoDiPack on the scalar workloads: a peer bench_scalar measures against when
// its sources are given at configure time (bench/peers/codipack.cmake compiles
// codipack_scalar.cpp into bench_scalar and defines AD_BENCH_HAVE_CODIPACK).
// This header does not include CoDiPack, so bench_scalar.cpp builds the same
// with or without it.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "../scalar_workloads.hpp"

namespace bench::codipack {

// What one recording holds, from CoDiPack's tape statistics (TapeValues).
struct TapeStats {
  double used_bytes = 0.0;     // "Total memory used": statements, Jacobian entries, adjoints, index manager
  std::size_t statements = 0;  // one per assignment (and per registered input)
  std::size_t jacobian_entries = 0;  // one (partial, index) pair per operand of a statement
};

// One gradient per call with codi::RealReverse (the Jacobian tape with the
// linear index manager), re-recorded every time as a training loop does:
// reset; setActive; x_i = v_i, registerInput(x_i); y = f(x);
// registerOutput(y); setPassive; y's adjoint = 1; evaluate; read x_i's adjoints.
class Gradient {
 public:
  explicit Gradient(const Problem& problem);
  ~Gradient();
  Gradient(const Gradient&) = delete;
  Gradient& operator=(const Gradient&) = delete;

  void operator()();
  std::span<const double> gradient() const;
  double value() const;
  // The tape of the last call (call operator() first).
  TapeStats stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace bench::codipack
