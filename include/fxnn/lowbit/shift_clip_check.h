#pragma once
// Whether a fixed-point network is of mode shift-clip (docs/lowbit.md, section 4): every
// requantization is a power-of-two multiplier (a left shift), an integer offset, one rounding or
// truncating right shift and a clamp, so that B-bit integer products, additions, shifts and
// comparisons evaluate it. Plain C++: no LibTorch.

#include <string>
#include <vector>

#include "fxnn/ir/fixed_point_network.h"

namespace fxnn::lowbit {

/// One sentence per multiplier that is not a positive power of two ("node 'fc1': multiplier 3 of
/// channel 2 is not a power of two"); empty when the network is pure shift-and-clip.
std::vector<std::string> shift_clip_violations(const ir::Network& network);

} // namespace fxnn::lowbit
