#pragma once
// Timing helpers of the benchmarks: wall-clock milliseconds of one call, medians of repetitions.

#include <algorithm>
#include <chrono>
#include <vector>

namespace fxnn::bench_timing {

inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n == 0 ? 0.0 : (n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]));
}

template <typename F>
double milliseconds(F&& work) {
  const auto start = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

} // namespace fxnn::bench_timing
