#pragma once
// How accurately the float network itself can be evaluated in binary64 over a box (docs/synthesis.md
// section 17, eq. (54)): below that, an error bound eps asks for more than a float64 evaluation of
// the same network delivers, and synthesis says so instead of searching for formats.

#include "fxnn/floatnet/float_network.h"
#include "fxnn/synth/ranges.h"

namespace fxnn::synth {

/// An a priori bound on max_o |fl64(f_o(x)) - f_o(x)| over the box of `ranges`: every layer's dot
/// products summed in binary64 in any order (eq. (54)).
double float64_evaluation_error(const floatnet::FloatNetwork& net, const NetworkRanges& ranges);

} // namespace fxnn::synth
