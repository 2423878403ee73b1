#pragma once
// The synthesized network as the project's fixed-point network artifact (docs/fixed-point-network.md):
// one dense node per layer that computes, for every input code of the box, the same integers as the
// generated C (docs/synthesis.md section 13, eq. (48)-(51)).

#include <string>

#include "fxnn/ir/fixed_point_network.h"
#include "fxnn/synth/certificate.h"
#include "fxnn/synth/quantized_network.h"

namespace fxnn::synth {

/// The artifact of a certified network. Its input is the quantized network input (codes at the
/// common input format), its output the codes of the last layer. Per-neuron weight and accumulator
/// formats are encoded exactly (weights at the finest weight format of the layer, the bias and the
/// per-neuron shift in the offset and a common shift); every tensor of the artifact has one format,
/// so it throws std::invalid_argument naming the layer when the inputs, or the neurons of one layer,
/// are stored at different fractional bits (such a network has no exact encoding; synthesis with
/// SynthesisOptions::artifact chooses one format per tensor), and when a constant or the worst case
/// of an accumulator over the full input format would not fit the artifact's integers (eq. (52)).
ir::Network to_fixed_point_network(const QuantizedNetwork& q, const Certificate& cert, const std::string& name,
                                   const std::string& source);

} // namespace fxnn::synth
