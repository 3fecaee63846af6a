// Second derivatives of tensor code: the recorded sweep (gradient_recorded)
// for every op, hvp, hessian, jacobian, vjp and gradgradcheck on tensors.
// The scalar recorded sweep's second derivatives are checked against written
// formulas in test_higher_order.cpp; here each tensor op's Hessian is checked
// against the same function written with ad::Var, and against differences of
// gradients.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>
// White-box: the tape's own counters (slots, live nodes), private to the library.
#include <autodiff/src/tensor_tape.hpp>

namespace {

using ad::Tensor;
using ad::Var;

// f(x) = sum(op(x)) * sum(x): a full Hessian (every pair of inputs couples).
#define AD_UNARY_CASE(name, Struct)                                          \
  {#name, [](const Tensor& x) { return ad::sum(ad::name(x)) * ad::sum(x); }, \
   [](std::span<const Var> x) {                                              \
     Var s = 0.0, t = 0.0;                                                   \
     for (const Var& e : x) {                                                \
       s += ad::name(e);                                                     \
       t += e;                                                               \
     }                                                                       \
     return s * t;                                                           \
   }},
struct Case {
  const char* name;
  std::function<Tensor(const Tensor&)> tensor_f;
  std::function<Var(std::span<const Var>)> scalar_f;
};
const std::vector<Case> unary_cases = {AD_UNARY_OPS(AD_UNARY_CASE)};
#undef AD_UNARY_CASE

// The operators under the op table's names, so that the binary cases below can
// call every op as name(a, b) on Vars.
Var add(const Var& a, const Var& b) { return a + b; }
Var sub(const Var& a, const Var& b) { return a - b; }
Var mul(const Var& a, const Var& b) { return a * b; }
Var div(const Var& a, const Var& b) { return a / b; }

// x = (a0, a1, b0, b1); f = sum(op(a, b)) * sum(x), and the same with b
// broadcast from one element: f = sum(op(a, b0)) * sum(x).
#define AD_BINARY_CASE(name, Struct)                                                              \
  {#name,                                                                                         \
   [](const Tensor& x) {                                                                          \
     return ad::sum(ad::name(ad::slice_rows(x, 0, 2), ad::slice_rows(x, 2, 4))) * ad::sum(x);     \
   },                                                                                             \
   [](std::span<const Var> x) {                                                                   \
     return (name(x[0], x[2]) + name(x[1], x[3])) * (x[0] + x[1] + x[2] + x[3]);                  \
   }},                                                                                            \
      {#name " broadcast",                                                                        \
       [](const Tensor& x) {                                                                      \
         return ad::sum(ad::name(ad::slice_rows(x, 0, 2), ad::slice_rows(x, 2, 3))) * ad::sum(x); \
       },                                                                                         \
       [](std::span<const Var> x) {                                                               \
         return (name(x[0], x[2]) + name(x[1], x[2])) * (x[0] + x[1] + x[2] + x[3]);              \
       }},
const std::vector<Case> binary_cases = {AD_BINARY_OPS(AD_BINARY_CASE)};
#undef AD_BINARY_CASE

void check_against_scalar(const Case& c, const std::vector<double>& x0) {
  CAPTURE(c.name);
  const Tensor H = ad::hessian(c.tensor_f, Tensor::from({x0.size()}, x0));
  const auto expected = ad::hessian(c.scalar_f, x0);
  const std::size_t n = x0.size();
  REQUIRE(H.shape() == ad::Shape{n, n});
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      CAPTURE(i);
      CAPTURE(j);
      CHECK(H.at({i, j}) == doctest::Approx(expected[i][j]).epsilon(1e-12).scale(1.0));
    }
}

// The largest |H - H^T| entry.
double asymmetry(const Tensor& H) {
  const std::size_t n = H.shape()[0];
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) worst = std::max(worst, std::fabs(H.at({i, j}) - H.at({j, i})));
  return worst;
}

}  // namespace

TEST_CASE("every element-wise op's tensor Hessian equals the Hessian of the same scalar code") {
  for (const Case& c : unary_cases) {
    if (std::string(c.name) == "trigamma") {
      // trigamma's derivative is computed on doubles only (scalar_ops.hpp): both forms refuse a
      // recorded sweep through it (test_scalar_special.cpp pins the orders each op has).
      CHECK_THROWS_AS(ad::hessian(c.tensor_f, Tensor::from({3}, {0.3, 0.55, 0.8})), std::logic_error);
      CHECK_THROWS_AS(ad::hessian(c.scalar_f, std::vector<double>{0.3, 0.55, 0.8}), std::logic_error);
      continue;
    }
    check_against_scalar(c, {0.3, 0.55, 0.8});
  }
  for (const Case& c : binary_cases) check_against_scalar(c, {0.3, 0.55, 0.8, 1.2});
}

TEST_CASE("the activations' tensor Hessians equal the scalar ones on both sides of 0") {
  // The table's cases above sample x > 0 only, where leaky_relu and elu are the identity.
  const std::vector<std::string> names = {"softplus", "leaky_relu", "elu", "gelu", "silu"};
  for (const Case& c : unary_cases)
    if (std::find(names.begin(), names.end(), c.name) != names.end())
      check_against_scalar(c, {-1.3, -0.4, 0.7});
}

TEST_CASE("pow, atan2 and hypot keep their conventions in the recorded backward") {
  // pow at b == 0 (d/da taken as 0) and a == 0 (d/db taken as 0), atan2 and
  // hypot at the origin: same values as the scalar sweep, no NaN.
  const Case pow_case{
      "pow",
      [](const Tensor& x) { return ad::sum(ad::pow(ad::slice_rows(x, 0, 2), ad::slice_rows(x, 2, 4))); },
      [](std::span<const Var> x) { return ad::pow(x[0], x[2]) + ad::pow(x[1], x[3]); }};
  check_against_scalar(pow_case, {0.0, 0.7, 2.0, 0.0});
  const Case atan2_case{
      "atan2",
      [](const Tensor& x) { return ad::sum(ad::atan2(ad::slice_rows(x, 0, 2), ad::slice_rows(x, 2, 4))); },
      [](std::span<const Var> x) { return ad::atan2(x[0], x[2]) + ad::atan2(x[1], x[3]); }};
  check_against_scalar(atan2_case, {0.0, 0.7, 0.0, -0.4});
  const Case hypot_case{
      "hypot",
      [](const Tensor& x) { return ad::sum(ad::hypot(ad::slice_rows(x, 0, 2), ad::slice_rows(x, 2, 4))); },
      [](std::span<const Var> x) { return ad::hypot(x[0], x[2]) + ad::hypot(x[1], x[3]); }};
  check_against_scalar(hypot_case, {0.0, 0.7, 0.0, -0.4});
  ad::DetectAnomaly on;  // the unused branches must not produce NaN or inf
  CHECK_NOTHROW(ad::hessian(pow_case.tensor_f, Tensor::from({4}, {0.0, 0.7, 2.0, 0.0})));
  CHECK_NOTHROW(ad::hessian(hypot_case.tensor_f, Tensor::from({4}, {0.0, 0.7, 0.0, -0.4})));
}

TEST_CASE(
    "every structural op has a recorded backward that passes gradgradcheck and gives a symmetric Hessian") {
  // Each op sits inside smooth non-linear code, so that its second
  // derivative is not trivially zero.
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> cases = {
      {"square", [](const Tensor& x) { return ad::sum(ad::square(ad::sin(x))); }},
      {"clamp", [](const Tensor& x) { return ad::sum(ad::exp(ad::clamp(x * x, -0.5, 0.6))); }},
      {"where",
       [](const Tensor& x) {
         const Tensor c = Tensor::from({6}, {1, 0, 1, 0, 0, 1});
         return ad::sum(ad::where(c, ad::exp(x), x * x * x));
       }},
      {"sum axes",
       [](const Tensor& x) {
         return ad::sum(ad::square(ad::sum(ad::reshape(x, {2, 3}), {1})));
       }},
      {"sum keepdim",
       [](const Tensor& x) {
         const Tensor m = ad::reshape(x, {2, 3});
         return ad::sum(ad::sin(m * ad::sum(m, {0}, true)));
       }},
      {"mean",
       [](const Tensor& x) {
         return ad::mean(ad::exp(ad::reshape(x, {3, 2}) * ad::mean(x)));
       }},
      {"max",
       [](const Tensor& x) {
         return ad::sum(ad::square(ad::max(ad::reshape(x, {2, 3}) * 1.5, {1}))) + ad::max(x * x);
       }},
      {"logsumexp",
       [](const Tensor& x) {
         return ad::sum(ad::square(ad::logsumexp(ad::reshape(x, {2, 3}), 1)));
       }},
      {"logsumexp keepdim",
       [](const Tensor& x) {
         return ad::sum(ad::square(ad::logsumexp(ad::reshape(x, {2, 3}), 0, true)));
       }},
      {"softmax",
       [](const Tensor& x) {
         return ad::sum(ad::softmax(ad::reshape(x, {2, 3}), 1) * Tensor::from({2, 3}, {1, 2, 3, -1, 0.5, 2}));
       }},
      {"softmax axis 0",
       [](const Tensor& x) {
         return ad::sum(ad::square(ad::softmax(ad::reshape(x, {3, 2}), 0)));
       }},
      {"log_softmax",
       [](const Tensor& x) {
         return ad::sum(ad::log_softmax(ad::reshape(x, {2, 3}), -1) *
                        Tensor::from({2, 3}, {0, 1, 0, 0.3, 0.3, 0.4}));
       }},
      {"reshape/transpose",
       [](const Tensor& x) {
         return ad::sum(ad::tanh(ad::transpose(ad::reshape(x, {2, 3}), 0, 1)) *
                            Tensor::from({3, 2}, {1, 2, 3, 4, 5, 6}) * 0.5 +
                        ad::reshape(x, {3, 2}) * ad::transpose(ad::reshape(x, {2, 3})));
       }},
      {"rows with repeats",
       [](const Tensor& x) {
         return ad::sum(ad::exp(ad::rows(ad::reshape(x, {3, 2}), {2, 0, 2, 1})) *
                        ad::rows(ad::reshape(x, {3, 2}), {0, 0, 1, 2}));
       }},
      {"slice_rows",
       [](const Tensor& x) {
         return ad::sum(ad::square(ad::slice_rows(x, 1, 4) * ad::slice_rows(x, 2, 5)));
       }},
      {"concat axis 0",
       [](const Tensor& x) {
         const Tensor m = ad::reshape(x, {3, 2});
         return ad::sum(ad::sin(ad::concat(std::vector<Tensor>{m, m * m}, 0)) *
                        ad::concat(std::vector<Tensor>{m * 2.0, m}, 0));
       }},
      {"concat axis 1",
       [](const Tensor& x) {
         const Tensor m = ad::reshape(x, {3, 2});
         return ad::sum(ad::square(ad::concat(
             std::vector<Tensor>{ad::exp(m), ad::slice_rows(ad::transpose(ad::reshape(x, {2, 3})), 0, 3)},
             1)));
       }},
      {"stack",
       [](const Tensor& x) {
         return ad::sum(ad::tanh(ad::stack(std::vector<Tensor>{x, x * x}, 1)) *
                        ad::stack(std::vector<Tensor>{x, ad::exp(x)}, 1));
       }},
      {"matmul",
       [](const Tensor& x) {
         const Tensor a = ad::reshape(x, {2, 3});
         return ad::sum(ad::tanh(ad::matmul(a, ad::transpose(a))));
       }},
      {"batched matmul",
       [](const Tensor& x) {
         const Tensor a = ad::reshape(x, {2, 1, 3});
         const Tensor b = ad::reshape(ad::exp(x), {2, 3, 1});
         return ad::sum(ad::square(ad::matmul(a, b)));
       }},
      {"matmul shared operand",
       [](const Tensor& x) {
         const Tensor a = ad::reshape(x, {3, 2});
         const Tensor w = ad::reshape(ad::slice_rows(x, 0, 4), {2, 2});
         return ad::sum(ad::sin(ad::matmul(ad::stack(std::vector<Tensor>{a, a * a}), w)));
       }},
      {"dot", [](const Tensor& x) { return ad::square(ad::dot(x, ad::exp(x))); }},
      {"linear",
       [](const Tensor& x) {
         const Tensor in = ad::reshape(x, {3, 2});
         const Tensor w = ad::reshape(ad::slice_rows(x, 2, 6), {2, 2});
         return ad::sum(ad::tanh(ad::linear(in, w, ad::slice_rows(x, 0, 2))));
       }},
      {"sum_squared_difference",
       [](const Tensor& x) { return ad::sum_squared_difference(ad::tanh(x), ad::exp(x) * 0.5, 0.7); }},
      {"linear without bias",
       [](const Tensor& x) {
         const Tensor in = ad::reshape(x, {2, 3});
         return ad::sum(ad::square(ad::linear(in, ad::reshape(ad::sin(x), {2, 3}), Tensor())));
       }},
  };
  const Tensor x0 = Tensor::from({6}, {0.3, -0.4, 0.55, 0.1, -0.25, 0.7});
  for (const auto& [name, f] : cases) {
    CAPTURE(name);
    const auto report = ad::gradgradcheck(f, x0, 4);
    INFO(report.to_string());
    CHECK(report.ok);
    CHECK(asymmetry(ad::hessian(f, x0)) < 1e-10);
  }
}

TEST_CASE("hvp equals the Hessian times the vector, and leaves no recording behind") {
  auto f = [](const Tensor& x) {
    const Tensor m = ad::reshape(x, {2, 2});
    return ad::sum(ad::log_softmax(ad::matmul(m, m), 1) * m) + ad::sum(ad::exp(x) * x);
  };
  const Tensor x0 = Tensor::from({4}, {0.2, -0.7, 0.4, 1.1});
  const Tensor v = Tensor::from({4}, {1.0, -2.0, 0.5, 3.0});
  ad::Tape tape;
  const Tensor Hv = ad::hvp(f, x0, v);
  CHECK(ad::detail::TensorAccess::tensor_tape(tape).live_nodes() == 0);
  const Tensor H = ad::hessian(f, x0);
  CHECK(ad::detail::TensorAccess::tensor_tape(tape).live_nodes() == 0);
  for (std::size_t i = 0; i < 4; ++i) {
    double expected = 0;
    for (std::size_t j = 0; j < 4; ++j) expected += H.at({i, j}) * v.values()[j];
    CHECK(Hv.values()[i] == doctest::Approx(expected).epsilon(1e-12));
  }
}

TEST_CASE("a recorded gradient is an ordinary tensor: it can be combined, swept, and recorded again") {
  Tensor x = Tensor::from({3}, {0.5, -1.0, 2.0}).requires_grad(true);
  const Tensor f = ad::sum(ad::exp(x) * x);  // df/dx = e^x (1 + x), d2f/dx2 = e^x (2 + x)
  const Tensor g = ad::gradient_recorded(f, {x})[0];
  for (std::size_t i = 0; i < 3; ++i) {
    const double xi = x.values()[i];
    CHECK(g.values()[i] == doctest::Approx(std::exp(xi) * (1 + xi)));
  }
  const Tensor g2 = ad::gradient_recorded(ad::sum(g), {x})[0];  // third order on the same tape
  const Tensor g3 = ad::gradient_recorded(ad::sum(g2), {x})[0];
  for (std::size_t i = 0; i < 3; ++i) {
    const double xi = x.values()[i];
    CHECK(g2.values()[i] == doctest::Approx(std::exp(xi) * (2 + xi)));
    CHECK(g3.values()[i] == doctest::Approx(std::exp(xi) * (3 + xi)));
  }
  // The first-order backward still works on the same graph, and leaves accumulate.
  Tensor s = ad::sum(g * g);
  s.backward();
  for (std::size_t i = 0; i < 3; ++i) {
    const double xi = x.values()[i];
    CHECK(x.grad().values()[i] == doctest::Approx(2 * std::exp(xi) * (1 + xi) * std::exp(xi) * (2 + xi)));
  }
}

TEST_CASE("jacobian and vjp of a tensor function") {
  auto F = [](const Tensor& x) { return ad::softmax(x * x, 0); };
  const Tensor x0 = Tensor::from({3}, {0.1, 0.5, -0.3});
  const Tensor J = ad::jacobian(F, x0);
  REQUIRE(J.shape() == ad::Shape{3, 3});
  // d softmax(u)_i / d x_j = s_i (delta_ij - s_j) 2 x_j with u = x^2
  const Tensor s = ad::softmax(x0 * x0, 0);
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 3; ++j) {
      const double expected = s.values()[i] * ((i == j ? 1.0 : 0.0) - s.values()[j]) * 2 * x0.values()[j];
      CHECK(J.at({i, j}) == doctest::Approx(expected).epsilon(1e-12));
    }
  const Tensor u = Tensor::from({3}, {1.0, -2.0, 0.5});
  const Tensor uJ = ad::vjp(F, x0, u);
  for (std::size_t j = 0; j < 3; ++j) {
    double expected = 0;
    for (std::size_t i = 0; i < 3; ++i) expected += u.values()[i] * J.at({i, j});
    CHECK(uJ.values()[j] == doctest::Approx(expected).epsilon(1e-12));
  }
  CHECK_THROWS_WITH_AS(ad::vjp(F, x0, Tensor::from({2}, {1.0, 2.0})),
                       doctest::Contains("the weights have shape [2] but F(x) has shape [3]"),
                       std::invalid_argument);
}

TEST_CASE("float tensors have second derivatives too") {
  auto f = [](const ad::TensorF& x) {
    return ad::sum(ad::tanh(ad::matmul(ad::reshape(x, {2, 2}), ad::reshape(x, {2, 2}))));
  };
  auto fd = [](const Tensor& x) {
    return ad::sum(ad::tanh(ad::matmul(ad::reshape(x, {2, 2}), ad::reshape(x, {2, 2}))));
  };
  const ad::TensorF Hf = ad::hessian(f, ad::TensorF::from({4}, {0.2f, -0.5f, 0.7f, 0.1f}));
  const Tensor Hd = ad::hessian(fd, Tensor::from({4}, {0.2, -0.5, 0.7, 0.1}));
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 4; ++j)
      CHECK(Hf.at({i, j}) == doctest::Approx(Hd.at({i, j})).epsilon(1e-5).scale(1.0));
}

TEST_CASE("hvp over several parameter tensors leaves their accumulated gradients alone") {
  Tensor W = Tensor::from({2, 3}, {0.1, -0.2, 0.3, 0.4, 0.5, -0.6}).requires_grad(true);
  Tensor b = Tensor::from({2}, {0.05, -0.05}).requires_grad(true);
  const Tensor X = Tensor::from({4, 3}, {1, 2, 0, -1, 0.5, 1, 0, 0, 1, 2, -1, 0.5});
  auto loss = [&] { return ad::mean(ad::square(ad::tanh(ad::linear(X, W, b)))); };
  loss().backward();  // some accumulated gradient the hvp must not disturb
  const Tensor W_grad_before = W.grad();
  const std::vector<double> W_grad(W_grad_before.values().begin(), W_grad_before.values().end());
  const std::vector<Tensor> v = {Tensor::from({2, 3}, {1, 0, -1, 0.5, 2, 0}), Tensor::from({2}, {-1, 1})};
  const std::vector<Tensor> Hv = ad::hvp(loss, std::vector<Tensor>{W, b}, v);
  const Tensor W_grad_after = W.grad();
  CHECK(std::vector<double>(W_grad_after.values().begin(), W_grad_after.values().end()) == W_grad);
  // Against differences of gradients along v.
  const double h = 1e-6;
  auto grads_at = [&](double t) {
    Tensor Wt = Tensor::from({2, 3}, std::vector<double>(W.values().begin(), W.values().end())) + v[0] * t;
    Tensor bt = Tensor::from({2}, std::vector<double>(b.values().begin(), b.values().end())) + v[1] * t;
    Wt = Wt.detach().requires_grad(true);
    bt = bt.detach().requires_grad(true);
    ad::mean(ad::square(ad::tanh(ad::linear(X, Wt, bt)))).backward();
    return std::pair{Wt.grad(), bt.grad()};
  };
  const auto [Wp, bp] = grads_at(h);
  const auto [Wm, bm] = grads_at(-h);
  for (std::size_t i = 0; i < 6; ++i)
    CHECK(Hv[0].values()[i] ==
          doctest::Approx((Wp.values()[i] - Wm.values()[i]) / (2 * h)).epsilon(1e-6).scale(1.0));
  for (std::size_t i = 0; i < 2; ++i)
    CHECK(Hv[1].values()[i] ==
          doctest::Approx((bp.values()[i] - bm.values()[i]) / (2 * h)).epsilon(1e-6).scale(1.0));
  CHECK_THROWS_AS(ad::hvp(loss, std::vector<Tensor>{W, b}, std::vector<Tensor>{v[0]}), std::invalid_argument);
}

TEST_CASE("second derivatives say what they cannot do") {
  SUBCASE("a user-defined op has no recorded backward") {
    Tensor x = Tensor::from({2}, {1.0, 2.0}).requires_grad(true);
    const Tensor y =
        ad::custom_op<double>("twice", {x}, x.shape(), {2.0, 4.0}, [](const ad::CustomGradient<double>& g) {
          for (std::size_t i = 0; i < g.grad_output.size(); ++i) g.grad_inputs[0][i] += 2 * g.grad_output[i];
        });
    CHECK_THROWS_WITH_AS(ad::gradient_recorded(ad::sum(y * y), {x}),
                         doctest::Contains("the op 'twice' has no recorded backward"), std::logic_error);
  }
  SUBCASE("an input that does not require grad") {
    const Tensor c = Tensor::from({2}, {1.0, 2.0});
    Tensor x = Tensor::from({2}, {1.0, 2.0}).requires_grad(true);
    CHECK_THROWS_WITH_AS(ad::gradient_recorded(ad::sum(x * c), {c}),
                         doctest::Contains("does not require grad"), std::invalid_argument);
  }
  SUBCASE("an output of several elements needs a seed") {
    Tensor x = Tensor::from({2}, {1.0, 2.0}).requires_grad(true);
    CHECK_THROWS_WITH_AS(ad::gradient_recorded(x * x, {x}),
                         doctest::Contains("without a seed it must have one element"), std::invalid_argument);
    const Tensor g = ad::gradient_recorded(x * x, {x}, Tensor::from({2}, {1.0, 3.0}))[0];
    CHECK(g.values()[1] == doctest::Approx(12.0));
  }
  SUBCASE("an input the output does not depend on gets zeros") {
    Tensor x = Tensor::from({2}, {1.0, 2.0}).requires_grad(true);
    Tensor z = Tensor::from({3}, {1.0, 2.0, 3.0}).requires_grad(true);
    const Tensor g = ad::gradient_recorded(ad::sum(x * x), {z})[0];
    CHECK(g.shape() == ad::Shape{3});
    CHECK(ad::sum(g).item() == 0.0);
  }
  SUBCASE("a function that does not return one element") {
    CHECK_THROWS_WITH_AS(
        ad::hessian([](const Tensor& x) { return x * x; }, Tensor::from({2}, {1.0, 2.0})),
        doctest::Contains("ad::hessian: the function must return a one-element tensor, got shape [2]"),
        std::invalid_argument);
  }
}
