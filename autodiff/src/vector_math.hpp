// Private to the library: element-wise exp, tanh and logistic over whole
// arrays, vectorised (see vector_math_kernel.ipp for the maths and
// docs/decisions/0005-vectorised-activations.md for the choice).
//
// Accuracy, checked by tests/test_vector_math.cpp against the functions
// evaluated in higher precision: within 1 ulp for float and double (worst
// measured 0.80 ulp).
// Special values as std::: exp(-inf) = 0, exp(+inf) = +inf, overflow to
// +inf, underflow through the subnormals to 0; tanh(+-inf) = +-1,
// tanh(-0) = -0; logistic(-inf) = 0, logistic(+inf) = 1; NaN in, NaN out.
// Element i's result depends only on x[i] (not on n or on alignment), for a
// given instruction set; y may be x (in place) but must not overlap it
// otherwise.
#pragma once

#include <cstddef>
#include <string_view>

namespace ad::detail {

void exp_array(const float* x, float* y, std::size_t n) noexcept;
void exp_array(const double* x, double* y, std::size_t n) noexcept;
void tanh_array(const float* x, float* y, std::size_t n) noexcept;
void tanh_array(const double* x, double* y, std::size_t n) noexcept;
// 1 / (1 + e^-x)
void logistic_array(const float* x, float* y, std::size_t n) noexcept;
void logistic_array(const double* x, double* y, std::size_t n) noexcept;

// The instruction set the kernels run on: "avx512", "avx2" or "baseline".
const char* vector_math_isa() noexcept;
// Testing aid: restricts the kernels to "avx512", "avx2" or "baseline" (""
// or "best": the best this CPU has); false, changing nothing, when the CPU
// lacks it.
bool select_vector_math_isa(std::string_view isa) noexcept;

}  // namespace ad::detail
