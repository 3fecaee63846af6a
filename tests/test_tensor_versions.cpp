// In-place writes after recording (issue 14, item 6): every tensor storage
// counts the writes to its values; an op whose backward reads a tensor's
// values saves its version when it records, and the sweep throws, naming the
// tensor, the op and its line, when the version moved on (as PyTorch does),
// instead of computing a gradient from the new values.
#include <doctest/doctest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>
#include <autodiff/custom_op.hpp>
#include <autodiff/tensor_higher_order.hpp>
#include <nn/nn.hpp>

namespace {

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::logic_error& e) {
    return e.what();
  }
  return "(no std::logic_error)";
}

std::vector<double> grad_of(const ad::Tensor& t) {
  const auto g_tensor = t.grad();
  const auto g = g_tensor.values();
  return {g.begin(), g.end()};
}

}  // namespace

TEST_CASE("each mutable_values() call counts as one write to the tensor's version") {
  ad::Tensor w = ad::Tensor::from({2}, {1, 2});
  CHECK(w.version() == 0);
  w.mutable_values()[0] = 3;
  CHECK(w.version() == 1);
  const ad::Tensor alias = w;  // a handle shares the storage, and its version
  w.mutable_values()[1] = 4;
  CHECK(alias.version() == 2);
  CHECK(w.detach().version() == 0);  // a copy is a new storage
}

TEST_CASE(
    "writing a leaf between forward and backward makes backward throw, naming the tensor, op and line") {
  ad::Tensor w = ad::Tensor::from({2}, {1, 2}).requires_grad(true).name("W");
  const int line = __LINE__ + 1;
  ad::Tensor loss = ad::sum(ad::mul(w, w));
  w.mutable_values()[0] = 100;  // before the fix: dL/dW = [200, 4] instead of [2, 4]
  const std::string what = message_of([&] { loss.backward(); });
  CHECK(what.find("ad::backward: W [2] was modified in place after mul") != std::string::npos);
  CHECK(what.find("test_tensor_versions.cpp:" + std::to_string(line)) != std::string::npos);
  CHECK(what.find("its version is 1, expected 0") != std::string::npos);
  CHECK_FALSE(w.has_grad());  // nothing reached W
}

TEST_CASE("an operator, which has no source line, is reported as such") {
  ad::TensorF w = ad::TensorF::from({3}, {1, 2, 3}).requires_grad(true);
  ad::TensorF loss = ad::sum(w * w);
  w.mutable_values()[2] = 0;
  const std::string what = message_of([&] { loss.backward(); });
  CHECK(what.find("an unnamed tensor [3] was modified in place after mul (recorded by an operator") !=
        std::string::npos);
}

TEST_CASE("an optimiser step between a forward and its backward is detected") {
  std::mt19937_64 rng(7);
  nn::Network net({2, 3, 1}, nn::Activation::tanh, nn::Activation::identity, rng);
  nn::GradientDescent<double> opt(net.parameters(), 0.1);
  const ad::Tensor x = ad::Tensor::randn({4, 2}, rng);
  const ad::Tensor y = ad::Tensor::randn({4, 1}, rng);
  nn::mse_loss(net(x), y).backward();  // the parameters now have gradients, so step() writes them
  ad::Tensor loss = nn::mse_loss(net(x), y);
  opt.step();
  CHECK_THROWS_AS(loss.backward(), std::logic_error);
}

TEST_CASE("the usual training loop (zero_grad, forward, backward, step) is not affected") {
  std::mt19937_64 rng(7);
  nn::Network net({2, 3, 1}, nn::Activation::relu, nn::Activation::identity, rng);
  nn::SGD<double> opt(net.parameters(), 0.05, 0.9);
  const ad::Tensor x = ad::Tensor::randn({8, 2}, rng);
  const ad::Tensor y = ad::Tensor::randn({8, 1}, rng);
  double first = 0, last = 0;
  for (int step = 0; step < 20; ++step) {
    opt.zero_grad();
    ad::Tensor loss = nn::mse_loss(net(x), y);
    if (step == 0) first = loss.item();
    last = loss.item();
    loss.backward();
    opt.step();
  }
  CHECK(last < first);
}

TEST_CASE("values written while no recorded op reads them give the gradient of the new values") {
  ad::Tensor w = ad::Tensor::from({2}, {1, 2}).requires_grad(true);
  w.mutable_values()[0] = 5;  // before any forward
  {
    const ad::NoGrad no_grad;  // initialisation inside NoGrad
    w.mutable_values()[1] = 3;
  }
  ad::sum(ad::mul(w, w)).backward();
  CHECK(grad_of(w) == std::vector<double>{10, 6});
  w.mutable_values()[0] = 1;  // after backward: the next forward sees the new value
  w.zero_grad();
  ad::sum(ad::mul(w, w)).backward();
  CHECK(grad_of(w) == std::vector<double>{2, 6});
}

TEST_CASE("ops whose backward does not read a tensor's values allow writing it") {
  ad::Tensor w = ad::Tensor::from({2}, {1, 2}).requires_grad(true);
  const ad::Tensor x = ad::Tensor::from({2}, {3, 4});
  ad::Tensor loss = ad::sum(ad::add(w, x)) + ad::sum(ad::exp(w)) * 0.0 + ad::sum(ad::mul(x, w));
  w.mutable_values()[0] = 10;  // add reads nothing, exp reads its output, mul(x, w) reads only x for dW
  loss.backward();
  CHECK(grad_of(w) == std::vector<double>{4, 5});
}

TEST_CASE("a data tensor written after a layer read it for dW is detected") {
  ad::Tensor x = ad::Tensor::from({1, 2}, {1, 2}).name("X");
  ad::Tensor w = ad::Tensor::from({1, 2}, {3, 4}).requires_grad(true);
  const ad::Tensor b = ad::Tensor::from({1}, {0});
  SUBCASE("linear") {
    ad::Tensor loss = ad::sum(ad::linear(x, w, b));
    w.mutable_values()[0] = 7;  // dW reads X, not W: fine
    x.mutable_values()[0] = 9;  // dW reads X
    const std::string what = message_of([&] { loss.backward(); });
    CHECK(what.find("X [1, 2] was modified in place after linear") != std::string::npos);
  }
  SUBCASE("linear_activation") {
    ad::Tensor loss = ad::sum(ad::linear_activation(x, w, b, ad::OpCode::tanh));
    x.mutable_values()[1] = 9;
    const std::string what = message_of([&] { loss.backward(); });
    CHECK(what.find("X [1, 2] was modified in place after linear_tanh") != std::string::npos);
  }
  SUBCASE("matmul") {
    ad::Tensor loss = ad::sum(ad::matmul(x, ad::transpose(w)));
    x.mutable_values()[1] = 9;
    CHECK(message_of([&] { loss.backward(); }).find("after matmul") != std::string::npos);
  }
}

TEST_CASE("element-wise, reduction and selection ops that read a value detect a write to it") {
  ad::Tensor w = ad::Tensor::from({3}, {0.5, -1, 2}).requires_grad(true).name("W");
  ad::Tensor c = ad::Tensor::from({3}, {1, 0, 1}).name("C");
  const ad::Tensor wc = ad::Tensor::from({3}, {1, 1, 1}).requires_grad(true);
  std::vector<std::pair<std::string, ad::Tensor>> cases;
  cases.emplace_back("relu", ad::sum(ad::relu(w)));
  cases.emplace_back("square", ad::sum(ad::square(w)));
  cases.emplace_back("clamp", ad::sum(ad::clamp(w, -0.5, 0.5)));
  cases.emplace_back("div", ad::sum(ad::div(wc, w)));
  cases.emplace_back("max", ad::sum(ad::max(w, wc)));
  cases.emplace_back("logsumexp", ad::logsumexp(w));
  cases.emplace_back("sum_squared_difference", ad::sum_squared_difference(w, wc, 1.0));
  for (auto& [op, loss] : cases) {
    w.mutable_values()[1] = -1;
    CAPTURE(op);
    CHECK(message_of([&] { loss.backward(); }).find("W [3] was modified in place after " + op) !=
          std::string::npos);
  }
  ad::Tensor selected = ad::sum(ad::where(c, wc, ad::Tensor::scalar(0)));
  c.mutable_values()[1] = 1;  // where's backward reads the condition
  CHECK(message_of([&] { selected.backward(); }).find("C [3] was modified in place after where") !=
        std::string::npos);
}

TEST_CASE("a second sweep of a retained graph is checked as well") {
  ad::Tensor w = ad::Tensor::from({2}, {1, 2}).requires_grad(true);
  ad::Tensor loss = ad::sum(ad::square(w));
  loss.backward(true);
  CHECK(grad_of(w) == std::vector<double>{2, 4});
  w.mutable_values()[1] = 0;
  CHECK_THROWS_AS(loss.backward(), std::logic_error);
}

TEST_CASE("the recorded backward (gradient_recorded) checks the versions too") {
  ad::Tensor w = ad::Tensor::from({2}, {1, 2}).requires_grad(true).name("W");
  ad::Tensor loss = ad::sum(ad::mul(w, ad::mul(w, w)));
  w.mutable_values()[0] = 3;
  const std::string what = message_of([&] { ad::gradient_recorded(loss, {w}); });
  CHECK(what.find("W [2] was modified in place after mul") != std::string::npos);
}

TEST_CASE("a user-defined op's backward sees every input's values, so every input is checked") {
  ad::Tensor a = ad::Tensor::from({2}, {1, 2}).requires_grad(true);
  ad::Tensor b = ad::Tensor::from({2}, {3, 4}).name("B");
  std::vector<double> v{3, 8};
  const ad::Tensor y =
      ad::custom_op<double>("my_product", {a, b}, {2}, v, [](const ad::CustomGradient<double>& g) {
        for (std::size_t i = 0; i < g.grad_output.size(); ++i)
          g.grad_inputs[0][i] += g.grad_output[i] * g.inputs[1][i];
      });
  ad::Tensor loss = ad::sum(y);
  b.mutable_values()[0] = 0;
  CHECK(message_of([&] { loss.backward(); }).find("B [2] was modified in place after my_product") !=
        std::string::npos);
}
