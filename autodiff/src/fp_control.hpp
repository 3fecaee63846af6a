// Internal: the calling thread's floating-point control word (x86: MXCSR's
// rounding, flush-to-zero and denormals-are-zero bits), so that the matmul
// worker threads compute in the same mode as the thread that asked for the
// product (ad::set_flush_denormal).
#pragma once

#include <cstdint>

#if defined(__x86_64__) || defined(__SSE__)
#include <xmmintrin.h>
#define AD_HAVE_MXCSR 1
#endif

namespace ad::detail {

#ifdef AD_HAVE_MXCSR
inline constexpr std::uint32_t fp_status_bits = 0x3F;  // the sticky exception flags: not copied
inline std::uint32_t fp_control() noexcept { return _mm_getcsr() & ~fp_status_bits; }
inline void set_fp_control(std::uint32_t control) noexcept {
  const std::uint32_t now = _mm_getcsr();
  if ((now & ~fp_status_bits) != control) _mm_setcsr((now & fp_status_bits) | control);
}
#else
inline std::uint32_t fp_control() noexcept { return 0; }
inline void set_fp_control(std::uint32_t) noexcept {}
#endif

}  // namespace ad::detail
