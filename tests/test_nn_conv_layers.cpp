// nn::Conv2d and the pooling layers: shapes, parameter names and counts,
// initial values, gradients of a whole conv -> pool -> dense model, and a
// save/load round trip.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

#include <autodiff/autodiff.hpp>
#include <nn/layers/conv.hpp>
#include <nn/layers/pool.hpp>
#include <nn/nn.hpp>

namespace {

// [N, C, H, W] -> [N, C H W], so that a dense layer can follow (the test's
// own: nn's flatten layer is not what is tested here).
template <class T>
struct Flatten : nn::ModuleT<T> {
  ad::TensorT<T> forward(const ad::TensorT<T>& x) override {
    return ad::reshape(x, {x.shape()[0], x.numel() / x.shape()[0]});
  }
};

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() / (std::string("ad_test_nn_conv_") + name)).string();
}

}  // namespace

TEST_CASE("Conv2d registers W [C_out, C_in/groups, kH, kW] and b [C_out] and gives PyTorch's output shape") {
  std::mt19937_64 rng(1);
  nn::Conv2d conv(4, 6, {3, 2}, rng, ad::Conv2dOptions{{2, 1}, {1, 0}, {1, 2}, 2});
  const auto named = conv.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "W");
  CHECK(named[0].second.shape() == ad::Shape{6, 2, 3, 2});
  CHECK(named[1].first == "b");
  CHECK(named[1].second.shape() == ad::Shape{6});
  CHECK(conv.parameter_count() == 6 * 2 * 3 * 2 + 6);
  CHECK(conv.in_channels() == 4);
  CHECK(conv.out_channels() == 6);
  // H: floor((9 + 2 - 2 - 1) / 2) + 1 = 5; W: floor((7 - 2 - 1) / 1) + 1 = 5
  CHECK(conv(ad::Tensor::zeros({3, 4, 9, 7})).shape() == ad::Shape{3, 6, 5, 5});
  CHECK(conv(ad::Tensor::zeros({4, 9, 7})).shape() == ad::Shape{6, 5, 5});
  CHECK(conv.architecture() == "Conv2d(4->6, 3x2, stride 2x1, padding 1x0, dilation 1x2, groups 2, bias)");
  CHECK(conv.type_name() == "Conv2d");
}

TEST_CASE("Conv2d without a bias has only W") {
  std::mt19937_64 rng(2);
  nn::Conv2dF conv(3, 8, 3, rng, {}, false);
  CHECK(conv.named_parameters().size() == 1);
  CHECK(!conv.has_bias());
  CHECK(conv.parameter_count() == 8 * 3 * 3 * 3);
  CHECK(conv(ad::TensorF::zeros({2, 3, 5, 5})).shape() == ad::Shape{2, 8, 3, 3});
  CHECK(conv.architecture().find("no bias") != std::string::npos);
}

TEST_CASE("Conv2d starts from PyTorch's default: W and b uniform within 1/sqrt(fan_in)") {
  std::mt19937_64 rng(3);
  nn::Conv2d conv(8, 16, 3, rng);
  const double bound = 1.0 / std::sqrt(8.0 * 9.0);
  double largest = 0.0, sum = 0.0;
  for (const double w : conv.weights().values()) {
    largest = std::max(largest, std::fabs(w));
    sum += w * w;
  }
  CHECK(largest <= bound);
  CHECK(largest > 0.95 * bound);
  // The variance of U(-a, a) is a^2 / 3.
  CHECK(sum / double(conv.weights().numel()) == doctest::Approx(bound * bound / 3.0).epsilon(0.1));
  for (const double b : conv.bias().values()) CHECK(std::fabs(b) <= bound);
}

TEST_CASE("Conv2d names itself and the settings when they cannot form a layer") {
  std::mt19937_64 rng(4);
  CHECK_THROWS_WITH_AS(
      nn::Conv2d(3, 4, 3, rng, ad::Conv2dOptions{{1, 1}, {0, 0}, {1, 1}, 2}),
      "nn::Conv2d(3->4, 3x3, stride 1x1, dilation 1x1, groups 2): groups must divide both channel "
      "counts",
      std::invalid_argument);
  CHECK_THROWS_AS(nn::Conv2d(0, 4, 3, rng), std::invalid_argument);
  CHECK_THROWS_AS(nn::Conv2d(3, 4, 0, rng), std::invalid_argument);
  CHECK_THROWS_AS(nn::Conv2d(3, 4, 3, rng, ad::Conv2dOptions{{0, 1}, {0, 0}, {1, 1}, 1}),
                  std::invalid_argument);
  CHECK_THROWS_AS(nn::Conv2d(3, 4, 3, rng, ad::Conv2dOptions{{1, 1}, {0, 0}, {1, 0}, 1}),
                  std::invalid_argument);
  // An input with other channels: the op's message names it.
  nn::Conv2d conv(3, 4, 3, rng);
  CHECK_THROWS_WITH_AS(conv(ad::Tensor::zeros({1, 2, 5, 5})),
                       doctest::Contains("ad::conv2d: x has 2 channels, the weight expects 3"),
                       std::invalid_argument);
}

TEST_CASE("the pooling layers have no parameters and give PyTorch's shapes") {
  nn::MaxPool2d max(2);
  nn::AvgPool2dF avg(3, 2, 1);
  nn::AdaptiveAvgPool2d global;
  CHECK(max.named_parameters().empty());
  CHECK(avg.named_parameters().empty());
  CHECK(global.named_parameters().empty());
  CHECK(max(ad::Tensor::zeros({2, 3, 7, 6})).shape() == ad::Shape{2, 3, 3, 3});
  CHECK(avg(ad::TensorF::zeros({2, 3, 7, 6})).shape() == ad::Shape{2, 3, 4, 3});
  CHECK(global(ad::Tensor::zeros({2, 3, 7, 6})).shape() == ad::Shape{2, 3, 1, 1});
  CHECK(max.architecture() == "MaxPool2d(2x2, stride 2x2, padding 0x0)");
  CHECK(avg.architecture() == "AvgPool2d(3x3, stride 2x2, padding 1x1)");
  CHECK(global.architecture() == "AdaptiveAvgPool2d(1x1)");
  CHECK(nn::MaxPool2dF(ad::Pool2dOptions{{2, 3}, {1, 0}, {1, 1}}).architecture() ==
        "MaxPool2d(2x3, stride 1x3, padding 1x1)");
}

TEST_CASE("the pooling layers refuse a zero kernel and padding above half the kernel, naming the layer") {
  CHECK_THROWS_WITH_AS(
      nn::MaxPool2d(2, 0, 2),
      "nn::MaxPool2d(2x2, stride 2x2, padding 2x2): the padding must be at most half the kernel",
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::AvgPool2d(0),
                       "nn::AvgPool2d(0x0, stride 0x0, padding 0x0): the kernel must be at least 1x1",
                       std::invalid_argument);
}

TEST_CASE(
    "a conv -> max pool -> conv -> avg pool -> dense model passes check_gradients for every parameter") {
  std::mt19937_64 rng(5);
  nn::Sequential model;
  model.add<nn::Conv2d>(2, 3, 3, rng, ad::Conv2dOptions{{1, 1}, {1, 1}, {1, 1}, 1})
      .add<nn::MaxPool2d>(2)
      .add<nn::Conv2d>(3, 4, 2, rng, ad::Conv2dOptions{{1, 1}, {0, 0}, {1, 1}, 1}, false)
      .add<nn::AvgPool2d>(2, 1, 1)
      .add<Flatten<double>>()
      .add<nn::Dense>(4 * 3 * 3, 2, nn::Activation::tanh, rng, nn::Init::xavier);
  const auto named = model.named_parameters();
  REQUIRE(named.size() == 5);
  CHECK(named[0].first == "0.W");
  CHECK(named[1].first == "0.b");
  CHECK(named[2].first == "2.W");
  CHECK(named[3].first == "5.W");
  CHECK(named[4].first == "5.b");
  // Distinct inputs keep the max pool away from ties.
  std::vector<double> pixels(2 * 2 * 6 * 6);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = std::sin(1.7 * double(i) + 0.3);
  const ad::Tensor X = ad::Tensor::from({2, 2, 6, 6}, pixels);
  const ad::Tensor Y = ad::Tensor::from({2, 2}, {0.5, -0.25, 0.1, 0.3});
  const auto report = nn::check_gradients(model, X, Y);
  INFO(report.to_string());
  CHECK(report.ok);
}

TEST_CASE("a conv model saved and loaded into a freshly built one gives the same outputs") {
  std::mt19937_64 rng(6);
  auto build = [](std::mt19937_64& r) {
    nn::SequentialT<float> m;
    m.add<nn::Conv2dF>(1, 4, 3, r)
        .add<nn::MaxPool2dF>(2)
        .add<nn::Conv2dF>(4, 2, 1, r, ad::Conv2dOptions{}, false)
        .add<nn::AdaptiveAvgPool2dF>();
    return m;
  };
  nn::SequentialT<float> original = build(rng);
  const std::string path = temp_path("roundtrip.adst");
  nn::save(original, path);
  std::mt19937_64 other(99);
  nn::SequentialT<float> loaded = build(other);
  const ad::TensorF x = ad::TensorF::randn({2, 1, 8, 8}, rng);
  CHECK(loaded(x).values()[0] != original(x).values()[0]);
  nn::load_into(loaded, path);
  const ad::TensorF a = original(x), b = loaded(x);
  for (std::size_t i = 0; i < a.numel(); ++i) CHECK(a.values()[i] == b.values()[i]);
  // A model with other shapes is refused.
  nn::SequentialT<float> wider;
  wider.add<nn::Conv2dF>(1, 5, 3, other);
  CHECK_THROWS_AS(nn::load_into(wider, path), std::runtime_error);
  std::remove(path.c_str());
}
