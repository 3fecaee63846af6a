// vector_math_kernel.ipp compiled for each instruction set and the run-time
// choice between them, as for the portable gemm (gemm_portable.cpp): the
// build keeps its baseline flags (no -march=native), so the library runs on
// any x86-64 and still uses AVX2/AVX-512 where the CPU has them.
#include "vector_math.hpp"
#include "cpu_features.hpp"

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define AD_VECTOR_MATH_X86_DISPATCH 1
#else
#define AD_VECTOR_MATH_X86_DISPATCH 0
#endif

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

#if AD_VECTOR_MATH_X86_DISPATCH

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
namespace vector_math_avx2 {
constexpr bool has_fma = true;
#include "vector_math_kernel.ipp"
}  // namespace vector_math_avx2
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx2,fma", "prefer-vector-width=512")
#endif
namespace vector_math_avx512 {
constexpr bool has_fma = true;
#include "vector_math_kernel.ipp"
}  // namespace vector_math_avx512
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif  // AD_VECTOR_MATH_X86_DISPATCH

namespace {

template <class T>
using ArrayFunction = void (*)(const T*, T*, std::size_t);

template <class T>
struct FunctionsOf {
  ArrayFunction<T> exp, tanh, logistic;
};

struct Functions {
  const char* isa;
  FunctionsOf<float> f32;
  FunctionsOf<double> f64;
};

#define AD_VECTOR_MATH_OF(ns, T) \
  { ns::exp_array<T>, ns::tanh_array<T>, ns::logistic_array<T> }
#define AD_VECTOR_MATH(isa) \
  { #isa, AD_VECTOR_MATH_OF(vector_math_##isa, float), AD_VECTOR_MATH_OF(vector_math_##isa, double) }

constexpr Functions baseline_functions = AD_VECTOR_MATH(baseline);
#if AD_VECTOR_MATH_X86_DISPATCH
constexpr Functions avx2_functions = AD_VECTOR_MATH(avx2);
constexpr Functions avx512_functions = AD_VECTOR_MATH(avx512);
#endif
#undef AD_VECTOR_MATH
#undef AD_VECTOR_MATH_OF

bool cpu_has(std::string_view isa) noexcept { return ad::detail::cpu_supports(isa); }

const Functions* functions_for(std::string_view isa) noexcept {
#if AD_VECTOR_MATH_X86_DISPATCH
  if (isa == "avx512") return &avx512_functions;
  if (isa == "avx2") return &avx2_functions;
#endif
  if (isa == "baseline") return &baseline_functions;
  return nullptr;
}

const Functions* best_functions() noexcept {
  for (const char* isa : {"avx512", "avx2"}) {
    if (cpu_has(isa)) return functions_for(isa);
  }
  return &baseline_functions;
}

std::atomic<const Functions*> selected_functions{nullptr};

const Functions& functions() noexcept {
  const Functions* chosen = selected_functions.load(std::memory_order_acquire);
  if (chosen == nullptr) {
    chosen = best_functions();
    selected_functions.store(chosen, std::memory_order_release);
  }
  return *chosen;
}

}  // namespace

void exp_array(const float* x, float* y, std::size_t n) noexcept { functions().f32.exp(x, y, n); }
void exp_array(const double* x, double* y, std::size_t n) noexcept { functions().f64.exp(x, y, n); }
void tanh_array(const float* x, float* y, std::size_t n) noexcept { functions().f32.tanh(x, y, n); }
void tanh_array(const double* x, double* y, std::size_t n) noexcept { functions().f64.tanh(x, y, n); }
void logistic_array(const float* x, float* y, std::size_t n) noexcept { functions().f32.logistic(x, y, n); }
void logistic_array(const double* x, double* y, std::size_t n) noexcept { functions().f64.logistic(x, y, n); }

const char* vector_math_isa() noexcept { return functions().isa; }

bool select_vector_math_isa(std::string_view isa) noexcept {
  if (isa.empty() || isa == "best") {
    selected_functions.store(best_functions(), std::memory_order_release);
    return true;
  }
  const Functions* wanted = functions_for(isa);
  if (wanted == nullptr || !cpu_has(isa)) return false;
  selected_functions.store(wanted, std::memory_order_release);
  return true;
}

}  // namespace ad::detail
