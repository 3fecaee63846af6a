// The Gaussian-mixture objective of ADBench (Srajer, Habib, Fitzgibbon 2018,
// "A benchmark of selected algorithmic differentiation tools on some problems
// in computer vision and machine learning", section on GMM fitting), written
// from the paper's formula as a template over the scalar type T, so that the
// same source runs on double (the baseline) and on ad::Var (the gradient).
//
// n points x_i in R^d, K components. Component k has a log-weight alpha_k, a
// mean mu_k in R^d, and the Cholesky factor Q_k of its inverse covariance,
// Q_k lower-triangular with diagonal exp(q_k) (q_k in R^d: positive by
// construction) and strict lower part l_k (d(d-1)/2 entries):
//
//   log p = sum_i logsumexp_k(alpha_k + sum_j q_kj - 1/2 ||Q_k (x_i - mu_k)||^2)
//           - n logsumexp(alpha) - n d/2 log(2 pi)
//           + sum_k [1/2 gamma^2 (||exp(q_k)||^2 + ||l_k||^2) - m sum_j q_kj] - K C(d, m, gamma)
//
// sum_j q_kj = log det Q_k = -1/2 log det Sigma_k, so each logsumexp term is
// log(w_k N(x_i | mu_k, Sigma_k)) with w = softmax(alpha), up to the constant.
// The last line is the Wishart prior term as ADBench states and measures it
// (gamma = 1, m = 0), with C its normalising constant, a plain double.
//
// Parameters sit in one flat vector, the one the gradient is taken of:
// [alpha (K) | mu (K x d) | q (K x d) | l (K x d(d-1)/2)]; l_k lists the strict
// lower triangle column by column (rows j+1..d-1 of column j, then column
// j+1), so that Q_k (x - mu_k) is a sequence of contiguous axpy updates.
//
// Maths functions are called unqualified after `using std::exp;`, so an AD
// type's overloads are found by argument-dependent lookup.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <autodiff/scalar_reductions.hpp>

namespace bench::gmm {

// ADBench's prior: gamma = 1, m = 0.
struct Wishart {
  double gamma = 1.0;
  int m = 0;
};

// Where each parameter sits in the flat vector.
struct Layout {
  std::size_t d = 0, k = 0;

  std::size_t lower_count() const { return d * (d - 1) / 2; }  // entries of one l_k
  std::size_t alpha(std::size_t c) const { return c; }
  std::size_t mu(std::size_t c) const { return k + c * d; }         // first of mu_c
  std::size_t q(std::size_t c) const { return k + k * d + c * d; }  // first of q_c
  std::size_t l(std::size_t c) const { return k + 2 * k * d + c * lower_count(); }
  std::size_t size() const { return k * (1 + 2 * d + lower_count()); }
};

struct Problem {
  Layout layout;
  std::size_t n = 0;
  std::vector<double> x;           // n x d, row-major
  std::vector<double> parameters;  // layout.size() values: the point of the gradient
  Wishart wishart;
};

namespace detail {

// A counter-based generator (SplitMix64's finaliser over seed + counter): the
// same numbers on every platform and standard library.
class Counter {
 public:
  explicit Counter(std::uint64_t seed) : state_(seed) {}
  double uniform() {  // in [0, 1), 53 random bits
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return double(z >> 11) * 0x1.0p-53;
  }
  double normal() {  // Box-Muller; 1 - u keeps the logarithm's argument in (0, 1]
    const double u = 1.0 - uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * std::numbers::pi * v);
  }

 private:
  std::uint64_t state_;
};

// The plain double inside T: the logsumexp shift is taken from values, a
// constant to the AD tool (exact: the shift's derivative cancels).
template <class T>
double passive(const T& v) {
  if constexpr (std::is_arithmetic_v<T>)
    return static_cast<double>(v);
  else
    return v.value();
}

// log sum_j exp(v_j) = m + log sum_j exp(v_j - m) with m the largest value:
// no overflow, and the largest term is exp(0) = 1, so no underflow to log 0.
template <class T>
T log_sum_exp(std::span<const T> v) {
  if constexpr (std::is_same_v<T, ad::Var>)
    return ad::logsumexp(v);  // one node, the same bits as the loop below
  using std::exp;
  using std::log;
  double m = passive(v[0]);
  for (const T& vj : v) m = std::max(m, passive(vj));
  T s = exp(v[0] - m);
  for (std::size_t j = 1; j < v.size(); ++j) s += exp(v[j] - m);
  return log(s) + m;
}

// ||v||^2 for a non-empty v, starting from the first square (an AD type's
// `T s = 0` could be a recorded leaf).
template <class T>
T squared_norm(std::span<const T> v) {
  if constexpr (std::is_same_v<T, ad::Var>) return ad::squared_norm(v);  // one node, the same bits
  T s = v[0] * v[0];
  for (std::size_t j = 1; j < v.size(); ++j) s += v[j] * v[j];
  return s;
}

// Where row r of component c's Q starts in q_rows (row-major lower triangle).
inline std::size_t q_row_start(const Layout& lay, std::size_t c, std::size_t r) {
  return c * lay.d * (lay.d + 1) / 2 + r * (r + 1) / 2;
}

// Per component: diag(Q_k) = exp(q_k), and alpha_k + log det Q_k. For
// ad::Var also Q_k row by row into q_rows (row r: L_r0, ..., L_r,r-1,
// exp(q_r)) as consecutive nodes, so that each row is a run and
// ad::dot(row, x - mu) stores no operand list (scalar_reductions.hpp): the
// strict lower part is copied (times 1.0: a node with partial 1, K d(d-1)/2
// of them), the diagonal is its exp node itself.
template <class T>
void prepare_components(const Layout& lay, std::span<const T> theta, std::vector<T>& q_diagonal,
                        std::vector<T>& log_det_q, std::vector<T>& offset, std::vector<T>& q_rows) {
  using std::exp;
  const std::size_t d = lay.d;
  q_diagonal.resize(lay.k * d);
  log_det_q.resize(lay.k);
  offset.resize(lay.k);
  if constexpr (std::is_same_v<T, ad::Var>) q_rows.resize(lay.k * d * (d + 1) / 2);
  for (std::size_t c = 0; c < lay.k; ++c) {
    const T* q = theta.data() + lay.q(c);
    T sum = q[0];
    for (std::size_t j = 1; j < d; ++j) sum += q[j];
    if constexpr (std::is_same_v<T, ad::Var>) {
      const T* lower = theta.data() + lay.l(c);  // column by column: L_rj at j d - j(j+1)/2 + r - j - 1
      for (std::size_t r = 0; r < d; ++r) {
        T* row = q_rows.data() + q_row_start(lay, c, r);
        for (std::size_t j = 0; j < r; ++j) row[j] = lower[j * d - j * (j + 1) / 2 + (r - j - 1)] * 1.0;
        row[r] = q_diagonal[c * d + r] = exp(q[r]);
      }
    } else {
      for (std::size_t j = 0; j < d; ++j) q_diagonal[c * d + j] = exp(q[j]);
    }
    log_det_q[c] = sum;
    offset[c] = theta[lay.alpha(c)] + sum;
  }
}

// term[c] = alpha_c + log det Q_c - 1/2 ||Q_c (x - mu_c)||^2 for one point x.
// centred and scaled are workspaces of d entries.
template <class T>
void point_terms(const Layout& lay, std::span<const T> theta, const double* x,
                 const std::vector<T>& q_diagonal, const std::vector<T>& offset, const std::vector<T>& q_rows,
                 std::vector<T>& centred, std::vector<T>& scaled, std::vector<T>& term) {
  const std::size_t d = lay.d;
  for (std::size_t c = 0; c < lay.k; ++c) {
    const T* mu = theta.data() + lay.mu(c);
    for (std::size_t j = 0; j < d; ++j) centred[j] = x[j] - mu[j];
    if constexpr (std::is_same_v<T, ad::Var>) {
      // Q (x - mu), row by row: row r is (L_r0, ..., L_r,r-1, exp(q_r)) . (x - mu)_0..r, one
      // ad::dot node per row instead of r + 1 products and r sums; the row (prepare_components)
      // and x - mu (the loop above) are runs of consecutive nodes, so the node is 32 bytes.
      for (std::size_t r = 0; r < d; ++r)
        scaled[r] = ad::dot(std::span<const T>(q_rows.data() + q_row_start(lay, c, r), r + 1),
                            std::span<const T>(centred.data(), r + 1));
    } else {
      // Q (x - mu): the diagonal, then column j of the strict lower part scaled by (x - mu)_j
      // added to rows j+1..d-1 (contiguous, vectorisable: the fast form for plain numbers; the
      // sums run in another order than the rows above, so the two agree to rounding).
      const T* lower = theta.data() + lay.l(c);
      for (std::size_t j = 0; j < d; ++j) scaled[j] = q_diagonal[c * d + j] * centred[j];
      for (std::size_t j = 0; j + 1 < d; ++j) {
        for (std::size_t r = j + 1; r < d; ++r) scaled[r] += lower[r - j - 1] * centred[j];
        lower += d - j - 1;
      }
    }
    term[c] = offset[c] - 0.5 * squared_norm(std::span<const T>(scaled));
  }
}

inline void check_sizes(const Layout& lay, std::size_t n, const char* what) {
  if (lay.d == 0 || lay.k == 0 || n == 0)
    throw std::invalid_argument(std::string(what) + ": the problem has d = " + std::to_string(lay.d) +
                                ", K = " + std::to_string(lay.k) + ", n = " + std::to_string(n) +
                                "; each must be at least 1");
}

inline void check(const Problem& p, std::size_t parameter_count, const char* what) {
  const Layout& lay = p.layout;
  check_sizes(lay, p.n, what);
  if (p.x.size() != p.n * lay.d)
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(p.x.size()) +
                                " data values for n = " + std::to_string(p.n) +
                                " points of d = " + std::to_string(lay.d));
  if (parameter_count != lay.size())
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(parameter_count) +
                                " parameters given; d = " + std::to_string(lay.d) +
                                ", K = " + std::to_string(lay.k) +
                                " needs K (1 + 2 d + d(d-1)/2) = " + std::to_string(lay.size()));
}

}  // namespace detail

// C(d, m, gamma) = n_w d (log gamma - 1/2 log 2) - log Gamma_d(n_w / 2), with
// n_w = d + m + 1 and Gamma_d the multivariate gamma function,
// log Gamma_d(a) = d(d-1)/4 log pi + sum_{j=1..d} lgamma(a + (1 - j)/2).
inline double wishart_constant(std::size_t d, const Wishart& w) {
  const double dd = double(d), n_w = dd + double(w.m) + 1.0;
  double log_multigamma = 0.25 * dd * (dd - 1.0) * std::log(std::numbers::pi);
  for (std::size_t j = 1; j <= d; ++j) log_multigamma += std::lgamma(0.5 * n_w + 0.5 * (1.0 - double(j)));
  return n_w * dd * (std::log(w.gamma) - 0.5 * std::log(2.0)) - log_multigamma;
}

// The objective, log p above, at `theta` (layout p.layout).
template <class T>
T objective(const Problem& p, std::span<const T> theta) {
  using std::log;
  detail::check(p, theta.size(), "bench::gmm::objective");
  const Layout& lay = p.layout;
  const std::size_t d = lay.d, k = lay.k;

  std::vector<T> q_diagonal, log_det_q, offset, q_rows;
  detail::prepare_components(lay, theta, q_diagonal, log_det_q, offset, q_rows);

  std::vector<T> centred(d), scaled(d), term(k);
  T data_term{};
  for (std::size_t i = 0; i < p.n; ++i) {
    detail::point_terms(lay, theta, p.x.data() + i * d, q_diagonal, offset, q_rows, centred, scaled, term);
    const T point = detail::log_sum_exp(std::span<const T>(term));
    if (i == 0)
      data_term = point;
    else
      data_term += point;
  }

  // The Wishart prior's parameter-dependent part.
  const double gamma2 = p.wishart.gamma * p.wishart.gamma;
  T prior{};
  for (std::size_t c = 0; c < k; ++c) {
    T frobenius = detail::squared_norm(std::span<const T>(q_diagonal).subspan(c * d, d));
    if (d > 1) frobenius += detail::squared_norm(theta.subspan(lay.l(c), lay.lower_count()));
    T part = 0.5 * gamma2 * frobenius;
    if (p.wishart.m != 0) part -= double(p.wishart.m) * log_det_q[c];
    if (c == 0)
      prior = part;
    else
      prior += part;
  }

  const double n = double(p.n);
  const double constant =
      -0.5 * n * double(d) * log(2.0 * std::numbers::pi) - double(k) * wishart_constant(d, p.wishart);
  const T log_normaliser = detail::log_sum_exp(theta.subspan(0, k));
  return data_term - n * log_normaliser + prior + constant;
}

// d log p / d alpha, derived by hand: alpha_c enters each point's logsumexp
// (derivative: the point's responsibility softmax_c(term)) and the normaliser
// -n logsumexp(alpha) (derivative: -n softmax(alpha)_c); the prior does not
// depend on alpha. So g_c = sum_i softmax_c(term_i) - n softmax_c(alpha).
inline std::vector<double> alpha_gradient(const Problem& p) {
  const std::span<const double> theta(p.parameters);
  detail::check(p, theta.size(), "bench::gmm::alpha_gradient");
  const Layout& lay = p.layout;
  std::vector<double> q_diagonal, log_det_q, offset, q_rows, centred(lay.d), scaled(lay.d), term(lay.k);
  detail::prepare_components(lay, theta, q_diagonal, log_det_q, offset, q_rows);

  // softmax_c(v) = exp(v_c - logsumexp(v))
  std::vector<double> g(lay.k, 0.0);
  for (std::size_t i = 0; i < p.n; ++i) {
    detail::point_terms(lay, theta, p.x.data() + i * lay.d, q_diagonal, offset, q_rows, centred, scaled,
                        term);
    const double lse = detail::log_sum_exp(std::span<const double>(term));
    for (std::size_t c = 0; c < lay.k; ++c) g[c] += std::exp(term[c] - lse);
  }
  const double lse_alpha = detail::log_sum_exp(theta.subspan(0, lay.k));
  for (std::size_t c = 0; c < lay.k; ++c) g[c] -= double(p.n) * std::exp(theta[c] - lse_alpha);
  return g;
}

// A deterministic instance: x_i ~ U[0, 1)^d, alpha ~ N(0, 1), mu ~ U[0, 1),
// q and l ~ N(0, 0.1^2) (covariances near the identity, so every component
// holds some responsibility for the points), all from `seed`.
inline Problem make_problem(std::size_t d, std::size_t k, std::size_t n, std::uint64_t seed = 20181218) {
  Problem p;
  p.layout = {d, k};
  p.n = n;
  detail::check_sizes(p.layout, n, "bench::gmm::make_problem");
  detail::Counter rng(seed);
  p.x.resize(n * d);
  for (double& v : p.x) v = rng.uniform();
  p.parameters.resize(p.layout.size());
  const Layout& lay = p.layout;
  for (std::size_t c = 0; c < k; ++c) p.parameters[lay.alpha(c)] = rng.normal();
  for (std::size_t e = 0; e < k * d; ++e) p.parameters[lay.mu(0) + e] = rng.uniform();
  for (std::size_t e = 0; e < k * d; ++e) p.parameters[lay.q(0) + e] = 0.1 * rng.normal();
  for (std::size_t e = 0; e < k * lay.lower_count(); ++e) p.parameters[lay.l(0) + e] = 0.1 * rng.normal();
  return p;
}

}  // namespace bench::gmm
