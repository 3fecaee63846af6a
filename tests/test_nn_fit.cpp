// Specification: nn::fit for any nn::Module and its training staples — data
// sets with class labels, a validation set, metrics per epoch, callbacks that
// stop, early stopping, restore of the best weights, divergence guards, the
// unreached-parameter warning, the data loader, argmax and accuracy, and
// checkpoints of a user-defined module that resume bit-identically.
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
#include <autodiff/custom_op.hpp>
#include <nn/checkpoint.hpp>
#include <nn/nn.hpp>

using doctest::Contains;

namespace {

// softsign(x) = x / (1 + |x|) as a user-defined op with its own derivative.
template <class T>
ad::TensorT<T> user_softsign(const ad::TensorT<T>& x) {
  std::vector<T> y(x.numel());
  const auto v = x.values();
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = v[i] / (T(1) + std::fabs(v[i]));
  return ad::custom_op<T>("softsign", {x}, x.shape(), std::move(y), [](const ad::CustomGradient<T>& g) {
    for (std::size_t i = 0; i < g.grad_output.size(); ++i) {
      const T d = T(1) + std::fabs(g.inputs[0][i]);
      g.grad_inputs[0][i] += g.grad_output[i] / (d * d);
    }
  });
}

// A user-defined module: a residual block through the custom op, then a head.
template <class T>
struct ResidualNet : nn::ModuleT<T> {
  nn::DenseT<T> inner, head;
  ResidualNet(std::size_t n, std::size_t out, std::mt19937_64& rng)
      : inner(n, n, nn::Activation::identity, rng, nn::Init::xavier),
        head(n, out, nn::Activation::identity, rng, nn::Init::xavier) {
    this->register_module("inner", inner);
    this->register_module("head", head);
  }
  ad::TensorT<T> forward(const ad::TensorT<T>& x) override { return head(x + user_softsign(inner(x))); }
  std::string type_name() const override { return "ResidualNet"; }
};

// A module with a parameter its forward never uses.
struct WithUnused : nn::Module {
  nn::Dense fc;
  ad::Tensor unused = ad::Tensor::zeros({3});
  explicit WithUnused(std::mt19937_64& rng) : fc(2, 3, nn::Activation::identity, rng) {
    register_module("fc", fc);
    register_parameter("unused", unused);
  }
  ad::Tensor forward(const ad::Tensor& x) override { return fc(x); }
};

// Three Gaussian blobs in 2-d, labels 0..2.
template <class T = double>
nn::TensorDataset<T> blobs(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.5);
  const double centre[3][2] = {{2, 0}, {-1, 1.7}, {-1, -1.7}};
  std::vector<T> x(n * 2);
  std::vector<std::size_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) {
    labels[i] = i % 3;
    x[2 * i] = T(centre[i % 3][0] + noise(rng));
    x[2 * i + 1] = T(centre[i % 3][1] + noise(rng));
  }
  return {ad::TensorT<T>::from({n, 2}, std::move(x)), std::move(labels)};
}

// y = 2 x0 - x1 + 0.5 + noise.
nn::TensorDataset<double> regression(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> x(n * 2), y(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[2 * i] = normal(rng);
    x[2 * i + 1] = normal(rng);
    y[i] = 2 * x[2 * i] - x[2 * i + 1] + 0.5 + 0.1 * normal(rng);
  }
  return {ad::Tensor::from({n, 2}, std::move(x)), ad::Tensor::from({n, 1}, std::move(y))};
}

template <class T>
std::vector<T> flat(const nn::ModuleT<T>& m) {
  std::vector<T> out;
  for (const auto& [name, p] : m.named_parameters())
    out.insert(out.end(), p.values().begin(), p.values().end());
  return out;
}

template <class T>
bool all_finite(const nn::ModuleT<T>& m) {
  for (T v : flat(m))
    if (!std::isfinite(v)) return false;
  return true;
}

std::string scratch(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("ad-fit-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

}  // namespace

TEST_CASE(
    "a user-defined module with a residual connection and a custom op learns a classification with fit") {
  std::mt19937_64 rng(3);
  ResidualNet<double> model(2, 3, rng);
  const nn::TensorDataset<double> train = blobs(300, 1), test = blobs(90, 2);
  nn::Adam<double> opt(model.parameters(), 0.05);
  const nn::History h = nn::fit(
      model, train, nn::cross_entropy, opt,
      {.epochs = 20, .batch_size = 32, .validation = &test, .on_epoch = [&](const nn::EpochReport& r) {
         return r.val_accuracy < 0.99;
       }});
  CHECK(h.epochs >= 1);
  CHECK(h.epochs <= 20);
  CHECK((h.stop_reason == "callback" || h.stop_reason == "max_epochs"));
  REQUIRE(h.validation_accuracy.size() == h.epochs);
  REQUIRE(h.accuracy.size() == h.epochs);
  CHECK(h.validation_accuracy.back() > 0.95);
  CHECK(h.loss.back() < h.loss.front());
  CHECK(h.unreached.empty());
  // The reported validation figures are the model's on the test set.
  ad::NoGrad off;
  const ad::Tensor logits = model(test.inputs());
  CHECK(nn::accuracy(logits, test.labels()) == h.validation_accuracy.back());
  CHECK(double(nn::cross_entropy(logits, test.labels()).item()) ==
        doctest::Approx(h.validation_loss.back()).epsilon(1e-12));
}

TEST_CASE("nn::cross_entropy with integer labels is the softmax cross-entropy, with its gradient") {
  const ad::Tensor logits = ad::Tensor::from({2, 3}, {1.0, 2.0, 0.5, -1.0, 0.0, 3.0}).requires_grad();
  const ad::Tensor loss = nn::cross_entropy(logits, std::vector<std::size_t>{1, 2});
  const double expected = 0.5 * ((std::log(std::exp(1.0) + std::exp(2.0) + std::exp(0.5)) - 2.0) +
                                 (std::log(std::exp(-1.0) + std::exp(0.0) + std::exp(3.0)) - 3.0));
  CHECK(loss.item() == doctest::Approx(expected).epsilon(1e-14));
  ad::Tensor(loss).backward();
  const double z0 = std::exp(1.0) + std::exp(2.0) + std::exp(0.5);
  CHECK(logits.grad().at({0, 1}) == doctest::Approx(0.5 * (std::exp(2.0) / z0 - 1)).epsilon(1e-14));
  CHECK(logits.grad().at({0, 0}) == doctest::Approx(0.5 * std::exp(1.0) / z0).epsilon(1e-14));
  CHECK_THROWS_AS(nn::cross_entropy(logits, std::vector<std::size_t>{1, 3}), std::out_of_range);
}

TEST_CASE("the tensor form and the data-set form of fit train identically") {
  const nn::TensorDataset<double> data = regression(40, 4);
  std::mt19937_64 rng_a(1), rng_b(1);
  nn::Network a({2, 4, 1}, nn::Activation::tanh, nn::Activation::identity, rng_a);
  nn::Network b({2, 4, 1}, nn::Activation::tanh, nn::Activation::identity, rng_b);
  nn::Adam<double> opt_a(a.parameters(), 0.01), opt_b(b.parameters(), 0.01);
  const nn::FitOptions options{.max_epochs = 6, .batch_size = 8, .validation_fraction = 0.25, .seed = 5};
  const nn::History ha = nn::fit(a, data.inputs(), data.targets(), nn::mse_loss, opt_a, options);
  const nn::History hb = nn::fit(b, data, nn::mse_loss, opt_b, options);
  CHECK(ha.loss == hb.loss);
  CHECK(ha.validation_loss == hb.validation_loss);
  CHECK(flat(a) == flat(b));
}

TEST_CASE("on_epoch returning false stops training after that epoch with the reason callback") {
  std::mt19937_64 rng(1);
  nn::Network net({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::SGD<double> opt(net.parameters(), 0.01);
  std::vector<std::size_t> seen;
  const nn::History h = nn::fit(net, regression(20, 1), nn::mse_loss, opt,
                                {.epochs = 50, .on_epoch = [&](const nn::EpochReport& r) {
                                   seen.push_back(r.epoch);
                                   return r.epoch < 3;
                                 }});
  CHECK(seen == std::vector<std::size_t>{1, 2, 3});
  CHECK(h.epochs == 3);
  CHECK(h.stop_reason == "callback");
  CHECK(h.stop_detail == "on_epoch returned false after epoch 3");
  REQUIRE(h.reports.size() == 3);
  CHECK(h.reports[2].loss == h.loss[2]);
  CHECK(h.reports[0].learning_rate == 0.01);
}

TEST_CASE("on_batch sees every step with its learning rate, can change the rate and can stop mid-epoch") {
  std::mt19937_64 rng(1);
  nn::Network net({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::SGD<double> opt(net.parameters(), 0.1);
  std::vector<nn::BatchReport> batches;
  const nn::History h = nn::fit(net, regression(20, 1), nn::mse_loss, opt,
                                {.epochs = 10, .batch_size = 8, .on_batch = [&](const nn::BatchReport& r) {
                                   batches.push_back(r);
                                   opt.set_learning_rate(opt.learning_rate() / 2);  // a schedule
                                   return batches.size() < 5;
                                 }});
  REQUIRE(batches.size() == 5);  // 3 batches per epoch (8, 8, 4): stopped at epoch 2, batch 2
  CHECK(batches[0].epoch == 1);
  CHECK(batches[2].samples == 4);
  CHECK(batches[3].epoch == 2);
  CHECK(batches[4].batch == 2);
  CHECK(batches[4].batches == 3);
  CHECK(batches[0].learning_rate == 0.1);
  CHECK(batches[1].learning_rate == 0.05);
  CHECK(h.stop_reason == "callback");
  CHECK(h.epochs == 2);  // the stopped epoch is recorded with the batches it ran
  CHECK(h.loss[1] == doctest::Approx((batches[3].loss + batches[4].loss) / 2));
}

TEST_CASE("early stopping on the validation loss stops after patience epochs without improvement") {
  std::mt19937_64 rng(1);
  nn::Network net({2, 1}, nn::Activation::identity, nn::Activation::identity, rng);
  nn::GradientDescent<double> opt(net.parameters(), 1e-12);  // too small to improve by 10%
  const nn::TensorDataset<double> train = regression(20, 1), test = regression(10, 2);
  const nn::History h = nn::fit(net, train, nn::mse_loss, opt,
                                {.epochs = 100, .tolerance = 0.1, .patience = 4, .validation = &test});
  CHECK(h.stop_reason == "no_improvement");
  CHECK(h.epochs == 5);  // the first epoch sets the best, then 4 without improvement
  CHECK(h.validation_loss.size() == 5);
}

TEST_CASE("restore_best puts back the parameters of the epoch with the lowest validation loss") {
  std::mt19937_64 rng(2);
  nn::Network net({2, 16, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::SGD<double> opt(net.parameters(), 0.4, 0.9);  // large steps: the validation loss goes up and down
  const nn::TensorDataset<double> train = regression(16, 1), test = regression(16, 2);
  const nn::History h = nn::fit(net, train, nn::mse_loss, opt,
                                {.epochs = 40,
                                 .batch_size = 4,
                                 .patience = 1000,
                                 .validation = &test,
                                 .restore_best = true,
                                 .divergence_factor = 0});
  REQUIRE(h.validation_loss.size() == h.epochs);
  std::size_t best = 0;
  for (std::size_t e = 1; e < h.validation_loss.size(); ++e)
    if (h.validation_loss[e] < h.validation_loss[best]) best = e;
  CHECK(h.best_epoch == best + 1);
  CHECK(best + 1 < h.epochs);  // the test is only meaningful when the best is not the last epoch
  ad::NoGrad off;
  CHECK(nn::mse_loss(net(test.inputs()), test.targets()).item() == h.validation_loss[best]);
}

TEST_CASE("user metrics are evaluated per epoch on the validation data and reported by name") {
  std::mt19937_64 rng(1);
  nn::Network net({2, 1}, nn::Activation::identity, nn::Activation::identity, rng);
  nn::SGD<double> opt(net.parameters(), 0.05);
  const nn::TensorDataset<double> train = regression(30, 1), test = regression(10, 2);
  auto mae = [](const auto& out, const auto& data) {
    double s = 0;
    for (std::size_t i = 0; i < out.numel(); ++i)
      s += std::fabs(double(out.values()[i] - data.targets.values()[i]));
    return s / double(out.numel());
  };
  std::vector<double> from_callback;
  const nn::History h = nn::fit(net, train, nn::mse_loss, opt,
                                {.epochs = 4,
                                 .validation = &test,
                                 .on_epoch =
                                     [&](const nn::EpochReport& r) {
                                       from_callback.push_back(r.metric("mae"));
                                       return true;
                                     },
                                 .metrics = {nn::Metric{"mae", mae}}});
  REQUIRE(h.metrics.size() == 1);
  CHECK(h.metrics[0].first == "mae");
  CHECK(h.metrics[0].second == from_callback);
  ad::NoGrad off;
  CHECK(h.metrics[0].second.back() == mae(net(test.inputs()), test.all()));
  CHECK_THROWS_AS(h.reports.back().metric("rmse"), std::out_of_range);
}

TEST_CASE("validation in chunks gives the figures of one pass over the whole validation set") {
  const nn::TensorDataset<double> train = blobs(120, 1), test = blobs(77, 2);
  std::vector<nn::History> runs;
  for (std::size_t chunk : {std::size_t{0}, std::size_t{10}, std::size_t{77}, std::size_t{1000}}) {
    std::mt19937_64 rng(4);
    ResidualNet<double> model(2, 3, rng);
    nn::Adam<double> opt(model.parameters(), 0.05);
    runs.push_back(
        nn::fit(model, train, nn::cross_entropy, opt,
                {.epochs = 3, .batch_size = 32, .validation = &test, .validation_batch_size = chunk}));
  }
  for (const nn::History& h : runs) {
    REQUIRE(h.validation_loss.size() == 3);
    CHECK(h.validation_accuracy == runs[0].validation_accuracy);
    for (std::size_t e = 0; e < 3; ++e)
      CHECK(h.validation_loss[e] == doctest::Approx(runs[0].validation_loss[e]).epsilon(1e-13));
  }
}

TEST_CASE("the data loader is deterministic for a seed and each epoch is a permutation") {
  const nn::TensorDataset<double> data = blobs(10, 1);
  auto epochs_of = [&](std::uint64_t seed) {
    nn::DataLoader<double> loader(data, {.batch_size = 4, .seed = seed});
    std::vector<std::vector<std::size_t>> out;
    for (int e = 0; e < 3; ++e) {
      std::vector<std::size_t> labels;
      std::multiset<double> xs;
      std::size_t batches = 0;
      for (const nn::Batch<double>& b : loader) {
        labels.insert(labels.end(), b.labels.begin(), b.labels.end());
        xs.insert(b.inputs.values().begin(), b.inputs.values().end());
        ++batches;
      }
      CHECK(batches == 3);
      CHECK(xs == std::multiset<double>(data.inputs().values().begin(), data.inputs().values().end()));
      out.push_back(loader.order());
    }
    return out;
  };
  const auto a = epochs_of(7), b = epochs_of(7), c = epochs_of(8);
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a[0] != a[1]);  // reshuffled every epoch
}

TEST_CASE("drop_last leaves out the short last batch; without shuffling batches are the data in order") {
  const nn::TensorDataset<double> data = blobs(10, 1);
  nn::DataLoader<double> dropping(data, {.batch_size = 4, .drop_last = true});
  CHECK(dropping.size() == 2);
  nn::DataLoader<double> ordered(data, {.batch_size = 4, .shuffle = false});
  CHECK(ordered.size() == 3);
  ordered.new_epoch();
  CHECK(ordered.batch(2).labels == std::vector<std::size_t>{data.labels()[8], data.labels()[9]});
  CHECK(ordered.batch(0).inputs.at({1, 0}) == data.inputs().at({1, 0}));
  CHECK_THROWS_AS(ordered.batch(3), std::out_of_range);
  CHECK_THROWS_WITH_AS(nn::DataLoader<double>(data, {.batch_size = 11, .drop_last = true}),
                       Contains("leaves no batch"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ordered.restore({0, 1, 2, 3, 4, 5, 6, 7, 8, 8}, ordered.rng_state()),
                       Contains("not a permutation"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ordered.restore({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "garbage"), Contains("mt19937_64"),
                       std::invalid_argument);
}

TEST_CASE("argmax takes the last axis per row, the first of ties, and NaN as the largest") {
  const ad::Tensor x = ad::Tensor::from({3, 3}, {0.1, 0.7, 0.2, 5, 5, 1, 1, std::nan(""), 9});
  CHECK(nn::argmax(x) == std::vector<std::size_t>{1, 0, 1});
  CHECK(nn::argmax(ad::Tensor::from({4}, {1, 3, 2, 3})) == std::vector<std::size_t>{1});
  CHECK(nn::accuracy(x, {1, 1, 1}) == doctest::Approx(2.0 / 3.0));
  CHECK_THROWS_WITH_AS(nn::accuracy(x, {1, 1}), Contains("nn::accuracy"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::accuracy(x, {1, 1, 3}), Contains("label 3 of sample 2"), std::out_of_range);
  CHECK_THROWS_AS(nn::argmax(ad::Tensor::zeros({2, 0})), std::invalid_argument);
}

TEST_CASE("an exploding loss stops training as diverged and leaves finite weights") {
  std::mt19937_64 rng(1);
  nn::Network net({2, 1}, nn::Activation::identity, nn::Activation::identity, rng);
  nn::GradientDescent<double> opt(net.parameters(), 5.0);  // far past the stable step
  const nn::History h = nn::fit(net, regression(20, 1), nn::mse_loss, opt, {.epochs = 1000});
  CHECK(h.stop_reason == "diverged");
  CHECK(h.stop_detail.find("more than 1e+06 times the first batch's") != std::string::npos);
  CHECK(h.epochs < 1000);
  CHECK(all_finite(net));
}

TEST_CASE("a NaN loss stops training before the step, leaving the weights of the last finite step") {
  nn::TensorDataset<double> data = regression(8, 1);
  std::vector<double> x(data.inputs().values().begin(), data.inputs().values().end());
  x[6 * 2] = std::nan("");  // sample 6, in the second batch of 4
  const nn::TensorDataset<double> poisoned(ad::Tensor::from({8, 2}, x), data.targets());
  std::mt19937_64 rng(1);
  nn::Network net({2, 1}, nn::Activation::identity, nn::Activation::identity, rng);
  nn::SGD<double> opt(net.parameters(), 0.1);
  std::vector<double> after_first;
  const nn::History h =
      nn::fit(net, poisoned, nn::mse_loss, opt,
              {.epochs = 5, .batch_size = 4, .shuffle = false, .on_batch = [&](const nn::BatchReport&) {
                 after_first = flat(net);
                 return true;
               }});
  CHECK(h.stop_reason == "diverged");
  CHECK(h.stop_detail == "the loss of batch 2 of epoch 1 is NaN");
  CHECK(h.epochs == 0);
  CHECK(flat(net) == after_first);  // the first batch's step stays, the second is never taken
}

TEST_CASE("a gradient that is not finite stops training before the step") {
  std::mt19937_64 rng(1);
  nn::Network net({2, 1}, nn::Activation::identity, nn::Activation::identity, rng);
  const std::vector<double> before = flat(net);
  nn::SGD<double> opt(net.parameters(), 0.1);
  // sqrt at 0: the loss is 0, its derivative infinite.
  auto loss = [](const ad::Tensor& out, const ad::Tensor&) { return ad::sqrt(ad::sum(out * 0.0)); };
  const nn::History h = nn::fit(net, regression(8, 1), loss, opt, {.epochs = 3});
  CHECK(h.stop_reason == "diverged");
  CHECK(h.stop_detail.find("a gradient in batch 1 of epoch 1 is not finite") != std::string::npos);
  CHECK(flat(net) == before);
}

TEST_CASE("a step that would make a parameter overflow is not applied and stops training") {
  std::mt19937_64 rng(1);
  nn::NetworkT<float> net({2, 1}, nn::Activation::identity, nn::Activation::identity, rng);
  const std::vector<float> before = flat(net);
  nn::GradientDescent<float> opt(net.parameters(), 1e30f);
  auto loss = [](const ad::TensorF& out, const ad::TensorF&) { return ad::sum(out) * 1e10f; };
  const nn::TensorDataset<float> data(ad::TensorF::ones({4, 2}), ad::TensorF::ones({4, 1}));
  const nn::History h = nn::fit(net, data, loss, opt, {.epochs = 3});
  CHECK(h.stop_reason == "diverged");
  CHECK(h.stop_detail.find("would make parameter 0 of the optimiser (shape [1, 2]) non-finite; those values "
                           "were not stepped") != std::string::npos);
  CHECK(flat(net) == before);
}

TEST_CASE("a parameter the loss never reaches is reported once by name") {
  std::mt19937_64 rng(1);
  WithUnused model(rng);
  nn::Adam<double> opt(model.parameters(), 0.01);
  std::vector<std::string> warnings;
  const nn::History h = nn::fit(
      model, blobs(30, 1), nn::cross_entropy, opt,
      {.epochs = 3, .batch_size = 10, .on_warning = [&](const std::string& w) { warnings.push_back(w); }});
  CHECK(h.unreached == std::vector<std::string>{"unused"});
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("parameter 'unused' [3] requires a gradient but the loss does not depend on it") !=
        std::string::npos);
  CHECK(h.epochs == 3);
}

TEST_CASE("misused data-set options are refused with the reason") {
  std::mt19937_64 rng(1);
  nn::Network net({2, 3}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::Adam<double> opt(net.parameters());
  const nn::TensorDataset<double> labelled = blobs(12, 1);
  const nn::TensorDataset<float> single = blobs<float>(12, 1);
  CHECK_THROWS_WITH_AS(nn::fit(net, labelled, nn::cross_entropy, opt, {.epochs = 1, .validation = &single}),
                       Contains("the validation data set holds float32"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::fit(net, labelled, nn::mse_loss, opt, {.epochs = 1}),
                       Contains("the loss takes target tensors, but the data set holds class labels"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::fit(net, labelled, nn::cross_entropy, opt,
                               {.epochs = 1, .validation_fraction = 0.5, .validation = &labelled}),
                       Contains("not both"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::TensorDataset<double>(ad::Tensor::zeros({3, 2}), std::vector<std::size_t>{0, 1}),
                       Contains("one row per label"), std::invalid_argument);
}

TEST_CASE_TEMPLATE(
    "a user-defined module resumed from fit's checkpoint ends bit-identical to an uninterrupted run", T,
    float, double) {
  const nn::TensorDataset<T> train = blobs<T>(60, 1), test = blobs<T>(30, 2);
  const std::string path = scratch(std::string("residual-") + (sizeof(T) == 4 ? "f" : "d") + ".adck");
  auto run = [&](std::size_t epochs, bool resume) {
    std::mt19937_64 rng(9);
    ResidualNet<T> model(2, 3, rng);
    nn::Adam<T> opt(model.parameters(), T(0.02));
    const nn::History h = nn::fit(model, train, nn::cross_entropy, opt,
                                  {.epochs = epochs,
                                   .batch_size = 16,
                                   .patience = 1000,
                                   .validation = &test,
                                   .restore_best = true,
                                   .seed = 4,
                                   .checkpoint_path = path,
                                   .checkpoint_every = 1,
                                   .resume = resume});
    return std::make_pair(flat(model), h);
  };
  std::filesystem::remove(path);
  const auto whole = run(8, false);
  std::filesystem::remove(path);
  run(3, true);  // "killed" after 3 epochs
  const auto resumed = run(8, true);
  CHECK(resumed.first == whole.first);
  CHECK(resumed.second.loss == whole.second.loss);
  CHECK(resumed.second.validation_loss == whole.second.validation_loss);
  CHECK(resumed.second.validation_accuracy == whole.second.validation_accuracy);
  CHECK(resumed.second.best_epoch == whole.second.best_epoch);
  CHECK(resumed.second.reports.size() == 5);  // the epochs this call ran
  std::filesystem::remove(path);
}

TEST_CASE("a checkpoint loaded into a module with another parameter shape names the parameter") {
  const std::string path = scratch("shape.adck");
  std::mt19937_64 rng(1);
  ResidualNet<double> model(2, 3, rng);
  nn::Adam<double> opt(model.parameters());
  nn::fit(model, blobs(12, 1), nn::cross_entropy, opt,
          {.epochs = 1, .checkpoint_path = path, .checkpoint_every = 1});
  ResidualNet<double> wider(2, 4, rng);
  nn::Adam<double> opt_wider(wider.parameters());
  CHECK_THROWS_WITH_AS(nn::load_checkpoint(path, wider, opt_wider),
                       Contains("'head.W' was saved with shape [3, 2], the ResidualNet's has shape [4, 2]"),
                       std::runtime_error);
  nn::Network net({2, 3}, nn::Activation::identity, nn::Activation::identity, rng);
  nn::Adam<double> opt_net(net.parameters());
  CHECK_THROWS_WITH_AS(nn::load_checkpoint(path, net, opt_net),
                       Contains("tensor 0 is the parameter 'inner.W'"), std::runtime_error);
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST_CASE("fit on a DataLoader uses the loader's batches and state, and refuses batching options beside it") {
  const nn::TensorDataset<double> data = blobs(40, 3);
  std::mt19937_64 rng_a(1), rng_b(1);
  nn::Network a({2, 5, 3}, nn::Activation::tanh, nn::Activation::identity, rng_a);
  nn::Network b({2, 5, 3}, nn::Activation::tanh, nn::Activation::identity, rng_b);
  nn::Adam<double> opt_a(a.parameters(), 0.01), opt_b(b.parameters(), 0.01);
  const nn::History ha =
      nn::fit(a, data, nn::cross_entropy, opt_a, {.epochs = 4, .batch_size = 8, .seed = 11});
  nn::DataLoader<double> loader(data, {.batch_size = 8, .seed = 11});
  nn::fit(b, loader, nn::cross_entropy, opt_b, {.epochs = 2});
  const nn::History hb =
      nn::fit(b, loader, nn::cross_entropy, opt_b, {.epochs = 2});  // continues the shuffling
  CHECK(flat(a) == flat(b));
  CHECK(hb.loss.back() == ha.loss.back());
  CHECK_THROWS_WITH_AS(nn::fit(b, loader, nn::cross_entropy, opt_b, {.epochs = 1, .batch_size = 4}),
                       Contains("batching and shuffling are the loader's"), std::invalid_argument);
}

TEST_CASE(
    "without the step guards a non-finite gradient reaches the weights and the next loss stops training") {
  std::mt19937_64 rng(1);
  nn::Network net({2, 1}, nn::Activation::identity, nn::Activation::identity, rng);
  nn::SGD<double> opt(net.parameters(), 0.1);
  auto loss = [](const ad::Tensor& out, const ad::Tensor&) { return ad::sqrt(ad::sum(out * 0.0)); };
  const nn::History h = nn::fit(net, regression(8, 1), loss, opt, {.epochs = 3, .guard_steps = false});
  CHECK(h.stop_reason == "diverged");
  CHECK(h.stop_detail == "the loss of batch 1 of epoch 2 is NaN");
  CHECK_FALSE(all_finite(net));  // what the guards prevent
}
