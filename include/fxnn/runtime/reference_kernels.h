#pragma once
// Reference kernels of the integer runtime: plain loops over int64, written as the equations of
// docs/fixed-point-network.md read (eq. (1)-(3) and the op list of section 2). They define what the
// optimized kernels (src/runtime/optimized_kernels.h) must compute bit for bit.
//
// Every kernel takes a node that passed ir::Network::validate() (so no int64 operation overflows),
// inputs in either memory layout, and writes `out` in channels-first order in the storage type of
// the node's output format.

#include <cstdint>

#include "fxnn/ir/fixed_point_network.h"
#include "fxnn/runtime/codes.h"

namespace fxnn::runtime {

/// eq. (3) for one accumulator of channel c: v = acc * multiplier[c] + offset[c], then the rounding
/// shift (nearest: (v + 2^(s-1)) >> s, ties up; floor: v >> s; s <= 0: v * 2^-s) and the clamp.
int64_t requantize_reference(int64_t acc, const ir::Requantize& r, int64_t channel);

void rescale_reference(const ir::Node& node, const Codes& in, Codes& out);
/// eq. (1): zero padding, stride, OIHW weights.
void conv2d_reference(const ir::Node& node, const Codes& in, Codes& out);
/// eq. (2): W [out, in].
void dense_reference(const ir::Node& node, const Codes& in, Codes& out);
void maxpool_reference(const ir::Node& node, const Codes& in, Codes& out);
void avgpool_reference(const ir::Node& node, const Codes& in, Codes& out);
/// a * 2^(F - F_a) + b * 2^(F - F_b), F = max(F_a, F_b), then eq. (3).
void add_reference(const ir::Node& node, const Codes& a, const Codes& b, Codes& out);
void flatten_reference(const ir::Node& node, const Codes& in, Codes& out);

} // namespace fxnn::runtime
