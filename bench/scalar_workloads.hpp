// The scalar workloads S1-S7 of BENCHMARKS.md, as templates over the scalar
// type, with their deterministic inputs.
//
// Each workload is written once and instantiated with T = double (the
// baseline every ratio divides by), T = ad::Var, and any peer's active type
// (ADOL-C's adouble). Maths functions are called unqualified after
// `using std::exp;` so that the peer's overloads are found by argument-
// dependent lookup. The definitions and the input generator reproduce the
// project's anchor harness (../shared/anchors/scalar/workloads.hpp)
// number for number, so our figures line up with the targets set there.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

// The plain double inside an active scalar: log_sum_exp shifts by the largest
// *value*, a constant to the AD tool. Each active type specialises this.
template <class T>
struct Passive;

template <>
struct Passive<double> {
  static double value(double v) { return v; }
};

// ---- the workloads ----------------------------------------------------------

// S1: x_0 + x_1 + ... + x_{n-1}, one += per element.
template <class T>
T sum_iter(std::span<const T> x) {
  T s = 0.0;
  for (const T& xi : x) s += xi;
  return s;
}

// S2: x_0 x_1 ... x_{n-1}, one *= per element.
template <class T>
T prod_iter(std::span<const T> x) {
  T p = 1.0;
  for (const T& xi : x) p *= xi;
  return p;
}

// S3: log sum_i exp(x_i) = m + log sum_i exp(x_i - m), m = max_i x_i taken
// from the values. m is a constant to the tool; that is exact, since the
// shift's derivative cancels.
template <class T>
T log_sum_exp(std::span<const T> x) {
  using std::exp;
  using std::log;
  if (x.empty()) throw std::invalid_argument("log_sum_exp: no inputs");
  double m = Passive<T>::value(x[0]);
  for (const T& xi : x) m = std::max(m, Passive<T>::value(xi));
  T s = 0.0;
  for (const T& xi : x) s += exp(xi - m);
  return log(s) + m;
}

// S4: sum_i log N(y_i | mu, sigma) without the -log(2 pi)/2 terms (as the
// anchor and ADBenchmark define it):
//   -1/2 sum_i (y_i - mu)^2 / sigma^2 - n log(sigma).
// mu and sigma are T but not inputs: the gradient is taken w.r.t. y only.
template <class T>
T normal_log_pdf(std::span<const T> y, const T& mu, const T& sigma) {
  using std::log;
  T ss = 0.0;
  for (const T& yi : y) {
    T d = yi - mu;
    ss += d * d;
  }
  const double n = static_cast<double>(y.size());
  return -0.5 * ss / (sigma * sigma) - n * log(sigma);
}

// S5: log posterior of the non-centred stochastic-volatility model, up to a
// constant. x = [h_std_0 .. h_std_{n-1}, phi, sigma, mu], data y_0 .. y_{n-1}:
//   h_0 = mu + sigma h_std_0 / sqrt(1 - phi^2)
//   h_t = mu + sigma h_std_t + phi (h_{t-1} - mu)        (the recurrence)
//   s_t = exp(h_t / 2)
//   lp  = sum_t [-(y_t / s_t)^2 / 2 - log s_t - h_std_t^2 / 2]
//         - log(5 (1 + (sigma/5)^2)) - log(10 (1 + (mu/10)^2)) - log 2
// (Cauchy(0, 5) on sigma, Cauchy(0, 10) on mu, Uniform(-1, 1) on phi).
template <class T>
T stochastic_volatility(std::span<const T> x, std::span<const double> y) {
  using std::exp;
  using std::log;
  using std::sqrt;
  const std::size_t n = y.size();
  if (n == 0 || x.size() != n + 3)
    throw std::invalid_argument("stochastic_volatility: needs n > 0 observations and n + 3 inputs");
  const T& phi = x[n];
  const T& sigma = x[n + 1];
  const T& mu = x[n + 2];
  T lp = 0.0;
  T h = mu + sigma * x[0] / sqrt(1.0 - phi * phi);
  for (std::size_t t = 0; t < n; ++t) {
    if (t > 0) h = mu + sigma * x[t] + phi * (h - mu);
    T s = exp(0.5 * h);
    T z = y[t] / s;
    lp += -0.5 * (z * z) - log(s) - 0.5 * (x[t] * x[t]);
  }
  T sigma_5 = sigma / 5.0;
  T mu_10 = mu / 10.0;
  lp -= log(5.0 * (1.0 + sigma_5 * sigma_5)) + log(10.0 * (1.0 + mu_10 * mu_10));
  return lp - std::numbers::ln2;
}

// S6: the chained Rosenbrock function,
//   sum_{i < n-1} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2.
template <class T>
T rosenbrock(std::span<const T> x) {
  T f = 0.0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    T a = x[i + 1] - x[i] * x[i];
    T b = 1.0 - x[i];
    f += 100.0 * a * a + b * b;
  }
  return f;
}

// S7: a 2-16-16-1 network written neuron by neuron: tanh on both hidden
// layers, linear output, on a fixed batch of B = 32 points,
//   loss = 1/(2B) sum_s (f(X_s) - Y_s)^2.
// theta holds the 337 parameters layer by layer, each layer as W (out x in,
// row-major) then b: W1 16x2, b1 16, W2 16x16, b2 16, W3 1x16, b3 1.
struct Mlp {
  static constexpr std::size_t in = 2, hidden1 = 16, hidden2 = 16, out = 1, batch = 32;
  static constexpr std::size_t parameters =
      hidden1 * in + hidden1 + hidden2 * hidden1 + hidden2 + out * hidden2 + out;
};
static_assert(Mlp::parameters == 337);

template <class T>
T mlp_scalar(std::span<const T> theta, std::span<const double> X, std::span<const double> Y) {
  using std::tanh;
  using M = Mlp;
  if (theta.size() != M::parameters || X.size() != M::batch * M::in || Y.size() != M::batch)
    throw std::invalid_argument("mlp_scalar: needs 337 parameters, 32 x 2 inputs and 32 targets");
  const T* W1 = theta.data();
  const T* b1 = W1 + M::hidden1 * M::in;
  const T* W2 = b1 + M::hidden1;
  const T* b2 = W2 + M::hidden2 * M::hidden1;
  const T* W3 = b2 + M::hidden2;
  const T* b3 = W3 + M::out * M::hidden2;

  std::vector<T> a1(M::hidden1), a2(M::hidden2);
  T loss = 0.0;
  for (std::size_t s = 0; s < M::batch; ++s) {
    const double* xs = &X[s * M::in];
    for (std::size_t j = 0; j < M::hidden1; ++j) {
      T z = b1[j];
      for (std::size_t k = 0; k < M::in; ++k) z += W1[j * M::in + k] * xs[k];
      a1[j] = tanh(z);
    }
    for (std::size_t j = 0; j < M::hidden2; ++j) {
      T z = b2[j];
      for (std::size_t k = 0; k < M::hidden1; ++k) z += W2[j * M::hidden1 + k] * a1[k];
      a2[j] = tanh(z);
    }
    T o = b3[0];
    for (std::size_t k = 0; k < M::hidden2; ++k) o += W3[k] * a2[k];
    T e = o - Y[s];
    loss += e * e;
  }
  return loss / (2.0 * static_cast<double>(M::batch));
}

// ---- the problems: a workload with its inputs ---------------------------------

enum class Workload { sum_iter, prod_iter, log_sum_exp, normal_log_pdf, stochastic_volatility, rosenbrock, mlp_scalar };

inline constexpr Workload all_workloads[] = {Workload::sum_iter,       Workload::prod_iter,
                                             Workload::log_sum_exp,    Workload::normal_log_pdf,
                                             Workload::stochastic_volatility, Workload::rosenbrock,
                                             Workload::mlp_scalar};

constexpr std::string_view name(Workload w) {
  switch (w) {
    case Workload::sum_iter: return "sum_iter";
    case Workload::prod_iter: return "prod_iter";
    case Workload::log_sum_exp: return "log_sum_exp";
    case Workload::normal_log_pdf: return "normal_log_pdf";
    case Workload::stochastic_volatility: return "stochastic_volatility";
    case Workload::rosenbrock: return "rosenbrock";
    case Workload::mlp_scalar: return "mlp_scalar";
  }
  return "?";
}

inline std::optional<Workload> workload_named(std::string_view s) {
  for (Workload w : all_workloads)
    if (name(w) == s) return w;
  return std::nullopt;
}

// mlp_scalar has a fixed size (the batch of 32); every other workload scales with N.
constexpr bool scales_with_n(Workload w) { return w != Workload::mlp_scalar; }

// normal_log_pdf's location and scale (ADBenchmark's values).
inline constexpr double normal_mu = -0.56;
inline constexpr double normal_sigma = 1.37;

// Counter-based uniform numbers (the splitmix64 finaliser applied twice), so
// value i of a stream does not depend on how many values are drawn.
constexpr std::uint64_t splitmix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
// Uniform in [lo, hi): value i of stream `stream`, from the top 53 bits.
constexpr double uniform(std::uint64_t stream, std::uint64_t i, double lo, double hi) {
  const std::uint64_t bits = splitmix64(splitmix64(stream) ^ i) >> 11;
  return lo + (hi - lo) * (static_cast<double>(bits) * 0x1.0p-53);
}

struct Problem {
  Workload workload{};
  std::size_t n = 0;            // N of the tables (the batch, 32, for mlp_scalar)
  std::vector<double> x;        // the point of the gradient: the active inputs
  std::vector<double> data;     // passive data: SV observations, MLP targets
  std::vector<double> features; // passive data: the MLP's 32 x 2 input batch

  // f(v) with T the active type; v holds x (as T) in the same order.
  template <class T>
  T operator()(std::span<const T> v) const {
    switch (workload) {
      case Workload::sum_iter: return sum_iter(v);
      case Workload::prod_iter: return prod_iter(v);
      case Workload::log_sum_exp: return log_sum_exp(v);
      case Workload::normal_log_pdf: {
        // T, not double: every tool sees the same operand types as the anchor
        // (for ad::Var two leaves whose adjoints nobody reads).
        const T mu = normal_mu;
        const T sigma = normal_sigma;
        return normal_log_pdf(v, mu, sigma);
      }
      case Workload::stochastic_volatility: return stochastic_volatility(v, std::span<const double>(data));
      case Workload::rosenbrock: return rosenbrock(v);
      case Workload::mlp_scalar:
        return mlp_scalar(v, std::span<const double>(features), std::span<const double>(data));
    }
    throw std::logic_error("bench::Problem: unknown workload");
  }
};

// The inputs of workload w at size n (n is ignored by mlp_scalar). Streams
// are 1000 + the workload's index, as in the anchor, so every harness takes
// the gradient at the same point.
inline Problem make_problem(Workload w, std::size_t n) {
  if (scales_with_n(w) && n < 2) throw std::invalid_argument("make_problem: N must be at least 2");
  Problem p;
  p.workload = w;
  p.n = n;
  const std::uint64_t stream = 1000 + static_cast<std::uint64_t>(w);
  auto draw = [&](std::size_t count, double lo, double hi) {
    p.x.resize(count);
    for (std::size_t i = 0; i < count; ++i) p.x[i] = uniform(stream, i, lo, hi);
  };
  switch (w) {
    case Workload::sum_iter: draw(n, -1.0, 1.0); break;
    // factors near 1: the product and all partial products stay finite at 2^20
    case Workload::prod_iter: draw(n, 0.99, 1.01); break;
    case Workload::log_sum_exp: draw(n, -3.0, 3.0); break;
    case Workload::normal_log_pdf: draw(n, -2.0, 2.0); break;
    case Workload::stochastic_volatility:
      draw(n + 3, -1.0, 1.0);
      p.x[n] = 0.8;       // phi
      p.x[n + 1] = 0.6;   // sigma
      p.x[n + 2] = -0.3;  // mu
      p.data.resize(n);
      for (std::size_t t = 0; t < n; ++t) p.data[t] = uniform(stream + 7, t, -1.0, 1.0);
      break;
    case Workload::rosenbrock: draw(n, -1.2, 1.2); break;
    case Workload::mlp_scalar: {
      using M = Mlp;
      p.n = M::batch;
      p.x.resize(M::parameters);
      // Glorot-uniform weights, small uniform biases, layer by layer; value k
      // of the stream is parameter k.
      std::size_t k = 0;
      auto layer = [&](std::size_t fan_out, std::size_t fan_in) {
        const double limit = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
        for (std::size_t i = 0; i < fan_out * fan_in; ++i, ++k) p.x[k] = uniform(stream, k, -limit, limit);
        for (std::size_t i = 0; i < fan_out; ++i, ++k) p.x[k] = uniform(stream, k, -0.1, 0.1);
      };
      layer(M::hidden1, M::in);
      layer(M::hidden2, M::hidden1);
      layer(M::out, M::hidden2);
      p.features.resize(M::batch * M::in);
      p.data.resize(M::batch);
      for (std::size_t s = 0; s < M::batch; ++s) {
        const double u = uniform(stream + 11, 2 * s, -1.0, 1.0);
        const double v = uniform(stream + 11, 2 * s + 1, -1.0, 1.0);
        p.features[2 * s] = u;
        p.features[2 * s + 1] = v;
        p.data[s] = std::sin(3.0 * u) * std::cos(2.0 * v);
      }
      break;
    }
  }
  return p;
}

// ---- closed-form gradients, for catching a fast wrong answer -----------------

// The exact gradient where it is short to write; nullopt for
// stochastic_volatility and mlp_scalar (checked against ADOL-C instead).
inline std::optional<std::vector<double>> closed_form_gradient(const Problem& p) {
  const std::vector<double>& x = p.x;
  const std::size_t n = x.size();
  std::vector<double> g(n, 0.0);
  switch (p.workload) {
    case Workload::sum_iter:
      std::fill(g.begin(), g.end(), 1.0);
      return g;
    case Workload::prod_iter: {
      // d/dx_i prod_j x_j = (prod_{j<i} x_j) (prod_{j>i} x_j): prefix times
      // suffix products, no division
      double prefix = 1.0;
      for (std::size_t i = 0; i < n; ++i) {
        g[i] = prefix;
        prefix *= x[i];
      }
      double suffix = 1.0;
      for (std::size_t i = n; i-- > 0;) {
        g[i] *= suffix;
        suffix *= x[i];
      }
      return g;
    }
    case Workload::log_sum_exp: {
      // the softmax of x
      const double m = *std::max_element(x.begin(), x.end());
      double s = 0.0;
      for (double v : x) s += std::exp(v - m);
      for (std::size_t i = 0; i < n; ++i) g[i] = std::exp(x[i] - m) / s;
      return g;
    }
    case Workload::normal_log_pdf:
      for (std::size_t i = 0; i < n; ++i) g[i] = -(x[i] - normal_mu) / (normal_sigma * normal_sigma);
      return g;
    case Workload::rosenbrock:
      // term i contributes -400 x_i a_i - 2 (1 - x_i) to x_i and 200 a_i to
      // x_{i+1}, with a_i = x_{i+1} - x_i^2
      for (std::size_t i = 0; i + 1 < n; ++i) {
        const double a = x[i + 1] - x[i] * x[i];
        g[i] += -400.0 * x[i] * a - 2.0 * (1.0 - x[i]);
        g[i + 1] += 200.0 * a;
      }
      return g;
    case Workload::stochastic_volatility:
    case Workload::mlp_scalar:
      return std::nullopt;
  }
  return std::nullopt;
}

// How far two gradients are apart: the largest element-wise relative
// difference |a_i - b_i| / max(|a_i|, |b_i|) (0 where both are 0, +inf on NaN
// or a size mismatch) and the norm-wise ||a - b||_inf / ||b||_inf. The
// element-wise figure is sensitive to entries that are near 0 by
// cancellation; the norm-wise one stays at rounding level for a correct tool.
struct Difference {
  double elementwise = 0.0;
  double normwise = 0.0;
};

inline Difference difference(std::span<const double> a, std::span<const double> b) {
  Difference d;
  if (a.size() != b.size()) return {INFINITY, INFINITY};
  double largest_diff = 0.0, largest_b = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double diff = std::fabs(a[i] - b[i]);
    if (std::isnan(diff)) return {INFINITY, INFINITY};
    const double scale = std::max(std::fabs(a[i]), std::fabs(b[i]));
    if (scale > 0.0) d.elementwise = std::max(d.elementwise, diff / scale);
    largest_diff = std::max(largest_diff, diff);
    largest_b = std::max(largest_b, std::fabs(b[i]));
  }
  d.normwise = largest_b > 0.0 ? largest_diff / largest_b : largest_diff;
  return d;
}

}  // namespace bench
