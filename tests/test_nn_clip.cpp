// Specification: gradient clipping (nn/optim/clip.hpp), by global norm as
// torch.nn.utils.clip_grad_norm_ and by value as clip_grad_value_.
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

template <class T = double>
ad::TensorT<T> with_gradient(std::vector<T> g) {
  const std::size_t n = g.size();
  ad::TensorT<T> p = ad::TensorT<T>::zeros(ad::Shape{n});
  p.requires_grad(true);
  ad::sum(p * ad::TensorT<T>::from(ad::Shape{n}, std::move(g))).backward();
  return p;
}

template <class T>
std::vector<T> gradient_of(ad::TensorT<T> p) {
  const auto g = p.grad_values();
  return {g.begin(), g.end()};
}

}  // namespace

TEST_CASE("clip_grad_norm scales every gradient by max_norm / (norm + 1e-6) and returns the norm before") {
  ad::Tensor a = with_gradient({3.0, 4.0}), b = with_gradient({12.0});  // together: norm 13
  const double norm = nn::clip_grad_norm(std::vector<ad::Tensor>{a, b}, 6.5);
  CHECK(norm == 13.0);
  const double factor = 6.5 / (13.0 + 1e-6);
  CHECK(gradient_of(a) == std::vector<double>{3.0 * factor, 4.0 * factor});
  CHECK(gradient_of(b) == std::vector<double>{12.0 * factor});
  // The clipped gradients' norm is max_norm (to the 1e-6 guard).
  CHECK(std::sqrt(9 + 16 + 144) * factor == doctest::Approx(6.5).epsilon(1e-6));
}

TEST_CASE("clip_grad_norm leaves gradients below max_norm as they are") {
  ad::Tensor a = with_gradient({0.3, -0.4});
  CHECK(nn::clip_grad_norm(std::vector<ad::Tensor>{a}, 1.0) == doctest::Approx(0.5).epsilon(1e-15));
  CHECK(gradient_of(a) == std::vector<double>{0.3, -0.4});
}

TEST_CASE("clip_grad_norm takes the 1-norm, a p-norm or the largest magnitude") {
  const auto norm_of = [](double norm_type) {
    ad::Tensor a = with_gradient({3.0, -4.0}), b = with_gradient({-12.0});
    return nn::clip_grad_norm(std::vector<ad::Tensor>{a, b}, 100.0, norm_type);
  };
  CHECK(norm_of(1.0) == 19.0);
  CHECK(norm_of(std::numeric_limits<double>::infinity()) == 12.0);
  CHECK(norm_of(3.0) == doctest::Approx(std::cbrt(27.0 + 64.0 + 1728.0)).epsilon(1e-15));
}

TEST_CASE("clip_grad_norm skips parameters without a gradient") {
  ad::Tensor a = with_gradient({3.0, 4.0});
  ad::Tensor untouched = ad::Tensor::zeros(ad::Shape{2});
  untouched.requires_grad(true);
  CHECK(nn::clip_grad_norm(std::vector<ad::Tensor>{a, untouched}, 1.0) == 5.0);
  CHECK_FALSE(untouched.has_grad());
}

TEST_CASE("a non-finite gradient norm is returned and the gradients are left as they were") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  ad::Tensor a = with_gradient({nan, 1.0}), b = with_gradient({2.0});
  CHECK(std::isnan(nn::clip_grad_norm(std::vector<ad::Tensor>{a, b}, 1.0)));
  CHECK(gradient_of(b) == std::vector<double>{2.0});
  CHECK(std::isnan(nn::clip_grad_norm(std::vector<ad::Tensor>{b, a}, 1.0, inf)));
  ad::Tensor c = with_gradient({inf, 1.0});
  CHECK(nn::clip_grad_norm(std::vector<ad::Tensor>{c}, 1.0) == inf);
  CHECK(gradient_of(c)[1] == 1.0);
  ad::Tensor huge = with_gradient({1e200, 1e200});  // the squares overflow
  CHECK(nn::clip_grad_norm(std::vector<ad::Tensor>{huge}, 1.0) == inf);
  CHECK(gradient_of(huge)[0] == 1e200);
}

TEST_CASE("clip_grad_value clamps every gradient component to [-clip, clip]") {
  ad::Tensor a = with_gradient({-3.0, 0.5, 2.0}), b = with_gradient({-0.25});
  nn::clip_grad_value(std::vector<ad::Tensor>{a, b}, 1.0);
  CHECK(gradient_of(a) == std::vector<double>{-1.0, 0.5, 1.0});
  CHECK(gradient_of(b) == std::vector<double>{-0.25});
}

TEST_CASE("clipping works on float parameters") {
  ad::TensorF a = with_gradient<float>({3.0f, 4.0f});
  CHECK(nn::clip_grad_norm(std::vector<ad::TensorF>{a}, 2.5) == 5.0);
  CHECK(gradient_of(a)[0] == doctest::Approx(1.5).epsilon(1e-6));
  nn::clip_grad_value(std::vector<ad::TensorF>{a}, 1.0);
  CHECK(gradient_of(a) == std::vector<float>{1.0f, 1.0f});
}

TEST_CASE("bad clipping arguments are rejected with a message naming the function and the value") {
  ad::Tensor a = with_gradient({1.0});
  const std::vector<ad::Tensor> ps{a};
  for (double max_norm : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN()}) {
    CAPTURE(max_norm);
    CHECK_THROWS_WITH_AS(nn::clip_grad_norm(ps, max_norm), doctest::Contains("nn::clip_grad_norm: max_norm"),
                         std::invalid_argument);
  }
  CHECK_THROWS_WITH_AS(nn::clip_grad_norm(ps, 1.0, 0.0), doctest::Contains("norm_type must be > 0"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::clip_grad_value(ps, -1.0), doctest::Contains("nn::clip_grad_value: clip_value"),
                       std::invalid_argument);
  CHECK(gradient_of(a) == std::vector<double>{1.0});
}
