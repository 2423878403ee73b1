#pragma once
// Sound per-neuron ranges of a float network over an input box (docs/synthesis.md section 5).
//
// Both analyses run in double precision and widen every bound by an a priori bound on its own
// floating-point rounding error (eq. (25)), so that each [lo, hi] encloses the exact real range.

#include <string>
#include <vector>

#include "fxnn/floatnet/float_network.h"
#include "fxnn/synth/input_box.h"

namespace fxnn::synth {

enum class RangeMode {
  kInterval, // interval arithmetic per neuron, eq. (24)
  kSymbolic, // zonotopes (affine forms in the inputs, DeepZ ReLU relaxation) met with intervals, eq. (26)-(28)
};

RangeMode parse_range_mode(const std::string& text); // "interval" | "symbolic"
std::string to_string(RangeMode mode);

/// Enclosures of one layer's pre-activation z and post-activation y, per neuron.
struct LayerRanges {
  std::vector<double> pre_lo, pre_hi;
  std::vector<double> post_lo, post_hi;
};

struct NetworkRanges {
  RangeMode mode = RangeMode::kInterval;
  std::vector<double> input_lo, input_hi;
  std::vector<LayerRanges> layers;
  /// The ranges of sub-boxes whose union is the box (docs/synthesis.md section 5.1): the error
  /// analyses run on each part and keep the worst, and the ranges above are the parts' union.
  /// Empty: the box is analysed whole.
  std::vector<NetworkRanges> parts;
};

/// The ranges of every neuron for all inputs of the box. Throws std::invalid_argument when the box
/// does not fit the network.
NetworkRanges analyze_ranges(const floatnet::FloatNetwork& net, const InputBox& box, RangeMode mode);

/// Width statistics of the pre-activation ranges of one layer (for reports).
struct RangeWidths {
  double mean_width = 0.0;
  double max_width = 0.0;
  double max_magnitude = 0.0; // max over neurons of max(|lo|, |hi|)
};
std::vector<RangeWidths> range_widths(const NetworkRanges& ranges);

} // namespace fxnn::synth
