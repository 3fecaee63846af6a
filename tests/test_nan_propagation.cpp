// NaN is never absorbed (issue 14, item 7; docs/conventions.md): every op with
// a NaN operand gives NaN, scalar and tensor, float and double, as in IEEE
// arithmetic and PyTorch (relu(NaN) = NaN, max propagates NaN from either
// side, logsumexp with a NaN is NaN). The ops that select by a comparison
// (abs, relu, heaviside, min, max, clamp) also give a NaN derivative there.
// ad::DetectAnomaly reports the op that produced the NaN, and a NaN feature
// makes a network's loss NaN.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

constexpr double qnan = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();

struct ScalarOp {
  const char* name;
  std::function<ad::Var(const ad::Var&)> on_var;
  std::function<double(double)> on_double;
};

// Every unary op of the table (AD_UNARY_OPS), so an op added later is covered.
std::vector<ScalarOp> unary_ops() {
  std::vector<ScalarOp> ops;
#define AD_TEST_UNARY(name, Struct) \
  ops.push_back({#name, [](const ad::Var& x) { return ad::name(x); }, [](double x) { return ad::name(x); }});
  AD_UNARY_OPS(AD_TEST_UNARY)
#undef AD_TEST_UNARY
  return ops;
}

struct BinaryOp {
  const char* name;
  std::function<ad::Var(const ad::Var&, const ad::Var&)> var_var;
  std::function<ad::Var(const ad::Var&, double)> var_double;
  std::function<ad::Var(double, const ad::Var&)> double_var;
  std::function<double(double, double)> on_doubles;
};

template <class F>
BinaryOp binary(const char* name, F f) {
  return {name, f, f, f, f};
}

// The binary ops of the table (Var has operators for the arithmetic ones).
std::vector<BinaryOp> binary_ops() {
  std::vector<BinaryOp> ops{binary("add", [](const auto& a, const auto& b) { return a + b; }),
                            binary("sub", [](const auto& a, const auto& b) { return a - b; }),
                            binary("mul", [](const auto& a, const auto& b) { return a * b; }),
                            binary("div", [](const auto& a, const auto& b) { return a / b; }),
                            binary("pow", [](const auto& a, const auto& b) { return ad::pow(a, b); }),
                            binary("atan2", [](const auto& a, const auto& b) { return ad::atan2(a, b); }),
                            binary("hypot", [](const auto& a, const auto& b) { return ad::hypot(a, b); }),
                            binary("min", [](const auto& a, const auto& b) { return ad::min(a, b); }),
                            binary("max", [](const auto& a, const auto& b) { return ad::max(a, b); })};
#define AD_TEST_COUNT(name, Struct) +1
  REQUIRE(ops.size() == 0 AD_BINARY_OPS(AD_TEST_COUNT));  // a new binary op belongs in this list
#undef AD_TEST_COUNT
  return ops;
}

// d f / dx at x0 and the value, from one sweep.
std::pair<double, double> value_and_derivative(double x0, const std::function<ad::Var(const ad::Var&)>& f) {
  ad::Tape tape;
  const ad::Var x = x0;
  const ad::Var y = f(x);
  return {y.value(), ad::gradient(y, {x})[0]};
}

template <class T>
ad::TensorT<T> vec(std::initializer_list<double> v) {
  std::vector<T> values;
  for (double x : v) values.push_back(static_cast<T>(x));
  const std::size_t n = values.size();
  return ad::TensorT<T>::from({n}, std::move(values));
}

}  // namespace

TEST_CASE("every scalar op gives NaN for a NaN operand, recorded or on plain doubles") {
  for (const ScalarOp& op : unary_ops()) {
    CAPTURE(op.name);
    CHECK(std::isnan(op.on_double(qnan)));
    const auto [value, derivative] = value_and_derivative(qnan, op.on_var);
    CHECK(std::isnan(value));
    (void)derivative;  // NaN or the op's constant slope (neg: -1); computed without failing
  }
  for (const BinaryOp& op : binary_ops()) {
    CAPTURE(op.name);
    for (const auto& [a, b] : {std::pair{qnan, 2.0}, std::pair{2.0, qnan}, std::pair{qnan, qnan}}) {
      CAPTURE(a);
      CAPTURE(b);
      CHECK(std::isnan(op.on_doubles(a, b)));
      ad::Tape tape;
      const ad::Var va = a, vb = b;
      CHECK(std::isnan(op.var_var(va, vb).value()));
      CHECK(std::isnan(op.var_double(va, b).value()));
      CHECK(std::isnan(op.double_var(a, vb).value()));
    }
  }
}

TEST_CASE("relu, heaviside, abs, max and min do not absorb NaN (the reported cases)") {
  CHECK(std::isnan(ad::relu(qnan)));
  CHECK(std::isnan(ad::heaviside(qnan)));
  CHECK(std::isnan(ad::max(1.0, qnan)));
  CHECK(std::isnan(ad::max(qnan, 1.0)));
  CHECK(std::isnan(ad::min(1.0, qnan)));
  CHECK(std::isnan(ad::min(qnan, 1.0)));
  // and the values away from NaN are as before
  CHECK(ad::relu(-0.0) == 0.0);
  CHECK_FALSE(std::signbit(ad::relu(-0.0)));
  CHECK(ad::relu(-inf) == 0.0);
  CHECK(ad::relu(inf) == inf);
  CHECK(ad::heaviside(0.0) == 1.0);
  CHECK(ad::heaviside(-inf) == 0.0);
  CHECK(ad::max(1.0, inf) == inf);
  CHECK(ad::min(-inf, 1.0) == -inf);
}

TEST_CASE("the selecting ops have a NaN derivative at NaN, in every recorded form") {
  for (const char* name : {"abs", "relu", "heaviside"}) {
    CAPTURE(name);
    for (const ScalarOp& op : unary_ops())
      if (std::string(op.name) == name) CHECK(std::isnan(value_and_derivative(qnan, op.on_var).second));
  }
  for (const BinaryOp& op : binary_ops()) {
    if (std::string(op.name) != "min" && std::string(op.name) != "max") continue;
    CAPTURE(op.name);
    ad::Tape tape;
    const ad::Var a = 1.0, b = qnan;
    const std::vector<double> g = ad::gradient(op.var_var(a, b), {a, b});
    CHECK(std::isnan(g[0]));
    CHECK(std::isnan(g[1]));
    CHECK(std::isnan(ad::gradient(op.var_double(a, qnan), {a})[0]));
    CHECK(std::isnan(ad::gradient(op.double_var(qnan, a), {a})[0]));
    CHECK(std::isnan(ad::gradient(op.var_double(b, 1.0), {b})[0]));
  }
}

TEST_CASE("the scalar recorded (second-order) sweep does not absorb NaN either") {
  ad::Tape tape;
  const std::vector<ad::Var> x{ad::Var(qnan)};
  const std::vector<ad::Var> g = ad::gradient_recorded(ad::relu(x[0]) * x[0], x);
  CHECK(std::isnan(g[0].value()));
}

TEST_CASE_TEMPLATE("every tensor element-wise op gives NaN where its operand is NaN", T, float, double) {
  const auto x = vec<T>({qnan, 0.5, -0.5, 0});
#define AD_TEST_TENSOR_UNARY(name, Struct)                                       \
  {                                                                              \
    CAPTURE(#name);                                                              \
    const ad::TensorT<T> y = ad::name(x);                                        \
    CHECK(std::isnan(y.values()[0]));                                            \
    for (std::size_t i = 1; i < 4; ++i) {                                        \
      CAPTURE(i);                                                                \
      const double expected = ad::name(double(x.values()[i]));                   \
      if (std::isnan(expected))                                                  \
        CHECK(std::isnan(y.values()[i]));                                        \
      else if (std::isinf(expected))                                             \
        CHECK(double(y.values()[i]) == expected);                                \
      else                                                                       \
        CHECK(double(y.values()[i]) == doctest::Approx(expected).epsilon(1e-6)); \
    }                                                                            \
  }
  AD_UNARY_OPS(AD_TEST_TENSOR_UNARY)
#undef AD_TEST_TENSOR_UNARY
  const auto two = vec<T>({2, 2, 2, 2});
#define AD_TEST_TENSOR_BINARY(name, Struct)                             \
  {                                                                     \
    CAPTURE(#name);                                                     \
    CHECK(std::isnan(ad::name(x, two).values()[0]));                    \
    CHECK(std::isnan(ad::name(two, x).values()[0]));                    \
    CHECK(std::isnan(ad::name(x, T(2)).values()[0]));                   \
    CHECK(std::isnan(ad::name(T(2), x).values()[0]));                   \
    CHECK(std::isnan(ad::name(two, static_cast<T>(qnan)).values()[1])); \
    CHECK(std::isnan(ad::name(static_cast<T>(qnan), two).values()[1])); \
  }
  AD_BINARY_OPS(AD_TEST_TENSOR_BINARY)
#undef AD_TEST_TENSOR_BINARY
  CHECK(std::isnan(ad::clamp(x, T(-0.25), T(0.25)).values()[0]));
  CHECK(std::isnan(ad::square(x).values()[0]));
}

TEST_CASE_TEMPLATE("the selecting tensor ops have a NaN gradient at NaN and their usual one elsewhere", T,
                   float, double) {
  using Tensor = ad::TensorT<T>;
  auto gradient = [](const std::function<Tensor(const Tensor&)>& f) {
    Tensor x = vec<T>({qnan, 0.5, -0.5, 0}).requires_grad(true);
    ad::sum(f(x) * vec<T>({1, 1, 1, 1})).backward();
    const auto g_tensor = x.grad();
    const auto g = g_tensor.values();
    return std::vector<T>(g.begin(), g.end());
  };
  auto check = [](const std::vector<T>& g, std::vector<T> expected_after_nan) {
    CHECK(std::isnan(g[0]));
    CHECK(std::vector<T>(g.begin() + 1, g.end()) == expected_after_nan);
  };
  check(gradient([](const Tensor& x) { return ad::relu(x); }), {1, 0, 0});
  check(gradient([](const Tensor& x) { return ad::abs(x); }), {1, -1, 0});
  check(gradient([](const Tensor& x) { return ad::heaviside(x); }), {0, 0, 0});
  check(gradient([](const Tensor& x) { return ad::max(x, T(0)); }), {1, 0, 0.5});
  check(gradient([](const Tensor& x) { return ad::min(T(0), x); }), {0, 1, 0.5});
  check(gradient([](const Tensor& x) { return ad::clamp(x, T(-0.25), T(0.25)); }), {0, 0, 1});
  // the recorded sweep gives the same first derivatives
  for (const auto& f : std::vector<std::function<Tensor(const Tensor&)>>{
           [](const Tensor& x) { return ad::relu(x); }, [](const Tensor& x) { return ad::heaviside(x); },
           [](const Tensor& x) { return ad::max(x, T(0)); },
           [](const Tensor& x) { return ad::clamp(x, T(-0.25), T(0.25)); }}) {
    Tensor x = vec<T>({qnan, 0.5}).requires_grad(true);
    const Tensor g = ad::gradient_recorded(ad::sum(f(x)), {x})[0];
    CHECK(std::isnan(g.values()[0]));
    CHECK_FALSE(std::isnan(g.values()[1]));
  }
}

TEST_CASE_TEMPLATE("the vectorised relu loops, forward and backward, let NaN through at every position", T,
                   float, double) {
  const std::size_t n = 40000;  // more than one parallel grain, and every vector lane position
  std::vector<T> v(n);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  for (T& e : v) e = static_cast<T>(normal(rng));
  const std::vector<std::size_t> at{0,  1,  2,  3,  4,    5,     6,     7,     8,
                                    15, 16, 17, 31, 1000, 16383, 16384, n - 2, n - 1};
  for (std::size_t i : at) v[i] = static_cast<T>(qnan);
  ad::TensorT<T> x = ad::TensorT<T>::from({n}, v).requires_grad(true);
  const ad::TensorT<T> y = ad::relu(x);
  ad::sum(y).backward();
  const auto yv = y.values();
  const auto g_tensor = x.grad();
  const auto g = g_tensor.values();
  std::size_t nan_values = 0, nan_grads = 0;
  for (std::size_t i = 0; i < n; ++i) {
    nan_values += std::isnan(yv[i]);
    nan_grads += std::isnan(g[i]);
  }
  CHECK(nan_values == at.size());
  CHECK(nan_grads == at.size());
  for (std::size_t i : at) {
    CAPTURE(i);
    CHECK(std::isnan(yv[i]));
    CHECK(std::isnan(g[i]));
  }
}

TEST_CASE_TEMPLATE("the fused linear + relu layer lets NaN through, forward and backward", T, float, double) {
  std::mt19937_64 rng(11);
  ad::TensorT<T> X = ad::TensorT<T>::randn({64, 32}, rng);
  X.mutable_values()[5 * 32 + 7] = static_cast<T>(qnan);  // row 5
  ad::TensorT<T> W = ad::TensorT<T>::randn({48, 32}, rng).requires_grad(true);
  ad::TensorT<T> b = ad::TensorT<T>::randn({48}, rng).requires_grad(true);
  const ad::TensorT<T> z = ad::linear_activation(X, W, b, ad::OpCode::relu);
  const auto zv = z.values();
  for (std::size_t r = 0; r < 64; ++r)
    for (std::size_t c = 0; c < 48; ++c) {
      CAPTURE(r);
      CHECK(std::isnan(zv[r * 48 + c]) == (r == 5));
    }
  ad::TensorT<T> loss = ad::sum(z);
  CHECK(std::isnan(loss.item()));
  loss.backward();
  const auto gb_tensor = b.grad();
  const auto gb = gb_tensor.values();
  for (std::size_t c = 0; c < 48; ++c) CHECK(std::isnan(gb[c]));  // row 5 reaches every bias
  // the recorded backward of the fused op
  const ad::TensorT<T> z2 = ad::linear_activation(X, W, b, ad::OpCode::relu);
  const ad::TensorT<T> g = ad::gradient_recorded(ad::sum(z2), {b})[0];
  CHECK(std::isnan(g.values()[0]));
}

TEST_CASE_TEMPLATE("reductions and normalisations propagate NaN", T, float, double) {
  CHECK(std::isnan(ad::logsumexp(vec<T>({qnan, qnan})).item()));  // was -inf
  CHECK(std::isnan(ad::logsumexp(vec<T>({qnan, 1})).item()));
  CHECK(std::isnan(ad::logsumexp(vec<T>({1, qnan})).item()));
  CHECK(std::isnan(ad::logsumexp(vec<T>({inf, qnan})).item()));
  CHECK(std::isnan(ad::logsumexp(vec<T>({-inf, qnan})).item()));
  CHECK(ad::logsumexp(vec<T>({-inf, -inf})).item() == -static_cast<T>(inf));  // unchanged
  for (const auto& v : {vec<T>({qnan, 1, 2}), vec<T>({1, qnan, 2}), vec<T>({1, 2, qnan})}) {
    CHECK(std::isnan(ad::max(v).item()));
    const auto s_tensor = ad::softmax(v);
    const auto s = s_tensor.values();
    const auto l_tensor = ad::log_softmax(v);
    const auto l = l_tensor.values();
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(std::isnan(s[i]));
      CHECK(std::isnan(l[i]));
    }
    CHECK(std::isnan(ad::sum(v).item()));
    CHECK(std::isnan(ad::mean(v).item()));
  }
  // along an axis: only the group holding the NaN
  const ad::TensorT<T> m = ad::TensorT<T>::from({2, 2}, {static_cast<T>(qnan), 1, 2, 3});
  const auto rows_max_tensor = ad::max(m, {1});
  const auto rows_max = rows_max_tensor.values();
  CHECK(std::isnan(rows_max[0]));
  CHECK(rows_max[1] == 3);
  const auto rows_lse_tensor = ad::logsumexp(m, 1);
  const auto rows_lse = rows_lse_tensor.values();
  CHECK(std::isnan(rows_lse[0]));
  CHECK(std::isfinite(rows_lse[1]));
  const auto sm_tensor = ad::softmax(m, 1);
  const auto sm = sm_tensor.values();
  CHECK(std::isnan(sm[0]));
  CHECK(std::isnan(sm[1]));
  CHECK(std::isfinite(sm[2]));
  // the gradients are computed without failing, NaN in the NaN group
  ad::TensorT<T> x = ad::TensorT<T>::from({2, 2}, {static_cast<T>(qnan), 1, 2, 3}).requires_grad(true);
  (ad::sum(ad::logsumexp(x, 1)) + ad::sum(ad::max(x, {1}))).backward();
  CHECK(std::isnan(x.grad().values()[0]));
  CHECK(std::isfinite(x.grad().values()[3]));
}

TEST_CASE("DetectAnomaly reports the op that turned a NaN input into its output, scalar and tensor") {
  auto message = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const ad::AnomalyError& e) {
      return e.what();
    }
    return "(no AnomalyError)";
  };
  {
    ad::Tape tape;
    const ad::Var x = qnan;
    const ad::DetectAnomaly anomaly;
    CHECK(message([&] { (void)ad::relu(x); }).find("relu") != std::string::npos);
    CHECK(message([&] { (void)ad::max(1.0, x); }).find("max") != std::string::npos);
    CHECK(message([&] { (void)ad::heaviside(x); }).find("heaviside") != std::string::npos);
  }
  const ad::DetectAnomaly anomaly;
  const ad::Tensor x = ad::Tensor::from({2}, {qnan, 1});
  ad::Tensor w = ad::Tensor::from({2}, {1, 1}).requires_grad(true);
  CHECK(message([&] { (void)ad::relu(x * w); }).find("mul") != std::string::npos);  // the first NaN output
  CHECK(message([&] { (void)ad::relu(x); }).find("relu produced nan") != std::string::npos);
  CHECK(message([&] { (void)ad::max(ad::Tensor::scalar(1), x); }).find("max produced nan") !=
        std::string::npos);
  CHECK(message([&] {
          (void)ad::logsumexp(ad::Tensor::from({2}, {qnan, qnan}));
        }).find("logsumexp") != std::string::npos);
  const ad::Tensor X = ad::Tensor::from({1, 2}, {qnan, 1});
  CHECK(message([&] {
          (void)ad::linear_activation(X, ad::Tensor::from({1, 2}, {1, 1}), ad::Tensor::from({1}, {0}),
                                      ad::OpCode::relu);
        }).find("linear_relu") != std::string::npos);
}

TEST_CASE_TEMPLATE(
    "a NaN feature makes a relu network's loss and gradients NaN (it trained on silently before)", T, float,
    double) {
  std::mt19937_64 rng(5);
  nn::NetworkT<T> net({3, 8, 8, 1}, nn::Activation::relu, nn::Activation::identity, rng);
  ad::TensorT<T> X = ad::TensorT<T>::randn({16, 3}, rng);
  const ad::TensorT<T> Y = ad::TensorT<T>::randn({16, 1}, rng);
  X.mutable_values()[4] = static_cast<T>(qnan);
  ad::TensorT<T> loss = nn::mse_loss(net(X), Y);
  CHECK(std::isnan(loss.item()));
  loss.backward();
  bool some_nan = false;
  for (const auto& p : net.parameters()) {
    const ad::TensorT<T> grad = p.grad();
    for (T g : grad.values()) some_nan = some_nan || std::isnan(g);
  }
  CHECK(some_nan);
}
