// Specification: nn::fit's whole training state survives a checkpoint — the
// optimiser's parameter groups and per-parameter step counts, a learning-rate
// schedule (per batch or per epoch, nn::ReduceOnPlateau included), gradient
// clipping — so that k epochs plus a resume to N are bit-identical to N epochs
// in one go; and resuming into a model of another architecture (same shapes,
// other activations) is refused.
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
#include <nn/checkpoint.hpp>
#include <nn/nn.hpp>

#include "scratch_dir.hpp"

using doctest::Contains;

namespace {

// Three Gaussian blobs in 2-d, labels 0..2.
nn::TensorDataset<double> blobs(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.5);
  const double centre[3][2] = {{2, 0}, {-1, 1.7}, {-1, -1.7}};
  std::vector<double> x(n * 2);
  std::vector<std::size_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) {
    labels[i] = i % 3;
    x[2 * i] = centre[i % 3][0] + noise(rng);
    x[2 * i + 1] = centre[i % 3][1] + noise(rng);
  }
  return {ad::Tensor::from({n, 2}, std::move(x)), std::move(labels)};
}

std::vector<double> flat(const nn::Module& m) {
  std::vector<double> out;
  for (const auto& [name, p] : m.named_parameters())
    out.insert(out.end(), p.values().begin(), p.values().end());
  return out;
}

std::string scratch(const std::string& name) {
  static const ScratchDir dir("ad-fit-resume");
  return dir.file(name);
}

// One run: a fresh model, optimiser and (optional) schedule, trained to
// `epochs` with a checkpoint every epoch. Returns the parameters and history.
struct Run {
  std::vector<double> parameters;
  nn::History history;
  std::vector<double> batch_rates;  // the learning rate of every step, as on_batch saw it
};
using MakeOptimizer = std::function<std::unique_ptr<nn::Optimizer<double>>(nn::Network&)>;
using MakeSchedule = std::function<std::unique_ptr<nn::Schedule>(nn::Optimizer<double>&)>;

Run train(const std::string& path, std::size_t epochs, bool resume, const MakeOptimizer& make_optimizer,
          const MakeSchedule& make_schedule = {}, nn::ScheduleUnit unit = nn::ScheduleUnit::epoch,
          double clip = 0.0) {
  static const nn::TensorDataset<double> data = blobs(60, 1), test = blobs(30, 2);
  std::mt19937_64 rng(9);
  nn::Network net({2, 5, 3}, nn::Activation::tanh, nn::Activation::identity, rng);
  const auto optimizer = make_optimizer(net);
  const auto schedule = make_schedule ? make_schedule(*optimizer) : nullptr;
  Run run;
  run.history = nn::fit(net, data, nn::cross_entropy, *optimizer,
                        {.epochs = epochs,
                         .batch_size = 16,
                         .patience = 1000,
                         .validation = &test,
                         .on_batch =
                             [&](const nn::BatchReport& r) {
                               run.batch_rates.push_back(r.learning_rate);
                               return true;
                             },
                         .schedule = schedule.get(),
                         .schedule_unit = unit,
                         .clip_grad_norm = clip,
                         .seed = 4,
                         .checkpoint_path = path,
                         .checkpoint_every = 1,
                         .resume = resume});
  run.parameters = flat(net);
  return run;
}

// 8 epochs in one go, and 3 epochs then a resume to 8: the same bits.
void check_resume_is_exact(const std::string& name, const MakeOptimizer& make_optimizer,
                           const MakeSchedule& make_schedule = {},
                           nn::ScheduleUnit unit = nn::ScheduleUnit::epoch, double clip = 0.0) {
  const std::string path = scratch(name + ".adck");
  std::filesystem::remove(path);
  const Run whole = train(path, 8, false, make_optimizer, make_schedule, unit, clip);
  std::filesystem::remove(path);
  const Run first = train(path, 3, true, make_optimizer, make_schedule, unit, clip);  // "killed" after 3
  const Run rest = train(path, 8, true, make_optimizer, make_schedule, unit, clip);
  CHECK(rest.history.reports.size() == 5);
  CHECK(rest.parameters == whole.parameters);
  CHECK(rest.history.loss == whole.history.loss);
  CHECK(rest.history.validation_loss == whole.history.validation_loss);
  std::vector<double> rates = first.batch_rates;
  rates.insert(rates.end(), rest.batch_rates.begin(), rest.batch_rates.end());
  CHECK(rates == whole.batch_rates);
  std::filesystem::remove(path);
}

// SGD with momentum and dampening, the output layer in a second group with
// its own rate.
std::unique_ptr<nn::Optimizer<double>> sgd_two_groups(nn::Network& net) {
  auto opt = std::make_unique<nn::SGD<double>>(
      net.layers()[0].parameters(), nn::SGDOptions{.learning_rate = 0.05, .momentum = 0.9, .dampening = 0.3});
  opt->add_param_group(net.layers()[1].parameters(), {.learning_rate = 0.2});
  return opt;
}

std::unique_ptr<nn::Optimizer<double>> adamw(nn::Network& net) {
  return std::make_unique<nn::AdamW<double>>(net.parameters(), nn::AdamWOptions{.learning_rate = 0.02});
}

}  // namespace

TEST_CASE("resuming SGD with momentum, dampening and two parameter groups is bit-identical") {
  check_resume_is_exact("sgd-groups", sgd_two_groups);
}

TEST_CASE("resuming AdamW is bit-identical") { check_resume_is_exact("adamw", adamw); }

TEST_CASE("a checkpoint keeps each group's learning rate and which SGD velocities have started") {
  const std::string path = scratch("state.adck");
  std::mt19937_64 rng(3);
  nn::Network net({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::SGD<double> opt(net.layers()[0].parameters(),
                      {.learning_rate = 0.1, .momentum = 0.9, .dampening = 0.5});
  opt.add_param_group(net.layers()[1].parameters(), {.learning_rate = 0.01});
  // One step in which only the first layer's weights receive a gradient.
  const ad::Tensor x = ad::Tensor::from({1, 2}, {0.5, -1.0});
  opt.zero_grad();
  ad::sum(ad::matmul(x, ad::transpose(net.layers()[0].weights()))).backward();
  opt.step();
  const nn::OptimizerState saved = opt.state();
  REQUIRE(saved.parameter_steps == std::vector<std::uint64_t>{1, 0, 0, 0});
  nn::TrainingState state;
  state.rng = [] {
    std::ostringstream out;
    out << std::mt19937_64(1);
    return out.str();
  }();
  nn::save_checkpoint(path, static_cast<const nn::Module&>(net), opt, state);

  nn::SGD<double> fresh(net.layers()[0].parameters(),
                        {.learning_rate = 0.1, .momentum = 0.9, .dampening = 0.5});
  fresh.add_param_group(net.layers()[1].parameters(), {.learning_rate = 0.5});
  nn::load_checkpoint(path, static_cast<nn::Module&>(net), fresh);
  CHECK(fresh.learning_rate(1) == 0.01);
  CHECK(fresh.state().parameter_steps == saved.parameter_steps);
  CHECK(fresh.state().other_group_learning_rates == saved.other_group_learning_rates);
  std::filesystem::remove(path);
}

TEST_CASE(
    "a cosine schedule with warm-up stepped per batch sets each step's rate and resumes bit-identically") {
  const MakeSchedule cosine = [](nn::Optimizer<double>& opt) {
    return std::make_unique<nn::CosineSchedule>(opt, /*total_steps=*/25, /*warmup_steps=*/4, 0.001);
  };
  check_resume_is_exact("cosine", sgd_two_groups, cosine, nn::ScheduleUnit::batch);

  const std::string path = scratch("cosine-rates.adck");
  std::filesystem::remove(path);
  const Run run = train(path, 2, false, sgd_two_groups, cosine, nn::ScheduleUnit::batch);
  std::mt19937_64 rng(1);
  nn::Network probe({1, 1}, nn::Activation::identity, nn::Activation::identity, rng);
  nn::SGD<double> probe_opt(probe.parameters(), 0.05);
  const nn::CosineSchedule formula(probe_opt, 25, 4, 0.001);
  REQUIRE(run.batch_rates.size() == 8);  // 60 samples in batches of 16, 2 epochs
  for (std::size_t t = 0; t < run.batch_rates.size(); ++t)
    CHECK(run.batch_rates[t] == formula.learning_rate_at(0.05, t));
  CHECK(run.history.reports[1].learning_rate == formula.learning_rate_at(0.05, 4));
  std::filesystem::remove(path);
}

TEST_CASE("reduce-on-plateau stepped per epoch follows the validation loss and resumes bit-identically") {
  const MakeSchedule plateau = [](nn::Optimizer<double>& opt) {
    // A relative threshold of 50%: most epochs count as no improvement.
    return std::make_unique<nn::ReduceOnPlateau>(
        opt, nn::ReduceOnPlateauOptions{.factor = 0.5, .patience = 1, .threshold = 0.5});
  };
  check_resume_is_exact("plateau", adamw, plateau);

  const std::string path = scratch("plateau-rates.adck");
  std::filesystem::remove(path);
  const Run run = train(path, 8, false, adamw, plateau);
  // The same schedule fed the validation losses gives the rates the epochs reported.
  std::mt19937_64 rng(1);
  nn::Network probe({1, 1}, nn::Activation::identity, nn::Activation::identity, rng);
  nn::AdamW<double> probe_opt(probe.parameters(), {.learning_rate = 0.02});
  nn::ReduceOnPlateau replay(probe_opt, {.factor = 0.5, .patience = 1, .threshold = 0.5});
  for (std::size_t e = 0; e < 8; ++e) {
    CHECK(run.history.reports[e].learning_rate == probe_opt.learning_rate());
    replay.step(run.history.validation_loss[e]);
  }
  CHECK(run.history.reports.back().learning_rate < 0.02);  // it did reduce
  std::filesystem::remove(path);
}

TEST_CASE("gradient clipping in fit equals clipping by hand between backward and step") {
  std::mt19937_64 rng(2);
  nn::Network a({2, 4, 3}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::Network b = a.clone();
  const nn::TensorDataset<double> data = blobs(30, 5);
  nn::SGD<double> opt_a(a.parameters(), 0.5), opt_b(b.parameters(), 0.5);
  nn::fit(a, data, nn::cross_entropy, opt_a, {.epochs = 4, .clip_grad_norm = 0.05});
  std::vector<double> norms;
  for (int e = 0; e < 4; ++e) {
    opt_b.zero_grad();
    nn::cross_entropy(b(data.all().inputs), data.all().labels).backward();
    norms.push_back(nn::clip_grad_norm(b.parameters(), 0.05));
    opt_b.step();
  }
  CHECK(norms.front() > 0.05);  // clipping did something
  CHECK(flat(a) == flat(b));
  check_resume_is_exact("clipped", sgd_two_groups, {}, nn::ScheduleUnit::epoch, 0.1);
}

TEST_CASE("a non-finite gradient norm with clipping stops training as diverged without stepping") {
  std::mt19937_64 rng(1);
  nn::Network net({2, 1}, nn::Activation::identity, nn::Activation::identity, rng);
  const std::vector<double> before = flat(net);
  nn::SGD<double> opt(net.parameters(), 0.1);
  // sqrt at 0: the loss is 0, its derivative infinite.
  auto loss = [](const ad::Tensor& out, const ad::Tensor&) { return ad::sqrt(ad::sum(out * 0.0)); };
  const nn::TensorDataset<double> data(ad::Tensor::ones({4, 2}), ad::Tensor::ones({4, 1}));
  const nn::History h = nn::fit(net, data, loss, opt, {.epochs = 3, .clip_grad_norm = 1.0});
  CHECK(h.stop_reason == "diverged");
  CHECK(h.stop_detail.find("the gradients' norm in batch 1 of epoch 1 is") != std::string::npos);
  CHECK(flat(net) == before);
}

TEST_CASE(
    "fit refuses a schedule of another optimiser, a negative clip norm and a resume without the schedule") {
  std::mt19937_64 rng(1);
  nn::Network net({2, 3}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::SGD<double> opt(net.parameters(), 0.1), other(net.parameters(), 0.1);
  nn::StepSchedule schedule(other, 2);
  const nn::TensorDataset<double> data = blobs(12, 1);
  CHECK_THROWS_WITH_AS(
      nn::fit(net, data, nn::cross_entropy, opt, {.epochs = 1, .schedule = &schedule}),
      "nn::fit: the StepSchedule in FitOptions::schedule drives another optimiser than the one "
      "given to fit",
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::fit(net, data, nn::cross_entropy, opt, {.epochs = 1, .clip_grad_norm = -1}),
                       "nn::fit: clip_grad_norm must be finite and >= 0 (0: off), got -1",
                       std::invalid_argument);
  const std::string path = scratch("with-schedule.adck");
  std::filesystem::remove(path);
  nn::StepSchedule own(opt, 2);
  nn::fit(net, data, nn::cross_entropy, opt,
          {.epochs = 1, .schedule = &own, .checkpoint_path = path, .checkpoint_every = 1});
  CHECK_THROWS_WITH_AS(nn::fit(net, data, nn::cross_entropy, opt,
                               {.epochs = 2, .checkpoint_path = path, .checkpoint_every = 1, .resume = true}),
                       Contains("was written with a learning-rate schedule, the run resuming it has none"),
                       std::runtime_error);
  std::filesystem::remove(path);
}

TEST_CASE("resuming into a network with other activations is refused, naming both architectures") {
  const std::string path = scratch("activations.adck");
  std::filesystem::remove(path);
  const nn::TensorDataset<double> data = blobs(12, 1);
  {
    std::mt19937_64 rng(1);
    nn::Network net({2, 3, 3}, nn::Activation::tanh, nn::Activation::identity, rng);
    nn::SGD<double> opt(net.parameters(), 0.1);
    nn::fit(net, data, nn::cross_entropy, opt, {.epochs = 1, .checkpoint_path = path, .checkpoint_every = 1});
  }
  std::mt19937_64 rng(1);
  nn::Network relu({2, 3, 3}, nn::Activation::relu, nn::Activation::identity, rng);
  nn::SGD<double> opt(relu.parameters(), 0.1);
  const std::vector<double> before = flat(relu);
  CHECK_THROWS_WITH_AS(
      nn::fit(relu, data, nn::cross_entropy, opt,
              {.epochs = 2, .checkpoint_path = path, .checkpoint_every = 1, .resume = true}),
      Contains("the checkpoint was saved from Network(layer1: Dense(2->3, tanh), layer2: Dense(3->3, "
               "identity)), the model is Network(layer1: Dense(2->3, relu), layer2: Dense(3->3, identity))"),
      std::runtime_error);
  CHECK(flat(relu) == before);  // nothing loaded
  std::filesystem::remove(path);
}

TEST_CASE("a long architecture mismatch names the first part that differs") {
  const std::string path = scratch("long.adck");
  std::mt19937_64 rng(1);
  auto network = [&](nn::Activation last_hidden) {
    std::vector<nn::Dense> layers;
    for (int L = 0; L < 12; ++L) layers.emplace_back(2, 2, L == 11 ? last_hidden : nn::Activation::tanh, rng);
    layers.emplace_back(2, 2, nn::Activation::identity, rng);
    return nn::Network(std::move(layers));
  };
  nn::Network saved = network(nn::Activation::tanh), loaded = network(nn::Activation::logistic);
  nn::SGD<double> opt(saved.parameters(), 0.1), opt_loaded(loaded.parameters(), 0.1);
  nn::TrainingState state;
  std::ostringstream rng_text;
  rng_text << std::mt19937_64(1);
  state.rng = rng_text.str();
  nn::save_checkpoint(path, static_cast<const nn::Module&>(saved), opt, state);
  CHECK_THROWS_WITH_AS(
      nn::load_checkpoint(path, static_cast<nn::Module&>(loaded), opt_loaded),
      Contains(": ...layer12: Dense(2->2, tanh), layer13: Dense(2->2, identity)), the model has "
               "...layer12: Dense(2->2, logistic), layer13: Dense(2->2, identity))"),
      std::runtime_error);
  std::filesystem::remove(path);
}
