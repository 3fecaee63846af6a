// Specification of anomaly mode (ad::DetectAnomaly, autodiff/tape.hpp): inside
// the scope the first op whose value or backward contribution is NaN or
// infinite throws ad::AnomalyError naming the op, its inputs and the line
// that recorded it; outside nothing is checked; tapes opened inside the scope
// are checked too; and checking changes no value or gradient.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <autodiff/custom_op.hpp>
#include <autodiff/tape.hpp>
#include <autodiff/tensor.hpp>
#include <autodiff/tensor_ops.hpp>
#include <autodiff/var.hpp>
#include <nn/loss.hpp>
#include <nn/network.hpp>

namespace {

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

// The message of the AnomalyError that `run` throws; "" when it throws none.
template <class F>
std::string anomaly_message(F&& run) {
  try {
    run();
  } catch (const ad::AnomalyError& e) {
    return e.what();
  }
  return {};
}

// "test_anomaly.cpp:<line>": the place a message must point at.
std::string here(int line) { return fmt::format("test_anomaly.cpp:{}", line); }

template <class T>
std::vector<std::uint64_t> bits(std::span<const T> values) {
  std::vector<std::uint64_t> out;
  for (T v : values) out.push_back(std::bit_cast<std::uint64_t>(static_cast<double>(v)));
  return out;
}

// f(x) = sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, with named functions so
// that anomaly mode has lines to record.
ad::Var rosenbrock(std::span<const ad::Var> x) {
  ad::Var sum = 0.0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i)
    sum += 100.0 * ad::pow(x[i + 1] - x[i] * x[i], 2.0) + ad::pow(1.0 - x[i], 2.0);
  return sum;
}

struct ScalarResult {
  double value;
  std::vector<double> gradient;
};

ScalarResult scalar_run(bool detect) {
  ad::Tape tape;
  const std::vector<ad::Var> x = {0.3, -1.2, 2.5, 0.7};
  if (!detect) {
    const ad::Var f = rosenbrock(x);
    return {f.value(), ad::gradient(f, x)};
  }
  ad::DetectAnomaly anomaly;
  const ad::Var f = rosenbrock(x);
  return {f.value(), ad::gradient(f, x)};
}

struct NetworkResult {
  double loss;
  std::vector<std::vector<std::uint64_t>> grads;
};

NetworkResult network_run(const nn::Network& net, const ad::Tensor& X, const ad::Tensor& Y) {
  for (auto& p : net.parameters()) p.zero_grad();
  ad::Tensor loss = nn::mse_loss(net(X), Y);
  loss.backward();
  NetworkResult r{loss.item(), {}};
  for (const auto& p : net.parameters()) r.grads.push_back(bits<double>(p.grad().values()));
  return r;
}

}  // namespace

TEST_CASE("the log of a negative Var inside DetectAnomaly throws, naming log, the input and the calling line") {
  ad::Tape tape;
  ad::DetectAnomaly anomaly;
  const ad::Var x = -2.5;
  const int line = __LINE__; const std::string message = anomaly_message([&] { return ad::log(x); });
  INFO(message);
  REQUIRE_FALSE(message.empty());
  CHECK(contains(message, "log"));
  CHECK(contains(message, "-2.5"));
  CHECK(contains(message, here(line)));
  CHECK(contains(message, "nan"));
}

TEST_CASE("the log of a tensor with a negative entry inside DetectAnomaly throws, naming log, the values and the line") {
  const ad::Tensor x = ad::Tensor::from({3}, {1.0, -2.5, 3.0}).requires_grad(true).name("x");
  ad::DetectAnomaly anomaly;
  const int line = __LINE__; const std::string message = anomaly_message([&] { return ad::log(x); });
  INFO(message);
  REQUIRE_FALSE(message.empty());
  CHECK(contains(message, "log"));
  CHECK(contains(message, "element 1"));
  CHECK(contains(message, "'x'"));
  CHECK(contains(message, "-2.5"));
  CHECK(contains(message, here(line)));
}

TEST_CASE("a tensor op on constants is checked too") {
  const ad::Tensor x = ad::Tensor::from({2}, {4.0, -1.0});
  ad::DetectAnomaly anomaly;
  const int line = __LINE__; const std::string message = anomaly_message([&] { return ad::sqrt(x); });
  CHECK(contains(message, "sqrt"));
  CHECK(contains(message, here(line)));
}

TEST_CASE("a non-finite value that appears only in a scalar backward is reported by the sweep with the op") {
  ad::Tape tape;
  ad::DetectAnomaly anomaly;
  const ad::Var x = 0.0;
  const int line = __LINE__; const ad::Var root = ad::sqrt(x);
  const ad::Var f = root * 3.0;  // finite forward: sqrt(0) * 3 = 0
  CHECK(f.value() == 0.0);
  // d sqrt(x)/dx = 1 / (2 sqrt(x)) is infinite at 0.
  const std::string message = anomaly_message([&] { return ad::gradient(f, {x}); });
  INFO(message);
  REQUIRE_FALSE(message.empty());
  CHECK(contains(message, "backward of sqrt"));
  CHECK(contains(message, "inf"));
  CHECK(contains(message, here(line)));
}

TEST_CASE("a non-finite value that appears only in a tensor backward is reported by the sweep with the op") {
  const ad::Tensor x = ad::Tensor::from({2}, {4.0, 0.0}).requires_grad(true).name("x");
  ad::DetectAnomaly anomaly;
  const int line = __LINE__; const ad::Tensor root = ad::sqrt(x);
  double factor = 0;
  SUBCASE("infinity: 3 / (2 sqrt(0))") { factor = 3.0; }
  SUBCASE("NaN: 0 / (2 sqrt(0))") { factor = 0.0; }
  CAPTURE(factor);
  ad::Tensor f = ad::sum(root * factor);
  CHECK(f.item() == 2 * factor);
  const std::string message = anomaly_message([&] { f.backward(); });
  INFO(message);
  REQUIRE_FALSE(message.empty());
  CHECK(contains(message, "backward of sqrt"));
  CHECK(contains(message, "'x'"));
  CHECK(contains(message, "element 1"));
  CHECK(contains(message, here(line)));
}

TEST_CASE("the first op that produces a non-finite value is the one reported") {
  ad::Tape tape;
  ad::DetectAnomaly anomaly;
  const ad::Var x = -1.0;
  // log(-1) is NaN, and so is everything computed from it; log is named.
  const std::string message = anomaly_message([&] { return ad::exp(ad::sin(ad::log(x))) * 2.0; });
  const std::string what = message.substr(0, message.find(" recorded at"));
  CHECK(contains(what, "log produced"));
  CHECK_FALSE(contains(what, "exp"));
  CHECK_FALSE(contains(what, "sin"));
}

TEST_CASE("outside a DetectAnomaly scope nothing is checked") {
  ad::Tape tape;
  const ad::Var x = -2.5;
  auto scalar = [&] {
    const ad::Var y = ad::log(x);
    return std::isnan(y.value()) && std::isnan(ad::gradient(ad::sqrt(x - x) * 3.0 + y, {x})[0]);
  };
  const ad::Tensor t = ad::Tensor::from({2}, {-1.0, 0.0}).requires_grad(true);
  auto tensor = [&] {
    ad::Tensor y = ad::sum(ad::log(t) + ad::sqrt(t));
    y.backward();
    return std::isnan(y.item());
  };
  CHECK(scalar());
  CHECK(tensor());
  {
    ad::DetectAnomaly anomaly;
    CHECK_THROWS_AS(scalar(), ad::AnomalyError);
    CHECK_THROWS_AS(tensor(), ad::AnomalyError);
  }
  // The scope has ended: the same code runs unchecked again.
  CHECK(scalar());
  CHECK(tensor());
}

TEST_CASE("a tape opened inside a DetectAnomaly scope is checked") {
  ad::Tape outer;
  ad::DetectAnomaly anomaly;
  {
    ad::Tape inner;
    const ad::Var x = -1.0;
    const int line = __LINE__; const std::string message = anomaly_message([&] { return ad::log(x); });
    CHECK(contains(message, "log"));
    CHECK(contains(message, here(line)));
  }
  // The outer tape is still checked once the inner one is gone.
  const ad::Var y = -3.0;
  CHECK_THROWS_AS(ad::log(y), ad::AnomalyError);
}

TEST_CASE("inside an inner tape, an op on an enclosing tape's Var (a constant there) is checked like a tensor op") {
  ad::Tape outer;
  const ad::Var y = -3.0;
  ad::DetectAnomaly anomaly;
  ad::Tape inner;
  const int line = __LINE__; const std::string message = anomaly_message([&] { return ad::log(y); });
  INFO(message);
  CHECK(contains(message, "log"));
  CHECK(contains(message, "-3"));
  CHECK(contains(message, here(line)));
  // The same for a constant tensor, and for a Var computed with no tape recording.
  CHECK_THROWS_AS(ad::log(ad::Tensor::scalar(-3.0)), ad::AnomalyError);
  {
    ad::NoGrad off;
    CHECK_THROWS_AS(ad::log(ad::Var(-3.0)), ad::AnomalyError);
    CHECK_THROWS_AS(ad::Var(-3.0) / 0.0, ad::AnomalyError);
  }
}

TEST_CASE("a DetectAnomaly scope on an inner tape leaves the enclosing tape unchecked") {
  ad::Tape outer;
  const ad::Var y = -3.0;
  {
    ad::Tape inner;
    ad::DetectAnomaly anomaly;
    const ad::Var x = -1.0;
    CHECK_THROWS_AS(ad::log(x), ad::AnomalyError);
  }
  CHECK(std::isnan(ad::log(y).value()));
}

TEST_CASE("nested DetectAnomaly scopes check until the outermost one ends") {
  ad::Tape tape;
  const ad::Var x = -1.0;
  {
    ad::DetectAnomaly outer_scope;
    {
      ad::DetectAnomaly inner_scope;
      CHECK_THROWS_AS(ad::log(x), ad::AnomalyError);
    }
    CHECK_THROWS_AS(ad::log(x), ad::AnomalyError);
  }
  CHECK(std::isnan(ad::log(x).value()));
}

TEST_CASE("a scope opened before any tape checks the tapes opened inside it") {
  ad::DetectAnomaly anomaly;
  ad::Tape tape;
  const ad::Var x = 1000.0;
  CHECK_THROWS_AS(ad::exp(x), ad::AnomalyError);
}

TEST_CASE("exp overflow is reported for Var and for Tensor") {
  {
    ad::Tape tape;
    ad::DetectAnomaly anomaly;
    const ad::Var x = 1000.0;
    const std::string message = anomaly_message([&] { return ad::exp(x); });
    CHECK(contains(message, "exp"));
    CHECK(contains(message, "inf"));
    CHECK(contains(message, "1000"));
  }
  {
    ad::DetectAnomaly anomaly;
    const ad::Tensor x = ad::Tensor::from({2}, {1.0, 800.0}).requires_grad(true).name("big");
    const std::string message = anomaly_message([&] { return ad::exp(x); });
    CHECK(contains(message, "exp"));
    CHECK(contains(message, "element 1"));
    CHECK(contains(message, "'big'"));
  }
  {
    // exp(100) is finite in double but overflows float.
    ad::DetectAnomaly anomaly;
    const ad::TensorF x = ad::TensorF::from({1}, {100.0f}).requires_grad(true);
    CHECK(contains(anomaly_message([&] { return ad::exp(x); }), "exp"));
  }
}

TEST_CASE("an anomaly in a user-defined op names that op") {
  const ad::CustomOp reciprocal("reciprocal", [](double v) { return 1 / v; },
                                [](double, double y) { return -y * y; });
  {
    ad::Tape tape;
    ad::DetectAnomaly anomaly;
    const ad::Var x = 0.0;
    CHECK(contains(anomaly_message([&] { return reciprocal(x); }), "reciprocal"));
  }
  {
    ad::Tape tape;
    ad::DetectAnomaly anomaly;
    const ad::Var x = 1e-200;
    const ad::Var f = reciprocal(x);  // 1e200: finite; its derivative -1e400 is not
    CHECK(contains(anomaly_message([&] { return ad::gradient(f, {x}); }), "reciprocal"));
  }
  {
    // Not recorded (nothing records inside NoGrad), still checked.
    ad::DetectAnomaly anomaly;
    ad::NoGrad off;
    CHECK(contains(anomaly_message([&] { return reciprocal(ad::Var(0.0)); }), "reciprocal"));
    // A finite result of huge operands is no anomaly.
    const ad::CustomOp half_sum("half_sum", [](double a, double b) { return a / 2 + b / 2; },
                                [](double, double, double) { return 0.5; }, [](double, double, double) { return 0.5; });
    CHECK(half_sum(ad::Var(1e308), ad::Var(1e308)).value() == 1e308);
  }
  {
    const ad::Tensor x = ad::Tensor::from({2}, {1.0, 0.0}).requires_grad(true);
    ad::DetectAnomaly anomaly;
    const std::string message = anomaly_message([&] {
      return ad::custom_op<double>("reciprocal", {x}, x.shape(), {1.0, INFINITY},
                                   [](const ad::CustomGradient<double>&) {});
    });
    CHECK(contains(message, "reciprocal"));
  }
}

TEST_CASE("values and gradients computed in anomaly mode are bit-identical to those without it") {
  SUBCASE("scalar tape") {
    const ScalarResult plain = scalar_run(false);
    const ScalarResult checked = scalar_run(true);
    CHECK(std::bit_cast<std::uint64_t>(plain.value) == std::bit_cast<std::uint64_t>(checked.value));
    CHECK(bits<double>(plain.gradient) == bits<double>(checked.gradient));
  }
  SUBCASE("a small MLP") {
    std::mt19937_64 rng(2024);
    const nn::Network net({2, 5, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
    const ad::Tensor X = ad::Tensor::randn({8, 2}, rng);
    const ad::Tensor Y = ad::Tensor::randn({8, 1}, rng);
    const NetworkResult plain = network_run(net, X, Y);
    NetworkResult checked;
    {
      ad::DetectAnomaly anomaly;
      checked = network_run(net, X, Y);
    }
    CHECK(std::bit_cast<std::uint64_t>(plain.loss) == std::bit_cast<std::uint64_t>(checked.loss));
    REQUIRE(plain.grads.size() == 6);
    CHECK(plain.grads == checked.grads);
    CHECK(plain.loss > 0.0);
  }
}

// The unchecked sweep keeps what a node sends to the node just before it in
// registers (docs/decisions/0021-sweep-carry.md); the checked one adds every
// contribution in memory. Every adjoint of the tape, signed zeros included,
// must be the same bits, on graphs made of what that carry special-cases:
// chains, an op reading the previous node twice (x * x) or as its second
// operand, adjoints that are exactly 0 right after a carry, reductions right
// after one, and a last op that reads the leaves recorded before it.
TEST_CASE("the sweep gives every adjoint the same bits with and without anomaly checks") {
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
    ad::Tape tape;
    std::vector<ad::Var> nodes;
    for (int i = 0; i < 6; ++i) nodes.push_back(ad::Var(std::uniform_real_distribution<double>(-1, 1)(rng)));
    const std::vector<ad::Var> inputs = nodes;
    for (int step = 0; step < 60; ++step) {
      const ad::Var& last = nodes.back();
      const ad::Var& other = nodes[nodes.size() - 1 - pick(std::min<std::size_t>(nodes.size(), 5))];
      ad::Var next;
      switch (pick(10)) {
        case 0:
          next = last * last;
          break;
        case 1:
          next = other - last;
          break;  // the previous node as the second operand
        case 2:
          next = last + other;
          break;
        case 3:
          next = ad::tanh(last);
          break;
        case 4:
          next = last * 0.0;
          break;  // a zero partial: an adjoint of exactly 0 upstream
        case 5:
          next = 0.5 * ad::sin(last);
          break;
        case 6:
          next = -last;
          break;
        case 7: {  // a reduction over the last few nodes (a run) or over scattered ones (a list)
          const std::size_t count = 1 + pick(std::min<std::size_t>(nodes.size(), 4));
          if (pick(2) == 0) {
            next = ad::sum(std::span<const ad::Var>(nodes).last(count));
          } else {
            const std::vector<ad::Var> some = {last, other, nodes[pick(nodes.size())]};
            next = ad::sum(some);
          }
          next = ad::tanh(next);
          break;
        }
        case 8:
          next = last * other;
          break;
        default:
          next = ad::tanh(last - other * other);
          break;
      }
      if (std::fabs(next.value()) > 4.0) next = ad::tanh(next);  // values, partials and adjoints stay finite
      nodes.push_back(next);
    }
    // The root reads the leaves too, so the last contributions go to the leading leaves.
    const ad::Var root = ad::tanh(nodes.back()) * inputs.back() + inputs[inputs.size() - 2];
    root.backward();
    const std::vector<double> plain(tape.adjoints().begin(), tape.adjoints().end());
    {
      ad::DetectAnomaly checked;
      root.backward();
    }
    const std::vector<double> checked(tape.adjoints().begin(), tape.adjoints().end());
    REQUIRE(plain.size() == checked.size());
    CHECK(bits<double>(plain) == bits<double>(checked));
  }
}
