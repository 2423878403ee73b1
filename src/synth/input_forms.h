#pragma once
// The real inputs y^(l-1) of every layer as affine forms over one set of symbols (docs/synthesis.md
// eq. (20e)): the certificate's error analysis writes the weights' rounding sum_j (w^ - w) y_j in
// these symbols, so that it keeps its signs through the next layers instead of becoming an interval.

#include <Eigen/Dense>

#include <vector>

#include "fxnn/floatnet/float_network.h"
#include "fxnn/synth/ranges.h"

namespace fxnn::synth::detail {

/// y = center + generators eps for one eps in [-1, 1]^K per input of the box; the first columns of
/// every layer's form are the columns of the layer before (the symbols are numbered once).
struct AffineForms {
  Eigen::VectorXd center;
  Eigen::MatrixXd generators;
};

/// Layer l's input (l = 0: the box itself), from the zonotope analysis of eq. (26)-(27) relaxed at
/// the given ranges (each sound, so each form encloses the real values).
std::vector<AffineForms> layer_input_forms(const floatnet::FloatNetwork& net, const NetworkRanges& ranges);

/// Columns of the last layer's form: the symbols an error zonotope reserves for them.
Eigen::Index symbol_count(const std::vector<AffineForms>& forms);

} // namespace fxnn::synth::detail
