// The vectorised element-wise kernels (autodiff/src/vector_math.hpp): error
// in ulp against the function evaluated in higher precision (double for
// float, long double for double), the special values of std::, and results
// that depend on nothing but the element, on every instruction set this CPU
// has.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <autodiff/src/vector_math.hpp>

namespace {

namespace vm = ad::detail;

// The instruction sets to test: all that this CPU runs.
std::vector<std::string> isas() {
  std::vector<std::string> found;
  for (const char* isa : {"baseline", "avx2", "avx512"}) {
    if (vm::select_vector_math_isa(isa)) found.emplace_back(isa);
  }
  vm::select_vector_math_isa("best");
  return found;
}

// Restores the best instruction set when a test ends, passed or failed.
struct IsaGuard {
  ~IsaGuard() { vm::select_vector_math_isa("best"); }
};

// A wider type to compute the reference in, and its value of each function.
template <class T>
using Wide = std::conditional_t<std::is_same_v<T, float>, double, long double>;

struct ExpFn {
  static constexpr const char* name = "exp";
  template <class T>
  static void array(const T* x, T* y, std::size_t n) {
    vm::exp_array(x, y, n);
  }
  template <class W>
  static W reference(W x) {
    return std::exp(x);
  }
};
struct TanhFn {
  static constexpr const char* name = "tanh";
  template <class T>
  static void array(const T* x, T* y, std::size_t n) {
    vm::tanh_array(x, y, n);
  }
  template <class W>
  static W reference(W x) {
    return std::tanh(x);
  }
};
struct LogisticFn {
  static constexpr const char* name = "logistic";
  template <class T>
  static void array(const T* x, T* y, std::size_t n) {
    vm::logistic_array(x, y, n);
  }
  template <class W>
  static W reference(W x) {
    return W(1) / (W(1) + std::exp(-x));
  }
};

// |y - exact| in units of the spacing of T at `exact` (subnormal spacing
// below the normal range). A result beyond the largest finite T counts as
// +inf when T would round it there, else as one ulp beyond the largest.
template <class T>
double ulp_error(T y, Wide<T> exact) {
  using W = Wide<T>;
  if (std::isnan(exact)) return std::isnan(y) ? 0.0 : INFINITY;
  if (std::isnan(y)) return INFINITY;
  const T rounded = static_cast<T>(exact);
  if (std::isinf(rounded) || std::isinf(y)) {
    if (y == rounded) return 0.0;
    const T largest = std::numeric_limits<T>::max();
    return std::isinf(y) && std::fabs(rounded) == largest && std::signbit(y) == std::signbit(rounded)
               ? 1.0
               : INFINITY;
  }
  const int exponent = std::max(std::ilogb(exact), std::numeric_limits<T>::min_exponent - 1);
  const W spacing = std::ldexp(W(1), exponent - (std::numeric_limits<T>::digits - 1));
  return static_cast<double>(std::fabs(static_cast<W>(y) - exact) / spacing);
}

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// n points evenly spaced over [low, high].
template <class T>
std::vector<T> linear_sweep(double low, double high, std::size_t n) {
  std::vector<T> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<T>(low + (high - low) * double(i) / double(n - 1));
  return x;
}

// Every finite T of either sign with a magnitude of at most `limit`, sampled
// by stepping through the bit patterns: as dense in 1e-30 .. 1e-29 as in
// 1 .. 10, subnormals included.
template <class T>
std::vector<T> bit_sweep(T limit, std::size_t n) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  const Bits top = std::bit_cast<Bits>(limit);
  const Bits step = std::max<Bits>(1, top / Bits(n / 2));
  std::vector<T> x;
  for (Bits b = 0; b <= top - std::min(top, step - 1) && x.size() + 1 < n; b += step) {
    x.push_back(std::bit_cast<T>(b));
    x.push_back(-std::bit_cast<T>(b));
  }
  return x;
}

// The largest ulp error of Fn over x, on the selected instruction set.
template <class Fn, class T>
double worst_ulp(const std::vector<T>& x, T* worst_at) {
  std::vector<T> y(x.size());
  Fn::array(x.data(), y.data(), x.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double e = ulp_error<T>(y[i], Fn::reference(static_cast<Wide<T>>(x[i])));
    if (e > worst) {
      worst = e;
      *worst_at = x[i];
    }
  }
  return worst;
}

template <class Fn, class T>
void check_accuracy(double low, double high, double bound) {
  if constexpr (std::numeric_limits<Wide<T>>::digits <= std::numeric_limits<T>::digits) {
    MESSAGE("long double is double here: no higher-precision reference");
    return;
  } else {
    IsaGuard guard;
    const std::vector<T> dense = linear_sweep<T>(low, high, 1'000'000);
    const std::vector<T> bits = bit_sweep<T>(static_cast<T>(std::max(-low, high)), 1'000'000);
    for (const std::string& isa : isas()) {
      REQUIRE(vm::select_vector_math_isa(isa));
      T at_dense = 0, at_bits = 0;
      const double e_dense = worst_ulp<Fn>(dense, &at_dense);
      const double e_bits = worst_ulp<Fn>(bits, &at_bits);
      MESSAGE(std::string(Fn::name) << "<" << std::string(sizeof(T) == 4 ? "float" : "double") << "> " << isa
                                    << ": worst ulp " << e_dense << " at " << at_dense << " (linear sweep), "
                                    << e_bits << " at " << at_bits << " (bit sweep)");
      CHECK(e_dense <= bound);
      CHECK(e_bits <= bound);
    }
  }
}

// The special and boundary inputs of each type.
template <class T>
std::vector<T> edge_inputs() {
  using L = std::numeric_limits<T>;
  std::vector<T> x = {
      T(0),    L::denorm_min(), L::min(), L::epsilon(), T(1e-30), T(0.1),    T(0.1733),     T(0.3466),
      T(0.5),  T(0.55),         T(1),     T(2),         T(9),     T(9.02),   T(10),         T(19),
      T(19.1), T(20),           T(30),    T(80),        T(87.3),  T(88.7),   T(88.73),      T(89),
      T(100),  T(103.9),        T(104),   T(200),       T(700),   T(709.78), T(709.79),     T(710),
      T(744),  T(745.1),        T(745.2), T(746),       T(1000),  L::max(),  L::infinity(), L::quiet_NaN()};
  const std::size_t base = x.size();
  for (std::size_t i = 0; i < base; ++i) {
    if (std::isfinite(x[i]) && x[i] > T(0)) {
      x.push_back(std::nextafter(x[i], T(0)));
      x.push_back(std::nextafter(x[i], L::infinity()));
    }
  }
  const std::size_t positives = x.size();
  for (std::size_t i = 0; i < positives; ++i) x.push_back(-x[i]);
  return x;
}

template <class Fn, class T>
void check_edges(double bound) {
  IsaGuard guard;
  const std::vector<T> x = edge_inputs<T>();
  for (const std::string& isa : isas()) {
    REQUIRE(vm::select_vector_math_isa(isa));
    std::vector<T> y(x.size());
    Fn::array(x.data(), y.data(), x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      INFO(std::string(Fn::name) << " " << isa << " x = " << x[i] << " y = " << y[i]);
      const T exact = static_cast<T>(Fn::reference(static_cast<Wide<T>>(x[i])));
      if (std::isnan(exact) || std::isinf(exact) || exact == T(0)) {
        CHECK(same_bits(std::isnan(y[i]) ? exact : y[i], exact));  // NaN's payload is free
        CHECK(std::isnan(y[i]) == std::isnan(exact));
      } else {
        CHECK(ulp_error<T>(y[i], Fn::reference(static_cast<Wide<T>>(x[i]))) <= bound);
      }
    }
  }
}

}  // namespace

TEST_CASE("exp, tanh and logistic on float are within 1 ulp of the exact value over dense sweeps") {
  check_accuracy<ExpFn, float>(-104.0, 89.0, 1.0);
  check_accuracy<TanhFn, float>(-10.0, 10.0, 1.0);
  check_accuracy<LogisticFn, float>(-104.0, 104.0, 1.0);
}

TEST_CASE("exp, tanh and logistic on double are within 1 ulp of the exact value over dense sweeps") {
  check_accuracy<ExpFn, double>(-746.0, 710.0, 1.0);
  check_accuracy<TanhFn, double>(-20.0, 20.0, 1.0);
  check_accuracy<LogisticFn, double>(-746.0, 746.0, 1.0);
}

TEST_CASE("special and boundary inputs give std::'s values: signed zeros, infinities, NaN, overflow") {
  check_edges<ExpFn, float>(1.0);
  check_edges<TanhFn, float>(1.0);
  check_edges<LogisticFn, float>(1.0);
  check_edges<ExpFn, double>(1.0);
  check_edges<TanhFn, double>(1.0);
  check_edges<LogisticFn, double>(1.0);
}

TEST_CASE("the documented special values hold exactly") {
  IsaGuard guard;
  constexpr double inf = std::numeric_limits<double>::infinity();
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> x = {-0.0, 0.0, -inf, inf, nan, 1e6, -1e6};
  for (const std::string& isa : isas()) {
    REQUIRE(vm::select_vector_math_isa(isa));
    INFO(isa);
    std::vector<double> e(x.size()), t(x.size()), s(x.size());
    vm::exp_array(x.data(), e.data(), x.size());
    vm::tanh_array(x.data(), t.data(), x.size());
    vm::logistic_array(x.data(), s.data(), x.size());
    CHECK(e[0] == 1.0);
    CHECK(e[1] == 1.0);
    CHECK(same_bits(e[2], 0.0));
    CHECK(e[3] == inf);
    CHECK(std::isnan(e[4]));
    CHECK(e[5] == inf);
    CHECK(same_bits(e[6], 0.0));
    CHECK(same_bits(t[0], -0.0));
    CHECK(same_bits(t[1], 0.0));
    CHECK(t[2] == -1.0);
    CHECK(t[3] == 1.0);
    CHECK(std::isnan(t[4]));
    CHECK(t[5] == 1.0);
    CHECK(t[6] == -1.0);
    CHECK(s[0] == 0.5);
    CHECK(s[1] == 0.5);
    CHECK(same_bits(s[2], 0.0));
    CHECK(s[3] == 1.0);
    CHECK(std::isnan(s[4]));
    CHECK(s[5] == 1.0);
    CHECK(same_bits(s[6], 0.0));
  }
}

namespace {

// Deterministic inputs over the interesting range of all three functions.
template <class T>
std::vector<T> mixed_inputs(std::size_t n) {
  std::vector<T> x(n);
  std::uint64_t state = 0x9e3779b97f4a7c15u;
  for (T& v : x) {
    state = state * 6364136223846793005u + 1442695040888963407u;  // 64-bit LCG
    v = static_cast<T>((double(state >> 11) * 0x1p-53 - 0.5) * 60.0);
  }
  return x;
}

template <class Fn, class T>
void check_independent_of_length_and_alignment() {
  IsaGuard guard;
  const std::vector<T> x = mixed_inputs<T>(400);
  for (const std::string& isa : isas()) {
    REQUIRE(vm::select_vector_math_isa(isa));
    std::vector<T> whole(x.size());
    Fn::array(x.data(), whole.data(), x.size());
    for (std::size_t offset = 0; offset < 17; ++offset) {
      for (std::size_t n = 0; n + offset <= 300; ++n) {
        std::vector<T> y(n + 1, T(-7));  // one guard element past the end
        Fn::array(x.data() + offset, y.data(), n);
        std::vector<T> in_place(x.begin() + offset, x.begin() + offset + n);
        Fn::array(in_place.data(), in_place.data(), n);
        INFO(std::string(Fn::name) << " " << isa << " offset " << offset << " n " << n);
        REQUIRE(std::equal(y.begin(), y.begin() + n, whole.begin() + offset, same_bits<T>));
        REQUIRE(std::equal(in_place.begin(), in_place.end(), whole.begin() + offset, same_bits<T>));
        REQUIRE(y[n] == T(-7));
      }
    }
  }
}

}  // namespace

TEST_CASE("each element's result is the same for every array length, offset and in place") {
  check_independent_of_length_and_alignment<ExpFn, float>();
  check_independent_of_length_and_alignment<TanhFn, float>();
  check_independent_of_length_and_alignment<LogisticFn, float>();
  check_independent_of_length_and_alignment<ExpFn, double>();
  check_independent_of_length_and_alignment<TanhFn, double>();
  check_independent_of_length_and_alignment<LogisticFn, double>();
}

TEST_CASE("an empty array is a no-op, null pointers included") {
  vm::exp_array(static_cast<const float*>(nullptr), static_cast<float*>(nullptr), 0);
  vm::tanh_array(static_cast<const double*>(nullptr), static_cast<double*>(nullptr), 0);
  CHECK(std::string(vm::vector_math_isa()).size() > 0);
}
