// Newton's method against gradient descent on the Rosenbrock function
//
//   f(x) = sum_{i=1}^{n-1} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2     (minimum 0 at x = (1, ..., 1)),
//
// a curved, narrow valley that makes gradient descent crawl. From the same
// start, both methods take the step x <- x + alpha p that a backtracking
// (Armijo) line search accepts:
//   gradient descent:  p = -grad f(x)
//   Newton:            p = -(H + tau I)^{-1} grad f(x), H the Hessian from ad::hessian;
//                      tau = 0 where H is positive definite, else the smallest of
//                      1e-3, 2e-3, 4e-3, ... for which the Cholesky factorisation succeeds
//                      (a simple form of Nocedal & Wright, Algorithm 3.3), so that p is a
//                      descent direction.
// A run has converged when ||grad f|| < 1e-10. The program fails (exit 1) if Newton does not.
// Writes newton.svg: both paths over the 2-d landscape, and f per iteration.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include <autodiff/autodiff.hpp>

#include "svg_plot.hpp"
#include "tour.hpp"

namespace {

using Vector = std::vector<double>;
using Matrix = std::vector<std::vector<double>>;

// Written once for double (the line search's many evaluations, no tape) and
// ad::Var (gradient and Hessian).
template <class T>
T rosenbrock(std::span<const T> x) {
  T f{};  // 0; a default-constructed Var is a constant and records nothing
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    const T valley = x[i + 1] - x[i] * x[i], offset = 1.0 - x[i];
    f += 100.0 * valley * valley + offset * offset;
  }
  return f;
}

double value_at(const Vector& x) { return rosenbrock<double>(x); }

Vector gradient_at(const Vector& x) {
  ad::Tape tape;
  const std::vector<ad::Var> xs(x.begin(), x.end());
  return ad::gradient(rosenbrock<ad::Var>(xs), xs);  // one reverse sweep
}

Matrix hessian_at(const Vector& x) {
  // One recorded gradient, then one sweep per row: n + 1 sweeps in all.
  return ad::hessian([](std::span<const ad::Var> v) { return rosenbrock(v); }, x);
}

double dot(const Vector& a, const Vector& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
double norm(const Vector& a) { return std::sqrt(dot(a, a)); }

// The Cholesky factor L (A = L L^T, L lower triangular), or nothing when A is
// not (numerically) positive definite.
std::optional<Matrix> cholesky(const Matrix& A) {
  const std::size_t n = A.size();
  Matrix L(n, Vector(n, 0.0));
  for (std::size_t j = 0; j < n; ++j) {
    double d = A[j][j];
    for (std::size_t k = 0; k < j; ++k) d -= L[j][k] * L[j][k];
    if (!(d > 0)) return std::nullopt;
    L[j][j] = std::sqrt(d);
    for (std::size_t i = j + 1; i < n; ++i) {
      double s = A[i][j];
      for (std::size_t k = 0; k < j; ++k) s -= L[i][k] * L[j][k];
      L[i][j] = s / L[j][j];
    }
  }
  return L;
}

// Solves L L^T x = b by forward and back substitution.
Vector cholesky_solve(const Matrix& L, Vector b) {
  const std::size_t n = L.size();
  for (std::size_t i = 0; i < n; ++i) {  // L y = b
    for (std::size_t k = 0; k < i; ++k) b[i] -= L[i][k] * b[k];
    b[i] /= L[i][i];
  }
  for (std::size_t i = n; i-- > 0;) {  // L^T x = y
    for (std::size_t k = i + 1; k < n; ++k) b[i] -= L[k][i] * b[k];
    b[i] /= L[i][i];
  }
  return b;
}

struct NewtonDirection {
  Vector p;
  double tau;  // the multiple of I added to H (0: the pure Newton step)
};

// p = -(H + tau I)^{-1} g with the smallest tau that makes H + tau I positive definite.
NewtonDirection newton_direction(const Matrix& H, const Vector& g) {
  double tau = 0;
  for (;;) {
    Matrix shifted = H;
    for (std::size_t i = 0; i < H.size(); ++i) shifted[i][i] += tau;
    if (const auto L = cholesky(shifted)) {
      Vector p = cholesky_solve(*L, g);
      for (double& e : p) e = -e;
      return {p, tau};
    }
    tau = std::max(2 * tau, 1e-3);
  }
}

// Backtracking: the first alpha in 1, 1/2, 1/4, ... with sufficient decrease,
//   f(x + alpha p) <= f(x) + c1 alpha grad f(x)^T p,   c1 = 1e-4 (Armijo),
// or nothing if alpha falls below 1e-20 (p is no descent direction in floating point).
// The test allows f to rise by a few rounding errors of f: next to a minimum where
// f != 0, the decrease the model predicts is smaller than that rounding error, and
// the exact test would reject the good full Newton step and crawl on with tiny ones.
std::optional<double> armijo_step(const Vector& x, double f, const Vector& g, const Vector& p) {
  const double c1 = 1e-4, slope = dot(g, p),
               rounding = 4 * std::numeric_limits<double>::epsilon() * std::fabs(f);
  Vector trial(x.size());
  for (double alpha = 1; alpha > 1e-20; alpha /= 2) {
    for (std::size_t i = 0; i < x.size(); ++i) trial[i] = x[i] + alpha * p[i];
    if (value_at(trial) <= f + c1 * alpha * slope + rounding) return alpha;
  }
  return std::nullopt;
}

struct Run {
  std::vector<Vector> path;     // x_0, x_1, ...
  Vector f, grad_norm;          // per iterate
  std::size_t regularised = 0;  // Newton steps that needed tau > 0
  bool converged = false;
  std::string outcome;  // why it stopped
  std::size_t iterations() const { return path.size() - 1; }
};

enum class Method { gradient_descent, newton };

Run minimise(Method method, Vector x, std::size_t max_iterations, double tolerance = 1e-10) {
  Run run;
  for (std::size_t k = 0;; ++k) {
    const double f = value_at(x);
    const Vector g = gradient_at(x);
    run.path.push_back(x);
    run.f.push_back(f);
    run.grad_norm.push_back(norm(g));
    if (run.grad_norm.back() < tolerance) {
      run.converged = true;
      run.outcome = "converged";
      break;
    }
    if (k == max_iterations) {
      run.outcome = "stopped at the iteration cap";
      break;
    }
    Vector p(x.size());
    if (method == Method::newton) {
      const NewtonDirection d = newton_direction(hessian_at(x), g);
      p = d.p;
      run.regularised += d.tau > 0;
    } else {
      for (std::size_t i = 0; i < x.size(); ++i) p[i] = -g[i];
    }
    const std::optional<double> alpha = armijo_step(x, f, g, p);
    if (!alpha) {
      run.outcome = "stalled: no decrease left in double precision";
      break;
    }
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += *alpha * p[i];
  }
  return run;
}

// The classic start (-1.2, 1) in 2-d, and (-1.2, ..., -1.2) in n-d: from the
// repeated (-1.2, 1, -1.2, 1, ...) Newton finds a local minimum (see the end of main).
Vector start_point(std::size_t n) {
  if (n == 2) return {-1.2, 1.0};
  return Vector(n, -1.2);
}

// The 2-d landscape drawn as filled contours: log10(1 + f) in 6 bands, white on the
// valley floor, darker uphill (the plot colours values in [0.5, 1] from white to color_high).
tour::Plot landscape(const Run& newton, const Run& gd) {
  const double x0 = -1.5, x1 = 1.5, y0 = -0.5, y1 = 1.6;
  const std::size_t nx = 100, ny = 60;
  const double top = std::log10(1 + value_at({x0, y0}));
  std::vector<double> level(nx * ny);
  for (std::size_t j = 0; j < ny; ++j)
    for (std::size_t i = 0; i < nx; ++i) {
      const double x = x0 + (double(i) + 0.5) * (x1 - x0) / double(nx);
      const double y = y0 + (double(j) + 0.5) * (y1 - y0) / double(ny);
      const double height = std::min(1.0, std::log10(1 + value_at({x, y})) / top);
      level[j * nx + i] = 0.5 + std::ceil(6 * height) / 12;
    }
  // Every iterate of the first 500, then every 50th (the plot thins curves of
  // more than 1000 vertices evenly, which would hide GD's first steps).
  auto coordinate = [](const Run& run, std::size_t axis) {
    std::vector<double> c;
    for (std::size_t k = 0; k < run.path.size(); ++k)
      if (k < 500 || k % 50 == 0 || k + 1 == run.path.size()) c.push_back(run.path[k][axis]);
    return c;
  };
  tour::Plot plot("n = 2: the paths from (-1.2, 1)", "x1", "x2");
  plot.field(nx, ny, x0, x1, y0, y1, level, 0xffffff, 0x555555)
      .line("GD", coordinate(gd, 0), coordinate(gd, 1), "#1f77b4")
      .line("Newton", coordinate(newton, 0), coordinate(newton, 1), "#d62728")
      .scatter("", coordinate(newton, 0), coordinate(newton, 1), "#d62728");
  return plot;
}

struct Curve {
  std::vector<double> k, f;
};

// (k, f_k) for k = 0, stride, 2 stride, ... up to `last`: a few hundred vertices
// are enough for the picture (the plot would otherwise thin 20000 points evenly).
Curve f_per_iteration(const Run& run, std::size_t last, std::size_t stride) {
  Curve c;
  for (std::size_t k = 0; k < run.f.size() && k <= last; k += stride) {
    c.k.push_back(double(k));
    c.f.push_back(run.f[k]);
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) try {
  const tour::Args args(argc, argv);
  const auto out = args.out_dir();
  const std::size_t newton_cap = 1000, gd_cap = args.smoke() ? 2000 : 20000;
  const std::vector<std::size_t> dimensions =
      args.smoke() || args.quick() ? std::vector<std::size_t>{2, 10} : std::vector<std::size_t>{2, 10, 100};

  fmt::print(
      "Rosenbrock, f(x) = sum_i 100 (x_(i+1) - x_i^2)^2 + (1 - x_i)^2, from (-1.2, 1) in 2-d and from\n"
      "(-1.2, ..., -1.2) in n-d; Armijo backtracking for both methods; converged when ||grad f|| < 1e-10;\n"
      "gradient descent (GD) stops after {} iterations, Newton after {}.\n\n",
      gd_cap, newton_cap);
  fmt::print("{:>4}  {:<7} {:>10} {:>12} {:>12}  {}\n", "n", "method", "iterations", "f", "||grad f||",
             "outcome");
  std::vector<Run> newton_runs, gd_runs;
  for (std::size_t n : dimensions) {
    newton_runs.push_back(minimise(Method::newton, start_point(n), newton_cap));
    gd_runs.push_back(minimise(Method::gradient_descent, start_point(n), gd_cap));
    for (const Run* run : {&newton_runs.back(), &gd_runs.back()})
      fmt::print("{:>4}  {:<7} {:>10} {:>12.3e} {:>12.3e}  {}{}\n", n,
                 run == &gd_runs.back() ? "GD" : "Newton", run->iterations(), run->f.back(),
                 run->grad_norm.back(), run->outcome,
                 run->regularised ? fmt::format(" ({} steps with H + tau I)", run->regularised) : "");
  }

  // Near the minimum, ||grad f|| roughly squares from one Newton step to the next
  // (quadratic convergence), where gradient descent gains a constant factor per step.
  const Run& newton2 = newton_runs.front();
  fmt::print("\nNewton in 2-d, step by step:\n{:>4} {:>22} {:>12} {:>12}\n", "k", "x_k", "f", "||grad f||");
  for (std::size_t k = 0; k < newton2.path.size(); ++k)
    fmt::print("{:>4} ({:>9.6f}, {:>9.6f}) {:>12.3e} {:>12.3e}\n", k, newton2.path[k][0], newton2.path[k][1],
               newton2.f[k], newton2.grad_norm[k]);

  // Newton converges to a minimum near its path, not necessarily the global one:
  // for n >= 4 this f also has a local minimum near (-1, 1, ..., 1), f ~ 3.99,
  // and the start (-1.2, 1, -1.2, 1, ...) leads there.
  const std::size_t n_last = dimensions.back();
  Vector alternating(n_last);
  for (std::size_t i = 0; i < n_last; ++i) alternating[i] = i % 2 == 0 ? -1.2 : 1.0;
  const Run local = minimise(Method::newton, alternating, newton_cap);
  fmt::print(
      "\nNewton from (-1.2, 1, -1.2, 1, ...) in {}-d: {} after {} iterations ({} with H + tau I) to\n"
      "f = {:.4f}, x_1 = {:.4f}: a local minimum\n",
      n_last, local.outcome, local.iterations(), local.regularised, local.f.back(), local.path.back()[0]);

  // f per iteration: Newton's few steps in the middle panel, GD's long crawl on the right.
  tour::Plot first("f, the first 200 iterations", "iteration", "f"),
      all("f, all iterations", "iteration", "f");
  first.log_y().limits(0, 200, 1e-25, 1e4);
  all.log_y().limits(0, double(gd_cap), 1e-25, 1e4);
  for (std::size_t d : {std::size_t{0}, dimensions.size() - 1}) {  // the smallest and the largest n
    const std::string n = fmt::format("n = {}", dimensions[d]);
    const char* color_newton = d == 0 ? "#d62728" : "#ff9896";
    const char* color_gd = d == 0 ? "#1f77b4" : "#9ecae1";
    for (auto [plot, last, stride] :
         {std::tuple{&first, std::size_t{200}, std::size_t{1}}, std::tuple{&all, gd_cap, gd_cap / 400}}) {
      const bool legend = plot == &first;
      const Curve newton = f_per_iteration(newton_runs[d], last, 1),
                  gd = f_per_iteration(gd_runs[d], last, stride);
      plot->line(legend ? "Newton, " + n : "", newton.k, newton.f, color_newton)
          .line(legend ? "GD, " + n : "", gd.k, gd.f, color_gd);
    }
  }
  const auto path = out / "newton.svg";
  tour::write_panels(path, {landscape(newton2, gd_runs.front()), first, all}, 480, 400);
  tour::wrote(path, "both paths on the 2-d landscape; f per iteration");

  bool newton_converged = true;
  for (const Run& run : newton_runs) newton_converged = newton_converged && run.converged;
  if (!newton_converged) {
    std::fprintf(stderr, "newton: Newton's method did not converge\n");
    return 1;
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "newton: %s\n", e.what());
  return 1;
}
