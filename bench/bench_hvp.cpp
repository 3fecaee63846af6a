// Cost of a Hessian-vector product over the cost of one gradient, on
// Rosenbrock n = 10^4, on the scalar 2-16-16-1 MLP, and on the same MLP
// written with tensors (issue target: <= 4). Both are re-recorded every call;
// alternated, median of 9.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <span>
#include <vector>

#include <autodiff/autodiff.hpp>

namespace {

template <class T>
T rosenbrock(std::span<const T> x) {
  T f = 0.0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    const T a = x[i + 1] - x[i] * x[i];
    const T b = 1.0 - x[i];
    f += 100.0 * a * a + b * b;
  }
  return f;
}

// 2-16-16-1 tanh network on 32 fixed points: loss 1/(2*32) sum (f(x) - y)^2.
template <class T>
T mlp(std::span<const T> theta) {
  constexpr std::size_t in = 2, h = 16, batch = 32;
  T loss = 0.0;
  for (std::size_t s = 0; s < batch; ++s) {
    const double x0 = std::sin(0.37 * double(s)), x1 = std::cos(0.91 * double(s));
    std::vector<T> a1(h), a2(h);
    std::size_t p = 0;
    for (std::size_t j = 0; j < h; ++j, p += in + 1)
      a1[j] = tanh(theta[p] * x0 + theta[p + 1] * x1 + theta[p + 2]);
    for (std::size_t j = 0; j < h; ++j) {
      T z = theta[p + h];
      for (std::size_t k = 0; k < h; ++k) z += theta[p + k] * a1[k];
      a2[j] = tanh(z);
      p += h + 1;
    }
    T o = theta[p + h];
    for (std::size_t k = 0; k < h; ++k) o += theta[p + k] * a2[k];
    const T e = o - std::sin(3.0 * x0);
    loss += e * e;
  }
  return loss / (2.0 * double(batch));
}
using std::tanh;

template <class F>
double seconds(F&& f, int inner) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < inner; ++i) f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / inner;
}

// Alternates gradient and hvp (a warm-up call each, then 9 batches of
// `inner` calls) and prints the median times and the median, min and max
// ratio.
template <class G, class H>
void compare(const char* name, std::size_t n, G& gradient, H& hvp, int inner) {
  gradient();
  hvp();
  std::vector<double> tg, th, ratio;
  for (int r = 0; r < 9; ++r) {
    tg.push_back(seconds(gradient, inner));
    th.push_back(seconds(hvp, inner));
    ratio.push_back(th.back() / tg.back());
  }
  std::sort(tg.begin(), tg.end());
  std::sort(th.begin(), th.end());
  std::sort(ratio.begin(), ratio.end());
  fmt::print(
      "{:<22} n = {:>6}: gradient {:9.1f} us, hvp {:9.1f} us, hvp / gradient = {:.2f} (min {:.2f}, max "
      "{:.2f})\n",
      name, n, tg[4] * 1e6, th[4] * 1e6, ratio[4], ratio.front(), ratio.back());
}

template <class Fn>
void measure(const char* name, Fn fn, std::size_t n, int inner) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  std::vector<double> x(n), v(n);
  for (auto& e : x) e = u(rng);
  for (auto& e : v) e = u(rng);
  auto f = [&](std::span<const ad::Var> xs) { return fn(xs); };
  auto gradient = [&] {
    ad::Tape tape;
    const std::vector<ad::Var> xs(x.begin(), x.end());
    const auto g = ad::gradient(f(xs), xs);
    asm volatile("" : : "g"(g.data()) : "memory");
  };
  auto hvp = [&] {
    const auto hv = ad::hvp(f, x, v);
    asm volatile("" : : "g"(hv.data()) : "memory");
  };
  compare(name, n, gradient, hvp, inner);
}

// The 2-16-16-1 MLP with tensors (double), batch 32: gradient = loss().backward();
// hvp = ad::hvp(loss, parameters, directions).
void measure_tensor_mlp(int inner) {
  std::mt19937_64 rng(1);
  const std::vector<std::size_t> widths = {2, 16, 16, 1};
  std::vector<ad::Tensor> params, directions;
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
    ad::Tensor W = ad::Tensor::randn({widths[l + 1], widths[l]}, rng) * (1.0 / std::sqrt(double(widths[l])));
    ad::Tensor b = ad::Tensor::zeros({widths[l + 1]});
    params.push_back(W.detach().requires_grad(true));
    params.push_back(b.detach().requires_grad(true));
  }
  for (const auto& p : params) directions.push_back(ad::Tensor::randn(p.shape(), rng));
  const ad::Tensor X = ad::Tensor::randn({32, 2}, rng);
  const ad::Tensor Y = ad::Tensor::randn({32, 1}, rng);
  auto loss = [&] {
    ad::Tensor a = X;
    for (std::size_t l = 0; l < 3; ++l) {
      a = ad::linear(a, params[2 * l], params[2 * l + 1]);
      if (l < 2) a = ad::tanh(a);
    }
    return ad::sum(ad::square(a - Y)) * (1.0 / 64.0);
  };
  auto gradient = [&] {
    for (auto& p : params) p.zero_grad();
    ad::Tensor l = loss();
    l.backward();
    asm volatile("" : : "g"(params[0].grad_values().data()) : "memory");
  };
  auto hvp = [&] {
    const auto hv = ad::hvp(loss, params, directions);
    asm volatile("" : : "g"(hv[0].values().data()) : "memory");
  };
  compare("tensor mlp 2-16-16-1", 3 * 16 + 17 * 16 + 17, gradient, hvp, inner);
}

}  // namespace

int main() {
  fmt::print("Hessian-vector product cost, 1 thread (target: hvp / gradient <= 4)\n");
  measure(
      "rosenbrock", [](std::span<const ad::Var> x) { return rosenbrock(x); }, 10000, 20);
  measure(
      "mlp 2-16-16-1, B=32", [](std::span<const ad::Var> x) { return mlp(x); }, 3 * 16 + 17 * 16 + 17, 20);
  measure_tensor_mlp(200);
  return 0;
}
