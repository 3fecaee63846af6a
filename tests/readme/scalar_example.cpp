#include <autodiff/autodiff.hpp>

int main() {
  ad::Tape tape;                                   // records on this thread while in scope
  ad::Var x = 0.5, y = 2.0;                        // leaves: the independent variables
  ad::Var f = ad::sin(x) * y + ad::exp(x / y) - 3.0 * ad::pow(x, 2.0);
  std::vector<double> g = ad::gradient(f, {x, y}); // df/dx, df/dy from one reverse sweep
  fmt::print("f = {}, df/dx = {}, df/dy = {}\n", f.value(), g[0], g[1]);
  fmt::print("{} nodes on the tape\n", tape.size());
  tape.clear();                                    // reuse the memory for the next recording
}
