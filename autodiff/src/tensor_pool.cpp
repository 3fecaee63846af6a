// max_pool2d, avg_pool2d and adaptive_avg_pool2d. Both windowed pools are
// linear in what their backward carries, so each backward is a recorded op
// whose own derivative is the forward's movement again:
//
//   max:  y[o] = x[argmax o]      dx = scatter(dy)   (to the kept argmax positions)
//         scatter's derivative is gather(G) = G[argmax o], gather's is scatter
//   avg:  y = A x                 dx = A^T dy,  A^T's derivative is A
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <autodiff/parallel.hpp>
#include <autodiff/tensor_ops.hpp>
#include <autodiff/tensor_pool.hpp>

#include "tensor_record.hpp"

namespace ad {
namespace {

using detail::grad_of;
using detail::Gradients;
using detail::TensorImpl;
using detail::wants_grad;
using Index = std::ptrdiff_t;

// A pool's extents over planes = N C images of h x w.
struct PoolGeometry {
  Shape in, out;  // [N, C, h, w] and [N, C, ho, wo]
  std::size_t planes = 0, h = 0, w = 0, kh = 0, kw = 0, sh = 0, sw = 0, ph = 0, pw = 0, ho = 0, wo = 0;

  // The window of output (i, j), clipped to the image: rows [h0, h1), columns [w0, w1).
  struct Window {
    std::size_t h0, h1, w0, w1;
  };
  Window window(std::size_t i, std::size_t j) const {
    const Index top = Index(i * sh) - Index(ph), left = Index(j * sw) - Index(pw);
    return {std::size_t(std::max<Index>(top, 0)), std::size_t(std::min<Index>(top + Index(kh), Index(h))),
            std::size_t(std::max<Index>(left, 0)), std::size_t(std::min<Index>(left + Index(kw), Index(w)))};
  }
};

// x's pooling geometry, x already [N, C, H, W]; `shown_x` is the shape the
// caller passed, for the messages.
PoolGeometry plan_pool(const char* op, const Shape& sx, const Pool2dOptions& o, const std::string& shown_x) {
  const auto fail = [&](const std::string& why) {
    throw std::invalid_argument(fmt::format("ad::{}: {} (x {}; kernel {}x{}, stride {}x{}, padding {}x{})",
                                            op, why, shown_x, o.kernel[0], o.kernel[1], o.stride[0],
                                            o.stride[1], o.padding[0], o.padding[1]));
  };
  if (sx.rank() != 4) fail("x must be [N, C, H, W] or [C, H, W]");
  if (o.kernel[0] == 0 || o.kernel[1] == 0) fail("the kernel must be at least 1x1");
  if (2 * o.padding[0] > o.kernel[0] || 2 * o.padding[1] > o.kernel[1])
    fail("the padding must be at most half the kernel");
  PoolGeometry g;
  g.in = sx;
  g.planes = sx[0] * sx[1], g.h = sx[2], g.w = sx[3];
  g.kh = o.kernel[0], g.kw = o.kernel[1];
  g.sh = o.stride[0] == 0 ? g.kh : o.stride[0];
  g.sw = o.stride[1] == 0 ? g.kw : o.stride[1];
  g.ph = o.padding[0], g.pw = o.padding[1];
  if (g.h + 2 * g.ph < g.kh || g.w + 2 * g.pw < g.kw)
    fail(fmt::format("the {}x{} window is larger than the padded input {}x{}", g.kh, g.kw, g.h + 2 * g.ph,
                     g.w + 2 * g.pw));
  g.ho = (g.h + 2 * g.ph - g.kh) / g.sh + 1;
  g.wo = (g.w + 2 * g.pw - g.kw) / g.sw + 1;
  g.out = Shape{sx[0], sx[1], g.ho, g.wo};
  return g;
}

// Planes per thread: enough elements to pay for waking a worker.
std::size_t planes_per_range(const PoolGeometry& g) {
  return std::max<std::size_t>(1, parallel_grain / std::max<std::size_t>(1, g.h * g.w));
}

// A [C, H, W] input pooled as [1, C, H, W], the result given back as [C, ho, wo].
template <class T, class Pool>
TensorT<T> pool_batch_or_image(const char* op, const TensorT<T>& x, const Pool2dOptions& o,
                               std::source_location where, Pool&& pool) {
  detail::check_input(x, op);
  const std::string shown_x = x.shape().to_string();
  if (x.rank() != 3) return pool(x, plan_pool(op, x.shape(), o, shown_x));
  const Shape& s = x.shape();
  const TensorT<T> batch = reshape(x, Shape{1, s[0], s[1], s[2]}, where);
  const PoolGeometry g = plan_pool(op, batch.shape(), o, shown_x);
  return reshape(pool(batch, g), Shape{s[0], g.ho, g.wo}, where);
}

// ---- max pool: the argmax positions (index within the plane) are kept ----

using Argmax = std::shared_ptr<const std::vector<std::uint32_t>>;

// dx[p, at[p, o]] += dy[p, o] for every plane p (the max pool's backward),
// planes split over threads: each writes only its own plane.
template <class T>
void scatter_to_argmax(const PoolGeometry& geo, const std::uint32_t* at, const T* dy, T* dx) {
  const std::size_t plane_in = geo.h * geo.w, plane_out = geo.ho * geo.wo;
  parallel_for(geo.planes, planes_per_range(geo), [&](std::size_t begin, std::size_t end) {
    for (std::size_t p = begin; p < end; ++p) {
      T* target = dx + p * plane_in;
      for (std::size_t o = p * plane_out; o < (p + 1) * plane_out; ++o) target[at[o]] += dy[o];
    }
  });
}

template <class T>
TensorT<T> max_pool_gather(const TensorT<T>& g, const Argmax& at, const PoolGeometry& geo);

// dx = zeros(in) with dx[plane, at[o]] += dy[o]; its derivative gathers.
template <class T>
TensorT<T> max_pool_scatter(const TensorT<T>& dy, const Argmax& at, const PoolGeometry& geo) {
  TensorImpl<T>& idy = detail::impl_of(dy);
  std::vector<T> dx = detail::take_buffer<T>(geo.in.numel(), true);
  const std::size_t plane_in = geo.h * geo.w, plane_out = geo.ho * geo.wo;
  for (std::size_t o = 0; o < idy.values.size(); ++o)
    dx[o / plane_out * plane_in + (*at)[o]] += idy.values[o];
  return detail::record(
      std::source_location{}, "max_pool2d_backward", geo.in, std::move(dx), {&dy}, {},
      [pdy = &idy, at, plane_in, plane_out](TensorImpl<T>& out) {
        if (T* g = grad_of(*pdy))
          for (std::size_t o = 0; o < pdy->values.size(); ++o)
            g[o] += out.grad[o / plane_out * plane_in + (*at)[o]];
      },
      [at, geo](const TensorT<T>&, const TensorT<T>& G, const Gradients<T>&) -> Gradients<T> {
        return {max_pool_gather(G, at, geo)};
      });
}

// y[o] = x[plane, at[o]] (the max pool's output, read through its argmax); its derivative scatters.
template <class T>
TensorT<T> max_pool_gather(const TensorT<T>& x, const Argmax& at, const PoolGeometry& geo) {
  TensorImpl<T>& ix = detail::impl_of(x);
  const std::size_t plane_in = geo.h * geo.w, plane_out = geo.ho * geo.wo;
  std::vector<T> y = detail::take_buffer<T>(geo.out.numel(), false);
  for (std::size_t o = 0; o < y.size(); ++o) y[o] = ix.values[o / plane_out * plane_in + (*at)[o]];
  return detail::record(
      std::source_location{}, "max_pool2d_gather", geo.out, std::move(y), {&x}, {},
      [px = &ix, at, plane_in, plane_out](TensorImpl<T>& out) {
        if (T* g = grad_of(*px))
          for (std::size_t o = 0; o < out.grad.size(); ++o)
            g[o / plane_out * plane_in + (*at)[o]] += out.grad[o];
      },
      [at, geo](const TensorT<T>&, const TensorT<T>& G, const Gradients<T>&) -> Gradients<T> {
        return {max_pool_scatter(G, at, geo)};
      });
}

// A window's running maximum and its position. The first maximum wins; a
// NaN wins over any number (as PyTorch). Chosen by masks, not branches: on
// data the comparisons are coin flips, and a mispredicted branch per
// comparison (the compiler keeps float selects as branches) cost 17 ms per
// 128x32x26x26 float batch against 2.3 ms this way.
template <class T>
struct Best {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  T value;
  std::size_t at;
  void offer(T v, std::size_t position) {
    const Bits take = Bits(0) - Bits((v > value) | (v != v));  // all ones or zero
    value = std::bit_cast<T>((std::bit_cast<Bits>(v) & take) | (std::bit_cast<Bits>(value) & ~take));
    // Positions lie within a plane (< 2^32): a 32-bit mask selects them too.
    at = (position & std::size_t(take)) | (at & ~std::size_t(take));
  }
};

// y[o] = max over o's window of x (padding: -inf); dx[argmax o] += dy[o]
template <class T>
TensorT<T> max_pool(const TensorT<T>& x, const PoolGeometry& geo, std::source_location where) {
  TensorImpl<T>& ix = detail::impl_of(x);
  const std::size_t plane_in = geo.h * geo.w, plane_out = geo.ho * geo.wo;
  if (plane_in > std::numeric_limits<std::uint32_t>::max())
    throw std::length_error(fmt::format("ad::max_pool2d: planes of {}x{} elements are more than 2^32 (x {})",
                                        geo.h, geo.w, geo.in.to_string()));
  std::vector<T> y = detail::take_buffer<T>(geo.out.numel(), false);
  auto at = std::make_shared<std::vector<std::uint32_t>>(y.size());
  const T* xv = ix.values.data();
  T* yv = y.data();
  std::uint32_t* av = at->data();
  // 2x2 windows without padding (the common CNN pool) lie inside the image:
  // no clipping, the four reads written out.
  const bool two_by_two = geo.kh == 2 && geo.kw == 2 && geo.ph == 0 && geo.pw == 0;
  parallel_for(geo.planes, planes_per_range(geo), [&](std::size_t begin, std::size_t end) {
    for (std::size_t p = begin; p < end; ++p) {
      const T* plane = xv + p * plane_in;
      T* yp = yv + p * plane_out;
      std::uint32_t* ap = av + p * plane_out;
      if (two_by_two) {
        for (std::size_t i = 0; i < geo.ho; ++i)
          for (std::size_t j = 0; j < geo.wo; ++j) {
            const std::size_t c = i * geo.sh * geo.w + j * geo.sw;
            Best<T> best{plane[c], c};
            best.offer(plane[c + 1], c + 1);
            best.offer(plane[c + geo.w], c + geo.w);
            best.offer(plane[c + geo.w + 1], c + geo.w + 1);
            yp[i * geo.wo + j] = best.value;
            ap[i * geo.wo + j] = static_cast<std::uint32_t>(best.at);
          }
        continue;
      }
      for (std::size_t i = 0; i < geo.ho; ++i)
        for (std::size_t j = 0; j < geo.wo; ++j) {
          const auto win = geo.window(i, j);
          Best<T> best{-std::numeric_limits<T>::infinity(), win.h0 * geo.w + win.w0};
          for (std::size_t r = win.h0; r < win.h1; ++r)
            for (std::size_t c = win.w0; c < win.w1; ++c) best.offer(plane[r * geo.w + c], r * geo.w + c);
          yp[i * geo.wo + j] = best.value;
          ap[i * geo.wo + j] = static_cast<std::uint32_t>(best.at);
        }
    }
  });
  Argmax kept = std::move(at);
  return detail::record(
      where, "max_pool2d", geo.out, std::move(y), {&x}, {},
      [px = &ix, kept, geo](TensorImpl<T>& out) {
        if (T* g = grad_of(*px)) scatter_to_argmax(geo, kept->data(), out.grad.data(), g);
      },
      [kept, geo](const TensorT<T>&, const TensorT<T>& G, const Gradients<T>&) -> Gradients<T> {
        return {max_pool_scatter(G, kept, geo)};
      });
}

// ---- average pool: y = A x with A's rows the windows, each weighted 1 / (kh kw) ----

// x (a [N, C, h, w] tensor) -> y = A x (forward) or dy -> dx = A^T dy (adjoint), into zeroed / written
// buffers.
template <class T>
void avg_pool_apply(const PoolGeometry& geo, const T* x, T* y) {
  const T scale = T(1) / static_cast<T>(geo.kh * geo.kw);
  const std::size_t plane_in = geo.h * geo.w, plane_out = geo.ho * geo.wo;
  parallel_for(geo.planes, planes_per_range(geo), [&](std::size_t begin, std::size_t end) {
    for (std::size_t p = begin; p < end; ++p)
      for (std::size_t i = 0; i < geo.ho; ++i)
        for (std::size_t j = 0; j < geo.wo; ++j) {
          const auto win = geo.window(i, j);
          T s = T(0);
          for (std::size_t r = win.h0; r < win.h1; ++r)
            for (std::size_t c = win.w0; c < win.w1; ++c) s += x[p * plane_in + r * geo.w + c];
          y[p * plane_out + i * geo.wo + j] = s * scale;
        }
  });
}
template <class T>
void avg_pool_adjoint_add(const PoolGeometry& geo, const T* dy, T* dx) {
  const T scale = T(1) / static_cast<T>(geo.kh * geo.kw);
  const std::size_t plane_in = geo.h * geo.w, plane_out = geo.ho * geo.wo;
  parallel_for(geo.planes, planes_per_range(geo), [&](std::size_t begin, std::size_t end) {
    for (std::size_t p = begin; p < end; ++p)
      for (std::size_t i = 0; i < geo.ho; ++i)
        for (std::size_t j = 0; j < geo.wo; ++j) {
          const auto win = geo.window(i, j);
          const T g = dy[p * plane_out + i * geo.wo + j] * scale;
          for (std::size_t r = win.h0; r < win.h1; ++r)
            for (std::size_t c = win.w0; c < win.w1; ++c) dx[p * plane_in + r * geo.w + c] += g;
        }
  });
}

template <class T>
TensorT<T> avg_pool(const TensorT<T>& x, const PoolGeometry& geo, std::source_location where);

// dx = A^T dy; its derivative is A.
template <class T>
TensorT<T> avg_pool_adjoint(const TensorT<T>& dy, const PoolGeometry& geo) {
  TensorImpl<T>& idy = detail::impl_of(dy);
  std::vector<T> dx = detail::take_buffer<T>(geo.in.numel(), true);
  avg_pool_adjoint_add(geo, idy.values.data(), dx.data());
  return detail::record(
      std::source_location{}, "avg_pool2d_backward", geo.in, std::move(dx), {&dy}, {},
      [pdy = &idy, geo](TensorImpl<T>& out) {
        if (T* g = grad_of(*pdy)) {
          std::vector<T> ay = detail::take_buffer<T>(geo.out.numel(), false);
          avg_pool_apply(geo, out.grad.data(), ay.data());
          for (std::size_t o = 0; o < ay.size(); ++o) g[o] += ay[o];
          detail::recycle_buffer(ay);
        }
      },
      [geo](const TensorT<T>&, const TensorT<T>& G, const Gradients<T>&) -> Gradients<T> {
        return {avg_pool(G, geo, std::source_location{})};
      });
}

// y = A x;  dx += A^T dy
template <class T>
TensorT<T> avg_pool(const TensorT<T>& x, const PoolGeometry& geo, std::source_location where) {
  TensorImpl<T>& ix = detail::impl_of(x);
  std::vector<T> y = detail::take_buffer<T>(geo.out.numel(), false);
  avg_pool_apply(geo, ix.values.data(), y.data());
  return detail::record(
      where, "avg_pool2d", geo.out, std::move(y), {&x}, {},
      [px = &ix, geo](TensorImpl<T>& out) {
        if (T* g = grad_of(*px)) avg_pool_adjoint_add(geo, out.grad.data(), g);
      },
      [geo](const TensorT<T>&, const TensorT<T>& G, const Gradients<T>&) -> Gradients<T> {
        return {avg_pool_adjoint(G, geo)};
      });
}

}  // namespace

template <class T>
TensorT<T> max_pool2d(const TensorT<T>& x, const Pool2dOptions& options, std::source_location where) {
  return pool_batch_or_image<T>(
      "max_pool2d", x, options, where,
      [&](const TensorT<T>& batch, const PoolGeometry& g) { return max_pool(batch, g, where); });
}

template <class T>
TensorT<T> avg_pool2d(const TensorT<T>& x, const Pool2dOptions& options, std::source_location where) {
  return pool_batch_or_image<T>(
      "avg_pool2d", x, options, where,
      [&](const TensorT<T>& batch, const PoolGeometry& g) { return avg_pool(batch, g, where); });
}

// The mean of each plane: mean over the last two axes, kept as extents of 1.
template <class T>
TensorT<T> adaptive_avg_pool2d(const TensorT<T>& x, std::source_location where) {
  detail::check_input(x, "adaptive_avg_pool2d");
  if (x.rank() != 3 && x.rank() != 4)
    throw std::invalid_argument(fmt::format(
        "ad::adaptive_avg_pool2d: x must be [N, C, H, W] or [C, H, W], got {}", x.shape().to_string()));
  const Shape& s = x.shape();
  if (s[s.rank() - 1] == 0 || s[s.rank() - 2] == 0)
    throw std::invalid_argument(
        fmt::format("ad::adaptive_avg_pool2d: x {} has empty planes (no mean to take)", s.to_string()));
  const auto last = static_cast<std::int64_t>(s.rank());
  return mean(x, std::vector<std::int64_t>{last - 2, last - 1}, true, where);
}

#define AD_POOL2D(T)                                                                             \
  template TensorT<T> max_pool2d(const TensorT<T>&, const Pool2dOptions&, std::source_location); \
  template TensorT<T> avg_pool2d(const TensorT<T>&, const Pool2dOptions&, std::source_location); \
  template TensorT<T> adaptive_avg_pool2d(const TensorT<T>&, std::source_location);
AD_POOL2D(float)
AD_POOL2D(double)
#undef AD_POOL2D

}  // namespace ad
