// nn::Module: registration of members and owned children, hierarchical
// names, buffers, train/eval, and copies that find their own members.
#include <doctest/doctest.h>

#include <memory>
#include <random>
#include <stdexcept>

#include <autodiff/autodiff.hpp>
#include <nn/module.hpp>

namespace {

// A leaf module with a parameter and a buffer of its own.
struct Scale : nn::Module {
  ad::Tensor w = ad::Tensor::from({2}, {2.0, 3.0});
  ad::Tensor seen = ad::Tensor::zeros({1});
  Scale() {
    register_parameter("w", w);
    register_buffer("seen", seen);
  }
  ad::Tensor forward(const ad::Tensor& x) override { return x * w; }
  std::string type_name() const override { return "Scale"; }
};

// Two member children and one owned child.
struct Pair : nn::Module {
  Scale first, second;
  int mode_changes = 0;
  Pair() {
    register_module("first", first);
    register_module("second", second);
    add_module("extra", std::make_unique<Scale>());
  }
  ad::Tensor forward(const ad::Tensor& x) override { return second(first(x)); }
  void on_mode_change() override { ++mode_changes; }
};

}  // namespace

TEST_CASE("named_parameters lists every parameter depth first with dotted names") {
  Pair p;
  const auto named = p.named_parameters();
  REQUIRE(named.size() == 3);
  CHECK(named[0].first == "first.w");
  CHECK(named[1].first == "second.w");
  CHECK(named[2].first == "extra.w");
  CHECK(named[0].second.requires_grad_enabled());
  CHECK(p.parameters().size() == 3);
  CHECK(p.parameter_count() == 6);
  const auto buffers = p.named_buffers();
  REQUIRE(buffers.size() == 3);
  CHECK(buffers[1].first == "second.seen");
  const auto modules = p.named_modules();
  REQUIRE(modules.size() == 4);
  CHECK(modules[0].first.empty());
  CHECK(modules[3].first == "extra");
}

TEST_CASE("parameters are handles on the module's storage: gradients reach them") {
  Pair p;
  ad::Tensor y = ad::sum(p(ad::Tensor::from({2}, {1.0, 1.0})));
  y.backward();
  // y = sum(x * w1 * w2): dy/dw1 = w2 = (2, 3).
  CHECK(p.named_parameters()[0].second.grad().values()[0] == doctest::Approx(2.0));
  CHECK(p.first.w.grad().values()[1] == doctest::Approx(3.0));
}

TEST_CASE("a copied module finds its own members, not the original's") {
  auto original = std::make_unique<Pair>();
  Pair copy = *original;
  copy.first.w = ad::Tensor::from({2}, {5.0, 5.0});
  CHECK(copy.named_parameters()[0].second.values()[0] == 5.0);
  CHECK(original->named_parameters()[0].second.values()[0] == 2.0);
  original.reset();  // the copy must not refer to the destroyed object
  CHECK(copy.named_parameters().size() == 3);
  CHECK(copy.named_parameters()[1].first == "second.w");
}

TEST_CASE("train and eval reach every descendant") {
  Pair p;
  CHECK(p.is_training());
  p.eval();
  CHECK_FALSE(p.is_training());
  CHECK_FALSE(p.first.is_training());
  CHECK(p.mode_changes == 1);
  p.train();
  CHECK(p.second.is_training());
}

TEST_CASE("registering a name twice or a dotted name is an error naming it") {
  struct Bad : nn::Module {
    ad::Tensor a = ad::Tensor::zeros({1});
    ad::Tensor forward(const ad::Tensor& x) override { return x; }
    void twice() {
      register_parameter("a", a);
      register_parameter("a", a);
    }
    void dotted() { register_parameter("a.b", a); }
  };
  Bad b;
  CHECK_THROWS_WITH_AS(b.twice(), doctest::Contains("'a' is registered twice"), std::invalid_argument);
  Bad c;
  CHECK_THROWS_WITH_AS(c.dotted(), doctest::Contains("invalid name 'a.b'"), std::invalid_argument);
}
