// Specification: the generic reverse sweep over a network's tape computes the
// same gradients as the textbook's hand-written backpropagation
// (nn::backprop_reference), for any depth, width and activation.
//
// Measures, per parameter tensor G = dC/dW^L or dC/db^L (tape a, reference b):
//   - normwise (asserted <= 1e-12):
//       max_k |a_k - b_k| / max_k max(|a_k|, |b_k|),
//     over tensors whose largest magnitude exceeds 1e-200, with an absolute
//     floor: a tensor whose largest |a_k - b_k| is <= 1e-15 counts as 0;
//   - entrywise (reported, and held to a looser 1e-8):
//       |a_k - b_k| / max(|a_k|, |b_k|, 1e-300) where max(|a_k|, |b_k|) > 1e-200
//     and |a_k - b_k| > 1e-15.
// Why the assertion is normwise: the tape's matrix products and the reference's
// loops sum in different orders, so each entry carries rounding of order
// n * eps * sum_i |term_i|; an entry that is the sum of large terms of opposite
// sign (cancellation) can lose 1e-11 relative on its own while the tensor as a
// whole agrees to about 1e-14. Random data makes such entries rare but, over
// ~2.5e5 entries, certain.
// The largest values over the whole randomized suite are printed by the last
// test case.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

constexpr double relative_tolerance = 1e-12;
constexpr double entrywise_tolerance = 1e-8;
constexpr double absolute_floor = 1e-15;
// Entry by entry, an entry is measured against at least this fraction of its
// tensor's largest entry. The tape's tanh and logistic come from vectorised
// kernels (within 1 ulp of std::, which the reference evaluates), so an entry
// that is the cancellation of terms a million times larger than itself can
// legitimately differ in its leading digits; the normwise measure above is
// unaffected (both are sums of the same products).
constexpr double entry_floor_fraction = 1e-6;

struct Agreement {
  double max_normwise = 0.0;  // the asserted measure
  double max_entrywise = 0.0;
  std::size_t entries = 0;    // gradient entries compared
  std::size_t entries_above_1e12 = 0;
  std::string worst_normwise, worst_entrywise;

  void merge(double normwise, double entrywise, const std::string& tensor, const std::string& entry) {
    if (normwise > max_normwise) {
      max_normwise = normwise;
      worst_normwise = tensor;
    }
    if (entrywise > max_entrywise) {
      max_entrywise = entrywise;
      worst_entrywise = entry;
    }
  }
};

// The suite-wide record, reported at the end.
Agreement& suite() {
  static Agreement record;
  return record;
}

double entrywise_difference(double a, double b, double floor) {
  const double difference = std::fabs(a - b);
  const double magnitude = std::max({std::fabs(a), std::fabs(b), floor, 1e-300});
  if (difference <= absolute_floor || magnitude <= 1e-200) return 0.0;
  return difference / magnitude;
}

// Compares one gradient tensor, adding to `local` and to the suite's record.
void compare_tensor(Agreement& local, std::span<const double> tape, const std::vector<double>& reference,
                    const std::string& label) {
  REQUIRE(tape.size() == reference.size());
  double largest = 0.0, largest_difference = 0.0, worst_entry = 0.0;
  std::size_t worst_k = 0;
  for (std::size_t k = 0; k < tape.size(); ++k) {
    largest = std::max({largest, std::fabs(tape[k]), std::fabs(reference[k])});
    largest_difference = std::max(largest_difference, std::fabs(tape[k] - reference[k]));
  }
  for (std::size_t k = 0; k < tape.size(); ++k) {
    const double e = entrywise_difference(tape[k], reference[k], entry_floor_fraction * largest);
    if (e > relative_tolerance) {
      ++local.entries_above_1e12;
      ++suite().entries_above_1e12;
    }
    if (e > worst_entry) {
      worst_entry = e;
      worst_k = k;
    }
  }
  local.entries += tape.size();
  suite().entries += tape.size();
  const double normwise =
      largest_difference <= absolute_floor || largest <= 1e-200 ? 0.0 : largest_difference / largest;
  const std::string tensor =
      fmt::format("{}: max |difference| {:.3g}, max |entry| {:.3g}", label, largest_difference, largest);
  const std::string entry = fmt::format("{}[{}]: tape {:.17g} reference {:.17g}", label, worst_k, tape[worst_k],
                                        reference[worst_k]);
  local.merge(normwise, worst_entry, tensor, entry);
  suite().merge(normwise, worst_entry, tensor, entry);
}

// Compares the tape's parameter gradients with the reference.
Agreement compare(const nn::Network& net, const std::vector<nn::LayerGradient>& reference, const std::string& label) {
  Agreement local;
  REQUIRE(reference.size() == net.depth());
  for (std::size_t L = 0; L < net.depth(); ++L) {
    const ad::Tensor gW = net.layers()[L].weights().grad();
    const ad::Tensor gb = net.layers()[L].bias().grad();
    compare_tensor(local, gW.values(), reference[L].weights, fmt::format("{} dC/dW^{}", label, L + 1));
    compare_tensor(local, gb.values(), reference[L].bias, fmt::format("{} dC/db^{}", label, L + 1));
  }
  return local;
}

// Both measures within their tolerances.
void check_agreement(const Agreement& a) {
  INFO(a.worst_normwise);
  CHECK(a.max_normwise <= relative_tolerance);
  INFO(a.worst_entrywise);
  CHECK(a.max_entrywise <= entrywise_tolerance);
}

// The activation setups the suite covers: every activation, Heaviside once
// per gradient policy.
struct Setup {
  nn::Activation psi;
  nn::HeavisideGradient policy;
};

std::vector<Setup> every_setup() {
  using nn::Activation;
  using nn::HeavisideGradient;
  return {{Activation::identity, HeavisideGradient::zero},
          {Activation::tanh, HeavisideGradient::zero},
          {Activation::logistic, HeavisideGradient::zero},
          {Activation::softsign, HeavisideGradient::zero},
          {Activation::relu, HeavisideGradient::zero},
          {Activation::softplus, HeavisideGradient::zero},
          {Activation::leaky_relu, HeavisideGradient::zero},
          {Activation::elu, HeavisideGradient::zero},
          {Activation::gelu, HeavisideGradient::zero},
          {Activation::silu, HeavisideGradient::zero},
          {Activation::heaviside, HeavisideGradient::zero},
          {Activation::heaviside, HeavisideGradient::straight_through},
          {Activation::heaviside, HeavisideGradient::logistic_surrogate}};
}

std::vector<std::size_t> random_sizes(std::size_t depth, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::size_t> width(1, 32);
  std::vector<std::size_t> sizes;
  for (std::size_t L = 0; L <= depth; ++L) sizes.push_back(width(rng));
  return sizes;
}

nn::Init random_init(std::mt19937_64& rng) {
  const nn::Init inits[] = {nn::Init::normal, nn::Init::xavier, nn::Init::he};
  return inits[std::uniform_int_distribution<int>(0, 2)(rng)];
}

// Builds a network layer by layer; `neuron_activation` picks each neuron's psi.
template <class Pick>
nn::Network build(const std::vector<std::size_t>& sizes, nn::HeavisideGradient policy, nn::Init init,
                  std::mt19937_64& rng, Pick neuron_activation) {
  std::vector<nn::Dense> layers;
  for (std::size_t L = 1; L < sizes.size(); ++L) {
    std::vector<nn::Activation> per_neuron;
    for (std::size_t j = 0; j < sizes[L]; ++j) per_neuron.push_back(neuron_activation(L, j));
    nn::Dense layer(sizes[L - 1], sizes[L], per_neuron, rng, init);
    layer.set_heaviside_gradient(policy);
    layers.push_back(std::move(layer));
  }
  return nn::Network(std::move(layers));
}

// One comparison on a batch X [N, n_0], Y [N, n_d]: C = mse_loss on the tape
// against the reference.
Agreement check_batch(const nn::Network& net, std::size_t batch, std::mt19937_64& rng, const std::string& label) {
  const std::vector<std::size_t> sizes = net.sizes();
  const ad::Tensor X = ad::Tensor::randn({batch, sizes.front()}, rng);
  const ad::Tensor Y = ad::Tensor::randn({batch, sizes.back()}, rng);
  for (auto p : net.parameters()) p.zero_grad();
  nn::mse_loss(net(X), Y).backward();
  return compare(net, nn::backprop_reference(net, X, Y), label);
}

// One sample fed as a rank-1 vector x [n_0] (the layer's single-sample path):
// C = 1/2 ||f(x) - y||^2, the reference's loss for N = 1.
Agreement check_single(const nn::Network& net, std::mt19937_64& rng, const std::string& label) {
  const std::vector<std::size_t> sizes = net.sizes();
  const ad::Tensor x = ad::Tensor::randn({sizes.front()}, rng);
  const ad::Tensor y = ad::Tensor::randn({sizes.back()}, rng);
  for (auto p : net.parameters()) p.zero_grad();
  const ad::Tensor f = net(x);
  REQUIRE(f.shape() == ad::Shape{sizes.back()});
  (ad::sum(ad::square(f - y)) * 0.5).backward();
  const ad::Tensor X = ad::reshape(x, ad::Shape{1, sizes.front()});
  const ad::Tensor Y = ad::reshape(y, ad::Shape{1, sizes.back()});
  return compare(net, nn::backprop_reference(net, X, Y), label);
}

std::string describe(const std::vector<std::size_t>& sizes) {
  return fmt::format("sizes {}", fmt::join(sizes, "-"));
}

}  // namespace

TEST_CASE("tape gradients equal the reference for every activation, depth 1-6 and width 1-32, on batches") {
  std::mt19937_64 rng(20240611);
  for (const Setup& s : every_setup()) {
    for (std::size_t depth = 1; depth <= 6; ++depth) {
      for (int repeat = 0; repeat < 2; ++repeat) {
        const auto sizes = random_sizes(depth, rng);
        // Hidden layers and the output use psi; half of the networks end in an
        // identity output so that gradients reach the hidden layers even when
        // psi is a zero-gradient step.
        const nn::Activation output = repeat == 0 ? s.psi : nn::Activation::identity;
        const nn::Network net = build(sizes, s.policy, random_init(rng), rng,
                                      [&](std::size_t L, std::size_t) { return L == depth ? output : s.psi; });
        const std::size_t batch = std::uniform_int_distribution<std::size_t>(2, 9)(rng);
        const std::string label = fmt::format("{} ({}), {}, output {}, batch {}", nn::name(s.psi),
                                              static_cast<int>(s.policy), describe(sizes), nn::name(output), batch);
        const Agreement a = check_batch(net, batch, rng, label);
        check_agreement(a);
      }
    }
  }
}

TEST_CASE("tape gradients equal the reference for every activation on a single sample") {
  std::mt19937_64 rng(77);
  for (const Setup& s : every_setup()) {
    for (std::size_t depth = 1; depth <= 6; ++depth) {
      const auto sizes = random_sizes(depth, rng);
      const nn::Network net = build(sizes, s.policy, random_init(rng), rng, [&](std::size_t L, std::size_t) {
        return L == depth ? nn::Activation::identity : s.psi;
      });
      const std::string label =
          fmt::format("single sample, {} ({}), {}", nn::name(s.psi), static_cast<int>(s.policy), describe(sizes));
      const Agreement a = check_single(net, rng, label);
      check_agreement(a);
    }
  }
}

TEST_CASE("tape gradients equal the reference with mixed per-neuron activations") {
  std::mt19937_64 rng(4242);
  std::uniform_int_distribution<std::size_t> pick(0, std::size(nn::all_activations) - 1);
  const nn::HeavisideGradient policies[] = {nn::HeavisideGradient::zero, nn::HeavisideGradient::straight_through,
                                            nn::HeavisideGradient::logistic_surrogate};
  for (nn::HeavisideGradient policy : policies) {
    for (std::size_t depth = 1; depth <= 6; ++depth) {
      for (int repeat = 0; repeat < 3; ++repeat) {
        const auto sizes = random_sizes(depth, rng);
        const nn::Network net = build(sizes, policy, random_init(rng), rng,
                                      [&](std::size_t, std::size_t) { return nn::all_activations[pick(rng)]; });
        const std::string label = fmt::format("mixed, policy {}, {}", static_cast<int>(policy), describe(sizes));
        {
          const std::size_t batch = std::uniform_int_distribution<std::size_t>(2, 9)(rng);
          const Agreement a = check_batch(net, batch, rng, label + fmt::format(", batch {}", batch));
          check_agreement(a);
        }
        {
          const Agreement a = check_single(net, rng, label + ", single sample");
          check_agreement(a);
        }
      }
    }
  }
}

TEST_CASE("a layer with every activation side by side is differentiated per neuron") {
  // Six neurons, one of each activation, in a hidden layer and in the output.
  std::mt19937_64 rng(5);
  const std::vector<nn::Activation> each(std::begin(nn::all_activations), std::end(nn::all_activations));
  for (nn::HeavisideGradient policy : {nn::HeavisideGradient::straight_through, nn::HeavisideGradient::logistic_surrogate}) {
    std::vector<nn::Dense> layers;
    layers.emplace_back(3, each.size(), each, rng);
    layers.emplace_back(each.size(), each.size(), each, rng);
    for (auto& layer : layers) layer.set_heaviside_gradient(policy);
    const nn::Network net(std::move(layers));
    const Agreement a = check_batch(net, 5, rng, fmt::format("one of each, policy {}", static_cast<int>(policy)));
    check_agreement(a);
    // The surrogate policies let a non-zero gradient through every neuron, so
    // no layer's gradient is identically zero.
    for (const auto& layer : net.layers()) {
      const ad::Tensor g = layer.weights().grad();
      CHECK(std::any_of(g.values().begin(), g.values().end(), [](double v) { return v != 0.0; }));
    }
  }
}

TEST_CASE("the Heaviside step passes no gradient under the zero policy and some under the surrogates") {
  std::mt19937_64 rng(9);
  const ad::Tensor X = ad::Tensor::randn({6, 4}, rng);
  const ad::Tensor Y = ad::Tensor::randn({6, 1}, rng);
  for (nn::HeavisideGradient policy : {nn::HeavisideGradient::zero, nn::HeavisideGradient::straight_through,
                                       nn::HeavisideGradient::logistic_surrogate}) {
    std::mt19937_64 init(3);
    nn::Network net({4, 5, 1}, nn::Activation::heaviside, nn::Activation::identity, init);
    for (auto& layer : net.layers()) layer.set_heaviside_gradient(policy);
    nn::mse_loss(net(X), Y).backward();
    const ad::Tensor g = net.layers()[0].weights().grad();
    const bool any = std::any_of(g.values().begin(), g.values().end(), [](double v) { return v != 0.0; });
    CHECK(any == (policy != nn::HeavisideGradient::zero));
    // Whatever the policy, the forward value is the step itself.
    const auto trace = net.forward_trace(X);
    for (std::size_t k = 0; k < trace.z[1].numel(); ++k)
      CHECK(trace.z[1].values()[k] == (trace.a[1].values()[k] >= 0.0 ? 1.0 : 0.0));
  }
}

TEST_CASE("float networks' tape gradients agree with the double reference to float precision") {
  std::mt19937_64 rng(11);
  nn::NetworkT<float> net({3, 8, 8, 2}, nn::Activation::tanh, nn::Activation::identity, rng, nn::Init::xavier);
  const ad::TensorF X = ad::TensorF::randn({5, 3}, rng);
  const ad::TensorF Y = ad::TensorF::randn({5, 2}, rng);
  nn::mse_loss(net(X), Y).backward();
  const auto reference = nn::backprop_reference(net, X, Y);
  for (std::size_t L = 0; L < net.depth(); ++L) {
    const ad::TensorF g = net.layers()[L].weights().grad();
    for (std::size_t k = 0; k < g.numel(); ++k)
      CHECK(double(g.values()[k]) == doctest::Approx(reference[L].weights[k]).epsilon(1e-4).scale(1.0));
  }
}

TEST_CASE("the randomized suite's largest relative difference tape vs reference is within 1e-12") {
  // Runs last (doctest orders test cases by file and line): the record covers
  // every comparison above.
  const Agreement& all = suite();
  MESSAGE("max relative difference tape vs reference (normwise per gradient tensor, asserted <= 1e-12): "
          << fmt::format("{:.3e}", all.max_normwise) << " over " << all.entries << " gradient entries");
  MESSAGE("max relative difference tape vs reference (entrywise, |a-b|/max(|a|,|b|,1e-6 max|tensor|) where |a-b| > 1e-15): "
          << fmt::format("{:.3e}", all.max_entrywise) << "; entries above 1e-12: " << all.entries_above_1e12);
  MESSAGE("worst tensor: " << all.worst_normwise);
  MESSAGE("worst entry: " << all.worst_entrywise);
  CHECK(all.entries > 0);
  CHECK(all.max_normwise <= relative_tolerance);
  CHECK(all.max_entrywise <= entrywise_tolerance);
}
