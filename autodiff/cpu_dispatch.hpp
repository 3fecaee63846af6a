// Running the best kernel the CPU has: a portability utility shared by the
// library's hot loops (the portable gemm, the vectorised maths, the dense
// layer's row loops) and nn's optimiser updates. The library is built with
// the x86-64 baseline flags (no -march=native), so one binary runs on any
// x86-64 machine; the loops that pay for wider vectors are compiled again for
// AVX2 and AVX-512 and the version for this CPU is picked at run time.
//
// Two ways in, one list of instruction sets (docs/decisions/0013-public-surface.md):
// - AD_CPU_CLONES on a short loop function: the compiler emits one version
//   per instruction set and the loader picks one (GCC's target_clones). No
//   table to write; the choice cannot be changed afterwards.
// - ad::cpu::Dispatch<Table> for kernels compiled per instruction set by
//   hand (AD_CPU_TARGET_BEGIN/END around a namespace each): a table of
//   function pointers per set, the best one chosen on first use, and
//   select() to restrict it, so that tests run the baseline and AVX2 kernels
//   on an AVX-512 machine too.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <string_view>

// x86 with GCC or Clang: the per-instruction-set versions are compiled.
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define AD_CPU_X86_DISPATCH 1
#else
#define AD_CPU_X86_DISPATCH 0
#endif

// A function attribute: the function compiled for AVX-512, AVX2 and the
// baseline, chosen when the program loads. GCC on x86-64 only, and not in
// sanitizer builds (their run-time libraries do not see through the
// loader's choice); elsewhere the one baseline version.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
#define AD_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define AD_CPU_CLONES
#endif

// AD_CPU_TARGET_BEGIN("avx2,fma") ... AD_CPU_TARGET_END: every function
// defined between them is compiled for those instruction sets (only where
// AD_CPU_X86_DISPATCH; call them only when ad::cpu::supports says so, as
// Dispatch does).
#define AD_CPU_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define AD_CPU_TARGET_BEGIN(targets) \
  AD_CPU_PRAGMA(clang attribute push(__attribute__((target(targets))), apply_to = function))
#define AD_CPU_TARGET_END AD_CPU_PRAGMA(clang attribute pop)
#else
#define AD_CPU_TARGET_BEGIN(...) AD_CPU_PRAGMA(GCC push_options) AD_CPU_PRAGMA(GCC target(__VA_ARGS__))
#define AD_CPU_TARGET_END AD_CPU_PRAGMA(GCC pop_options)
#endif

namespace ad::cpu {

// The instruction sets kernels are compiled for, in order of preference
// (last is best): the x86-64 baseline (SSE2; NEON elsewhere), AVX2 with FMA,
// AVX-512 F, VL and DQ (with AVX2 and FMA).
enum class Isa : unsigned char { baseline, avx2, avx512 };
inline constexpr std::size_t isa_count = 3;

// "baseline", "avx2", "avx512".
const char* isa_name(Isa isa) noexcept;
// Whether this CPU, and its OS (which must save the wide registers), runs
// code compiled for `isa`: always for the baseline, only it off x86.
bool supports(Isa isa) noexcept;

// One table of kernels per instruction set (a struct of function pointers;
// null for a set the build has no version of), chosen on first use: the
// best the CPU supports.
template <class Table>
class Dispatch {
 public:
  constexpr Dispatch(const Table* baseline, const Table* avx2, const Table* avx512) noexcept
      : tables_{baseline, avx2, avx512} {}
  Dispatch(const Dispatch&) = delete;
  Dispatch& operator=(const Dispatch&) = delete;

  // The kernels to call: one atomic load on the hot path.
  const Table& operator*() const noexcept {
    const Table* chosen = selected_.load(std::memory_order_acquire);
    if (chosen == nullptr) [[unlikely]] {
      chosen = best();
      selected_.store(chosen, std::memory_order_release);
    }
    return *chosen;
  }
  const Table* operator->() const noexcept { return &**this; }

  // The instruction set of the kernels in use.
  Isa isa() const noexcept {
    const Table* chosen = &**this;
    for (std::size_t i = 0; i < isa_count; ++i)
      if (tables_[i] == chosen) return static_cast<Isa>(i);
    return Isa::baseline;
  }

  // A testing aid: restricts the kernels to "avx512", "avx2" or "baseline"
  // ("" or "best": the best this CPU has). False, changing nothing, for an
  // unknown name or one this CPU (or build) lacks.
  bool select(std::string_view name) noexcept {
    if (name.empty() || name == "best") {
      selected_.store(best(), std::memory_order_release);
      return true;
    }
    for (std::size_t i = 0; i < isa_count; ++i) {
      const Isa isa = static_cast<Isa>(i);
      if (name != isa_name(isa)) continue;
      if (tables_[i] == nullptr || !supports(isa)) return false;
      selected_.store(tables_[i], std::memory_order_release);
      return true;
    }
    return false;
  }

 private:
  const Table* best() const noexcept {
    for (std::size_t i = isa_count; i-- > 1;)
      if (tables_[i] != nullptr && supports(static_cast<Isa>(i))) return tables_[i];
    return tables_[0];
  }

  std::array<const Table*, isa_count> tables_;
  mutable std::atomic<const Table*> selected_{nullptr};
};

}  // namespace ad::cpu
