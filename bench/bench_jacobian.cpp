// Many small Jacobians and gradients (issue 18 item 2): a loop of 10^5 calls
// on a 3x3 function, with a fresh tape and fresh vectors per call
// (ad::jacobian(F, x), ad::gradient(y, xs)) against the overloads that reuse
// the caller's tape and buffers (higher_order.hpp). Alternated, median of 9
// rounds, wall time; prints both and their ratio.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <span>
#include <vector>

#include <autodiff/autodiff.hpp>

namespace {

// A 3x3 map with a dense Jacobian (polar-like coordinates plus a coupling).
std::vector<ad::Var> F(std::span<const ad::Var> x) {
  return {x[0] * ad::cos(x[1]) * x[2], x[0] * ad::sin(x[1]) + x[2] * x[2], ad::exp(x[0] * 0.1) - x[1] * x[2]};
}

ad::Var f(std::span<const ad::Var> x) {
  return x[0] * ad::cos(x[1]) * x[2] + ad::exp(x[0] * 0.1) - x[1] * x[2];
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main() {
  constexpr int calls = 100000;
  std::vector<double> x{1.0, 0.5, 2.0};
  std::vector<double> fresh_j, reuse_j, fresh_g, reuse_g;
  double sink = 0;
  ad::Tape tape;  // the reused one (active: the fresh tapes below nest inside it)
  std::vector<std::vector<double>> J;
  std::vector<double> g(3);
  for (int round = 0; round < 9; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    for (int c = 0; c < calls; ++c) {
      x[0] = 1.0 + 1e-6 * c;
      sink += ad::jacobian(F, x)[2][1];
    }
    fresh_j.push_back(seconds_since(t0));
    t0 = std::chrono::steady_clock::now();
    for (int c = 0; c < calls; ++c) {
      x[0] = 1.0 + 1e-6 * c;
      ad::jacobian(F, x, tape, J);
      sink += J[2][1];
    }
    reuse_j.push_back(seconds_since(t0));
    t0 = std::chrono::steady_clock::now();
    for (int c = 0; c < calls; ++c) {
      x[0] = 1.0 + 1e-6 * c;
      ad::Tape fresh;
      const std::vector<ad::Var> xs(x.begin(), x.end());
      sink += ad::gradient(f(xs), xs)[1];
    }
    fresh_g.push_back(seconds_since(t0));
    t0 = std::chrono::steady_clock::now();
    for (int c = 0; c < calls; ++c) {
      x[0] = 1.0 + 1e-6 * c;
      sink += ad::gradient(f, x, tape, g) + g[1];
    }
    reuse_g.push_back(seconds_since(t0));
  }
  const double fj = median(fresh_j), rj = median(reuse_j), fg = median(fresh_g), rg = median(reuse_g);
  std::printf("%d calls of a 3x3 function, median of 9 rounds (wall time)\n", calls);
  std::printf(
      "jacobian: fresh tape and vectors %.1f ms (%.0f ns/call), reused %.1f ms (%.0f ns/call): %.2fx\n",
      fj * 1e3, fj / calls * 1e9, rj * 1e3, rj / calls * 1e9, fj / rj);
  std::printf(
      "gradient: fresh tape and vectors %.1f ms (%.0f ns/call), reused %.1f ms (%.0f ns/call): %.2fx\n",
      fg * 1e3, fg / calls * 1e9, rg * 1e3, rg / calls * 1e9, fg / rg);
  std::printf("(checksum %.6g)\n", sink);
}
