// Products split over the gemm's worker pool with their shared operand packed
// once (gemm_portable.cpp): the slabs read one buffer the caller packed with
// the workers' help. Built under ThreadSanitizer too (scripts/test runs every
// test_threads* there), so a slab reading the buffer before its packing ended
// would be reported, not just give wrong numbers sometimes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include <autodiff/gemm.hpp>

namespace {

struct Product {
  bool trans_a, trans_b;
  std::size_t m, n, k;
};

struct Operands {
  std::vector<double> a, b;
  std::size_t lda, ldb;
};

Operands operands(const Product& p, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> value(-1.0, 1.0);
  Operands x;
  x.a.resize(p.m * p.k);
  x.b.resize(p.k * p.n);
  for (double& v : x.a) v = value(rng);
  for (double& v : x.b) v = value(rng);
  x.lda = p.trans_a ? p.m : p.k;
  x.ldb = p.trans_b ? p.k : p.n;
  return x;
}

std::vector<double> multiply(const Product& p, const Operands& x, int threads) {
  ad::linalg::set_gemm_threads(threads);
  std::vector<double> c(p.m * p.n, 0.25);
  ad::linalg::gemm<double>(p.trans_a, p.trans_b, p.m, p.n, p.k, 1.5, x.a.data(), x.lda, x.b.data(), x.ldb,
                           -1.0, c.data(), p.n);
  return c;
}

bool same_bits(const std::vector<double>& x, const std::vector<double>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) == 0;
}

// Slabs along n (op(A) shared) and along m (op(B) shared), every transpose,
// and the cache-block edges of the double kernel: k beyond one k block (128
// or 256 deep), n beyond one B block (256 wide), m beyond one A block (1020).
const Product products[] = {{false, false, 128, 256, 784},
                            {true, true, 128, 256, 300},
                            {false, true, 1030, 200, 300},
                            {true, false, 700, 96, 260},
                            {false, false, 61, 530, 129}};

}  // namespace

TEST_CASE("a product split over threads with its shared operand packed once gives the one-thread bits") {
  const int before = ad::linalg::get_gemm_threads();
  std::uint64_t seed = 11;
  for (const Product& p : products) {
    CAPTURE(p.m);
    CAPTURE(p.n);
    CAPTURE(p.k);
    const Operands x = operands(p, seed++);
    const std::vector<double> one = multiply(p, x, 1);
    for (const int threads : {2, 3}) {
      CAPTURE(threads);
      CHECK(same_bits(multiply(p, x, threads), one));
    }
  }
  ad::linalg::set_gemm_threads(before);
}

TEST_CASE("split products called from several threads at once: each caller's shared buffer is its own") {
  const int before = ad::linalg::get_gemm_threads();
  std::vector<Operands> xs;
  std::vector<std::vector<double>> want;
  std::uint64_t seed = 31;
  for (const Product& p : products) {
    xs.push_back(operands(p, seed++));
    want.push_back(multiply(p, xs.back(), 1));
  }
  ad::linalg::set_gemm_threads(2);
  // One caller gets the pool, the others run their slabs themselves
  // (run_parts), with the shared buffer of their own thread.
  std::vector<int> matches(3, 0);
  std::vector<std::thread> callers;
  for (std::size_t t = 0; t < matches.size(); ++t) {
    callers.emplace_back([&, t] {
      for (int repeat = 0; repeat < 2; ++repeat) {
        for (std::size_t i = 0; i < std::size(products); ++i) {
          const Product& p = products[(i + t) % std::size(products)];
          const Operands& x = xs[(i + t) % std::size(products)];
          std::vector<double> c(p.m * p.n, 0.25);
          ad::linalg::gemm<double>(p.trans_a, p.trans_b, p.m, p.n, p.k, 1.5, x.a.data(), x.lda, x.b.data(),
                                   x.ldb, -1.0, c.data(), p.n);
          if (same_bits(c, want[(i + t) % std::size(products)])) ++matches[t];
        }
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  for (const int m : matches) CHECK(m == 2 * static_cast<int>(std::size(products)));
  ad::linalg::set_gemm_threads(before);
}
