// CoDiPack driver of bench_scalar (see codipack_scalar.hpp).
#include "codipack_scalar.hpp"

#include <codi.hpp>

#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using Real = codi::RealReverse;

template <>
struct bench::Passive<Real> {
  static double value(const Real& v) { return v.getValue(); }
};

namespace bench::codipack {

namespace {

// Splits one line of TapeValues' table output at its "; " separators.
std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  for (std::size_t start = 0;;) {
    const std::size_t end = line.find("; ", start);
    out.push_back(line.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    start = end + 2;
  }
}

// TapeValues has no getter by name for its counts; its table output has one
// header cell "<section>-<entry>" per value, so the count is looked up by name
// there ("Jacobian entries-Total number") rather than by position, which
// changes between tape types and versions.
std::size_t count_named(const std::vector<std::string>& header, const std::vector<std::string>& row,
                        const std::string& name) {
  for (std::size_t i = 0; i < header.size() && i < row.size(); ++i)
    if (header[i] == name) return std::strtoull(row[i].c_str(), nullptr, 10);
  throw std::runtime_error("CoDiPack's tape statistics have no entry '" + name + "'");
}

}  // namespace

struct Gradient::State {
  const Problem& problem;
  std::vector<Real> inputs;  // allocated once, outside the timed region (like model parameters)
  std::vector<double> gradient;
  double value = 0.0;

  explicit State(const Problem& p) : problem(p), inputs(p.x.size()), gradient(p.x.size()) {}

  void run() {
    Real::Tape& tape = Real::getTape();
    tape.reset();  // forgets the last recording and zeroes its adjoints
    tape.setActive();
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      inputs[i] = problem.x[i];
      tape.registerInput(inputs[i]);
    }
    Real y = problem(std::span<const Real>(inputs));
    tape.registerOutput(y);
    tape.setPassive();
    y.setGradient(1.0);
    tape.evaluate();
    for (std::size_t i = 0; i < inputs.size(); ++i) gradient[i] = inputs[i].getGradient();
    value = y.getValue();
  }

  TapeStats stats() const {
    codi::TapeValues values = Real::getTape().getTapeValues();
    std::ostringstream header, row;
    values.formatHeader(header);
    values.formatRow(row);
    std::string header_line = header.str(), row_line = row.str();
    if (!header_line.empty() && header_line.back() == '\n') header_line.pop_back();
    if (!row_line.empty() && row_line.back() == '\n') row_line.pop_back();
    const std::vector<std::string> names = cells(header_line), numbers = cells(row_line);
    TapeStats s;
    s.used_bytes = values.getUsedMemorySize();
    s.statements = count_named(names, numbers, "Statement entries-Total number");
    s.jacobian_entries = count_named(names, numbers, "Jacobian entries-Total number");
    return s;
  }
};

Gradient::Gradient(const Problem& problem) : state_(std::make_unique<State>(problem)) {}

Gradient::~Gradient() {
  state_.reset();
  Real::getTape().reset();  // the tape is global: leave no recording behind
}

void Gradient::operator()() { state_->run(); }
std::span<const double> Gradient::gradient() const { return state_->gradient; }
double Gradient::value() const { return state_->value; }
TapeStats Gradient::stats() const { return state_->stats(); }

}  // namespace bench::codipack
