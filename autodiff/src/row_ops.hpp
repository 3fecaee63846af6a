// Internal: the row loops of a dense layer's bias (broadcast over the batch
// forward, summed over the batch backward). Rows are short (16 columns in a
// small network), so the per-row cost of a loop compiled for the x86-64
// baseline (4 floats per instruction, a remainder per row) dominated; these
// are compiled for AVX-512 and AVX2 as well and picked when the program loads.
#pragma once

#include <cstddef>

namespace ad::detail {

// dst[r][c] = row[c] for r < rows, c < cols (dst row-major, cols per row).
void broadcast_row(const float* row, float* dst, std::size_t rows, std::size_t cols) noexcept;
void broadcast_row(const double* row, double* dst, std::size_t rows, std::size_t cols) noexcept;

// sum[c] += src[r][c] for r = 0, 1, ..., rows - 1 in that order (src row-major).
void add_rows(const float* src, float* sum, std::size_t rows, std::size_t cols) noexcept;
void add_rows(const double* src, double* sum, std::size_t rows, std::size_t cols) noexcept;

}  // namespace ad::detail
