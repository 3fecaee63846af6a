// vector_math_kernel.ipp compiled for each instruction set and the run-time
// choice between them (cpu_dispatch.hpp), as for the portable gemm: the build
// keeps its baseline flags (no -march=native), so the library runs on any
// x86-64 and still uses AVX2/AVX-512 where the CPU has them.
#include "vector_math.hpp"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include <autodiff/cpu_dispatch.hpp>

namespace ad::detail {

namespace vector_math_baseline {
// SSE2 on x86-64 has no fused multiply-add (std::fma would be a libm call).
#if defined(__FMA__) || defined(__aarch64__)
constexpr bool has_fma = true;
#else
constexpr bool has_fma = false;
#endif
#include "vector_math_kernel.ipp"
}  // namespace vector_math_baseline

#if AD_CPU_X86_DISPATCH

AD_CPU_TARGET_BEGIN("avx2,fma")
namespace vector_math_avx2 {
constexpr bool has_fma = true;
#include "vector_math_kernel.ipp"
}  // namespace vector_math_avx2
AD_CPU_TARGET_END

// GCC also needs "prefer-vector-width=512" to use zmm registers here.
#if defined(__clang__)
AD_CPU_TARGET_BEGIN("avx512f,avx512vl,avx512dq,avx2,fma")
#else
AD_CPU_TARGET_BEGIN("avx512f,avx512vl,avx512dq,avx2,fma", "prefer-vector-width=512")
#endif
namespace vector_math_avx512 {
constexpr bool has_fma = true;
#include "vector_math_kernel.ipp"
}  // namespace vector_math_avx512
AD_CPU_TARGET_END

#endif  // AD_CPU_X86_DISPATCH

namespace {

template <class T>
using ArrayFunction = void (*)(const T*, T*, std::size_t);

template <class T>
struct FunctionsOf {
  ArrayFunction<T> exp, tanh, logistic;
};

struct Functions {
  FunctionsOf<float> f32;
  FunctionsOf<double> f64;
};

#define AD_VECTOR_MATH_OF(ns, T) \
  { ns::exp_array<T>, ns::tanh_array<T>, ns::logistic_array<T> }
#define AD_VECTOR_MATH(isa) \
  { AD_VECTOR_MATH_OF(vector_math_##isa, float), AD_VECTOR_MATH_OF(vector_math_##isa, double) }

constexpr Functions baseline_functions = AD_VECTOR_MATH(baseline);
#if AD_CPU_X86_DISPATCH
constexpr Functions avx2_functions = AD_VECTOR_MATH(avx2);
constexpr Functions avx512_functions = AD_VECTOR_MATH(avx512);
constinit cpu::Dispatch<Functions> functions(&baseline_functions, &avx2_functions, &avx512_functions);
#else
constinit cpu::Dispatch<Functions> functions(&baseline_functions, nullptr, nullptr);
#endif
#undef AD_VECTOR_MATH
#undef AD_VECTOR_MATH_OF

}  // namespace

void exp_array(const float* x, float* y, std::size_t n) noexcept { functions->f32.exp(x, y, n); }
void exp_array(const double* x, double* y, std::size_t n) noexcept { functions->f64.exp(x, y, n); }
void tanh_array(const float* x, float* y, std::size_t n) noexcept { functions->f32.tanh(x, y, n); }
void tanh_array(const double* x, double* y, std::size_t n) noexcept { functions->f64.tanh(x, y, n); }
void logistic_array(const float* x, float* y, std::size_t n) noexcept { functions->f32.logistic(x, y, n); }
void logistic_array(const double* x, double* y, std::size_t n) noexcept { functions->f64.logistic(x, y, n); }

const char* vector_math_isa() noexcept { return cpu::isa_name(functions.isa()); }

bool select_vector_math_isa(std::string_view isa) noexcept { return functions.select(isa); }

}  // namespace ad::detail
