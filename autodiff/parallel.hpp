// ad::parallel_for: element-wise work split over the threads that large
// matrix products use (ad::linalg::set_gemm_threads; by default one per
// hardware thread).
//
//   ad::parallel_for(n, 16384, [&](std::size_t begin, std::size_t end) {
//     for (std::size_t i = begin; i < end; ++i) y[i] = f(x[i]);
//   });
//
// The calling thread and the gemm's pooled workers each take one contiguous
// range; the call returns when every range is done. Work that a training step
// does between its products (an optimiser update over all weights, gathering
// a mini-batch) otherwise leaves the other cores idle.
#pragma once

#include <cstddef>
#include <type_traits>

namespace ad {

// Elements per thread below which splitting element-wise work costs more
// than it saves (waking a worker is about a microsecond): the min_range the
// library's own element-wise loops use (optimiser updates, activations).
inline constexpr std::size_t parallel_grain = 16384;

namespace detail {
void run_ranges(std::size_t n, std::size_t min_range,
                void (*body)(void* context, std::size_t begin, std::size_t end), void* context);
}  // namespace detail

// Calls body(begin, end) on disjoint ranges that cover [0, n), each at least
// `min_range` long (so that a range pays for waking a thread) and starting on
// a multiple of 16 (whole cache lines of float, no false sharing), on up to
// ad::linalg::get_gemm_threads() threads; with fewer than 2 * min_range
// elements, or one thread, it is one call on this thread. `body` must not
// throw (a worker thread has nobody to report to) and must only write
// elements of its own range. Called again from inside `body`, or from
// several threads at once, the inner calls run on their calling thread.
template <class Body>
void parallel_for(std::size_t n, std::size_t min_range, Body&& body) {
  if (n < 2 * min_range) {  // too small to split: no call into the pool (most arrays of a small network)
    if (n > 0) body(std::size_t{0}, n);
    return;
  }
  using B = std::remove_reference_t<Body>;
  detail::run_ranges(
      n, min_range,
      [](void* context, std::size_t begin, std::size_t end) { (*static_cast<B*>(context))(begin, end); },
      const_cast<void*>(static_cast<const void*>(&body)));
}

}  // namespace ad
