// The median, minimum and maximum of a set of samples: what every bench
// program reports per contestant (side_by_side.hpp, scalar_timing.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace bench {

struct Summary {
  double median = NAN, min = NAN, max = NAN;
};

inline Summary summarise(std::vector<double> v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  s.median = v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
  s.min = v.front();
  s.max = v.back();
  return s;
}

}  // namespace bench
