// Adept 2 driver of bench_scalar (see adept_scalar.hpp).
#include "adept_scalar.hpp"

#include <adept.h>

#include <vector>

template <>
struct bench::Passive<::adept::adouble> {
  static double value(const ::adept::adouble& v) { return v.value(); }
};

namespace bench::adept {

struct Gradient::State {
  const Problem& problem;
  ::adept::Stack stack;                  // before the inputs: they register with it
  std::vector<::adept::adouble> inputs;  // allocated once, outside the timed region
  std::vector<double> gradient;
  double value = 0.0;

  explicit State(const Problem& p) : problem(p), inputs(p.x.size()), gradient(p.x.size()) {}

  void run() {
    for (std::size_t i = 0; i < inputs.size(); ++i) inputs[i].set_value(problem.x[i]);
    stack.new_recording();  // forgets the last recording and its gradients
    ::adept::adouble y = problem(std::span<const ::adept::adouble>(inputs));
    y.set_gradient(1.0);
    stack.compute_adjoint();
    for (std::size_t i = 0; i < inputs.size(); ++i) gradient[i] = inputs[i].get_gradient();
    value = y.value();
  }

  TapeStats stats() const {
    TapeStats s;
    s.memory_bytes = stack.memory();
    s.statements = stack.n_statements();
    s.operations = stack.n_operations();
    return s;
  }
};

Gradient::Gradient(const Problem& problem) : state_(std::make_unique<State>(problem)) {}
Gradient::~Gradient() = default;

void Gradient::operator()() { state_->run(); }
std::span<const double> Gradient::gradient() const { return state_->gradient; }
double Gradient::value() const { return state_->value; }
TapeStats Gradient::stats() const { return state_->stats(); }

}  // namespace bench::adept
