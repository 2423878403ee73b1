#include "fxnn/lowbit/step_search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace fxnn::lowbit {

namespace {

/// Points of the logarithmic grid over (max_step 2^-kGridOctaves, max_step] that the min-MSE search
/// evaluates before refining around the best one; 12 octaves reach steps far below any useful one.
constexpr int kGridPoints = 192;
constexpr double kGridOctaves = 12;
/// Points of the linear scan between the grid neighbours of the best grid point.
constexpr int kScanPoints = 256;
/// Golden-section iterations of the refinement: the bracket shrinks by 0.618^40 ~ 4e-9.
constexpr int kRefinements = 40;
/// Powers of two below the max-abs one that the power-of-two search tries.
constexpr int kPowerOfTwoOctaves = 24;

/// The smallest e with 2^e >= x (x > 0), exact also when x is a power of two.
int ceil_log2(double x) {
  int e = static_cast<int>(std::ceil(std::log2(x)));
  while (std::ldexp(1.0, e) < x) ++e;
  while (std::ldexp(1.0, e - 1) >= x) --e;
  return e;
}

/// The largest e with 2^e <= x (x > 0).
int floor_log2(double x) {
  int e = ceil_log2(x);
  if (std::ldexp(1.0, e) > x) --e;
  return e;
}

} // namespace

std::optional<int> exact_log2(double x) {
  int e = 0;
  if (!(x > 0) || std::frexp(x, &e) != 0.5) return std::nullopt; // x = 0.5 2^e
  return e - 1;
}

StepRule parse_step_rule(const std::string& text) {
  if (text == "mse") return StepRule::kMinMse;
  if (text == "maxabs") return StepRule::kMaxAbs;
  throw std::invalid_argument("unknown step rule '" + text + "' (mse | maxabs)");
}

std::string to_string(StepRule rule) { return rule == StepRule::kMinMse ? "mse" : "maxabs"; }

CodeRange symmetric_codes(int bits) { return {-((int64_t{1} << (bits - 1)) - 1), (int64_t{1} << (bits - 1)) - 1}; }
CodeRange unsigned_codes(int bits) { return {0, (int64_t{1} << bits) - 1}; }
CodeRange twos_complement_codes(int bits) { return {-(int64_t{1} << (bits - 1)), (int64_t{1} << (bits - 1)) - 1}; }

int64_t quantize_code(double x, double step, CodeRange codes) {
  const double q = std::floor(x / step + 0.5);
  if (q <= static_cast<double>(codes.lo)) return codes.lo;
  if (q >= static_cast<double>(codes.hi)) return codes.hi;
  return static_cast<int64_t>(q);
}

ErrorProfile::ErrorProfile(std::vector<double> values) : sorted_(std::move(values)) {
  std::sort(sorted_.begin(), sorted_.end());
  sum_.assign(sorted_.size() + 1, 0.0L);
  sum_sq_.assign(sorted_.size() + 1, 0.0L);
  for (size_t i = 0; i < sorted_.size(); ++i) {
    const long double x = sorted_[i];
    sum_[i + 1] = sum_[i] + x;
    sum_sq_[i + 1] = sum_sq_[i] + x * x;
  }
}

double ErrorProfile::squared_error(double step, CodeRange codes) const {
  if (sorted_.empty()) return 0.0;
  // Code k takes the x with (k - 1/2) step <= x < (k + 1/2) step; the end codes also take everything
  // beyond. Only the codes between Q(min) and Q(max) take any x.
  const int64_t first = quantize_code(sorted_.front(), step, codes);
  const int64_t last = quantize_code(sorted_.back(), step, codes);
  long double total = 0;
  size_t begin = 0;
  for (int64_t k = first; k <= last; ++k) {
    size_t end = sorted_.size();
    if (k < last) {
      const double upper = (static_cast<double>(k) + 0.5) * step;
      end = static_cast<size_t>(
          std::lower_bound(sorted_.begin() + static_cast<std::ptrdiff_t>(begin), sorted_.end(), upper) -
          sorted_.begin());
    }
    const long double c = static_cast<long double>(k) * step, n = static_cast<long double>(end - begin);
    // sum (x - c)^2 = S2 - 2 c S1 + c^2 n over [begin, end)
    total += (sum_sq_[end] - sum_sq_[begin]) - 2 * c * (sum_[end] - sum_[begin]) + c * c * n;
    begin = end;
  }
  return static_cast<double>(std::max<long double>(total, 0.0L));
}

double max_abs_step(const ErrorProfile& sample, CodeRange codes) {
  double step = 0;
  if (sample.max() > 0) step = sample.max() / static_cast<double>(codes.hi);
  if (sample.min() < 0 && codes.lo < 0) step = std::max(step, sample.min() / static_cast<double>(codes.lo));
  return step;
}

StepChoice choose_step(const ErrorProfile& sample, CodeRange codes, const StepSearch& search) {
  if (sample.size() == 0) throw std::invalid_argument("choose_step: empty sample");
  if (codes.lo > 0 || codes.hi < 1) throw std::invalid_argument("choose_step: codes must satisfy lo <= 0 < hi");
  double top = max_abs_step(sample, codes);
  if (top == 0) return {1.0, 0, 0.0}; // zeros: any step is exact
  if (search.max_step > 0) top = std::min(top, search.max_step);
  const auto at = [&](double step) { return StepChoice{step, 0, sample.squared_error(step, codes)}; };

  if (search.power_of_two) {
    // eq. (3): the smallest power of two that covers the sample (within max_step).
    int e_top = ceil_log2(top);
    if (search.max_step > 0 && std::ldexp(1.0, e_top) > search.max_step) e_top = floor_log2(search.max_step);
    StepChoice best = at(std::ldexp(1.0, e_top));
    best.exponent = e_top;
    if (search.rule == StepRule::kMaxAbs) return best;
    for (int e = e_top - 1; e >= e_top - kPowerOfTwoOctaves; --e) { // ties keep the larger step
      StepChoice c = at(std::ldexp(1.0, e));
      c.exponent = e;
      if (c.squared_error < best.squared_error) best = c;
    }
    return best;
  }

  if (search.rule == StepRule::kMaxAbs) return at(top);
  // eq. (2): a logarithmic grid, then a refinement between the neighbours of its best point.
  std::vector<double> grid(kGridPoints);
  for (int i = 0; i < kGridPoints; ++i)
    grid[static_cast<size_t>(i)] = top * std::exp2(-kGridOctaves * (kGridPoints - 1 - i) / (kGridPoints - 1));
  StepChoice best = at(grid.back());
  size_t best_i = grid.size() - 1;
  for (size_t i = 0; i + 1 < grid.size(); ++i) {
    const StepChoice c = at(grid[i]);
    if (c.squared_error < best.squared_error) best = c, best_i = i;
  }
  // The error of a finite sample is rough (a kink wherever a value crosses a decision threshold):
  // a linear scan between the neighbours first, then golden section around its best point.
  double lo = grid[best_i > 0 ? best_i - 1 : 0], hi = grid[std::min(best_i + 1, grid.size() - 1)];
  double scan_best = best.step;
  for (int i = 0; i <= kScanPoints; ++i) {
    const StepChoice c = at(lo + (hi - lo) * i / kScanPoints);
    if (c.squared_error < best.squared_error) best = c, scan_best = c.step;
  }
  const double spacing = (hi - lo) / kScanPoints;
  lo = std::max(lo, scan_best - spacing), hi = std::min(hi, scan_best + spacing);
  const double ratio = (std::sqrt(5.0) - 1) / 2;
  double x1 = hi - ratio * (hi - lo), x2 = lo + ratio * (hi - lo);
  StepChoice f1 = at(x1), f2 = at(x2);
  for (int it = 0; it < kRefinements; ++it) {
    if (f1.squared_error <= f2.squared_error) {
      hi = x2, x2 = x1, f2 = f1, x1 = hi - ratio * (hi - lo), f1 = at(x1);
    } else {
      lo = x1, x1 = x2, f1 = f2, x2 = lo + ratio * (hi - lo), f2 = at(x2);
    }
    for (const StepChoice* c : {&f1, &f2})
      if (c->squared_error < best.squared_error) best = *c;
  }
  return best;
}

} // namespace fxnn::lowbit
