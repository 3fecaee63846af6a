// Specification: the layers of nn/layers/ beyond Dense and convolution
// (Dropout, LayerNorm, BatchNorm1d/2d, Embedding, Flatten, Reshape,
// ActivationLayer): shapes, parameter and buffer names, training versus
// evaluation behaviour, the running statistics, save/load and checkpoints
// of buffers, gradients against finite differences in a Sequential, and
// every refusal with its type and message.
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <autodiff/autodiff.hpp>
#include <nn/checkpoint.hpp>
#include <nn/layers/activation.hpp>
#include <nn/layers/dropout.hpp>
#include <nn/layers/embedding.hpp>
#include <nn/layers/norm.hpp>
#include <nn/layers/shape.hpp>
#include <nn/nn.hpp>

using doctest::Contains;

namespace {

std::string scratch(const std::string& name) {
  const auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
  return (std::filesystem::temp_directory_path() / fmt::format("nn-layers-{}-{}-{}", ::getpid(), ticks, name))
      .string();
}

template <class T>
std::vector<T> values_of(const ad::TensorT<T>& t) {
  return std::vector<T>(t.values().begin(), t.values().end());
}

template <class T>
std::vector<std::string> names_of(const typename nn::ModuleT<T>::template Named<ad::TensorT<T>>& named) {
  std::vector<std::string> names;
  for (const auto& [name, t] : named) names.push_back(name);
  return names;
}

template <class T>
ad::TensorT<T> random_tensor(const ad::Shape& shape, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return ad::TensorT<T>::randn(shape, rng);
}

// Sets a parameter to random values (a freshly built norm layer has weight 1
// and bias 0, where a wrong gradient formula can hide).
template <class T>
void randomise(ad::TensorT<T> p, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (T& v : p.mutable_values()) v = static_cast<T>(1.0 + 0.5 * normal(rng));
}

}  // namespace

// ---------------------------------------------------------------- Dropout

TEST_CASE_TEMPLATE("Dropout in evaluation mode returns its input itself and records nothing", T, float,
                   double) {
  nn::DropoutT<T> dropout(T(0.5));
  dropout.eval();
  const ad::TensorT<T> x = random_tensor<T>({4, 5}, 1).requires_grad(true);
  const ad::TensorT<T> y = dropout(x);
  CHECK(y.is_same(x));
}

TEST_CASE("Dropout with p = 0 is the identity in training mode") {
  nn::Dropout dropout(0.0);
  const ad::Tensor x = random_tensor<double>({3, 3}, 2);
  CHECK(dropout.is_training());
  CHECK(dropout(x).is_same(x));
}

TEST_CASE_TEMPLATE("Dropout zeroes a fraction p of the elements and scales the survivors by 1 / (1 - p)", T,
                   float, double) {
  const T p = T(0.3);
  nn::DropoutT<T> dropout(p, 11);
  const std::size_t n = 20000;
  const ad::TensorT<T> y = dropout(ad::TensorT<T>::ones({n}));
  std::size_t zeros = 0;
  double sum = 0;
  for (T v : y.values()) {
    if (v == T(0))
      ++zeros;
    else
      CHECK(v == T(1) / (T(1) - p));
    sum += double(v);
  }
  // Binomial(n, p): standard deviation sqrt(p (1 - p) / n) = 0.0032 of the fraction.
  CHECK(double(zeros) / double(n) == doctest::Approx(0.3).epsilon(0.05));
  // The expected output equals the input (inverted dropout).
  CHECK(sum / double(n) == doctest::Approx(1.0).epsilon(0.02));
}

TEST_CASE("Dropout draws the same masks from the same seed, and others from another seed") {
  const ad::Tensor x = ad::Tensor::ones({64});
  nn::Dropout a(0.5, 7), b(0.5, 7), c(0.5, 8);
  const auto a1 = values_of(a(x)), a2 = values_of(a(x));
  CHECK(a1 == values_of(b(x)));
  CHECK(a2 == values_of(b(x)));  // the sequence of masks, not only the first
  CHECK(a1 != a2);
  CHECK(a1 != values_of(c(x)));
  a.seed(7);  // restarts the sequence
  CHECK(values_of(a(x)) == a1);
}

TEST_CASE("Dropout's gradient is its mask: 1 / (1 - p) where an element was kept, 0 where it was dropped") {
  nn::Dropout dropout(0.25, 3);
  ad::Tensor x = random_tensor<double>({10, 10}, 4).requires_grad(true);
  const ad::Tensor y = dropout(x);
  ad::sum(y).backward();
  const ad::Tensor grad = x.grad();
  const auto g = grad.values();
  std::size_t kept = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const bool dropped = y.values()[i] == 0.0;
    CHECK(g[i] == (dropped ? 0.0 : 1.0 / 0.75));
    if (!dropped) {
      CHECK(y.values()[i] == x.values()[i] * (1.0 / 0.75));  // x times the mask
      ++kept;
    }
  }
  CHECK(kept > 0);
  CHECK(kept < g.size());
}

TEST_CASE("Dropout refuses a p outside [0, 1)") {
  CHECK_THROWS_WITH_AS(nn::Dropout(1.0), Contains("nn::Dropout: p = 1 is not a probability in [0, 1)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::Dropout(-0.1), Contains("p = -0.1"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::DropoutF(1.5f), Contains("p = 1.5"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::Dropout(std::numeric_limits<double>::quiet_NaN()), Contains("p = nan"),
                       std::invalid_argument);
}

TEST_CASE("Dropout has no parameters and describes its p") {
  const nn::Dropout dropout(0.25);
  CHECK(dropout.named_parameters().empty());
  CHECK(dropout.type_name() == "Dropout");
  CHECK(dropout.architecture() == "Dropout(p=0.25)");
}

// ---------------------------------------------------------------- LayerNorm

TEST_CASE_TEMPLATE("LayerNorm has a weight of ones and a bias of zeros of the normalised shape", T, float,
                   double) {
  const nn::LayerNormT<T> norm({3, 4});
  const auto named = norm.named_parameters();
  CHECK(names_of<T>(named) == std::vector<std::string>{"weight", "bias"});
  CHECK(named[0].second.shape() == ad::Shape{3, 4});
  CHECK(values_of(named[0].second) == std::vector<T>(12, T(1)));
  CHECK(values_of(named[1].second) == std::vector<T>(12, T(0)));
  CHECK(norm.named_buffers().empty());
  CHECK(nn::LayerNormT<T>({3, 4}, T(1e-5), false).named_parameters().empty());
}

TEST_CASE("LayerNorm normalises each sample over its trailing axes with the biased variance") {
  nn::LayerNorm norm({4});
  const ad::Tensor x = ad::Tensor::from({2, 4}, {1, 2, 3, 4, -2, 0, 0, 6});
  const ad::Tensor y = norm(x);
  REQUIRE(y.shape() == ad::Shape{2, 4});
  // Row 0: mean 2.5, variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25.
  // Row 1: mean 1, variance (9 + 1 + 1 + 25) / 4 = 9.
  const double s0 = std::sqrt(1.25 + 1e-5), s1 = std::sqrt(9 + 1e-5);
  const std::vector<double> expected = {-1.5 / s0, -0.5 / s0, 0.5 / s0, 1.5 / s0,
                                        -3 / s1,   -1 / s1,   -1 / s1,  5 / s1};
  for (std::size_t i = 0; i < 8; ++i) CHECK(y.values()[i] == doctest::Approx(expected[i]).epsilon(1e-14));
}

TEST_CASE("LayerNorm over two axes scales by weight and shifts by bias element by element") {
  nn::LayerNorm norm({2, 2}, 0.0);
  ad::Tensor w = norm.weight(), b = norm.bias();
  {
    auto wv = w.mutable_values();
    wv[0] = 2, wv[1] = 3, wv[2] = 4, wv[3] = 5;
    auto bv = b.mutable_values();
    bv[0] = 1, bv[1] = 0, bv[2] = -1, bv[3] = 0.5;
  }
  // One sample [2, 2] = {0, 2, 4, 6}: mean 3, variance (9 + 1 + 1 + 9) / 4 = 5.
  const ad::Tensor y = norm(ad::Tensor::from({1, 2, 2}, {0, 2, 4, 6}));
  const double s = std::sqrt(5.0);
  const std::vector<double> expected = {2 * -3 / s + 1, 3 * -1 / s, 4 * 1 / s - 1, 5 * 3 / s + 0.5};
  for (std::size_t i = 0; i < 4; ++i) CHECK(y.values()[i] == doctest::Approx(expected[i]).epsilon(1e-14));
}

TEST_CASE("LayerNorm behaves the same in training and evaluation mode") {
  nn::LayerNorm norm({5});
  const ad::Tensor x = random_tensor<double>({3, 5}, 5);
  const auto train = values_of(norm(x));
  norm.eval();
  CHECK(values_of(norm(x)) == train);
}

TEST_CASE("LayerNorm refuses an input that does not end in the normalised shape, and bad settings") {
  nn::LayerNorm norm({4});
  CHECK_THROWS_WITH_AS(norm(ad::Tensor::zeros({2, 3})),
                       Contains("nn::LayerNorm: input of shape [2, 3] does not end in [4]"),
                       std::invalid_argument);
  nn::LayerNorm two({2, 3});
  CHECK_THROWS_WITH_AS(two(ad::Tensor::zeros({3})), Contains("input of shape [3] does not end in [2, 3]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::LayerNorm({}),
                       Contains("nn::LayerNorm: normalized_shape [] must have 1 to 8 axes"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::LayerNorm({3, 0}), Contains("normalized_shape [3, 0] has a zero extent"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::LayerNorm({3}, -1e-5),
                       Contains("nn::LayerNorm: eps = -1e-05 must be finite and >= 0"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::LayerNorm({3}, std::numeric_limits<double>::infinity()), Contains("eps = inf"),
                       std::invalid_argument);
}

TEST_CASE("LayerNorm describes its shape, eps and affinity") {
  CHECK(nn::LayerNorm({4, 5}).architecture() == "LayerNorm([4, 5], eps=1e-05, elementwise_affine=true)");
  CHECK(nn::LayerNorm({3}, 0.001, false).architecture() ==
        "LayerNorm([3], eps=0.001, elementwise_affine=false)");
}

TEST_CASE("LayerNorm's second derivatives with respect to its input are those of the formula") {
  nn::LayerNorm norm({5});
  randomise(norm.weight(), 6);
  const ad::Tensor probe = random_tensor<double>({3, 5}, 7);
  auto f = [&](const ad::Tensor& x) { return ad::sum(ad::tanh(norm(x)) * probe); };
  const auto report = ad::gradgradcheck(f, random_tensor<double>({3, 5}, 8));
  CHECK_MESSAGE(report.ok, report.to_string());
}

// ---------------------------------------------------------------- BatchNorm

TEST_CASE_TEMPLATE("BatchNorm has weight and bias parameters and running_mean and running_var buffers", T,
                   float, double) {
  const nn::BatchNorm1dT<T> norm(3);
  CHECK(names_of<T>(norm.named_parameters()) == std::vector<std::string>{"weight", "bias"});
  const auto buffers = norm.named_buffers();
  CHECK(names_of<T>(buffers) == std::vector<std::string>{"running_mean", "running_var"});
  CHECK(values_of(buffers[0].second) == std::vector<T>(3, T(0)));
  CHECK(values_of(buffers[1].second) == std::vector<T>(3, T(1)));
  CHECK(values_of(norm.weight()) == std::vector<T>(3, T(1)));
  CHECK(values_of(norm.bias()) == std::vector<T>(3, T(0)));
  const nn::BatchNorm2dT<T> plain(2, T(1e-5), T(0.1), false);
  CHECK(plain.named_parameters().empty());
  CHECK(plain.named_buffers().size() == 2);
}

TEST_CASE_TEMPLATE("BatchNorm in training mode gives every channel mean 0 and variance 1 over the batch", T,
                   float, double) {
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  auto check_channels = [&](const ad::TensorT<T>& y, std::size_t channels) {
    const ad::Shape& s = y.shape();
    const std::size_t inner = s.numel() / (s[0] * channels);
    for (std::size_t c = 0; c < channels; ++c) {
      double sum = 0, squares = 0;
      for (std::size_t n = 0; n < s[0]; ++n)
        for (std::size_t i = 0; i < inner; ++i) {
          const double v = double(y.values()[(n * channels + c) * inner + i]);
          sum += v;
          squares += v * v;
        }
      const double count = double(s[0] * inner);
      CHECK(std::abs(sum / count) < tol);
      // var / (var + eps) with var of order 1.
      CHECK(squares / count == doctest::Approx(1.0).epsilon(1e-4));
    }
  };
  nn::BatchNorm1dT<T> one(3);
  check_channels(one(random_tensor<T>({8, 3}, 9)), 3);
  check_channels(one(random_tensor<T>({4, 3, 5}, 10)), 3);
  nn::BatchNorm2dT<T> two(2);
  check_channels(two(random_tensor<T>({3, 2, 4, 5}, 11)), 2);
}

TEST_CASE("BatchNorm's running statistics follow PyTorch's rule after three steps") {
  // One channel, the batch {1, 3}: mean 2, unbiased variance 2 (biased 1).
  //   step 1: mean 0.9 * 0 + 0.1 * 2 = 0.2,      var 0.9 * 1 + 0.1 * 2 = 1.1
  //   step 2: mean 0.9 * 0.2 + 0.2 = 0.38,       var 0.9 * 1.1 + 0.2 = 1.19
  //   step 3: mean 0.9 * 0.38 + 0.2 = 0.542,     var 0.9 * 1.19 + 0.2 = 1.271
  nn::BatchNorm1d norm(1);
  const ad::Tensor x = ad::Tensor::from({2, 1}, {1, 3});
  const std::vector<double> means = {0.2, 0.38, 0.542}, vars = {1.1, 1.19, 1.271};
  for (std::size_t step = 0; step < 3; ++step) {
    const ad::Tensor y = norm(x);
    CHECK(norm.running_mean().values()[0] == doctest::Approx(means[step]).epsilon(1e-14));
    CHECK(norm.running_var().values()[0] == doctest::Approx(vars[step]).epsilon(1e-14));
    // The output used the batch's own statistics, biased variance 1.
    CHECK(y.values()[0] == doctest::Approx(-1 / std::sqrt(1 + 1e-5)).epsilon(1e-14));
  }
}

TEST_CASE("BatchNorm2d's running variance is the unbiased variance over batch, height and width") {
  // Channel 0 holds 0..7, channel 1 holds 2 * (0..7): m = 8 values each,
  // mean 3.5 and 7, unbiased variance 6 and 24; momentum 1 keeps the batch's.
  nn::BatchNorm2d norm(2, 1e-5, 1.0);
  std::vector<double> v(16);
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t c = 0; c < 2; ++c)
      for (std::size_t i = 0; i < 4; ++i) v[(n * 2 + c) * 4 + i] = double(c + 1) * double(n * 4 + i);
  norm(ad::Tensor::from({2, 2, 2, 2}, v));
  CHECK(values_of(norm.running_mean()) == std::vector<double>{3.5, 7.0});
  CHECK(norm.running_var().values()[0] == doctest::Approx(6.0).epsilon(1e-14));
  CHECK(norm.running_var().values()[1] == doctest::Approx(24.0).epsilon(1e-14));
}

TEST_CASE("BatchNorm in evaluation mode normalises with the running statistics and leaves them alone") {
  nn::BatchNorm1d norm(2);
  for (std::uint64_t k = 0; k < 3; ++k) norm(random_tensor<double>({6, 2}, 20 + k));
  ad::Tensor w = norm.weight(), b = norm.bias();
  w.mutable_values()[1] = 3.0;
  b.mutable_values()[0] = -0.5;
  const auto mean = values_of(norm.running_mean()), var = values_of(norm.running_var());
  norm.eval();
  // One sample is enough in evaluation mode: each output depends on its own input.
  const ad::Tensor x = ad::Tensor::from({1, 2}, {0.7, -1.3});
  const ad::Tensor y = norm(x);
  CHECK(y.values()[0] == doctest::Approx((0.7 - mean[0]) / std::sqrt(var[0] + 1e-5) - 0.5).epsilon(1e-14));
  CHECK(y.values()[1] == doctest::Approx(3.0 * (-1.3 - mean[1]) / std::sqrt(var[1] + 1e-5)).epsilon(1e-14));
  CHECK(values_of(norm.running_mean()) == mean);
  CHECK(values_of(norm.running_var()) == var);
}

TEST_CASE("BatchNorm follows train() and eval() of the Sequential that holds it") {
  nn::Sequential model;
  model.add<nn::BatchNorm1d>(2);
  const auto& norm = dynamic_cast<const nn::BatchNorm1d&>(model[0]);
  model.eval();
  model(random_tensor<double>({4, 2}, 30));
  CHECK(values_of(norm.running_mean()) == std::vector<double>{0.0, 0.0});
  model.train();
  model(random_tensor<double>({4, 2}, 30));
  CHECK(values_of(norm.running_mean()) != std::vector<double>{0.0, 0.0});
}

TEST_CASE("BatchNorm refuses inputs of another rank or channel count, and bad settings") {
  nn::BatchNorm1d one(3);
  CHECK_THROWS_WITH_AS(one(ad::Tensor::zeros({4, 5})),
                       Contains("nn::BatchNorm1d: input of shape [4, 5] for 3 features (expected [N, C] or "
                                "[N, C, L] with C = 3)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(one(ad::Tensor::zeros({2, 3, 4, 4})),
                       Contains("input of shape [2, 3, 4, 4] for 3 features"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(one(ad::Tensor::zeros({3})), Contains("input of shape [3] for 3 features"),
                       std::invalid_argument);
  nn::BatchNorm2d two(2);
  CHECK_THROWS_WITH_AS(
      two(ad::Tensor::zeros({2, 2, 4})),
      Contains("nn::BatchNorm2d: input of shape [2, 2, 4] for 2 features (expected [N, C, H, W] "
               "with C = 2)"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(two(ad::Tensor::zeros({2, 3, 4, 4})),
                       Contains("input of shape [2, 3, 4, 4] for 2 features"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      one(ad::Tensor::zeros({1, 3})),
      Contains(
          "nn::BatchNorm1d: input of shape [1, 3] has 1 value(s) per channel; training needs at least 2"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(two(ad::Tensor::zeros({1, 2, 1, 1})),
                       Contains("input of shape [1, 2, 1, 1] has 1 value(s) per channel"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(one(ad::Tensor::zeros({0, 3})),
                       Contains("input of shape [0, 3] has 0 value(s) per channel"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::BatchNorm1d(0), Contains("nn::BatchNorm1d: num_features must be at least 1"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::BatchNorm2d(2, -1.0),
                       Contains("nn::BatchNorm2d: eps = -1 must be finite and >= 0"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::BatchNorm1d(2, 1e-5, 1.5),
                       Contains("nn::BatchNorm1d: momentum = 1.5 is not in [0, 1]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::BatchNorm2dF(2, 1e-5f, std::numeric_limits<float>::quiet_NaN()),
                       Contains("momentum = nan"), std::invalid_argument);
  // A refused batch changes nothing.
  CHECK(values_of(one.running_mean()) == std::vector<double>(3, 0.0));
}

TEST_CASE("BatchNorm describes its kind, features, eps, momentum and affinity") {
  CHECK(nn::BatchNorm1d(16).architecture() == "BatchNorm1d(16, eps=1e-05, momentum=0.1, affine=true)");
  CHECK(nn::BatchNorm2d(3, 0.001, 0.2, false).architecture() ==
        "BatchNorm2d(3, eps=0.001, momentum=0.2, affine=false)");
  CHECK(nn::BatchNorm2d(3).type_name() == "BatchNorm2d");
}

TEST_CASE("BatchNorm's running statistics are saved and loaded by name with the parameters") {
  auto build = [] {
    nn::Sequential model;
    model.add<nn::BatchNorm1d>(2).add<nn::BatchNorm2d>(2);
    return model;
  };
  nn::Sequential model = build();
  for (std::uint64_t k = 0; k < 3; ++k) {
    const ad::Tensor x = random_tensor<double>({4, 2, 2, 3}, 40 + k);
    model[0](ad::reshape(x, ad::Shape{4, 2, 6}));
    model[1](x);
  }
  const std::string path = scratch("bn.adst");
  nn::save(model, path);
  const auto entries = nn::read_state<double>(path);
  std::vector<std::string> buffers;
  for (const auto& e : entries)
    if (e.kind == nn::StateKind::buffer) buffers.push_back(e.name);
  CHECK(buffers ==
        std::vector<std::string>{"0.running_mean", "0.running_var", "1.running_mean", "1.running_var"});

  nn::Sequential loaded = build();
  nn::load_into(loaded, path);
  const auto want = model.named_buffers(), got = loaded.named_buffers();
  REQUIRE(got.size() == 4);
  for (std::size_t k = 0; k < 4; ++k) {
    CHECK(got[k].first == want[k].first);
    CHECK(values_of(got[k].second) == values_of(want[k].second));
  }
  CHECK(values_of(got[1].second) != std::vector<double>{1.0, 1.0});  // not the initial values
  std::filesystem::remove(path);
}

TEST_CASE("BatchNorm's running statistics travel in a checkpoint") {
  nn::Sequential model;
  model.add<nn::BatchNorm1d>(3);
  model(random_tensor<double>({5, 3}, 50));
  nn::GradientDescent<double> opt(model.parameters(), 0.1);
  nn::TrainingState state;
  std::ostringstream rng;
  rng << std::mt19937_64(1);
  state.rng = rng.str();
  const std::string path = scratch("bn.adck");
  nn::save_checkpoint(path, static_cast<const nn::Module&>(model), opt, state);

  nn::Sequential resumed;
  resumed.add<nn::BatchNorm1d>(3);
  nn::GradientDescent<double> opt2(resumed.parameters(), 0.1);
  nn::load_checkpoint(path, static_cast<nn::Module&>(resumed), opt2);
  const auto& a = dynamic_cast<const nn::BatchNorm1d&>(model[0]);
  const auto& b = dynamic_cast<const nn::BatchNorm1d&>(resumed[0]);
  CHECK(values_of(b.running_mean()) == values_of(a.running_mean()));
  CHECK(values_of(b.running_var()) == values_of(a.running_var()));
  CHECK(values_of(b.running_mean()) != std::vector<double>(3, 0.0));
  std::filesystem::remove(path);
}

TEST_CASE("BatchNorm's second derivatives in training mode are those of the formula") {
  nn::BatchNorm1d norm(2);
  randomise(norm.weight(), 60);
  const ad::Tensor probe = random_tensor<double>({4, 2, 3}, 61);
  auto f = [&](const ad::Tensor& x) { return ad::sum(ad::tanh(norm(x)) * probe); };
  const auto report = ad::gradgradcheck(f, random_tensor<double>({4, 2, 3}, 62));
  CHECK_MESSAGE(report.ok, report.to_string());
}

// ---------------------------------------------------------------- Embedding

TEST_CASE_TEMPLATE("Embedding looks up one row of its weight per index, in the indices' shape", T, float,
                   double) {
  std::mt19937_64 rng(70);
  nn::EmbeddingT<T> embedding(5, 3, rng);
  CHECK(names_of<T>(embedding.named_parameters()) == std::vector<std::string>{"weight"});
  CHECK(embedding.weight().shape() == ad::Shape{5, 3});
  const ad::TensorT<T> indices = ad::TensorT<T>::from({2, 2}, {4, 0, 0, 2});
  const ad::TensorT<T> y = embedding(indices);
  REQUIRE(y.shape() == ad::Shape{2, 2, 3});
  const auto w = embedding.weight().values();
  const std::size_t rows[] = {4, 0, 0, 2};
  for (std::size_t k = 0; k < 4; ++k)
    for (std::size_t j = 0; j < 3; ++j) CHECK(y.values()[k * 3 + j] == w[rows[k] * 3 + j]);
  // A single index (rank 0) gives one vector.
  CHECK(embedding(ad::TensorT<T>::scalar(T(1))).shape() == ad::Shape{3});
  // No index gives an empty tensor of the right shape.
  CHECK(embedding(ad::TensorT<T>::zeros({2, 0})).shape() == ad::Shape{2, 0, 3});
}

TEST_CASE("Embedding's weight is drawn N(0, 1) from the generator, reproducibly") {
  std::mt19937_64 a(71), b(71);
  const nn::Embedding e1(4, 2, a), e2(4, 2, b);
  CHECK(values_of(e1.weight()) == values_of(e2.weight()));
  std::mt19937_64 c(71);
  CHECK(values_of(e1.weight()) == values_of(ad::Tensor::randn({4, 2}, c)));
}

TEST_CASE("Embedding's gradient adds each output row's gradient into the row it came from") {
  std::mt19937_64 rng(72);
  nn::Embedding embedding(4, 2, rng);
  const ad::Tensor y = embedding(ad::Tensor::from({3}, {1, 3, 1}));
  ad::sum(y * ad::Tensor::from({3, 2}, {1, 2, 3, 4, 5, 6})).backward();
  CHECK(values_of(embedding.weight().grad()) == std::vector<double>{0, 0, 1 + 5, 2 + 6, 0, 0, 3, 4});
}

TEST_CASE("Embedding refuses an index that is not an integer in [0, num_embeddings)") {
  std::mt19937_64 rng(73);
  nn::Embedding embedding(10, 2, rng);
  CHECK_THROWS_WITH_AS(embedding(ad::Tensor::from({2}, {1, 10})),
                       Contains("nn::Embedding: index 10 at position 1 is not an integer in [0, 10)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(embedding(ad::Tensor::from({1}, {2.5})), Contains("index 2.5 at position 0"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(embedding(ad::Tensor::from({1}, {-1})), Contains("index -1 at position 0"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(embedding(ad::Tensor::from({1}, {std::numeric_limits<double>::quiet_NaN()})),
                       Contains("index nan"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(embedding(ad::Tensor::zeros({1, 1, 1, 1, 1, 1, 1, 1})),
                       Contains("nn::Embedding: indices of shape [1, 1, 1, 1, 1, 1, 1, 1] leave no room"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::Embedding(0, 2, rng),
                       Contains("nn::Embedding: a table needs at least one embedding"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::Embedding(ad::Tensor::zeros({3})), Contains("got [3]"), std::invalid_argument);
}

TEST_CASE("Embedding describes its table") {
  std::mt19937_64 rng(74);
  CHECK(nn::Embedding(10, 3, rng).architecture() == "Embedding(10, 3)");
}

// ---------------------------------------------------------------- Flatten and Reshape

TEST_CASE_TEMPLATE("Flatten merges the axes from start to end and keeps the others", T, float, double) {
  const ad::TensorT<T> x = random_tensor<T>({2, 3, 4, 5}, 80);
  CHECK(nn::FlattenT<T>()(x).shape() == ad::Shape{2, 60});
  CHECK(nn::FlattenT<T>(0, -1)(x).shape() == ad::Shape{120});
  CHECK(nn::FlattenT<T>(1, 2)(x).shape() == ad::Shape{2, 12, 5});
  CHECK(nn::FlattenT<T>(-2, 3)(x).shape() == ad::Shape{2, 3, 20});
  CHECK(nn::FlattenT<T>(2, 2)(x).shape() == ad::Shape{2, 3, 4, 5});
  CHECK(values_of(nn::FlattenT<T>()(x)) == values_of(x));  // row-major order is kept
}

TEST_CASE("Flatten passes the gradient back in the input's shape") {
  ad::Tensor x = random_tensor<double>({2, 3, 2}, 81).requires_grad(true);
  const ad::Tensor weights = random_tensor<double>({2, 6}, 82);
  ad::sum(nn::Flatten()(x) * weights).backward();
  CHECK(x.grad().shape() == ad::Shape{2, 3, 2});
  CHECK(values_of(x.grad()) == values_of(weights));
}

TEST_CASE("Flatten refuses axes outside the input or in the wrong order") {
  CHECK_THROWS_WITH_AS(nn::Flatten()(ad::Tensor::zeros({5})),
                       Contains("nn::Flatten: axes 1 .. -1 do not fit an input of shape [5] (rank 1"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::Flatten(2, 1)(ad::Tensor::zeros({2, 3, 4})), Contains("axes 2 .. 1 do not fit"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::Flatten(0, 3)(ad::Tensor::zeros({2, 3})), Contains("axes 0 .. 3"),
                       std::invalid_argument);
  CHECK(nn::Flatten().architecture() == "Flatten(1, -1)");
}

TEST_CASE_TEMPLATE("Reshape views each sample with the given shape and keeps the batch axis", T, float,
                   double) {
  const ad::TensorT<T> x = random_tensor<T>({4, 784}, 83);
  const ad::TensorT<T> y = nn::ReshapeT<T>({1, 28, 28})(x);
  CHECK(y.shape() == ad::Shape{4, 1, 28, 28});
  CHECK(values_of(y) == values_of(x));
  CHECK(nn::ReshapeT<T>({6})(random_tensor<T>({3, 2, 3}, 84)).shape() == ad::Shape{3, 6});
}

TEST_CASE("Reshape refuses samples of another size and bad shapes") {
  CHECK_THROWS_WITH_AS(
      nn::Reshape({1, 28, 28})(ad::Tensor::zeros({4, 780})),
      Contains("nn::Reshape: input of shape [4, 780] cannot be viewed as [N, 1, 28, 28] (780 "
               "elements per sample, 784 needed)"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::Reshape({2})(ad::Tensor::scalar(1.0)),
                       Contains("input of shape [] cannot be viewed"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::Reshape({2, 0}), Contains("nn::Reshape: [2, 0] has a zero extent"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::Reshape({1, 1, 1, 1, 1, 1, 1, 1}),
                       Contains("has 8 axes; with the batch axis at most 7"), std::invalid_argument);
  CHECK(nn::Reshape({1, 28, 28}).architecture() == "Reshape([1, 28, 28])");
}

// ---------------------------------------------------------------- ActivationLayer

TEST_CASE_TEMPLATE("ActivationLayer applies nn's activation element by element", T, float, double) {
  const ad::TensorT<T> x = random_tensor<T>({3, 4}, 90);
  for (nn::Activation psi : nn::all_activations) {
    CAPTURE(nn::name(psi));
    nn::ActivationLayerT<T> layer(psi);
    CHECK(values_of(layer(x)) == values_of(nn::apply(psi, x)));
    CHECK(layer.architecture() == fmt::format("ActivationLayer({})", nn::name(psi)));
    CHECK(layer.named_parameters().empty());
  }
}

TEST_CASE("The PyTorch-named activation layers are ActivationLayers of the matching activation") {
  CHECK(nn::ReLU().activation() == nn::Activation::relu);
  CHECK(nn::ReLU().type_name() == "ReLU");
  CHECK(nn::ReLU().architecture() == nn::ActivationLayer(nn::Activation::relu).architecture());
  CHECK(nn::Tanh().activation() == nn::Activation::tanh);
  CHECK(nn::Sigmoid().activation() == nn::Activation::logistic);
  CHECK(nn::Softsign().activation() == nn::Activation::softsign);
  CHECK(nn::Softplus().activation() == nn::Activation::softplus);
  CHECK(nn::LeakyReLU().activation() == nn::Activation::leaky_relu);
  CHECK(nn::ELU().activation() == nn::Activation::elu);
  CHECK(nn::GELU().activation() == nn::Activation::gelu);
  CHECK(nn::SiLUF().activation() == nn::Activation::silu);
  const ad::Tensor x = ad::Tensor::from({4}, {-2, -0.5, 0.5, 2});
  CHECK(values_of(nn::ReLU()(x)) == std::vector<double>{0, 0, 0.5, 2});
}

TEST_CASE("ActivationLayer refuses an activation outside the enumeration") {
  CHECK_THROWS_WITH_AS(nn::ActivationLayer(static_cast<nn::Activation>(200)),
                       Contains("nn::ActivationLayer: unknown activation (code 200)"), std::invalid_argument);
}

// ---------------------------------------------------------------- in a Sequential

namespace {

// Dropout in training mode with the same mask at every forward (reseeded
// before each), so that finite differences see one function.
struct FixedMaskDropout : nn::Module {
  nn::Dropout dropout{0.5};
  FixedMaskDropout() { register_module("dropout", dropout); }
  ad::Tensor forward(const ad::Tensor& x) override {
    dropout.seed(123);
    return dropout(x);
  }
};

}  // namespace

TEST_CASE("The tape's gradients of a Sequential of these layers match finite differences, in training mode") {
  std::mt19937_64 rng(100);
  nn::Sequential model;
  model
      .add<nn::Reshape>(std::vector<std::size_t>{2, 3})  // N x 6 -> N x 2 x 3
      .add<nn::BatchNorm1d>(2)
      .add<nn::Tanh>()
      .add<nn::Reshape>(std::vector<std::size_t>{2, 1, 3})  // -> N x 2 x 1 x 3
      .add<nn::BatchNorm2d>(2)
      .add<nn::Flatten>()
      .add<nn::LayerNorm>(std::vector<std::size_t>{6})
      .add<nn::Dense>(6, 4, nn::Activation::identity, rng)
      .add<FixedMaskDropout>()
      .add<nn::ActivationLayer>(nn::Activation::silu)
      .add<nn::Dropout>(0.5)
      .add<nn::Dense>(4, 2, nn::Activation::identity, rng);
  model[10].eval();  // the plain Dropout: the identity
  std::uint64_t seed = 101;
  for (auto& [name, p] : model.named_parameters())
    if (name.ends_with("weight")) randomise(p, seed++);
  const ad::Tensor X = random_tensor<double>({5, 6}, 102), Y = random_tensor<double>({5, 2}, 103);
  const auto buffers_before = model.named_buffers();
  std::vector<std::vector<double>> before;
  for (const auto& [name, b] : buffers_before) before.push_back(values_of(b));

  const auto report = nn::check_gradients(model, X, Y);
  CHECK_MESSAGE(report.ok, report.to_string());
  std::vector<std::string> names;
  for (const auto& input : report.inputs) names.push_back(input.name);
  CHECK(names == std::vector<std::string>{"1.weight", "1.bias", "4.weight", "4.bias", "6.weight", "6.bias",
                                          "7.W", "7.b", "11.W", "11.b"});
  // The check leaves the running statistics as it found them.
  const auto after = model.named_buffers();
  for (std::size_t k = 0; k < after.size(); ++k) CHECK(values_of(after[k].second) == before[k]);
}

TEST_CASE(
    "The tape's gradients through BatchNorm in evaluation mode and Embedding match finite differences") {
  std::mt19937_64 rng(110);
  nn::Sequential model;
  model
      .add<nn::Embedding>(5, 4, rng)  // N x 3 indices -> N x 3 x 4
      .add<nn::Flatten>()
      .add<nn::BatchNorm1d>(12)
      .add<nn::ReLU>()
      .add<nn::Dense>(12, 1, nn::Activation::identity, rng);
  const ad::Tensor X = ad::Tensor::from({4, 3}, {0, 1, 2, 3, 4, 0, 1, 1, 4, 2, 2, 3});
  const ad::Tensor Y = random_tensor<double>({4, 1}, 111);
  for (int k = 0; k < 3; ++k) model(X);  // running statistics of these batches
  model.eval();
  randomise(dynamic_cast<nn::BatchNorm1d&>(model[2]).weight(), 112);
  const auto report = nn::check_gradients(model, X, Y);
  CHECK_MESSAGE(report.ok, report.to_string());
  std::vector<std::string> names;
  for (const auto& input : report.inputs) names.push_back(input.name);
  CHECK(names == std::vector<std::string>{"0.weight", "2.weight", "2.bias", "4.W", "4.b"});
}

TEST_CASE("nn/README.md's model of these layers builds, names its buffers and runs in both modes") {
  std::mt19937_64 rng(120);
  nn::Sequential model;
  model
      .add<nn::Flatten>()  // N x 1 x 28 x 28 -> N x 784
      .add<nn::Dense>(784, 128, nn::Activation::identity, rng, nn::Init::he)
      .add<nn::BatchNorm1d>(128)
      .add<nn::ReLU>()
      .add<nn::Dropout>(0.2)
      .add<nn::Dense>(128, 10, nn::Activation::identity, rng);
  std::vector<std::string> buffers;
  for (const auto& [name, b] : model.named_buffers()) buffers.push_back(name);
  CHECK(buffers == std::vector<std::string>{"2.running_mean", "2.running_var"});
  const ad::Tensor images = random_tensor<double>({4, 1, 28, 28}, 121);
  CHECK(model(images).shape() == ad::Shape{4, 10});
  model.eval();
  const auto a = values_of(model(images));
  CHECK(values_of(model(images)) == a);  // no dropout, fixed statistics: deterministic
  CHECK(model.architecture() ==
        "Sequential(0: Flatten(1, -1), 1: Dense(784->128, identity), 2: BatchNorm1d(128, eps=1e-05, "
        "momentum=0.1, "
        "affine=true), 3: ActivationLayer(relu), 4: Dropout(p=0.2), 5: Dense(128->10, identity))");
}
