#pragma once
// Timing helpers of the benchmarks: wall-clock milliseconds of one call, medians and percentiles of
// repetitions.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

namespace fxnn::bench_timing {

inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n == 0 ? 0.0 : (n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]));
}

/// The q-quantile (0 < q <= 1) by the nearest-rank method: the smallest value with at least q of
/// the values at or below it.
inline double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::min(values.size(), std::max<size_t>(rank, 1)) - 1];
}

template <typename F>
double milliseconds(F&& work) {
  const auto start = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

} // namespace fxnn::bench_timing
