// The tour's first stop: differentiate a scalar function with a tape and
// check the gradient against central finite differences.
//
//   f(x, y) = sin(x) y + exp(x / y) - 3 x^2
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <autodiff/autodiff.hpp>

namespace {

// Written once, for double and ad::Var alike.
template <class T>
T f(const T& x, const T& y) {
  using std::exp;
  using std::pow;
  using std::sin;
  return sin(x) * y + exp(x / y) - 3.0 * pow(x, 2.0);
}

void scalar_gradient_checked() {
  fmt::print("== 1. A scalar function, its gradient, and a finite-difference check ==\n");
  const double x0 = 0.5, y0 = 2.0;

  ad::Tape tape;  // records every operation on this thread while in scope
  ad::Var x = x0, y = y0;
  ad::Var value = f(x, y);
  const std::vector<double> g = ad::gradient(value, {x, y});  // one reverse sweep

  // Central differences: (f(p + h e_i) - f(p - h e_i)) / 2h, error O(h^2).
  const double h = 1e-6;
  const double fd_x = (f(x0 + h, y0) - f(x0 - h, y0)) / (2 * h);
  const double fd_y = (f(x0, y0 + h) - f(x0, y0 - h)) / (2 * h);

  fmt::print("f(x, y) = sin(x) y + exp(x/y) - 3 x^2 at (x, y) = ({}, {})\n", x0, y0);
  fmt::print("  value            f      = {:.15f}\n", value.value());
  fmt::print("  tape gradient    df/dx  = {:+.15f}   df/dy = {:+.15f}\n", g[0], g[1]);
  fmt::print("  finite diff.     df/dx ~= {:+.15f}   df/dy ~= {:+.15f}\n", fd_x, fd_y);
  const double err = std::max(std::fabs(g[0] - fd_x), std::fabs(g[1] - fd_y));
  fmt::print("  max |tape - finite difference| = {:.2e}  ({})\n", err, err < 1e-8 ? "agrees" : "DISAGREES");
  fmt::print("  the tape holds {} nodes, {} bytes\n\n", tape.size(), tape.bytes_used());
  if (err >= 1e-8) throw std::runtime_error("demo: gradient disagrees with finite differences");
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) quick = quick || std::string_view(argv[i]) == "--quick";
  (void)quick;  // the longer stories of the tour honour --quick
  try {
    scalar_gradient_checked();
  } catch (const std::exception& e) {
    fmt::print(stderr, "demo failed: {}\n", e.what());
    return 1;
  }
  return 0;
}
