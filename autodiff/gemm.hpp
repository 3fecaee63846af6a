// ad::linalg::gemm: the matrix-multiply kernel under the tensor layer.
//
// This is the low-level kernel API, BLAS-style: raw pointers and leading
// dimensions, no shapes, no tape. Tensor code calls it; user code rarely needs
// to. Everything is row-major:
//
//   C = alpha * op(A) * op(B) + beta * C
//
// where op(A) is m x k (A itself is m x k, or k x m when trans_a), op(B) is
// k x n (B itself is k x n, or n x k when trans_b) and C is m x n. lda, ldb and
// ldc are the distances between consecutive rows of the stored matrices and
// may exceed the row length (a view into a wider matrix). With beta == 0 the
// previous contents of C are not read, so C may hold garbage or NaN. With
// alpha == 0 or k == 0, A and B are not read.
//
// Two implementations (docs/decisions/0002-matmul-path.md):
//   - "portable", the default: our own kernels, compiled for AVX-512,
//     AVX2+FMA and the baseline instruction set and chosen at run time from
//     the CPU; always present. Small products (m * n * k up to about 96^3)
//     use register tiles read straight from A and B; larger ones are
//     cache-blocked and packed (Goto's algorithm) around the same tile.
//   - "openblas" / "cblas": the system CBLAS, when the build found one (CMake
//     option AD_BLAS), on request: set_gemm_backend(GemmBackend::cblas).
// Measured on the project's shapes the two are level on one thread; ours
// keeps its speed on a machine shared with other work, and gives the same
// results in builds with and without a BLAS.
//
// Large products are split across threads (set_gemm_threads); small ones
// always run on the calling thread. gemm may be called from several threads
// at once.
//
// Determinism: the portable backend computes each element of C in the same
// order whatever the thread count, so its results are bit for bit the same on
// any number of threads (tests/test_gemm.cpp pins this). The CBLAS backend is
// not: OpenBLAS picks its kernels and its split by thread count, so results
// can differ in the last bits between thread counts (measured with OpenBLAS
// 0.3.21 on AMD EPYC/Zen: 15% to 66% of float elements differ between 1 and 2
// threads; double did not differ on our shapes, which OpenBLAS does not
// promise). With a fixed thread count it repeats its results.
#pragma once

#include <cstddef>
#include <string_view>

namespace ad::linalg {

// C = alpha * op(A) * op(B) + beta * C, row-major (see above). Throws
// std::invalid_argument when a leading dimension is shorter than the row it
// steps over. Instantiated for float and double.
template <class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
          std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

extern template void gemm<float>(bool, bool, std::size_t, std::size_t, std::size_t, float, const float*,
                                 std::size_t, const float*, std::size_t, float, float*, std::size_t);
extern template void gemm<double>(bool, bool, std::size_t, std::size_t, std::size_t, double, const double*,
                                  std::size_t, const double*, std::size_t, double, double*, std::size_t);

enum class GemmBackend {
  automatic,  // the default: the build's choice, CMake option AD_GEMM_DEFAULT=portable (default) or cblas
  portable,   // our own kernels for every size
  cblas,      // the system CBLAS for every product with m, n, k > 0 and alpha != 0
};

// Selects the implementation for all threads. Throws std::invalid_argument for
// GemmBackend::cblas when the library was built without one.
void set_gemm_backend(GemmBackend backend);
GemmBackend get_gemm_backend() noexcept;

// Whether this build links a CBLAS (AD_BLAS found one).
bool gemm_has_cblas() noexcept;

// The implementation that gemm uses under the current setting: "openblas",
// "cblas" or "portable".
const char* gemm_backend() noexcept;

// The instruction set the portable kernel was dispatched to on this CPU:
// "avx512", "avx2" or "baseline".
const char* gemm_portable_isa() noexcept;

// Testing aid: restricts the portable kernel to "avx512", "avx2" or
// "baseline" ("" or "best": the best this CPU has). Returns false, changing
// nothing, when the CPU lacks that instruction set.
bool set_gemm_portable_isa(std::string_view isa) noexcept;

// Human-readable build details of the CBLAS (OpenBLAS's configuration string
// and core name), or "" without one. For benchmark reports.
const char* gemm_cblas_config() noexcept;

// The number of threads large products may use, for both backends, and
// ad::parallel_for. Changing it changes no result of the portable backend;
// with the CBLAS backend it may change the last bits (see above). OpenBLAS
// gets it (openblas_set_num_threads) while its backend is in use, and when it
// is selected; until then it keeps its own default. Values < 1 mean "one per
// hardware thread", the default.
void set_gemm_threads(int threads);
int get_gemm_threads() noexcept;

}  // namespace ad::linalg
