#include <autodiff/denormal.hpp>

#include "fp_control.hpp"

namespace ad {

#ifdef AD_HAVE_MXCSR
namespace {
constexpr std::uint32_t flush_bits = 0x8040;  // FTZ (bit 15) | DAZ (bit 6)
}

bool set_flush_denormal(bool on) noexcept {
  const std::uint32_t control = detail::fp_control();
  detail::set_fp_control(on ? control | flush_bits : control & ~flush_bits);
  return true;
}

bool flush_denormal() noexcept { return (detail::fp_control() & flush_bits) == flush_bits; }
#else
bool set_flush_denormal(bool) noexcept { return false; }
bool flush_denormal() noexcept { return false; }
#endif

}  // namespace ad
