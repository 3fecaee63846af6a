// The portable matrix-multiply kernels, written once and compiled once per
// instruction set: gemm_portable.cpp includes this file inside
// namespace ad::linalg::detail::<isa>, under a target pragma, after defining
//
//   constexpr std::size_t vector_bytes;  // width of one SIMD register
//   constexpr std::size_t tile_rows;     // MR: rows of C held in registers
//   constexpr std::size_t tile_vectors;  // NR / lanes: registers per row of C
//
// The code uses GCC/Clang vector extensions only (no intrinsics), so the same
// source becomes AVX-512, AVX2+FMA, SSE2 or NEON code depending on the target
// it is compiled for.
//
// Structure (Goto's algorithm, as in GotoBLAS and BLIS): C is updated in
// MR x NR tiles, each the product of a packed MR x kc sliver of op(A) and a
// packed kc x NR sliver of op(B):
//
//   for jc in n step NC:                       B block, kc x NC: sized for L2
//     for pc in k step KC:
//       pack op(B)[pc.., jc..] into NR-wide slivers
//       for ic in m step MC:
//         pack op(A)[ic.., pc..] into MR-high slivers
//         for each A sliver (stays in L1):
//           for each B sliver (streams from L2):
//             C tile = beta' * C tile + alpha * (A sliver * B sliver)
//
// where beta' is beta for the first kc block and 1 afterwards. Packing makes
// every transpose combination the same inner loop: consecutive k steps of a
// sliver are consecutive in memory, and ragged edges are zero-padded so the
// micro-kernel always computes a full tile.

template <class T>
struct Simd {
  typedef T vec __attribute__((vector_size(vector_bytes)));
  static constexpr std::size_t lanes = vector_bytes / sizeof(T);
};

template <class T>
struct Blocking {
  static constexpr std::size_t mr = tile_rows;
  static constexpr std::size_t nr = tile_vectors * Simd<T>::lanes;
  // kc: one A sliver (mr x kc) must stay in L1 while the B slivers stream by.
  static constexpr std::size_t kc = 1024 / sizeof(T);
  // nc: the packed B block (kc x nc) is re-read for every A sliver, so it
  // should sit in L2 (256 KiB here, half of the smallest L2 we target).
  static constexpr std::size_t nc = (256 * 1024 / (kc * sizeof(T))) / nr * nr;
  // mc: the packed A block only needs to be in L3; its size bounds the scratch.
  static constexpr std::size_t mc = (1024 * 1024 / (kc * sizeof(T))) / mr * mr;
};

// The micro-kernel: an MR x NR tile of C, accumulated in registers over kc
// steps of outer products (one broadcast element of A times NR elements of B
// per row), then C[0..rows, 0..cols) = alpha * acc + beta * C (beta == 0:
// C is only written).
template <class T>
inline void update_tile(std::size_t kc, const T* __restrict ap, const T* __restrict bp, T* __restrict c,
                        std::size_t ldc, std::size_t rows, std::size_t cols, T alpha, T beta) {
  using V = typename Simd<T>::vec;
  constexpr std::size_t lanes = Simd<T>::lanes;
  constexpr std::size_t mr = Blocking<T>::mr;
  constexpr std::size_t nv = tile_vectors;
  constexpr std::size_t nr = Blocking<T>::nr;

  V acc[mr][nv];
#pragma GCC unroll 32
  for (std::size_t i = 0; i < mr; ++i) {
#pragma GCC unroll 8
    for (std::size_t j = 0; j < nv; ++j) acc[i][j] = V{};
  }
  for (std::size_t p = 0; p < kc; ++p) {
    V bv[nv];
#pragma GCC unroll 8
    for (std::size_t j = 0; j < nv; ++j) __builtin_memcpy(&bv[j], bp + j * lanes, sizeof(V));
#pragma GCC unroll 32
    for (std::size_t i = 0; i < mr; ++i) {
      const T ai = ap[i];
#pragma GCC unroll 8
      for (std::size_t j = 0; j < nv; ++j) acc[i][j] += ai * bv[j];
    }
    ap += mr;
    bp += nr;
  }

  if (rows == mr && cols == nr) {
#pragma GCC unroll 32
    for (std::size_t i = 0; i < mr; ++i) {
#pragma GCC unroll 8
      for (std::size_t j = 0; j < nv; ++j) {
        T* dst = c + i * ldc + j * lanes;
        V result = alpha * acc[i][j];
        if (beta != T(0)) {
          V old;
          __builtin_memcpy(&old, dst, sizeof(V));
          result += beta * old;
        }
        __builtin_memcpy(dst, &result, sizeof(V));
      }
    }
    return;
  }
  alignas(64) T tile[mr * nr];
  for (std::size_t i = 0; i < mr; ++i) {
    for (std::size_t j = 0; j < nv; ++j) __builtin_memcpy(tile + i * nr + j * lanes, &acc[i][j], sizeof(V));
  }
  for (std::size_t i = 0; i < rows; ++i) {
    T* dst = c + i * ldc;
    const T* src = tile + i * nr;
    if (beta == T(0)) {
      for (std::size_t j = 0; j < cols; ++j) dst[j] = alpha * src[j];
    } else {
      for (std::size_t j = 0; j < cols; ++j) dst[j] = alpha * src[j] + beta * dst[j];
    }
  }
}

// dst[c * ld_dst + r] = src[r * ld_src + c] for r < rows, c < cols: packing
// a row-major operand into slivers is a transpose. Done in 4 x 4 blocks held
// in registers (8 shuffles per block), since element by element it costs a
// scattered store per value and shows up next to the kernel.
template <class T>
void transpose(const T* __restrict src, std::size_t ld_src, std::size_t rows, std::size_t cols,
               T* __restrict dst, std::size_t ld_dst) {
  typedef T quad __attribute__((vector_size(4 * sizeof(T))));
  std::size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const T* s0 = src + r * ld_src;
    std::size_t c = 0;
    for (; c + 4 <= cols; c += 4) {
      quad x0, x1, x2, x3;
      __builtin_memcpy(&x0, s0 + c, sizeof(quad));
      __builtin_memcpy(&x1, s0 + ld_src + c, sizeof(quad));
      __builtin_memcpy(&x2, s0 + 2 * ld_src + c, sizeof(quad));
      __builtin_memcpy(&x3, s0 + 3 * ld_src + c, sizeof(quad));
      const quad t0 = __builtin_shufflevector(x0, x1, 0, 4, 1, 5);  // x00 x10 x01 x11
      const quad t1 = __builtin_shufflevector(x0, x1, 2, 6, 3, 7);  // x02 x12 x03 x13
      const quad t2 = __builtin_shufflevector(x2, x3, 0, 4, 1, 5);  // x20 x30 x21 x31
      const quad t3 = __builtin_shufflevector(x2, x3, 2, 6, 3, 7);  // x22 x32 x23 x33
      const quad y0 = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);  // column 0
      const quad y1 = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
      const quad y2 = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
      const quad y3 = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
      T* d = dst + c * ld_dst + r;
      __builtin_memcpy(d, &y0, sizeof(quad));
      __builtin_memcpy(d + ld_dst, &y1, sizeof(quad));
      __builtin_memcpy(d + 2 * ld_dst, &y2, sizeof(quad));
      __builtin_memcpy(d + 3 * ld_dst, &y3, sizeof(quad));
    }
    for (; c < cols; ++c) {
      for (std::size_t q = 0; q < 4; ++q) dst[c * ld_dst + r + q] = src[(r + q) * ld_src + c];
    }
  }
  for (; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) dst[c * ld_dst + r] = src[r * ld_src + c];
  }
}

// op(A)[i0 .. i0+rows, p0 .. p0+depth) into MR-high slivers: sliver s holds
// rows s*MR .. s*MR+MR-1, k-step by k-step (MR consecutive values per step).
template <class T>
void pack_a(const GemmProblem<T>& pr, std::size_t i0, std::size_t rows, std::size_t p0, std::size_t depth,
            T* __restrict out) {
  constexpr std::size_t mr = Blocking<T>::mr;
  for (std::size_t ir = 0; ir < rows; ir += mr) {
    const std::size_t height = std::min(mr, rows - ir);
    if (pr.trans_a) {  // op(A)(i, p) = a[p * lda + i]: each k step is contiguous
      for (std::size_t p = 0; p < depth; ++p) {
        const T* src = pr.a + (p0 + p) * pr.lda + i0 + ir;
        T* dst = out + p * mr;
        for (std::size_t i = 0; i < height; ++i) dst[i] = src[i];
        for (std::size_t i = height; i < mr; ++i) dst[i] = T(0);
      }
    } else {  // op(A)(i, p) = a[i * lda + p]: each row is contiguous
      transpose(pr.a + (i0 + ir) * pr.lda + p0, pr.lda, height, depth, out, mr);
      for (std::size_t p = 0; p < depth; ++p) {
        for (std::size_t i = height; i < mr; ++i) out[p * mr + i] = T(0);
      }
    }
    out += mr * depth;
  }
}

// op(B)[p0 .. p0+depth, j0 .. j0+cols) into NR-wide slivers: sliver s holds
// columns s*NR .. s*NR+NR-1, k-step by k-step (NR consecutive values per step).
template <class T>
void pack_b(const GemmProblem<T>& pr, std::size_t p0, std::size_t depth, std::size_t j0, std::size_t cols,
            T* __restrict out) {
  constexpr std::size_t nr = Blocking<T>::nr;
  for (std::size_t jr = 0; jr < cols; jr += nr) {
    const std::size_t width = std::min(nr, cols - jr);
    if (!pr.trans_b) {  // op(B)(p, j) = b[p * ldb + j]: each k step is contiguous
      for (std::size_t p = 0; p < depth; ++p) {
        const T* src = pr.b + (p0 + p) * pr.ldb + j0 + jr;
        T* dst = out + p * nr;
        if (width == nr) {
          __builtin_memcpy(dst, src, nr * sizeof(T));
        } else {
          for (std::size_t j = 0; j < width; ++j) dst[j] = src[j];
          for (std::size_t j = width; j < nr; ++j) dst[j] = T(0);
        }
      }
    } else {  // op(B)(p, j) = b[j * ldb + p]: each column of op(B) is contiguous
      transpose(pr.b + (j0 + jr) * pr.ldb + p0, pr.ldb, width, depth, out, nr);
      for (std::size_t p = 0; p < depth; ++p) {
        for (std::size_t j = width; j < nr; ++j) out[p * nr + j] = T(0);
      }
    }
    out += nr * depth;
  }
}

// Products split over threads share one operand: slabs along n all read the
// whole of op(A), slabs along m the whole of op(B). Packing it once, into one
// buffer every slab reads (gemm_portable.cpp), instead of once per slab saves
// the duplicated packing and lets a product be cut into more slabs than
// threads at no extra packing cost. The layout is the one packed() packs
// block by block:
//   op(A): k block pc, rows from i  at  a + pc * round_up(m, MR) + i * depth
//   op(B): column block jc, k block pc, columns from j
//          at  b + jc * k + pc * round_up(cols of block jc, NR) + (j - jc) * depth
inline std::size_t round_up(std::size_t value, std::size_t step) noexcept {
  return (value + step - 1) / step * step;
}

template <class T>
std::size_t shared_a_size(const GemmProblem<T>& pr) noexcept {
  return round_up(pr.m, Blocking<T>::mr) * pr.k;
}

template <class T>
std::size_t shared_b_size(const GemmProblem<T>& pr) noexcept {
  return round_up(pr.n, Blocking<T>::nr) * pr.k;
}

// Rows [i0, i0 + rows) of op(A), every k block; i0 a multiple of MR.
template <class T>
void pack_shared_a(const GemmProblem<T>& pr, std::size_t i0, std::size_t rows, T* out) {
  const std::size_t m_padded = round_up(pr.m, Blocking<T>::mr);
  for (std::size_t pc = 0; pc < pr.k; pc += Blocking<T>::kc) {
    const std::size_t depth = std::min(Blocking<T>::kc, pr.k - pc);
    pack_a(pr, i0, rows, pc, depth, out + pc * m_padded + i0 * depth);
  }
}

// Columns [j0, j0 + cols) of op(B), every k block; j0 a multiple of NR.
template <class T>
void pack_shared_b(const GemmProblem<T>& pr, std::size_t j0, std::size_t cols, T* out) {
  using Bl = Blocking<T>;
  const std::size_t end = j0 + cols;
  for (std::size_t jc = j0 / Bl::nc * Bl::nc; jc < end; jc += Bl::nc) {
    const std::size_t block_cols = std::min(Bl::nc, pr.n - jc);
    const std::size_t from = std::max(j0, jc), to = std::min(end, jc + block_cols);
    for (std::size_t pc = 0; pc < pr.k; pc += Bl::kc) {
      const std::size_t depth = std::min(Bl::kc, pr.k - pc);
      pack_b(pr, pc, depth, from, to - from,
             out + jc * pr.k + pc * round_up(block_cols, Bl::nr) + (from - jc) * depth);
    }
  }
}

// C = alpha op(A) op(B) + beta C in packed slivers. `shared_a` (or
// `shared_b`), when given, holds op(A) (op(B)) already packed for this
// product, which then covers all of the rows (columns) it was packed for.
template <class T>
void packed_with(const GemmProblem<T>& pr, const T* shared_a, const T* shared_b) {
  using Bl = Blocking<T>;
  const std::size_t depth_max = std::min(pr.k, Bl::kc);
  const std::size_t m_padded = round_up(pr.m, Bl::mr);
  T* apack = nullptr;
  T* bpack = nullptr;
  if (shared_a == nullptr)
    apack = static_cast<T*>(scratch(0, std::min(m_padded, Bl::mc) * depth_max * sizeof(T)));
  if (shared_b == nullptr)
    bpack = static_cast<T*>(scratch(1, round_up(std::min(pr.n, Bl::nc), Bl::nr) * depth_max * sizeof(T)));

  for (std::size_t jc = 0; jc < pr.n; jc += Bl::nc) {
    const std::size_t cols = std::min(Bl::nc, pr.n - jc);
    for (std::size_t pc = 0; pc < pr.k; pc += Bl::kc) {
      const std::size_t depth = std::min(Bl::kc, pr.k - pc);
      const T beta = pc == 0 ? pr.beta : T(1);
      const T* b_block = bpack;
      if (shared_b != nullptr) {
        b_block = shared_b + jc * pr.k + pc * round_up(cols, Bl::nr);
      } else {
        pack_b(pr, pc, depth, jc, cols, bpack);
      }
      for (std::size_t ic = 0; ic < pr.m; ic += Bl::mc) {
        const std::size_t rows = std::min(Bl::mc, pr.m - ic);
        const T* a_block = apack;
        if (shared_a != nullptr) {
          a_block = shared_a + pc * m_padded + ic * depth;
        } else {
          pack_a(pr, ic, rows, pc, depth, apack);
        }
        for (std::size_t ir = 0; ir < rows; ir += Bl::mr) {
          const T* a_sliver = a_block + ir * depth;
          T* c_row = pr.c + (ic + ir) * pr.ldc + jc;
          const std::size_t tile_height = std::min(Bl::mr, rows - ir);
          for (std::size_t jr = 0; jr < cols; jr += Bl::nr) {
            update_tile(depth, a_sliver, b_block + jr * depth, c_row + jr, pr.ldc, tile_height,
                        std::min(Bl::nr, cols - jr), pr.alpha, beta);
          }
        }
      }
    }
  }
}

template <class T>
void packed(const GemmProblem<T>& pr) {
  packed_with<T>(pr, nullptr, nullptr);
}

// Small products: no packing of A and no tiles in memory, only the register
// tiles of the micro-kernel, read straight from op(A) and op(B), accumulated
// over all of k and written once. The rows of op(B) must be contiguous along
// j, a whole number of vectors long, so op(B) = B^T, and a B whose rows are
// not, are first copied (zero-padded) into scratch: O(kn) against the O(mnk)
// of the product.
template <class T, std::size_t R, std::size_t NV>
inline void direct_tile(const GemmProblem<T>& pr, std::size_t i0, std::size_t j0, const T* __restrict b,
                        std::size_t ldb) {
  using V = typename Simd<T>::vec;
  constexpr std::size_t lanes = Simd<T>::lanes;
  const std::size_t a_row_step = pr.trans_a ? 1 : pr.lda;    // from A(i, p) to A(i + 1, p)
  const std::size_t a_depth_step = pr.trans_a ? pr.lda : 1;  // from A(i, p) to A(i, p + 1)
  const T* a = pr.a + i0 * a_row_step;
  V acc[R][NV];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (std::size_t v = 0; v < NV; ++v) acc[r][v] = V{};
  }
  for (std::size_t p = 0; p < pr.k; ++p) {
    V bv[NV];
#pragma GCC unroll 4
    for (std::size_t v = 0; v < NV; ++v) __builtin_memcpy(&bv[v], b + p * ldb + j0 + v * lanes, sizeof(V));
    const T* a_col = a + p * a_depth_step;
#pragma GCC unroll 16
    for (std::size_t r = 0; r < R; ++r) {
      const T ar = a_col[r * a_row_step];
#pragma GCC unroll 4
      for (std::size_t v = 0; v < NV; ++v) acc[r][v] += ar * bv[v];
    }
  }
#pragma GCC unroll 16
  for (std::size_t r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (std::size_t v = 0; v < NV; ++v) {
      const std::size_t j = j0 + v * lanes;
      const std::size_t cols = std::min(lanes, pr.n - j);
      T* dst = pr.c + (i0 + r) * pr.ldc + j;
      V result = pr.alpha * acc[r][v];
      if (cols == lanes) {
        if (pr.beta != T(0)) {
          V old;
          __builtin_memcpy(&old, dst, sizeof(V));
          result += pr.beta * old;
        }
        __builtin_memcpy(dst, &result, sizeof(V));
      } else {
        for (std::size_t c = 0; c < cols; ++c)
          dst[c] = pr.beta == T(0) ? result[c] : result[c] + pr.beta * dst[c];
      }
    }
  }
}

// All rows of C for columns [j0, j0 + NV vectors): tiles of MR rows, then 4, then 1.
template <class T, std::size_t NV>
inline void direct_columns(const GemmProblem<T>& pr, std::size_t j0, const T* b, std::size_t ldb) {
  constexpr std::size_t mr = Blocking<T>::mr;
  std::size_t i = 0;
  for (; i + mr <= pr.m; i += mr) direct_tile<T, mr, NV>(pr, i, j0, b, ldb);
  for (; i + 4 <= pr.m; i += 4) direct_tile<T, 4, NV>(pr, i, j0, b, ldb);
  for (; i < pr.m; ++i) direct_tile<T, 1, NV>(pr, i, j0, b, ldb);
}

// The sum of the lanes of a vector by halving: log2(W) dependent adds of
// ever narrower vectors, instead of W dependent scalar adds.
template <class T, std::size_t W>
inline T horizontal_sum(T __attribute__((vector_size(W * sizeof(T)))) v) {
  if constexpr (W == 1) {
    return v[0];
  } else {
    typedef T half __attribute__((vector_size(W / 2 * sizeof(T))));
    half low, high;
    __builtin_memcpy(&low, &v, sizeof(half));
    __builtin_memcpy(&high, reinterpret_cast<const char*>(&v) + sizeof(half), sizeof(half));
    return horizontal_sum<T, W / 2>(low + high);
  }
}

// C = alpha * A x + beta * C for a single column x = op(B) and rows of A
// contiguous along k: one dot product per row, vectorised along k (instead
// of padding the one column to a full vector of columns).
template <class T>
void direct_dot(const GemmProblem<T>& pr) {
  using V = typename Simd<T>::vec;
  constexpr std::size_t lanes = Simd<T>::lanes;
  const T* x = pr.b;
  if (!pr.trans_b && pr.ldb != 1) {
    T* copy = static_cast<T*>(scratch(1, pr.k * sizeof(T)));
    for (std::size_t p = 0; p < pr.k; ++p) copy[p] = pr.b[p * pr.ldb];
    x = copy;
  }
  // R rows at a time, so that R independent sums hide the add latency.
  constexpr std::size_t R = 4;
  for (std::size_t i0 = 0; i0 < pr.m; i0 += R) {
    const std::size_t rows = std::min(R, pr.m - i0);
    const T* a_rows[R];
    for (std::size_t r = 0; r < R; ++r) a_rows[r] = pr.a + (i0 + std::min(r, rows - 1)) * pr.lda;
    V partial[R];
#pragma GCC unroll 4
    for (std::size_t r = 0; r < R; ++r) partial[r] = V{};
    std::size_t p = 0;
    for (; p + lanes <= pr.k; p += lanes) {
      V w;
      __builtin_memcpy(&w, x + p, sizeof(V));
#pragma GCC unroll 4
      for (std::size_t r = 0; r < R; ++r) {
        V u;
        __builtin_memcpy(&u, a_rows[r] + p, sizeof(V));
        partial[r] += u * w;
      }
    }
    T sums[R];
#pragma GCC unroll 4
    for (std::size_t r = 0; r < R; ++r) {
      sums[r] = horizontal_sum<T, lanes>(partial[r]);
      for (std::size_t q = p; q < pr.k; ++q) sums[r] += a_rows[r][q] * x[q];
    }
    for (std::size_t r = 0; r < rows; ++r) {
      T& dst = pr.c[(i0 + r) * pr.ldc];
      dst = pr.beta == T(0) ? pr.alpha * sums[r] : pr.alpha * sums[r] + pr.beta * dst;
    }
  }
}

// The smallest products (2 x 2, 3 x 3): plain loops, before any copying or
// vector set-up costs more than the arithmetic.
template <class T>
void direct_scalar(const GemmProblem<T>& pr) {
  const std::size_t a_row_step = pr.trans_a ? 1 : pr.lda;
  const std::size_t a_depth_step = pr.trans_a ? pr.lda : 1;
  const std::size_t b_depth_step = pr.trans_b ? 1 : pr.ldb;
  const std::size_t b_column_step = pr.trans_b ? pr.ldb : 1;
  for (std::size_t i = 0; i < pr.m; ++i) {
    for (std::size_t j = 0; j < pr.n; ++j) {
      const T* a = pr.a + i * a_row_step;
      const T* b = pr.b + j * b_column_step;
      T sum = T(0);
      for (std::size_t p = 0; p < pr.k; ++p) sum += a[p * a_depth_step] * b[p * b_depth_step];
      T& dst = pr.c[i * pr.ldc + j];
      dst = pr.beta == T(0) ? pr.alpha * sum : pr.alpha * sum + pr.beta * dst;
    }
  }
}

// Register tiles over column blocks of op(B) of about 256 KiB (whole tiles
// wide): each block is reused by every row tile, so it should stay in L2, and
// the scratch copy (when one is needed) stays that size however large B is.
template <class T>
void direct_blocks(const GemmProblem<T>& pr) {
  constexpr std::size_t lanes = Simd<T>::lanes;
  constexpr std::size_t nv = tile_vectors;
  constexpr std::size_t tile_cols = nv * lanes;
  const std::size_t block_cols = std::max(tile_cols, 256 * 1024 / (pr.k * sizeof(T)) / tile_cols * tile_cols);
  for (std::size_t j0 = 0; j0 < pr.n; j0 += block_cols) {
    const GemmProblem<T> block = pr.block(0, pr.m, j0, std::min(block_cols, pr.n - j0));
    const std::size_t vectors = (block.n + lanes - 1) / lanes;
    const T* b = block.b;
    std::size_t ldb = block.ldb;
    if (block.trans_b || block.n % lanes != 0) {
      ldb = vectors * lanes;
      T* copy = static_cast<T*>(scratch(1, block.k * ldb * sizeof(T)));
      if (block.trans_b) {
        transpose(block.b, block.ldb, block.n, block.k, copy, ldb);
      } else {
        for (std::size_t p = 0; p < block.k; ++p) {
          __builtin_memcpy(copy + p * ldb, block.b + p * block.ldb, block.n * sizeof(T));
        }
      }
      for (std::size_t p = 0; p < block.k; ++p) {
        for (std::size_t j = block.n; j < ldb; ++j) copy[p * ldb + j] = T(0);
      }
      b = copy;
    }
    std::size_t v = 0;
    for (; v + nv <= vectors; v += nv) direct_columns<T, nv>(block, v * lanes, b, ldb);
    for (; v < vectors; ++v) direct_columns<T, 1>(block, v * lanes, b, ldb);
  }
}

// A narrow C (a few columns, many rows: the weight gradient of a layer with
// 2 inputs, say): direct_blocks would pad each row of op(B) to a whole vector,
// copy it row by row, and most of every multiply-add would be padding.
// C^T = op(B)^T op(A)^T has those few columns as rows: it is computed into
// scratch (its rows are whole vectors) and added to C transposed. (Measured
// on 16 x 2 x 32: 258 -> 117 ns.)
template <class T>
bool is_narrow(const GemmProblem<T>& pr) {
  constexpr std::size_t lanes = Simd<T>::lanes;
  return 2 * pr.n <= lanes && pr.m >= lanes && pr.m * pr.n <= 64 * lanes;
}
template <class T>
void direct_narrow(const GemmProblem<T>& pr) {
  T* ct = static_cast<T*>(scratch(0, pr.n * pr.m * sizeof(T)));
  const GemmProblem<T> swapped{!pr.trans_b, !pr.trans_a, pr.n, pr.m, pr.k, pr.alpha, pr.b, pr.ldb, pr.a, pr.lda,
                               T(0),        ct,          pr.m};
  direct_blocks(swapped);
  for (std::size_t i = 0; i < pr.m; ++i) {
    T* row = pr.c + i * pr.ldc;
    for (std::size_t j = 0; j < pr.n; ++j)
      row[j] = pr.beta == T(0) ? ct[j * pr.m + i] : ct[j * pr.m + i] + pr.beta * row[j];
  }
}

template <class T>
void direct(const GemmProblem<T>& pr) {
  if (pr.m * pr.n * pr.k <= 64)
    direct_scalar(pr);
  else if (pr.n == 1 && !pr.trans_a)
    direct_dot(pr);
  else if (is_narrow(pr))
    direct_narrow(pr);
  else
    direct_blocks(pr);
}
