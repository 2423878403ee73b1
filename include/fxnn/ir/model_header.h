#pragma once
// model.h: the constants of a fixed-point network as a C99 header (docs/fixed-point-network.md).

#include <string>

#include "fxnn/ir/fixed_point_network.h"

namespace fxnn::ir {

/// C identifier of a node name in model.h: every character outside [A-Za-z0-9_] becomes '_', and a
/// leading digit gets an 'n' in front ("s1b1.conv2" -> "s1b1_conv2").
std::string c_identifier(const std::string& name);

/// The text of model.h: `static const intN_t <node>_weight[...]`, `<node>_multiplier`, `<node>_offset`
/// in the narrowest type of each tensor, and #defines FXNN_<NODE>_OUTPUT_BITS/_FRAC/_SIGNED, _SHIFT,
/// _CLAMP_MIN/_MAX, ... for every node and the input. Throws std::runtime_error when two names map
/// to the same identifier.
std::string model_header(const Network& network);

} // namespace fxnn::ir
