// Adept 2 on the scalar workloads: a peer bench_scalar measures against when
// its sources are given at configure time (bench/peers/adept.cmake builds its
// library and adept_scalar.cpp into bench_scalar and defines
// AD_BENCH_HAVE_ADEPT). This header does not include Adept, so
// bench_scalar.cpp builds the same with or without it.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "../scalar_workloads.hpp"

namespace bench::adept {

// What one recording holds, from adept::Stack.
struct TapeStats {
  std::size_t memory_bytes = 0;  // Stack::memory(): statements, operations, gradient array
  std::size_t statements = 0;    // one per assignment to an active variable
  std::size_t operations = 0;    // one (multiplier, index) pair per operand of a statement
};

// One gradient per call, re-recorded every time as a training loop does:
// x_i.set_value(v_i); stack.new_recording(); y = f(x); y.set_gradient(1);
// stack.compute_adjoint(); read x_i.get_gradient(). The inputs are created
// once, after the stack (they register with it), like a model's parameters.
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

}  // namespace bench::adept
