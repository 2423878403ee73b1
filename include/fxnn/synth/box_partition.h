#pragma once
// Input-box partitioning for the error analysis (docs/synthesis.md section 5.1): the box is cut into
// sub-boxes on which more neurons are stably active or dead and the ranges are narrower, so that the
// affine error analysis (section 4.2) keeps more of the errors' signs. The error bounds of the whole
// box are the worst over the parts; the ranges of the whole box are the parts' union.

#include <cstdint>

#include "fxnn/floatnet/float_network.h"
#include "fxnn/synth/error_model.h"
#include "fxnn/synth/input_box.h"
#include "fxnn/synth/ranges.h"

namespace fxnn::synth {

/// The ranges and the error gains of a box analysed in parts.
struct PartitionedBox {
  /// The union of the parts' ranges (sound for the box); `parts` holds the parts' own ranges.
  NetworkRanges ranges;
  /// The worst of the parts' gains (worst_of_parts), each part's kept in `parts`: the gains the
  /// partition computed to choose its cuts, not computed again.
  ErrorGains gains;
};

/// `box` cut into at most `max_parts` sub-boxes (1: the box whole, no parts). Greedy bisection: the
/// part whose outputs' error bound is largest when every rounding has a unit magnitude is halved
/// along the input of largest width times its error gain to the outputs (eq. (28a)), until
/// `max_parts` parts exist or no part can be halved. `margin` is the stability margin of the error
/// gains (error_gains). The two halves of a cut are analysed on two threads when `threads` >= 2;
/// the result does not depend on it.
PartitionedBox partition_box(const floatnet::FloatNetwork& net, const InputBox& box, RangeMode mode, int64_t max_parts,
                             double margin, int threads = 1);

/// The union of the parts' ranges (their input ranges included).
NetworkRanges ranges_union(const std::vector<NetworkRanges>& parts);

} // namespace fxnn::synth
