// Internal: which vector instruction sets this CPU (and its OS) supports, for
// the kernels chosen at run time (the portable gemm, the vectorised maths).
#pragma once

#include <string_view>

namespace ad::detail {

// "baseline" (always), "avx2" (with FMA) or "avx512" (F, VL, DQ, with AVX2 and
// FMA); false for any other name and off x86.
bool cpu_supports(std::string_view isa) noexcept;

}  // namespace ad::detail
