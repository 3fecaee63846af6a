// ad::set_flush_denormal: subnormal numbers read and computed as zero on the
// calling thread and in the matmul worker threads it uses; off again restores
// gradual underflow.
#include <doctest/doctest.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <vector>

#include <autodiff/autodiff.hpp>

namespace {

// Products of 1e-20 and 1e-20 are 1e-40: subnormal in float.
std::vector<float> tiny_product(int threads) {
  const int before = ad::linalg::get_gemm_threads();
  ad::linalg::set_gemm_threads(threads);
  const std::size_t n = 384;  // large enough to be split over the worker threads
  std::vector<float> a(n * n, 1e-20f), b(n * n, 0.0f), c(n * n, -1.0f);
  for (std::size_t i = 0; i < n; ++i) b[i * n + i] = 1e-20f;  // 1e-20 times the identity
  // Several products back to back: a worker that has just finished one spins
  // for the next, so the later ones are shared between the threads.
  for (int rep = 0; rep < 8; ++rep)
    ad::linalg::gemm<float>(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  ad::linalg::set_gemm_threads(before);
  return c;
}

// By bit pattern: with denormals-are-zero on, comparing a subnormal with 0
// says "equal", which would hide a worker thread that did not flush.
bool all_zero(const std::vector<float>& v) {
  for (float x : v)
    if ((std::bit_cast<std::uint32_t>(x) & 0x7fffffffu) != 0) return false;
  return true;
}

bool all_subnormal(const std::vector<float>& v) {
  for (float x : v)
    if (!(x > 0.0f && x < std::numeric_limits<float>::min())) return false;
  return true;
}

}  // namespace

TEST_CASE("flushing subnormals to zero is opt-in, per thread, and reaches the matmul workers") {
  if (!ad::set_flush_denormal(false)) {
    MESSAGE("this processor has no flush-to-zero mode; nothing to test");
    return;
  }
  CHECK_FALSE(ad::flush_denormal());
  volatile float tiny = 1e-20f;
  CHECK(tiny * tiny > 0.0f);  // gradual underflow by default
  CHECK(all_subnormal(tiny_product(1)));
  CHECK(all_subnormal(tiny_product(2)));

  REQUIRE(ad::set_flush_denormal(true));
  CHECK(ad::flush_denormal());
  CHECK(tiny * tiny == 0.0f);
  CHECK(all_zero(tiny_product(1)));
  CHECK(all_zero(tiny_product(2)));  // the worker threads compute in the caller's mode

  // Tensor ops on this thread too: a subnormal input reads as zero.
  const ad::TensorF x = ad::TensorF::from({2}, {std::numeric_limits<float>::denorm_min(), 1.0f});
  const ad::TensorF y = x * 2.0f;
  CHECK(y.values()[0] == 0.0f);
  CHECK(y.values()[1] == 2.0f);

  REQUIRE(ad::set_flush_denormal(false));
  CHECK_FALSE(ad::flush_denormal());
  CHECK(tiny * tiny > 0.0f);
  CHECK(all_subnormal(tiny_product(2)));  // and back: the workers follow the caller again
}
