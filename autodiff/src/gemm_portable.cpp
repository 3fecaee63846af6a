// The portable gemm: gemm_kernel.ipp compiled for each instruction set, the
// run-time choice between them, and the split of large products over threads.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include <autodiff/cpu_dispatch.hpp>

#include "gemm_internal.hpp"

// Function multiversioning by hand (cpu_dispatch.hpp): the kernels are
// compiled three times under different target pragmas and picked once from
// cpuid. The build keeps its baseline flags (no -march=native), so the
// library runs on any x86-64 and still uses AVX2/AVX-512 where the CPU has
// them.

namespace ad::linalg::detail {

namespace baseline {
// SSE2 on x86-64 (16 registers), NEON elsewhere: 6 x 2 accumulators.
constexpr std::size_t vector_bytes = 16;
constexpr std::size_t tile_rows = 6;
constexpr std::size_t tile_vectors = 2;
#include "gemm_kernel.ipp"
}  // namespace baseline

#if AD_CPU_X86_DISPATCH

AD_CPU_TARGET_BEGIN("avx2,fma")
namespace avx2 {
// 16 ymm registers: 6 x 2 accumulators, 2 for B, 1 for the broadcast.
constexpr std::size_t vector_bytes = 32;
constexpr std::size_t tile_rows = 6;
constexpr std::size_t tile_vectors = 2;
#include "gemm_kernel.ipp"
}  // namespace avx2
AD_CPU_TARGET_END

AD_CPU_TARGET_BEGIN("avx512f,avx512vl,avx512dq,avx2,fma")
namespace avx512 {
// 32 zmm registers: 12 x 2 accumulators, 2 for B; A is broadcast straight
// from memory by the FMA.
constexpr std::size_t vector_bytes = 64;
constexpr std::size_t tile_rows = 12;
constexpr std::size_t tile_vectors = 2;
#include "gemm_kernel.ipp"
}  // namespace avx512
AD_CPU_TARGET_END

#endif  // AD_CPU_X86_DISPATCH

namespace {

template <class T>
struct KernelsOf {
  void (*direct)(const GemmProblem<T>&);
  void (*packed)(const GemmProblem<T>&);
  std::size_t mr, nr;  // tile shape, to split work on tile boundaries
};

struct Kernels {
  KernelsOf<float> f32;
  KernelsOf<double> f64;
};

// The table entry for one instruction-set namespace.
#define AD_GEMM_KERNELS_OF(isa, T) \
  { isa::direct<T>, isa::packed<T>, isa::Blocking<T>::mr, isa::Blocking<T>::nr }
#define AD_GEMM_KERNELS(isa) \
  { AD_GEMM_KERNELS_OF(isa, float), AD_GEMM_KERNELS_OF(isa, double) }

constexpr Kernels baseline_kernels = AD_GEMM_KERNELS(baseline);
#if AD_CPU_X86_DISPATCH
constexpr Kernels avx2_kernels = AD_GEMM_KERNELS(avx2);
constexpr Kernels avx512_kernels = AD_GEMM_KERNELS(avx512);
constinit cpu::Dispatch<Kernels> kernels(&baseline_kernels, &avx2_kernels, &avx512_kernels);
#else
constinit cpu::Dispatch<Kernels> kernels(&baseline_kernels, nullptr, nullptr);
#endif
#undef AD_GEMM_KERNELS
#undef AD_GEMM_KERNELS_OF

template <class T>
const KernelsOf<T>& kernels_of() noexcept {
  if constexpr (std::is_same_v<T, float>) {
    return kernels->f32;
  } else {
    return kernels->f64;
  }
}

// One product cut into `parts` slabs of whole tiles along its longer side
// of C; every slab is an independent product with the same k.
template <class T>
struct Split {
  const GemmProblem<T>* problem;
  void (*kernel)(const GemmProblem<T>&);
  bool along_n;
  std::size_t step;

  static void run(void* context, int part) {
    const Split& s = *static_cast<const Split*>(context);
    const GemmProblem<T>& p = *s.problem;
    const std::size_t extent = s.along_n ? p.n : p.m;
    const std::size_t begin = std::min(extent, static_cast<std::size_t>(part) * s.step);
    const std::size_t size = std::min(s.step, extent - begin);
    if (size == 0) return;
    s.kernel(s.along_n ? p.block(0, p.m, begin, size) : p.block(begin, size, 0, p.n));
  }
};

}  // namespace

const char* portable_isa() noexcept { return cpu::isa_name(kernels.isa()); }

bool select_portable_isa(std::string_view isa) noexcept { return kernels.select(isa); }

template <class T>
void gemm_portable(const GemmProblem<T>& p, int threads) {
  const KernelsOf<T>& k = kernels_of<T>();
  // m * n * k, saturated: it only chooses the kernel and the split, and
  // gemm() checked that each operand fits in memory, not their product.
  std::size_t product = 0;
  if (__builtin_mul_overflow(p.m, p.n, &product) || __builtin_mul_overflow(product, p.k, &product))
    product = SIZE_MAX;
  if (product <= direct_product_limit) {
    k.direct(p);
    return;
  }
  // Packing pads op(A) to whole MR-row slivers and op(B) to NR-column ones:
  // with fewer rows than a sliver, or at most half a sliver of columns, most
  // of the packed kernel's work would be padding, so skinny products take
  // the direct kernel too, whatever their size.
  const bool skinny = p.m < k.mr || 2 * p.n <= k.nr;
  void (*kernel)(const GemmProblem<T>&) = skinny ? k.direct : k.packed;

  // Slabs of whole tiles along the longer side of C, one per thread, each at
  // least parallel_part_limit multiply-adds. Every slab packs its own panels
  // (the shared operand once per slab): the price of slabs that need no
  // synchronisation between them. Two per thread, so that a thread starting
  // late could still take a share, measured 6-7% slower on T2's steps with 2
  // threads (the shared operand packed twice as often); a late worker's slab
  // is claimed by the caller anyway (run_parts).
  const bool along_n = p.n >= p.m;
  const std::size_t extent = along_n ? p.n : p.m;
  const std::size_t granule = along_n ? k.nr : k.mr;
  const std::size_t wanted = threads > 1 ? static_cast<std::size_t>(threads) : 1;
  std::size_t parts = std::min({wanted, product / parallel_part_limit, extent / granule});
  if (parts <= 1) {
    kernel(p);
    return;
  }
  // Equal shares rounded up to whole tiles; the last slab takes the rest.
  const std::size_t share = (extent + parts - 1) / parts;
  const std::size_t step = (share + granule - 1) / granule * granule;
  parts = (extent + step - 1) / step;
  Split<T> split{&p, kernel, along_n, step};
  run_parts(threads, static_cast<int>(parts), &Split<T>::run, &split);
}

template void gemm_portable<float>(const GemmProblem<float>&, int);
template void gemm_portable<double>(const GemmProblem<double>&, int);

}  // namespace ad::linalg::detail
