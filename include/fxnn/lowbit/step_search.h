#pragma once
// Step sizes of the uniform quantizer of the low-bit converter (docs/lowbit.md, section 2):
//   Q(x; Delta) = clamp(floor(x / Delta + 1/2), q_lo, q_hi),  value = Delta * Q        (eq. (1))
// chosen by minimum squared error over a sample (eq. (2)) or from the largest magnitude (eq. (3)),
// optionally restricted to powers of two. Plain C++: no LibTorch.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fxnn::lowbit {

enum class StepRule {
  kMinMse, // the step that minimizes sum (x - Delta Q(x))^2 over the sample, eq. (2)
  kMaxAbs, // the smallest step whose code range covers the sample, eq. (3)
};

/// "mse" | "maxabs"; throws std::invalid_argument naming the text.
StepRule parse_step_rule(const std::string& text);
std::string to_string(StepRule rule);

/// The codes of a quantizer: [lo, hi] with lo <= 0 < hi.
struct CodeRange {
  int64_t lo = 0;
  int64_t hi = 1;
};

/// Signed symmetric codes of B bits: [-(2^(B-1) - 1), 2^(B-1) - 1] (weights; B = 2 gives {-1, 0, 1}).
CodeRange symmetric_codes(int bits);
/// Unsigned codes of B bits: [0, 2^B - 1] (activations after the ReLU).
CodeRange unsigned_codes(int bits);
/// Two's-complement codes of B bits: [-2^(B-1), 2^(B-1) - 1] (the normalized network input).
CodeRange twos_complement_codes(int bits);

/// e with x = 2^e exactly; none when x is not a positive power of two.
std::optional<int> exact_log2(double x);

/// Q(x; step) of eq. (1): round half up, then clamp.
int64_t quantize_code(double x, double step, CodeRange codes);

/// A sample prepared for exact evaluation of the squared error of eq. (2) at any step: the values
/// sorted, with prefix sums of x and x^2, so that one evaluation costs O((q_hi - q_lo) log n).
class ErrorProfile {
 public:
  explicit ErrorProfile(std::vector<double> values);

  /// sum over the sample of (x - step * Q(x; step))^2 (eq. (2)); step > 0.
  double squared_error(double step, CodeRange codes) const;
  size_t size() const { return sorted_.size(); }
  double min() const { return sorted_.empty() ? 0.0 : sorted_.front(); }
  double max() const { return sorted_.empty() ? 0.0 : sorted_.back(); }

 private:
  std::vector<double> sorted_;
  std::vector<long double> sum_, sum_sq_; // sum_[i] = x_0 + ... + x_{i-1}
};

struct StepSearch {
  StepRule rule = StepRule::kMinMse;
  bool power_of_two = false; // Delta = 2^e (mode shift-clip)
  /// Steps above this are not considered (0: no limit); see docs/lowbit.md on per-channel clamps.
  double max_step = 0;
};

struct StepChoice {
  double step = 1;          // Delta
  int exponent = 0;         // log2(Delta) when power_of_two
  double squared_error = 0; // eq. (2) at Delta
};

/// The max-abs step of eq. (3): the smallest Delta with Delta q_lo <= min and max <= Delta q_hi.
/// 0 for a sample of zeros.
double max_abs_step(const ErrorProfile& sample, CodeRange codes);

/// The step of `search.rule` (eq. (2) or (3)) for the sample. A sample of zeros gets step 1 (any
/// step quantizes it exactly). Throws std::invalid_argument on an empty sample.
StepChoice choose_step(const ErrorProfile& sample, CodeRange codes, const StepSearch& search);

} // namespace fxnn::lowbit
