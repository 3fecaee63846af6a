// ADOL-C driver of bench_scalar (see adolc_scalar.hpp).
#include "adolc_scalar.hpp"

#include <adolc/adolc.h>
#include <adolc/taping.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <vector>

template <>
struct bench::Passive<adouble> {
  static double value(const adouble& v) { return v.getValue(); }
};

namespace bench::adolc {

struct Gradient::State {
  const Problem& problem;
  static constexpr short tag = 7;
  std::vector<adouble> inputs;  // allocated once, outside the timed region (like model parameters)
  std::vector<double> gradient;
  double value = 0.0;
  unsigned op_buffer = 0, location_buffer = 0, value_buffer = 0, taylor_buffer = 0;

  explicit State(const Problem& p) : problem(p), inputs(p.x.size()), gradient(p.x.size()) {}

  void record() {
    trace_on(tag, /*keepTaylors=*/1, op_buffer, location_buffer, value_buffer, taylor_buffer);
    for (std::size_t i = 0; i < inputs.size(); ++i) inputs[i] <<= problem.x[i];
    adouble y = problem(std::span<const adouble>(inputs));
    y >>= value;
    trace_off();
  }
  void reverse() {
    double seed = 1.0;
    fos_reverse(tag, 1, static_cast<int>(inputs.size()), &seed, gradient.data());
  }
  TapeStats stats() const {
    std::size_t s[STAT_SIZE] = {};
    tapestats(tag, s);
    TapeStats t;
    t.operations = s[NUM_OPERATIONS];
    t.locations = s[NUM_LOCATIONS];
    t.values = s[NUM_VALUES];
    t.taylors = s[TAY_STACK_SIZE];
    t.in_core = s[OP_FILE_ACCESS] == 0 && s[LOC_FILE_ACCESS] == 0 && s[VAL_FILE_ACCESS] == 0;
    return t;
  }

  // ADOL-C's default buffers hold 524288 entries; a bigger tape spills to
  // files in the working directory. Record with a generous guess (doubling
  // until the tape stays in core), then size every buffer to what the tape
  // needs plus 1%: the best case for ADOL-C.
  void size_buffers() {
    std::size_t guess = std::max<std::size_t>(524288, 80 * inputs.size() + 200000);
    for (;;) {
      if (guess > std::numeric_limits<unsigned>::max() / 2)
        throw std::runtime_error("ADOL-C: the tape does not fit in memory buffers");
      op_buffer = location_buffer = value_buffer = taylor_buffer = static_cast<unsigned>(guess);
      record();
      if (stats().in_core) break;
      guess *= 2;
    }
    const TapeStats t = stats();
    auto fit = [](std::size_t count) { return static_cast<unsigned>(std::max<std::size_t>(1024, count + count / 100 + 1024)); };
    op_buffer = fit(t.operations);
    location_buffer = fit(t.locations);
    value_buffer = fit(t.values);
    taylor_buffer = fit(t.taylors);
    record();
    if (!stats().in_core) throw std::runtime_error("ADOL-C: the tape spilled to files after sizing its buffers");
  }
};

Gradient::Gradient(const Problem& problem) : state_(std::make_unique<State>(problem)) { state_->size_buffers(); }

Gradient::~Gradient() {
  state_.reset();
  removeTape(State::tag, ADOLC_REMOVE_COMPLETELY);
}

void Gradient::operator()() {
  state_->record();
  state_->reverse();
}

std::span<const double> Gradient::gradient() const { return state_->gradient; }
double Gradient::value() const { return state_->value; }
TapeStats Gradient::stats() const { return state_->stats(); }

}  // namespace bench::adolc
