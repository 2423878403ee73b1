#include "fxnn/synth/float64_error.h"

#include <algorithm>
#include <cmath>

#include "zonotope.h"

namespace fxnn::synth {

double float64_evaluation_error(const floatnet::FloatNetwork& net, const NetworkRanges& ranges) {
  // e: the bound on the computed values' errors; magnitude: max |value| of the real values.
  std::vector<double> e(ranges.input_lo.size(), 0.0), magnitude(ranges.input_lo.size());
  for (size_t j = 0; j < magnitude.size(); ++j)
    magnitude[j] = std::max(std::fabs(ranges.input_lo[j]), std::fabs(ranges.input_hi[j]));
  for (size_t l = 0; l < net.layers.size(); ++l) {
    const floatnet::DenseLayer& layer = net.layers[l];
    const LayerRanges& r = ranges.layers[l];
    // eq. (54): the inherited errors through |W|, plus the rounding of n products and n additions
    // of values up to the computed magnitudes (the real ones plus their errors).
    const double gamma = detail::gamma(layer.inputs() + 1);
    const auto outputs = static_cast<size_t>(layer.outputs());
    std::vector<double> next(outputs), next_magnitude(outputs);
    for (int64_t i = 0; i < layer.outputs(); ++i) {
      double inherited = 0.0, terms = std::fabs(layer.bias(i));
      for (int64_t j = 0; j < layer.inputs(); ++j) {
        const double w = std::fabs(layer.weight(i, j));
        inherited += w * e[static_cast<size_t>(j)];
        terms += w * (magnitude[static_cast<size_t>(j)] + e[static_cast<size_t>(j)]);
      }
      // The (clipped) ReLU is 1-Lipschitz and exact: the error passes through unchanged or shrinks.
      const size_t ui = static_cast<size_t>(i);
      next[ui] = (inherited + gamma * terms) * (1 + 4 * detail::kUnitRoundoff);
      next_magnitude[ui] = std::max(std::fabs(r.post_lo[ui]), std::fabs(r.post_hi[ui]));
    }
    e = std::move(next);
    magnitude = std::move(next_magnitude);
  }
  return e.empty() ? 0.0 : *std::max_element(e.begin(), e.end());
}

} // namespace fxnn::synth
