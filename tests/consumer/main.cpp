// Built against the installed package by the consumer_* tests.
#include <cmath>

#include <autodiff/autodiff.hpp>

int main() {
  ad::Tape tape;
  ad::Var x = 1.5;
  ad::Var f = x * ad::exp(x);
  const double df = ad::gradient(f, {x})[0];
  const double expected = std::exp(1.5) * (1.0 + 1.5);  // d/dx x e^x = e^x (1 + x)
  if (std::fabs(df - expected) > 1e-12 * expected) {
    fmt::print("consumer: wrong derivative {} (expected {})\n", df, expected);
    return 1;
  }
  fmt::print("consumer: ok, d/dx x e^x at 1.5 = {}\n", df);
  return 0;
}
