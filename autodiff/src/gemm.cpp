// ad::linalg::gemm: argument checks, degenerate cases, and the choice between
// the system CBLAS and the portable kernel (docs/decisions/0002-matmul-path.md).
#include <autodiff/gemm.hpp>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>

#include <fmt/format.h>

#include "gemm_internal.hpp"

#ifdef AD_HAVE_CBLAS
#include <cblas.h>
#endif

namespace ad::linalg {

namespace {

std::atomic<GemmBackend> selected_backend{GemmBackend::automatic};

// What `automatic` means is the build's choice: CMake option AD_GEMM_DEFAULT
// (portable, the default: docs/decisions/0002-matmul-path.md; or cblas, which
// then uses the CBLAS found at configure time for every product).
constexpr bool automatic_is_cblas =
#if defined(AD_HAVE_CBLAS) && defined(AD_GEMM_DEFAULT_CBLAS)
    true;
#else
    false;
#endif

[[maybe_unused]] bool uses_cblas(GemmBackend b) noexcept {
  return b == GemmBackend::cblas || (b == GemmBackend::automatic && automatic_is_cblas);
}
std::atomic<int> requested_threads{0};  // < 1: one per hardware thread

int effective_threads() noexcept {
  // hardware_concurrency() asks the OS each time; once is enough.
  static const int hardware = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 64u));
  const int requested = requested_threads.load(std::memory_order_relaxed);
  return requested > 0 ? requested : hardware;
}

// A leading dimension steps from one stored row to the next, so it must be
// at least the stored row's length.
void check_leading_dimension(const char* name, const char* matrix, std::size_t ld, std::size_t rows,
                             std::size_t row_length) {
  if (ld >= row_length) return;
  throw std::invalid_argument(fmt::format(
      "ad::linalg::gemm: {} = {} is shorter than a row of the stored {} ({} x {}), which needs >= {}", name,
      ld, matrix, rows, row_length, row_length));
}

// The stored matrix, (rows - 1) * ld + row_length elements from its pointer,
// must fit in an array of T, else the row offsets would overflow. Called only
// when some size has 2^28 or more (below that every span fits).
template <class T>
[[gnu::noinline]] void check_span(const char* name, const char* matrix, std::size_t ld, std::size_t rows,
                                  std::size_t row_length) {
  if (rows == 0 || row_length == 0) return;
  std::size_t span = 0;
  const bool overflow =
      __builtin_mul_overflow(rows - 1, ld, &span) || __builtin_add_overflow(span, row_length, &span);
  if (overflow || span > static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(T))
    throw std::length_error(fmt::format(
        "ad::linalg::gemm: the stored {} ({} x {}, {} = {}) spans more elements than an array can hold",
        matrix, rows, row_length, name, ld));
}

// C = beta * C, with beta == 0 writing zeros whatever C held (NaN included).
template <class T>
void scale_rows(std::size_t m, std::size_t n, T beta, T* c, std::size_t ldc) {
  if (beta == T(1)) return;
  for (std::size_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    if (beta == T(0)) {
      std::fill(row, row + n, T(0));
    } else {
      for (std::size_t j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

#ifdef AD_HAVE_CBLAS

bool fits_cblas_int(std::size_t value) noexcept { return value <= static_cast<std::size_t>(INT_MAX); }

// The CBLAS takes int sizes; products beyond them fall back to the portable
// kernel (returns false). Its thread count is set by set_gemm_threads; until
// then OpenBLAS keeps its own default (OPENBLAS_NUM_THREADS or all cores).
template <class T>
bool cblas_gemm(const detail::GemmProblem<T>& p) {
  if (!fits_cblas_int(p.m) || !fits_cblas_int(p.n) || !fits_cblas_int(p.k) || !fits_cblas_int(p.lda) ||
      !fits_cblas_int(p.ldb) || !fits_cblas_int(p.ldc)) {
    return false;
  }
  const auto op_a = p.trans_a ? CblasTrans : CblasNoTrans;
  const auto op_b = p.trans_b ? CblasTrans : CblasNoTrans;
  const int m = static_cast<int>(p.m), n = static_cast<int>(p.n), k = static_cast<int>(p.k);
  const int lda = static_cast<int>(p.lda), ldb = static_cast<int>(p.ldb), ldc = static_cast<int>(p.ldc);
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, op_a, op_b, m, n, k, p.alpha, p.a, lda, p.b, ldb, p.beta, p.c, ldc);
  } else {
    cblas_dgemm(CblasRowMajor, op_a, op_b, m, n, k, p.alpha, p.a, lda, p.b, ldb, p.beta, p.c, ldc);
  }
  return true;
}

#endif  // AD_HAVE_CBLAS

}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
          std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  check_leading_dimension("lda", "A", lda, trans_a ? k : m, trans_a ? m : k);
  check_leading_dimension("ldb", "B", ldb, trans_b ? n : k, trans_b ? k : n);
  check_leading_dimension("ldc", "C", ldc, m, n);
  if ((m | n | k | lda | ldb | ldc) >> 28 != 0) [[unlikely]] {  // (2^28)^2 elements fit any T
    check_span<T>("lda", "A", lda, trans_a ? k : m, trans_a ? m : k);
    check_span<T>("ldb", "B", ldb, trans_b ? n : k, trans_b ? k : n);
    check_span<T>("ldc", "C", ldc, m, n);
  }
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == T(0)) {  // op(A) * op(B) contributes nothing; A and B are not read
    scale_rows(m, n, beta, c, ldc);
    return;
  }
  const detail::GemmProblem<T> problem{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
#ifdef AD_HAVE_CBLAS
  if (uses_cblas(selected_backend.load(std::memory_order_relaxed)) && cblas_gemm(problem)) return;
#endif
  detail::gemm_portable(problem, effective_threads());
}

template void gemm<float>(bool, bool, std::size_t, std::size_t, std::size_t, float, const float*, std::size_t,
                          const float*, std::size_t, float, float*, std::size_t);
template void gemm<double>(bool, bool, std::size_t, std::size_t, std::size_t, double, const double*,
                           std::size_t, const double*, std::size_t, double, double*, std::size_t);

namespace {

// OpenBLAS's thread count follows ours only while its backend is in use:
// openblas_set_num_threads (re)starts its worker threads, which then spin
// for a while waiting for work; with our own kernel in use they would only
// compete with our workers for the cores.
void apply_blas_threads() {
#ifdef AD_HAVE_OPENBLAS
  if (uses_cblas(selected_backend.load(std::memory_order_relaxed)))
    openblas_set_num_threads(effective_threads());
#endif
}

}  // namespace

void set_gemm_backend(GemmBackend backend) {
  if (backend == GemmBackend::cblas && !gemm_has_cblas()) {
    throw std::invalid_argument(
        "ad::linalg::set_gemm_backend: GemmBackend::cblas requested, but this build has no CBLAS "
        "(configure with -DAD_BLAS=ON and a CBLAS such as OpenBLAS installed)");
  }
  selected_backend.store(backend, std::memory_order_relaxed);
  apply_blas_threads();
}

GemmBackend get_gemm_backend() noexcept { return selected_backend.load(std::memory_order_relaxed); }

bool gemm_has_cblas() noexcept {
#ifdef AD_HAVE_CBLAS
  return true;
#else
  return false;
#endif
}

const char* gemm_backend() noexcept {
#ifdef AD_HAVE_CBLAS
  if (uses_cblas(get_gemm_backend())) {
#ifdef AD_HAVE_OPENBLAS
    return "openblas";
#else
    return "cblas";
#endif
  }
#endif
  return "portable";
}

const char* gemm_portable_isa() noexcept { return detail::portable_isa(); }

bool set_gemm_portable_isa(std::string_view isa) noexcept { return detail::select_portable_isa(isa); }

const char* gemm_cblas_config() noexcept {
#ifdef AD_HAVE_OPENBLAS
  static const std::string config =
      fmt::format("{} (core: {})", openblas_get_config(), openblas_get_corename());
  return config.c_str();
#elif defined(AD_HAVE_CBLAS)
  return "CBLAS";
#else
  return "";
#endif
}

void set_gemm_threads(int threads) {
  requested_threads.store(std::clamp(threads, 0, 64), std::memory_order_relaxed);
  apply_blas_threads();
}

int get_gemm_threads() noexcept { return effective_threads(); }

}  // namespace ad::linalg
