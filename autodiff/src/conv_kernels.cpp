// The convolution's products on plain arrays: im2col (each filter tap's view
// of the image as one row of a column matrix) + one ad::linalg::gemm per image
// and group. Writing y[n] = W cols(x[n]) image by image puts the product
// straight into NCHW order ([c_out, ho wo] is image n's block of y), where one
// product over the whole batch would need a transpose afterwards.
#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <vector>

#include <autodiff/gemm.hpp>

#include "conv_kernels.hpp"
#include "gemm_internal.hpp"
#include "pool.hpp"

namespace ad::detail {
namespace {

using Index = std::ptrdiff_t;

// A column matrix per thread, kept between calls (the gemm has its own scratch).
template <class T>
T* column_scratch(std::size_t n) {
  thread_local std::vector<T> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

// For tap offset `offset` (= v d - p) along a row of `extent` inputs read
// with `stride`: the outputs [first, last) that land inside the row.
struct Span {
  std::size_t first, last;
};
Span inside(Index offset, std::size_t stride, std::size_t extent, std::size_t outputs) {
  const Index s = static_cast<Index>(stride);
  const Index first = offset >= 0 ? 0 : (-offset + s - 1) / s;
  const Index end_in = static_cast<Index>(extent) - offset;  // outputs j with j s < end_in
  const Index last = end_in <= 0 ? 0 : (end_in + s - 1) / s;
  const auto clamp = [&](Index v) {
    return static_cast<std::size_t>(std::clamp<Index>(v, 0, Index(outputs)));
  };
  const std::size_t f = clamp(first), l = clamp(last);
  return {f, std::max(f, l)};
}

// Walks the column matrix of one group of one image: for every filter tap
// (c, u, v) and output row i whose input row lies inside the image, calls
// row(column_entry, input_entry, count) for the `count` outputs j that read
// inside it (from the input entry on, `sw` apart); pad(column_entry, count)
// for runs of entries that read padding. Written out once, with the
// stride-1 copy loop in the callers kept free of calls (an output row of
// the second layer of a small CNN is 11 elements: a memmove per row cost
// a third of the product's time).
template <class Row, class Pad>
void for_each_tap_row(const ConvGeometry& g, Row&& row, Pad&& pad) {
  const std::size_t hw = g.plane_out();
  for (std::size_t c = 0; c < g.group_in(); ++c)
    for (std::size_t u = 0; u < g.kh; ++u)
      for (std::size_t v = 0; v < g.kw; ++v) {
        const std::size_t tap = (c * g.kh + u) * g.kw + v;
        const Index col_offset = Index(v * g.dw) - Index(g.pw);
        const Span cols = inside(col_offset, g.sw, g.w, g.wo);
        const std::size_t count = cols.last - cols.first;
        for (std::size_t i = 0; i < g.ho; ++i) {
          const std::size_t out = tap * hw + i * g.wo;
          const Index ih = Index(i * g.sh + u * g.dh) - Index(g.ph);
          if (ih < 0 || ih >= Index(g.h)) {
            pad(out, g.wo);
            continue;
          }
          if (cols.first > 0) pad(out, cols.first);
          if (count > 0)
            row(out + cols.first,
                std::size_t(Index(c * g.plane_in() + std::size_t(ih) * g.w) + col_offset +
                            Index(cols.first * g.sw)),
                count);
          if (cols.last < g.wo) pad(out + cols.last, g.wo - cols.last);
        }
      }
}

// cols[tap, i wo + j] = x[c, i s - p + u d, j s - p + v d] (0 in the padding)
template <class T>
void im2col(const ConvGeometry& g, const T* x, T* cols) {
  if (g.ph == 0 && g.pw == 0 && g.sh == 1 && g.sw == 1) {
    // Every tap reads inside the image: one plain copy per output row, none
    // of the clipping below (per batch of the 32->64 layer on 13x13: about
    // 2.3 -> 1.4 ms).
    const std::size_t hw = g.plane_out();
    for (std::size_t c = 0; c < g.group_in(); ++c)
      for (std::size_t u = 0; u < g.kh; ++u)
        for (std::size_t v = 0; v < g.kw; ++v) {
          const T* __restrict src = x + c * g.plane_in() + u * g.dh * g.w + v * g.dw;
          T* __restrict dst = cols + ((c * g.kh + u) * g.kw + v) * hw;
          for (std::size_t i = 0; i < g.ho; ++i)
            for (std::size_t j = 0; j < g.wo; ++j) dst[i * g.wo + j] = src[i * g.w + j];
        }
    return;
  }
  const auto pad = [cols](std::size_t at, std::size_t count) {
    for (std::size_t j = 0; j < count; ++j) cols[at + j] = T(0);
  };
  if (g.sw == 1)
    for_each_tap_row(
        g,
        [x, cols](std::size_t at, std::size_t from, std::size_t count) {
          const T* __restrict src = x + from;
          T* __restrict dst = cols + at;
          for (std::size_t j = 0; j < count; ++j) dst[j] = src[j];
        },
        pad);
  else
    for_each_tap_row(
        g,
        [x, cols, step = g.sw](std::size_t at, std::size_t from, std::size_t count) {
          for (std::size_t j = 0; j < count; ++j) cols[at + j] = x[from + j * step];
        },
        pad);
}

// The adjoint of im2col: x[c, ...] += cols[tap, ...] (padding entries dropped).
template <class T>
void col2im_add(const ConvGeometry& g, const T* cols, T* x) {
  if (g.ph == 0 && g.pw == 0 && g.sh == 1 && g.sw == 1) {  // as in im2col: no clipping
    const std::size_t hw = g.plane_out();
    for (std::size_t c = 0; c < g.group_in(); ++c)
      for (std::size_t u = 0; u < g.kh; ++u)
        for (std::size_t v = 0; v < g.kw; ++v) {
          T* __restrict dst = x + c * g.plane_in() + u * g.dh * g.w + v * g.dw;
          const T* __restrict src = cols + ((c * g.kh + u) * g.kw + v) * hw;
          for (std::size_t i = 0; i < g.ho; ++i)
            for (std::size_t j = 0; j < g.wo; ++j) dst[i * g.w + j] += src[i * g.wo + j];
        }
    return;
  }
  const auto pad = [](std::size_t, std::size_t) {};
  if (g.sw == 1)
    for_each_tap_row(
        g,
        [x, cols](std::size_t at, std::size_t to, std::size_t count) {
          T* __restrict dst = x + to;
          const T* __restrict src = cols + at;
          for (std::size_t j = 0; j < count; ++j) dst[j] += src[j];
        },
        pad);
  else
    for_each_tap_row(
        g,
        [x, cols, step = g.sw](std::size_t at, std::size_t to, std::size_t count) {
          for (std::size_t j = 0; j < count; ++j) x[to + j * step] += cols[at + j];
        },
        pad);
}

// Threads for `flops` of work over `images`: below about 2^18 multiply-adds
// waking a worker costs more than it saves.
int threads_for(const ConvGeometry& g) {
  const double work = double(g.n) * double(g.c_out) * double(g.taps()) * double(g.plane_out());
  if (g.n < 2 || work < double(1 << 18)) return 1;
  return std::max(1, linalg::get_gemm_threads());
}

// Runs body(image) for every image on the gemm's threads.
template <class Body>
void for_each_image(const ConvGeometry& g, Body&& body) {
  if (g.n == 0) return;
  const int threads = threads_for(g);
  if (threads == 1) {
    for (std::size_t n = 0; n < g.n; ++n) body(n);
    return;
  }
  // One part per image, claimed by whichever thread is free; past 1024
  // images, runs of images (the pool counts at most 4095 parts).
  struct Job {
    std::remove_reference_t<Body>* body;
    std::size_t images, parts;
  } job{&body, g.n, std::min<std::size_t>(g.n, 1024)};
  linalg::detail::run_parts(
      threads, static_cast<int>(job.parts),
      [](void* context, int part) {
        const Job& j = *static_cast<const Job*>(context);
        const std::size_t p = static_cast<std::size_t>(part);
        for (std::size_t n = p * j.images / j.parts; n < (p + 1) * j.images / j.parts; ++n) (*j.body)(n);
      },
      &job);
}

}  // namespace

template <class T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y, bool accumulate) {
  const std::size_t taps = g.taps(), hw = g.plane_out(), og = g.group_out();
  for_each_image(g, [&](std::size_t n) {
    T* cols = g.pointwise() ? nullptr : column_scratch<T>(taps * hw);
    for (std::size_t group = 0; group < g.groups; ++group) {
      const T* xg = x + n * g.image_in() + group * g.group_in() * g.plane_in();
      T* yg = y + n * g.image_out() + group * og * hw;
      if (!g.pointwise()) im2col(g, xg, cols);
      T beta = accumulate ? T(1) : T(0);
      if (bias != nullptr) {  // the bias first, then the product adds to it
        for (std::size_t o = 0; o < og; ++o) {
          T* row = yg + o * hw;
          const T b = bias[group * og + o];
          if (accumulate)
            for (std::size_t j = 0; j < hw; ++j) row[j] += b;
          else
            std::fill(row, row + hw, b);
        }
        beta = T(1);
      }
      linalg::gemm<T>(false, false, og, hw, taps, T(1), w + group * og * taps, taps,
                      g.pointwise() ? xg : cols, hw, beta, yg, hw);
    }
  });
}

// d(cols) = W^T dy[n] per image, folded back onto the image (col2im). W^T
// is written out once per call ([taps, og] per group): the product then reads
// both operands untransposed, measured 9.0 -> 7.9 ms per batch for the 32->64
// 3x3 layer of a small CNN (128 images of 13x13, float, one thread).
template <class T>
void conv_input_grad(const ConvGeometry& g, const T* dy, const T* w, T* dx) {
  const std::size_t taps = g.taps(), hw = g.plane_out(), og = g.group_out();
  std::vector<T> wt = take_buffer<T>(g.c_out * taps, false);
  for (std::size_t group = 0; group < g.groups; ++group)
    for (std::size_t o = 0; o < og; ++o)
      for (std::size_t k = 0; k < taps; ++k)
        wt[group * og * taps + k * og + o] = w[(group * og + o) * taps + k];
  const T* wt_all = wt.data();
  for_each_image(g, [&](std::size_t n) {
    for (std::size_t group = 0; group < g.groups; ++group) {
      T* dxg = dx + n * g.image_in() + group * g.group_in() * g.plane_in();
      const T* dyg = dy + n * g.image_out() + group * og * hw;
      const T* wtg = wt_all + group * og * taps;
      if (g.pointwise()) {  // dx[n] += W^T dy[n] in place
        linalg::gemm<T>(false, false, taps, hw, og, T(1), wtg, og, dyg, hw, T(1), dxg, hw);
        continue;
      }
      T* cols = column_scratch<T>(taps * hw);
      linalg::gemm<T>(false, false, taps, hw, og, T(1), wtg, og, dyg, hw, T(0), cols, hw);
      col2im_add(g, cols, dxg);
    }
  });
  recycle_buffer(wt);
}

template <class T>
void conv_weight_grad(const ConvGeometry& g, const T* x, const T* dy, T* dw, bool accumulate) {
  const std::size_t taps = g.taps(), hw = g.plane_out(), og = g.group_out();
  const std::size_t size = g.c_out * taps;
  if (g.n == 0) {
    if (!accumulate) std::fill(dw, dw + size, T(0));
    return;
  }
  // dW = sum_n dy[n] cols(x[n])^T. The images are cut into a fixed number of
  // parts (not one per thread), each summed into its own buffer and the
  // buffers added in order: the same result on any number of threads.
  const std::size_t parts = std::min<std::size_t>(g.n, 8);
  std::vector<T> partial = take_buffer<T>(parts * size, false);
  auto part_body = [&](std::size_t part) {
    T* sum = partial.data() + part * size;
    const std::size_t begin = part * g.n / parts, end = (part + 1) * g.n / parts;
    T* cols = g.pointwise() ? nullptr : column_scratch<T>(taps * hw);
    for (std::size_t n = begin; n < end; ++n)
      for (std::size_t group = 0; group < g.groups; ++group) {
        const T* xg = x + n * g.image_in() + group * g.group_in() * g.plane_in();
        const T* dyg = dy + n * g.image_out() + group * og * hw;
        if (!g.pointwise()) im2col(g, xg, cols);
        linalg::gemm<T>(false, true, og, taps, hw, T(1), dyg, hw, g.pointwise() ? xg : cols, hw,
                        n == begin ? T(0) : T(1), sum + group * og * taps, taps);
      }
  };
  const int threads = threads_for(g);
  if (threads == 1 || parts == 1)
    for (std::size_t part = 0; part < parts; ++part) part_body(part);
  else
    linalg::detail::run_parts(
        threads, static_cast<int>(parts),
        [](void* context, int part) {
          (*static_cast<decltype(part_body)*>(context))(static_cast<std::size_t>(part));
        },
        &part_body);
  for (std::size_t i = 0; i < size; ++i) {
    T total = accumulate ? dw[i] : T(0);
    for (std::size_t part = 0; part < parts; ++part) total += partial[part * size + i];
    dw[i] = total;
  }
  recycle_buffer(partial);
}

// Sums of dy's rows in 8 independent lanes: a single running sum is a chain
// of dependent additions the compiler may not reorder (no -ffast-math), about
// 4 cycles an element; 8 lanes vectorise (the first layer of a small CNN: 2.4
// ms down to about 0.4 ms per batch of 128).
template <class T>
T row_sum(const T* row, std::size_t n) {
  constexpr std::size_t lanes = 8;
  T lane[lanes] = {};
  std::size_t j = 0;
  for (; j + lanes <= n; j += lanes)
    for (std::size_t l = 0; l < lanes; ++l) lane[l] += row[j + l];
  T s = T(0);
  for (; j < n; ++j) s += row[j];
  for (std::size_t l = 0; l < lanes; ++l) s += lane[l];
  return s;
}

template <class T>
void conv_bias_grad(const ConvGeometry& g, const T* dy, T* db) {
  const std::size_t hw = g.plane_out();
  for (std::size_t n = 0; n < g.n; ++n)
    for (std::size_t o = 0; o < g.c_out; ++o) db[o] += row_sum(dy + (n * g.c_out + o) * hw, hw);
}

#define AD_CONV_KERNELS(T)                                                                    \
  template void conv_forward<T>(const ConvGeometry&, const T*, const T*, const T*, T*, bool); \
  template void conv_input_grad<T>(const ConvGeometry&, const T*, const T*, T*);              \
  template void conv_weight_grad<T>(const ConvGeometry&, const T*, const T*, T*, bool);       \
  template void conv_bias_grad<T>(const ConvGeometry&, const T*, T*);
AD_CONV_KERNELS(float)
AD_CONV_KERNELS(double)
#undef AD_CONV_KERNELS

}  // namespace ad::detail
