// ad::parallel_for on the gemm's worker pool (gemm_threads.cpp).
#include <algorithm>
#include <cstddef>

#include <autodiff/gemm.hpp>
#include <autodiff/parallel.hpp>

#include "gemm_internal.hpp"

namespace ad::detail {

namespace {

struct Ranges {
  std::size_t n, step;
  void (*body)(void*, std::size_t, std::size_t);
  void* context;

  static void run(void* self, int part) {
    const Ranges& r = *static_cast<const Ranges*>(self);
    const std::size_t begin = std::min(r.n, static_cast<std::size_t>(part) * r.step);
    const std::size_t end = std::min(r.n, begin + r.step);
    if (begin < end) r.body(r.context, begin, end);
  }
};

}  // namespace

void run_ranges(std::size_t n, std::size_t min_range, void (*body)(void*, std::size_t, std::size_t),
                void* context) {
  if (n == 0) return;
  constexpr std::size_t alignment = 16;  // elements: 64 bytes of float
  const std::size_t threads = static_cast<std::size_t>(std::max(1, linalg::get_gemm_threads()));
  const std::size_t parts = std::min(threads, n / std::max<std::size_t>(min_range, 1));
  if (parts <= 1) {
    body(context, 0, n);
    return;
  }
  const std::size_t share = (n + parts - 1) / parts;
  const std::size_t step = (share + alignment - 1) / alignment * alignment;
  Ranges ranges{n, step, body, context};
  linalg::detail::run_parts(static_cast<int>(parts), static_cast<int>((n + step - 1) / step), &Ranges::run,
                            &ranges);
}

}  // namespace ad::detail
