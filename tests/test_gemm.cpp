#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <autodiff/gemm.hpp>

namespace la = ad::linalg;

namespace {

struct Shape {
  std::size_t m, n, k;
};

// Sizes 1, 2, 3, 7, 17, 33, 65, 129: each alone as a cube, and mixed so that
// every dimension is at some point 1, odd, or not a multiple of any tile.
// Products up to 96^3 (and skinny ones) take the direct kernel, larger ones
// the packed kernel; both are covered.
const std::vector<Shape> odd_shapes = {
    {1, 1, 1},    {2, 2, 2},       {3, 3, 3},    {7, 7, 7},    {17, 17, 17}, {33, 33, 33},
    {65, 65, 65}, {129, 129, 129}, {1, 129, 7},  {129, 1, 33}, {17, 65, 3},  {3, 7, 129},
    {65, 33, 17}, {2, 129, 65},    {129, 17, 2}, {33, 3, 65},  {7, 1, 129},  {1, 33, 17},
};

// One way of running gemm: a backend, and for the portable one the
// instruction set of its kernel.
struct Path {
  std::string name;
  std::function<void()> select;
};

// Every path this build and CPU can run.
std::vector<Path> all_paths() {
  std::vector<Path> paths;
  for (const char* isa : {"baseline", "avx2", "avx512"}) {
    if (!la::set_gemm_portable_isa(isa)) continue;
    paths.push_back({std::string("portable/") + isa, [isa] {
                       la::set_gemm_backend(la::GemmBackend::portable);
                       la::set_gemm_portable_isa(isa);
                     }});
  }
  la::set_gemm_portable_isa("best");
  if (la::gemm_has_cblas()) {
    paths.push_back({"cblas", [] { la::set_gemm_backend(la::GemmBackend::cblas); }});
  }
  paths.push_back({"automatic", [] { la::set_gemm_backend(la::GemmBackend::automatic); }});
  return paths;
}

// Leaves the global gemm settings as a test found them.
struct DefaultSettingsAfter {
  ~DefaultSettingsAfter() {
    la::set_gemm_backend(la::GemmBackend::automatic);
    la::set_gemm_portable_isa("best");
    la::set_gemm_threads(0);
  }
};

template <class T>
std::vector<T> random_values(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<T> values(count);
  for (T& v : values) v = static_cast<T>(uniform(rng));
  return values;
}

template <class T>
struct Operands {
  bool trans_a, trans_b;
  std::size_t m, n, k;
  std::size_t lda, ldb, ldc;
  std::vector<T> a, b, c;

  // Stored A is m x k (k x m transposed), B is k x n (n x k); rows padded to
  // the leading dimensions with values that must never be read or written.
  Operands(bool ta, bool tb, Shape s, std::size_t pad, std::uint64_t seed)
      : trans_a(ta), trans_b(tb), m(s.m), n(s.n), k(s.k) {
    lda = (ta ? m : k) + pad;
    ldb = (tb ? k : n) + pad;
    ldc = n + pad;
    a = random_values<T>((ta ? k : m) * lda, seed);
    b = random_values<T>((tb ? n : k) * ldb, seed + 1);
    c = random_values<T>(m * ldc, seed + 2);
  }

  T op_a(std::size_t i, std::size_t p) const { return trans_a ? a[p * lda + i] : a[i * lda + p]; }
  T op_b(std::size_t p, std::size_t j) const { return trans_b ? b[j * ldb + p] : b[p * ldb + j]; }
};

// The triple loop in double, and for every entry the scale its rounding error
// is proportional to: |alpha| sum_p |A(i,p) B(p,j)| + |beta C(i,j)|.
template <class T>
void naive_gemm(const Operands<T>& x, T alpha, T beta, std::vector<double>& want,
                std::vector<double>& scale) {
  want.assign(x.m * x.n, 0.0);
  scale.assign(x.m * x.n, 0.0);
  for (std::size_t i = 0; i < x.m; ++i) {
    for (std::size_t j = 0; j < x.n; ++j) {
      double sum = 0, magnitude = 0;
      for (std::size_t p = 0; p < x.k; ++p) {
        const double term = static_cast<double>(x.op_a(i, p)) * static_cast<double>(x.op_b(p, j));
        sum += term;
        magnitude += std::fabs(term);
      }
      const double old =
          beta == T(0) ? 0.0 : static_cast<double>(beta) * static_cast<double>(x.c[i * x.ldc + j]);
      want[i * x.n + j] = static_cast<double>(alpha) * sum + old;
      scale[i * x.n + j] = std::fabs(static_cast<double>(alpha)) * magnitude + std::fabs(old);
    }
  }
}

// Runs gemm on the current path and compares with the triple loop: every
// entry within (k + 4) unit roundoffs of its scale (the textbook bound for a
// k-term dot product, which any summation order meets), and the padding of C
// untouched. With nan_in_c, C starts as NaN (only meaningful for beta == 0).
template <class T>
void check_against_naive(bool ta, bool tb, Shape s, T alpha, T beta, std::size_t pad, bool nan_in_c,
                         std::uint64_t seed) {
  Operands<T> x(ta, tb, s, pad, seed);
  if (nan_in_c) {
    for (std::size_t i = 0; i < s.m; ++i) {
      for (std::size_t j = 0; j < s.n; ++j) x.c[i * x.ldc + j] = std::numeric_limits<T>::quiet_NaN();
    }
  }
  std::vector<double> want, scale;
  naive_gemm(x, alpha, beta, want, scale);
  std::vector<T> c = x.c;
  la::gemm<T>(ta, tb, s.m, s.n, s.k, alpha, x.a.data(), x.lda, x.b.data(), x.ldb, beta, c.data(), x.ldc);

  const double unit = std::numeric_limits<T>::epsilon() / 2;
  std::size_t wrong = 0, first_i = 0, first_j = 0;
  double first_got = 0, first_want = 0;
  for (std::size_t i = 0; i < s.m; ++i) {
    for (std::size_t j = 0; j < x.ldc; ++j) {
      const double got = static_cast<double>(c[i * x.ldc + j]);
      bool ok;
      double expected;
      if (j < s.n) {
        expected = want[i * s.n + j];
        ok = std::fabs(got - expected) <= static_cast<double>(s.k + 4) * unit * scale[i * s.n + j] + 1e-300;
      } else {
        expected = static_cast<double>(x.c[i * x.ldc + j]);
        ok = got == expected;  // padding
      }
      if (!ok && wrong++ == 0) {
        first_i = i, first_j = j, first_got = got, first_want = expected;
      }
    }
  }
  INFO("trans_a=", ta, " trans_b=", tb, " m=", s.m, " n=", s.n, " k=", s.k, " alpha=", alpha, " beta=", beta,
       " pad=", pad, " nan_in_c=", nan_in_c);
  INFO("first wrong entry: C(", first_i, ", ", first_j, ") = ", first_got, ", expected ", first_want);
  CHECK(wrong == 0);
}

}  // namespace

TEST_CASE_TEMPLATE("gemm matches the triple loop for all transpose combinations and odd sizes", T, float,
                   double) {
  DefaultSettingsAfter restore;
  std::uint64_t seed = 1;
  for (const Path& path : all_paths()) {
    CAPTURE(path.name);
    path.select();
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        for (const Shape& s : odd_shapes) check_against_naive<T>(ta, tb, s, T(1), T(0), 0, false, seed++);
      }
    }
  }
}

TEST_CASE_TEMPLATE("gemm applies alpha and beta as C = alpha op(A) op(B) + beta C", T, float, double) {
  DefaultSettingsAfter restore;
  const T alphas[] = {T(1), T(-0.5), T(2.25)};
  const T betas[] = {T(0), T(1), T(-1.5)};
  const Shape shapes[] = {{3, 7, 2}, {17, 33, 65}, {65, 129, 33}, {100, 120, 90}};
  std::uint64_t seed = 100;
  for (const Path& path : all_paths()) {
    CAPTURE(path.name);
    path.select();
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        for (const T alpha : alphas) {
          for (const T beta : betas) {
            for (const Shape& s : shapes) check_against_naive<T>(ta, tb, s, alpha, beta, 0, false, seed++);
          }
        }
      }
    }
  }
}

// Many rows, a few columns: the direct kernel computes C^T = op(B)^T op(A)^T
// and writes it back transposed (a layer's weight gradient with 2 inputs).
TEST_CASE_TEMPLATE("narrow products (many rows, few columns) for every transpose, alpha, beta and ISA", T,
                   float, double) {
  DefaultSettingsAfter restore;
  const Shape shapes[] = {{16, 2, 32}, {32, 1, 16}, {33, 3, 7}, {64, 8, 5}, {100, 4, 50}, {17, 2, 1}};
  std::uint64_t seed = 900;
  for (const Path& path : all_paths()) {
    CAPTURE(path.name);
    path.select();
    for (const bool ta : {false, true})
      for (const bool tb : {false, true})
        for (const Shape& s : shapes) {
          check_against_naive<T>(ta, tb, s, T(1), T(0), 0, true, seed++);  // NaN in C, beta 0
          check_against_naive<T>(ta, tb, s, T(-2), T(0.5), 3, false, seed++);
          check_against_naive<T>(ta, tb, s, T(1), T(1), 0, false, seed++);
        }
  }
}

TEST_CASE_TEMPLATE("gemm with beta == 0 ignores NaN in C", T, float, double) {
  DefaultSettingsAfter restore;
  const Shape shapes[] = {{2, 2, 2}, {7, 17, 3}, {33, 65, 17}, {129, 129, 129}};
  std::uint64_t seed = 200;
  for (const Path& path : all_paths()) {
    CAPTURE(path.name);
    path.select();
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        for (const Shape& s : shapes) {
          check_against_naive<T>(ta, tb, s, T(1), T(0), 0, true, seed++);
          check_against_naive<T>(ta, tb, s, T(-2), T(0), 3, true, seed++);
        }
      }
    }
  }
}

TEST_CASE_TEMPLATE("gemm reads and writes through leading dimensions longer than the rows", T, float,
                   double) {
  DefaultSettingsAfter restore;
  const Shape shapes[] = {{1, 1, 1}, {3, 2, 7}, {17, 33, 65}, {65, 17, 129}, {129, 65, 33}, {100, 120, 90}};
  std::uint64_t seed = 300;
  for (const Path& path : all_paths()) {
    CAPTURE(path.name);
    path.select();
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        for (const Shape& s : shapes) {
          for (const std::size_t pad : {std::size_t{1}, std::size_t{13}}) {
            check_against_naive<T>(ta, tb, s, T(0.75), T(0.5), pad, false, seed++);
          }
        }
      }
    }
  }
}

TEST_CASE_TEMPLATE("gemm is correct across cache blocks, for skinny products and with one or two threads", T,
                   float, double) {
  DefaultSettingsAfter restore;
  // Larger than one k block (256), one B block (<= 512 columns) and, for
  // m = 1030, one A block of the portable kernel; then products too large for
  // the direct kernel but too skinny for packing (fewer rows than a tile, or
  // a few columns), which the direct kernel takes in slabs.
  const Shape shapes[] = {{40, 530, 300}, {1030, 24, 300}, {200, 190, 260}, {5, 300, 700}, {700, 10, 300}};
  std::uint64_t seed = 400;
  for (const int threads : {1, 2}) {
    la::set_gemm_threads(threads);
    CAPTURE(threads);
    for (const Path& path : all_paths()) {
      CAPTURE(path.name);
      path.select();
      for (const bool ta : {false, true}) {
        for (const bool tb : {false, true}) {
          for (const Shape& s : shapes) check_against_naive<T>(ta, tb, s, T(1), T(-1), 0, false, seed++);
        }
      }
    }
  }
}

// The promise behind README "Threads": the portable backend computes every
// element of C in the same order whatever the thread count, so results are
// bit for bit the same on 1 to 4 threads (the CBLAS backend makes no such
// promise, see autodiff/gemm.hpp).
TEST_CASE_TEMPLATE("the portable backend gives the same bits on 1, 2, 3 and 4 threads", T, float, double) {
  DefaultSettingsAfter restore;
  // Large enough to be split over threads: the Fashion-MNIST layer products,
  // cache-block edges, skinny and tall products.
  const Shape shapes[] = {{128, 256, 784}, {256, 784, 128}, {1030, 24, 300},
                          {40, 530, 300},  {301, 299, 257}, {4000, 64, 64}};
  for (const Path& path : all_paths()) {
    if (path.name.rfind("portable/", 0) != 0) continue;
    CAPTURE(path.name);
    path.select();
    std::uint64_t seed = 900;
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        for (const Shape& s : shapes) {
          CAPTURE(ta);
          CAPTURE(tb);
          CAPTURE(s.m);
          CAPTURE(s.n);
          CAPTURE(s.k);
          const Operands<T> x(ta, tb, s, 0, seed++);
          std::vector<T> one_thread;
          for (const int threads : {1, 2, 3, 4}) {
            la::set_gemm_threads(threads);
            std::vector<T> c = x.c;
            la::gemm<T>(ta, tb, s.m, s.n, s.k, T(0.5), x.a.data(), x.lda, x.b.data(), x.ldb, T(1), c.data(),
                        x.ldc);
            if (threads == 1) {
              one_thread = c;
              continue;
            }
            CAPTURE(threads);
            // Bit patterns, so that a NaN or a signed zero would count too.
            CHECK(std::memcmp(c.data(), one_thread.data(), c.size() * sizeof(T)) == 0);
          }
        }
      }
    }
  }
}

TEST_CASE_TEMPLATE("gemm with alpha == 0 or k == 0 scales C by beta without reading A and B", T, float,
                   double) {
  DefaultSettingsAfter restore;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  for (const Path& path : all_paths()) {
    CAPTURE(path.name);
    path.select();
    const std::vector<T> a(6, nan), b(6, nan);
    std::vector<T> c = {1, 2, 3, 4};
    la::gemm<T>(false, false, 2, 2, 3, T(0), a.data(), 3, b.data(), 2, T(2), c.data(), 2);
    CHECK(c == std::vector<T>{2, 4, 6, 8});
    la::gemm<T>(false, false, 2, 2, 0, T(1), nullptr, 0, nullptr, 2, T(-1), c.data(), 2);
    CHECK(c == std::vector<T>{-2, -4, -6, -8});
    std::vector<T> garbage = {nan, nan, nan, nan};
    la::gemm<T>(true, true, 2, 2, 0, T(1), nullptr, 2, nullptr, 0, T(0), garbage.data(), 2);
    CHECK(garbage == std::vector<T>{0, 0, 0, 0});
    la::gemm<T>(false, false, 0, 2, 3, T(1), nullptr, 3, b.data(), 2, T(0), nullptr, 2);  // m == 0: no-op
  }
}

TEST_CASE_TEMPLATE("the portable and the CBLAS backend agree", T, float, double) {
  if (!la::gemm_has_cblas()) return;
  DefaultSettingsAfter restore;
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::size_t> size(1, 160);
  for (int trial = 0; trial < 40; ++trial) {
    const bool ta = trial % 2 == 1, tb = trial % 4 >= 2;
    const Shape s{size(rng), size(rng), size(rng)};
    Operands<T> x(ta, tb, s, static_cast<std::size_t>(trial % 3), 500 + static_cast<std::uint64_t>(trial));
    std::vector<T> portable = x.c, cblas = x.c;
    la::set_gemm_backend(la::GemmBackend::portable);
    la::gemm<T>(ta, tb, s.m, s.n, s.k, T(1.5), x.a.data(), x.lda, x.b.data(), x.ldb, T(-0.5), portable.data(),
                x.ldc);
    la::set_gemm_backend(la::GemmBackend::cblas);
    la::gemm<T>(ta, tb, s.m, s.n, s.k, T(1.5), x.a.data(), x.lda, x.b.data(), x.ldb, T(-0.5), cblas.data(),
                x.ldc);
    double worst = 0;
    for (std::size_t i = 0; i < portable.size(); ++i) {
      worst = std::max(worst, std::fabs(static_cast<double>(portable[i]) - static_cast<double>(cblas[i])));
    }
    CAPTURE(trial);
    CAPTURE(s.m);
    CAPTURE(s.n);
    CAPTURE(s.k);
    // Entries are sums of k products of values in [-1, 1].
    CHECK(worst <= 2.0 * static_cast<double>(s.k + 4) * std::numeric_limits<T>::epsilon());
  }
}

TEST_CASE("gemm may be called from several threads at once") {
  DefaultSettingsAfter restore;
  la::set_gemm_threads(2);
  for (const Path& path : all_paths()) {
    CAPTURE(path.name);
    path.select();
    const Shape s{150, 170, 190};  // large enough to be split over the pool's workers
    Operands<double> x(false, true, s, 0, 900);
    std::vector<double> want, scale;
    naive_gemm(x, 1.0, 0.0, want, scale);
    std::vector<std::vector<double>> results(4, x.c);
    std::vector<std::thread> callers;
    for (std::vector<double>& c : results) {
      callers.emplace_back([&x, &c, s] {
        for (int repeat = 0; repeat < 3; ++repeat) {
          la::gemm<double>(false, true, s.m, s.n, s.k, 1.0, x.a.data(), x.lda, x.b.data(), x.ldb, 0.0,
                           c.data(), x.ldc);
        }
      });
    }
    for (std::thread& caller : callers) caller.join();
    for (const std::vector<double>& c : results) {
      double worst = 0;
      for (std::size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::fabs(c[i] - want[i]));
      CHECK(worst <= 1e-12);
    }
  }
}

TEST_CASE("gemm rejects a leading dimension shorter than the stored row") {
  std::vector<double> a(12), b(12), c(12);
  CHECK_THROWS_AS(la::gemm<double>(false, false, 3, 4, 3, 1.0, a.data(), 2, b.data(), 4, 0.0, c.data(), 4),
                  std::invalid_argument);
  CHECK_THROWS_AS(la::gemm<double>(true, false, 3, 4, 3, 1.0, a.data(), 3, b.data(), 3, 0.0, c.data(), 4),
                  std::invalid_argument);
  CHECK_THROWS_AS(la::gemm<double>(false, true, 3, 4, 3, 1.0, a.data(), 3, b.data(), 2, 0.0, c.data(), 4),
                  std::invalid_argument);
  CHECK_THROWS_AS(la::gemm<double>(false, false, 3, 4, 3, 1.0, a.data(), 3, b.data(), 4, 0.0, c.data(), 3),
                  std::invalid_argument);
  CHECK_THROWS_WITH(la::gemm<double>(false, false, 3, 4, 3, 1.0, a.data(), 2, b.data(), 4, 0.0, c.data(), 4),
                    doctest::Contains("lda = 2"));
}

TEST_CASE("gemm reports and switches its backend") {
  DefaultSettingsAfter restore;
  const std::string isa = la::gemm_portable_isa();
  CHECK((isa == "avx512" || isa == "avx2" || isa == "baseline"));
  CHECK_FALSE(la::set_gemm_portable_isa("sse9"));
  CHECK(la::gemm_portable_isa() == isa);

  la::set_gemm_backend(la::GemmBackend::portable);
  CHECK(la::get_gemm_backend() == la::GemmBackend::portable);
  CHECK(std::string(la::gemm_backend()) == "portable");
  la::set_gemm_backend(la::GemmBackend::automatic);
  // The build's default (CMake AD_GEMM_DEFAULT): portable unless set to cblas
  // in a build that found one (docs/decisions/0002-matmul-path.md).
  const std::string automatic = la::gemm_backend();
  CHECK((automatic == "portable" || (la::gemm_has_cblas() && (automatic == "openblas" || automatic == "cblas"))));
  if (la::gemm_has_cblas()) {
    CHECK_NOTHROW(la::set_gemm_backend(la::GemmBackend::cblas));
    const std::string name = la::gemm_backend();
    CHECK((name == "openblas" || name == "cblas"));
  } else {
    CHECK(std::string(la::gemm_backend()) == "portable");
    CHECK_THROWS_AS(la::set_gemm_backend(la::GemmBackend::cblas), std::invalid_argument);
  }

  la::set_gemm_threads(1);
  CHECK(la::get_gemm_threads() == 1);
  la::set_gemm_threads(2);
  CHECK(la::get_gemm_threads() == 2);
  la::set_gemm_threads(0);
  CHECK(la::get_gemm_threads() >= 1);
}
