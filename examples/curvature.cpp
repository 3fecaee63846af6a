// The curvature of a network's loss: the extreme eigenvalues of its Hessian
//
//   H = d^2 C / d theta^2,   C(theta) = 1/(2N) sum_i (f(x_i; theta) - y_i)^2,
//
// for a 1-8-1 tanh network (25 parameters theta) while full-batch gradient
// descent trains it. The estimate never forms H: power iteration needs only
// Hessian-vector products H v = d/d theta (grad C . v), and ad::hvp computes
// one from a recorded gradient and one more sweep, whatever the number of
// parameters.
//   one end:    power iteration v <- H v / ||H v|| turns v towards the
//               eigenvector of the eigenvalue of largest |lambda|; the
//               Rayleigh quotient v^T H v (||v|| = 1) estimates that eigenvalue.
//   other end:  the same on H - lambda I (the standard shift): its eigenvalues
//               lambda_i - lambda all have one sign, so the largest in size is
//               the one of the other end of the spectrum.
// Both are checked against the whole spectrum: H assembled column by column
// from n products H e_j, then every eigenvalue by the cyclic Jacobi method.
// The program fails (exit 1) if the two disagree.
//
// Why lambda_max matters to gradient descent: near a minimum C is about
// quadratic, and a step theta <- theta - eta grad C multiplies the error along
// an eigenvector of H by (1 - eta lambda); that stays below 1 in size only
// while eta < 2 / lambda_max. With eta = 0.5 the start breaks that bound.
// Writes curvature.svg: lambda_max along training against 2 / eta, and the
// whole spectrum at the end (|lambda|, log scale).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

#include "svg_plot.hpp"
#include "tour.hpp"

namespace {

using Vector = std::vector<double>;
using Matrix = std::vector<Vector>;

double dot(const Vector& a, const Vector& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
double norm(const Vector& a) { return std::sqrt(dot(a, a)); }
void normalise(Vector& a) {
  const double length = norm(a);
  for (double& e : a) e /= length;
}

// The loss's Hessian as an operator on flat vectors (in the order of
// net.flat_parameters()): H v by one ad::hvp.
class Hessian {
 public:
  Hessian(const nn::Network& net, const ad::Tensor& X, const ad::Tensor& Y) : net_(net), X_(X), Y_(Y) {}

  std::size_t dimension() const { return net_.parameter_count(); }
  Vector times(const Vector& v) {
    const std::vector<ad::Tensor> params = net_.parameters();
    std::vector<ad::Tensor> direction;  // v cut into tensors shaped like the parameters
    std::size_t offset = 0;
    for (const ad::Tensor& p : params) {
      const auto first = v.begin() + static_cast<std::ptrdiff_t>(offset);
      direction.push_back(
          ad::Tensor::from(p.shape(), Vector(first, first + static_cast<std::ptrdiff_t>(p.numel()))));
      offset += p.numel();
    }
    const std::vector<ad::Tensor> Hv = ad::hvp([&] { return nn::mse_loss(net_(X_), Y_); }, params, direction);
    Vector flat;
    for (const ad::Tensor& t : Hv) flat.insert(flat.end(), t.values().begin(), t.values().end());
    return flat;
  }

 private:
  const nn::Network& net_;
  const ad::Tensor& X_;
  const ad::Tensor& Y_;
};

// The eigenvalue of H - shift I of largest size, by power iteration from
// `v`; stops when the Rayleigh quotient changes by less than 1e-10 of itself,
// or after `cap` products.
struct PowerIteration {
  double eigenvalue = 0;
  Vector direction;  // its eigenvector (approximately), ||direction|| = 1
  std::size_t products = 0;
  bool converged = false;
};

PowerIteration power_iteration(Hessian& H, double shift, Vector v, std::size_t cap) {
  normalise(v);
  PowerIteration result;
  for (std::size_t k = 1; k <= cap; ++k) {
    Vector w = H.times(v);
    for (std::size_t i = 0; i < v.size(); ++i) w[i] -= shift * v[i];
    const double rayleigh = dot(v, w), previous = result.eigenvalue;
    result.eigenvalue = rayleigh;
    result.products = k;
    v = w;
    normalise(v);
    if (k > 1 && std::fabs(rayleigh - previous) < 1e-10 * std::fabs(rayleigh)) {
      result.converged = true;
      break;
    }
  }
  result.direction = v;
  return result;
}

Vector random_direction(std::size_t n, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  Vector v(n);
  for (double& e : v) e = normal(rng);
  return v;
}

struct Extremes {
  double lambda_max = 0, lambda_min = 0;
  PowerIteration dominant, shifted;  // the two runs: largest |lambda|, then on H - lambda I
};

// Both ends of the spectrum from Hessian-vector products only.
Extremes extreme_eigenvalues(Hessian& H, std::mt19937_64& rng, std::size_t cap) {
  Extremes e;
  e.dominant = power_iteration(H, 0.0, random_direction(H.dimension(), rng), cap);
  e.shifted = power_iteration(H, e.dominant.eigenvalue, random_direction(H.dimension(), rng), cap);
  const double one_end = e.dominant.eigenvalue, other_end = e.dominant.eigenvalue + e.shifted.eigenvalue;
  e.lambda_max = std::max(one_end, other_end);
  e.lambda_min = std::min(one_end, other_end);
  return e;
}

// H assembled from its columns H e_j: n products.
Matrix assemble(Hessian& H) {
  const std::size_t n = H.dimension();
  Matrix columns(n);
  for (std::size_t j = 0; j < n; ++j) {
    Vector unit(n, 0.0);
    unit[j] = 1.0;
    columns[j] = H.times(unit);
  }
  Matrix A(n, Vector(n));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) A[i][j] = columns[j][i];
  return A;
}

// Every eigenvalue of the symmetric A, ascending, by the cyclic Jacobi method
// (Golub & Van Loan, Algorithm 8.5.3): sweep over the pairs p < q, each time
// rotating in the (p, q) plane by the angle that zeroes a_pq,
//   tau = (a_qq - a_pp) / (2 a_pq),  t = sign(tau) / (|tau| + sqrt(1 + tau^2)),
//   c = 1 / sqrt(1 + t^2),  s = t c,   A <- J^T A J,
// until the off-diagonal part is negligible; the diagonal is then the spectrum.
Vector jacobi_eigenvalues(Matrix A) {
  const std::size_t n = A.size();
  auto off_diagonal = [&] {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j)
        if (i != j) s += A[i][j] * A[i][j];
    return std::sqrt(s);
  };
  double frobenius = 0;
  for (const Vector& row : A) frobenius += dot(row, row);
  frobenius = std::sqrt(frobenius);
  for (int sweep = 0; sweep < 100 && off_diagonal() > 1e-15 * frobenius; ++sweep) {
    for (std::size_t p = 0; p + 1 < n; ++p)
      for (std::size_t q = p + 1; q < n; ++q) {
        if (A[p][q] == 0) continue;
        const double tau = (A[q][q] - A[p][p]) / (2 * A[p][q]);
        const double t = (tau >= 0 ? 1.0 : -1.0) / (std::fabs(tau) + std::sqrt(1 + tau * tau));
        const double c = 1 / std::sqrt(1 + t * t), s = t * c;
        for (std::size_t k = 0; k < n; ++k) {  // A <- A J: columns p and q
          const double akp = A[k][p], akq = A[k][q];
          A[k][p] = c * akp - s * akq;
          A[k][q] = s * akp + c * akq;
        }
        for (std::size_t k = 0; k < n; ++k) {  // A <- J^T A: rows p and q
          const double apk = A[p][k], aqk = A[q][k];
          A[p][k] = c * apk - s * aqk;
          A[q][k] = s * apk + c * aqk;
        }
      }
  }
  Vector eigenvalues(n);
  for (std::size_t i = 0; i < n; ++i) eigenvalues[i] = A[i][i];
  std::sort(eigenvalues.begin(), eigenvalues.end());
  return eigenvalues;
}

double loss_at(const nn::Network& net, const ad::Tensor& X, const ad::Tensor& Y) {
  ad::NoGrad off;
  return nn::mse_loss(net(X), Y).item();
}

// One row of the table: the curvature at one step of training.
struct Snapshot {
  std::size_t step = 0;
  double loss = 0;
  Extremes power;
  Vector spectrum;       // every eigenvalue (Jacobi), ascending
  double asymmetry = 0;  // max |H_ij - H_ji| of the assembled H
};

Snapshot measure(std::size_t step, const nn::Network& net, const ad::Tensor& X, const ad::Tensor& Y,
                 std::mt19937_64& rng, std::size_t cap) {
  Snapshot s;
  s.step = step;
  s.loss = loss_at(net, X, Y);
  Hessian H(net, X, Y);
  s.power = extreme_eigenvalues(H, rng, cap);
  Matrix A = assemble(H);
  for (std::size_t i = 0; i < A.size(); ++i)
    for (std::size_t j = 0; j < i; ++j) {
      s.asymmetry = std::max(s.asymmetry, std::fabs(A[i][j] - A[j][i]));
      A[i][j] = A[j][i] = (A[i][j] + A[j][i]) / 2;
    }
  s.spectrum = jacobi_eigenvalues(A);
  return s;
}

}  // namespace

int main(int argc, char** argv) try {
  const tour::Args args(argc, argv);
  const auto out = args.out_dir();
  const std::size_t steps = args.smoke() ? 200 : args.quick() ? 4000 : 20000;
  const std::size_t cap = 20000;  // products per power iteration
  const double learning_rate = 0.5;

  // 24 noisy samples of sin(x) on [-2, 2].
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0.0, 0.1);
  const std::size_t n_samples = 24;
  Vector xs(n_samples), ys(n_samples);
  for (std::size_t i = 0; i < n_samples; ++i) {
    xs[i] = -2 + 4 * double(i) / double(n_samples - 1);
    ys[i] = std::sin(xs[i]) + noise(rng);
  }
  const ad::Tensor X = ad::Tensor::from({n_samples, 1}, xs), Y = ad::Tensor::from({n_samples, 1}, ys);

  nn::Network net({1, 8, 1}, nn::Activation::tanh, nn::Activation::identity, rng);  // N(0, 1) weights
  nn::GradientDescent opt(net.parameters(), learning_rate);
  fmt::print(
      "1-8-1 tanh network ({} parameters), {} samples of sin(x) + noise, loss C = 1/(2N) sum (f - y)^2,\n"
      "full-batch gradient descent with eta = {} for {} steps. lambda: eigenvalues of the Hessian of C,\n"
      "by power iteration (H v products only) and by cyclic Jacobi on the whole H ({} products H e_j).\n\n",
      net.parameter_count(), n_samples, learning_rate, steps, net.parameter_count());

  // The table's rows; steps 4, 8 and 12 see the loss spike of the first steps.
  std::vector<std::size_t> checkpoints{0, 4, 8, 12, steps / 10, steps / 2, steps};
  checkpoints.erase(std::unique(checkpoints.begin(), checkpoints.end()), checkpoints.end());
  // lambda_max after every step of the first 40, then 200 times more: power
  // iteration started from the previous eigenvector needs few products.
  const std::size_t early = 40, stride = std::max<std::size_t>(1, steps / 200);
  Vector track_step, track_loss, track_lambda_max, top = random_direction(net.parameter_count(), rng);

  std::vector<Snapshot> snapshots;
  for (std::size_t step = 0;; ++step) {
    if (std::find(checkpoints.begin(), checkpoints.end(), step) != checkpoints.end())
      snapshots.push_back(measure(step, net, X, Y, rng, cap));
    if (step <= early || step % stride == 0) {
      Hessian H(net, X, Y);
      const PowerIteration p = power_iteration(H, 0.0, top, cap);
      top = p.direction;
      track_step.push_back(double(step));
      track_loss.push_back(loss_at(net, X, Y));
      track_lambda_max.push_back(p.eigenvalue);
    }
    if (step == steps) break;
    opt.zero_grad();
    nn::mse_loss(net(X), Y).backward();
    opt.step();
  }

  fmt::print("{:>6} {:>10} | {:>10} {:>10} | {:>11} {:>11} | {:>11} | {:>7}\n", "step", "loss C",
             "lambda_max", "(Jacobi)", "lambda_min", "(Jacobi)", "H v", "2/l_max");
  bool agree = true;
  double error_max = 0, error_min = 0;
  for (const Snapshot& s : snapshots) {
    const double jacobi_max = s.spectrum.back(), jacobi_min = s.spectrum.front();
    const double width = jacobi_max - jacobi_min;
    // The dominant end converges by the factor |lambda_2 / lambda_1| per
    // product and comes out to 1e-8 of the spectrum's width or better. The
    // other end converges by (lambda_max - lambda') / (lambda_max - lambda_min)
    // per product, lambda' its neighbour: after training the bottom of the
    // spectrum is a crowd of eigenvalues within 1e-3 of the width of each
    // other, that factor is 1 - 1e-5 or so, and the cap stops the iteration
    // with the Rayleigh quotient somewhere inside the crowd; we ask for 1e-3
    // of the width there.
    const bool ok = std::fabs(s.power.lambda_max - jacobi_max) <= 1e-8 * width &&
                    std::fabs(s.power.lambda_min - jacobi_min) <= 1e-3 * width;
    agree = agree && ok;
    error_max = std::max(error_max, std::fabs(s.power.lambda_max - jacobi_max));
    error_min = std::max(error_min, std::fabs(s.power.lambda_min - jacobi_min));
    fmt::print("{:>6} {:>10.4e} | {:>10.6g} {:>10.6g} | {:>11.5g} {:>11.5g} | {:>11} | {:>7.4g}{}\n", s.step,
               s.loss, s.power.lambda_max, jacobi_max, s.power.lambda_min, jacobi_min,
               fmt::format("{}+{}{}", s.power.dominant.products, s.power.shifted.products,
                           s.power.shifted.converged ? "" : "*"),
               2 / jacobi_max, ok ? "" : "  DISAGREE");
  }
  double asymmetry = 0;
  for (const Snapshot& s : snapshots) asymmetry = std::max(asymmetry, s.asymmetry);
  fmt::print(
      "H v: products for the dominant end + for the other end (* stopped by the cap of {}: the\n"
      "other end lies in a crowd of eigenvalues near 0, and power iteration crawls there).\n"
      "Largest |power iteration - Jacobi|: {:.1e} for lambda_max, {:.1e} for lambda_min.\n"
      "max |H_ij - H_ji| of the assembled Hessians: {:.1e} (H is symmetric up to rounding).\n\n",
      cap, error_max, error_min, asymmetry);

  // Gradient descent is stable near a minimum only while eta < 2 / lambda_max.
  const std::size_t spike =
      std::size_t(std::max_element(track_loss.begin(), track_loss.begin() + early) - track_loss.begin());
  const std::size_t flattest = std::size_t(
      std::min_element(track_lambda_max.begin(), track_lambda_max.end()) - track_lambda_max.begin());
  const double first = snapshots.front().spectrum.back(), last = snapshots.back().spectrum.back();
  fmt::print(
      "Gradient descent is stable near a minimum only while eta < 2 / lambda_max. Here eta = {} and\n"
      "2 / lambda_max = {:.3f} at the start: the step is too long for the sharpest direction, the loss\n"
      "shoots up (to {:.2f} at step {}) and gradient descent lands in a flatter region (lambda_max =\n"
      "{:.3f} at step {}, the least along training); from there training sharpens the loss again, up\n"
      "to lambda_max = {:.3f} at step {}, towards 2 / eta = {:.1f}: the catapult and the edge of\n"
      "stability (Lewkowycz et al. 2020; Cohen et al. 2021).\n",
      learning_rate, 2 / first, track_loss[spike], track_step[spike], track_lambda_max[flattest],
      track_step[flattest], last, snapshots.back().step, 2 / learning_rate);

  // The pictures: lambda_max along training against 2 / eta, and the whole
  // spectrum at the end as |lambda| on a log scale (most eigenvalues crowd
  // near 0, a few stand out).
  const Vector edge_x{0, double(steps)}, edge_y{2 / learning_rate, 2 / learning_rate};
  auto lambda_max_plot = [&](const std::string& title, std::size_t last_step) {
    Vector x, y;
    for (std::size_t k = 0; k < track_step.size() && track_step[k] <= double(last_step); ++k) {
      x.push_back(track_step[k]);
      y.push_back(track_lambda_max[k]);
    }
    tour::Plot plot(title, "step", "lambda_max");
    plot.limits(0, double(last_step), 0, 1.25 * std::max(first, 2 / learning_rate))
        .line("2 / eta", edge_x, edge_y, "#999999")
        .line("lambda_max", x, y, "#1f77b4");
    return plot;
  };
  const Vector& spectrum = snapshots.back().spectrum;
  Vector positive_index, positive, negative_index, negative;
  for (std::size_t i = 0; i < spectrum.size(); ++i) {
    (spectrum[i] >= 0 ? positive_index : negative_index).push_back(double(i + 1));
    (spectrum[i] >= 0 ? positive : negative).push_back(std::fabs(spectrum[i]));
  }
  tour::Plot magnitude(fmt::format("the spectrum at step {}", steps), "index (ascending lambda)", "|lambda|");
  magnitude.log_y()
      .scatter("lambda >= 0", positive_index, positive, "#1f77b4")
      .scatter("lambda < 0", negative_index, negative, "#d62728");
  const auto path = out / "curvature.svg";
  tour::write_panels(path,
                     {lambda_max_plot(fmt::format("lambda_max, the first {} steps", early), early),
                      lambda_max_plot("lambda_max, all steps", steps), magnitude},
                     480, 400);
  tour::wrote(path, "lambda_max along training against 2 / eta; the spectrum at the end");

  if (!agree) {
    std::fprintf(stderr, "curvature: power iteration and Jacobi disagree\n");
    return 1;
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "curvature: %s\n", e.what());
  return 1;
}
