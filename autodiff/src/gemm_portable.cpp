// The portable gemm: gemm_kernel.ipp compiled for each instruction set, the
// run-time choice between them, and the split of large products over threads.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>

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
  // The packed kernel reading op(A) or op(B) packed beforehand, and the two
  // packers that do it (gemm_kernel.ipp, "Products split over threads").
  void (*packed_with)(const GemmProblem<T>&, const T* shared_a, const T* shared_b);
  void (*pack_shared_a)(const GemmProblem<T>&, std::size_t i0, std::size_t rows, T* out);
  void (*pack_shared_b)(const GemmProblem<T>&, std::size_t j0, std::size_t cols, T* out);
  std::size_t mr, nr;  // tile shape, to split work on tile boundaries
};

struct Kernels {
  KernelsOf<float> f32;
  KernelsOf<double> f64;
};

// The table entry for one instruction-set namespace.
#define AD_GEMM_KERNELS_OF(isa, T)                                                                     \
  {                                                                                                    \
    isa::direct<T>, isa::packed<T>, isa::packed_with<T>, isa::pack_shared_a<T>, isa::pack_shared_b<T>, \
        isa::Blocking<T>::mr, isa::Blocking<T>::nr                                                     \
  }
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

// The same cut when the operand every slab reads whole (op(A) for slabs
// along n, op(B) along m) was packed beforehand into `shared`.
template <class T>
struct SharedSplit {
  const GemmProblem<T>* problem;
  void (*kernel)(const GemmProblem<T>&, const T*, const T*);
  bool along_n;
  std::size_t step;
  const T* shared;

  static void run(void* context, int part) {
    const SharedSplit& s = *static_cast<const SharedSplit*>(context);
    const GemmProblem<T>& p = *s.problem;
    const std::size_t extent = s.along_n ? p.n : p.m;
    const std::size_t begin = std::min(extent, static_cast<std::size_t>(part) * s.step);
    const std::size_t size = std::min(s.step, extent - begin);
    if (size == 0) return;
    if (s.along_n) {
      s.kernel(p.block(0, p.m, begin, size), s.shared, nullptr);
    } else {
      s.kernel(p.block(begin, size, 0, p.n), nullptr, s.shared);
    }
  }
};

// Packing the shared operand, cut into parts of whole slivers.
template <class T>
struct SharedPacking {
  const GemmProblem<T>* problem;
  void (*pack)(const GemmProblem<T>&, std::size_t, std::size_t, T*);
  std::size_t extent, step;
  T* out;

  static void run(void* context, int part) {
    const SharedPacking& s = *static_cast<const SharedPacking*>(context);
    const std::size_t begin = std::min(s.extent, static_cast<std::size_t>(part) * s.step);
    const std::size_t size = std::min(s.step, s.extent - begin);
    if (size != 0) s.pack(*s.problem, begin, size, s.out);
  }
};

// Parts of whole granules, about `parts` of them: the step and the count.
std::pair<std::size_t, std::size_t> cut(std::size_t extent, std::size_t granule, std::size_t parts) {
  const std::size_t share = (extent + parts - 1) / parts;
  const std::size_t step = (share + granule - 1) / granule * granule;
  return {step, (extent + step - 1) / step};
}

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

  // Slabs of whole tiles along the longer side of C, each at least
  // parallel_part_limit multiply-adds. Every slab reads all of one operand
  // (op(A) for slabs along n). Packed products pack that operand once, the
  // threads each packing a share, and then cut C into a few slabs per thread:
  // slabs are claimed (run_parts), so a thread that starts late, or loses its
  // core for a while on a shared machine, leaves its share to the others
  // instead of holding up the product. Without the shared packing (skinny
  // products, whose direct kernel packs nothing shared, and shared operands
  // beyond shared_pack_limit) each slab would pack it again: there one slab
  // per thread (two per thread measured 6-7% slower on T2 with 2 threads).
  const bool along_n = p.n >= p.m;
  const std::size_t extent = along_n ? p.n : p.m;
  const std::size_t granule = along_n ? k.nr : k.mr;
  const std::size_t wanted = threads > 1 ? static_cast<std::size_t>(threads) : 1;
  const std::size_t largest = std::min(product / parallel_part_limit, extent / granule);
  if (std::min(wanted, largest) <= 1) {
    kernel(p);
    return;
  }
  const std::size_t shared_extent = along_n ? p.m : p.n, shared_granule = along_n ? k.mr : k.nr;
  const std::size_t shared_elements =
      (shared_extent + shared_granule - 1) / shared_granule * shared_granule * p.k;
  if (!skinny && shared_elements * sizeof(T) <= shared_pack_limit) {
    T* shared = static_cast<T*>(scratch(2, shared_elements * sizeof(T)));
    const auto [pack_step, pack_parts] = cut(shared_extent, shared_granule, wanted);
    SharedPacking<T> packing{&p, along_n ? k.pack_shared_a : k.pack_shared_b, shared_extent, pack_step,
                             shared};
    run_parts(threads, static_cast<int>(pack_parts), &SharedPacking<T>::run, &packing);
    const auto [step, parts] = cut(extent, granule, std::min(slabs_per_thread * wanted, largest));
    SharedSplit<T> split{&p, k.packed_with, along_n, step, shared};
    run_parts(threads, static_cast<int>(parts), &SharedSplit<T>::run, &split);
    return;
  }
  // Equal shares rounded up to whole tiles; the last slab takes the rest.
  const auto [step, parts] = cut(extent, granule, std::min(wanted, largest));
  Split<T> split{&p, kernel, along_n, step};
  run_parts(threads, static_cast<int>(parts), &Split<T>::run, &split);
}

template void gemm_portable<float>(const GemmProblem<float>&, int);
template void gemm_portable<double>(const GemmProblem<double>&, int);

}  // namespace ad::linalg::detail
