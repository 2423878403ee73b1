#pragma once
// Optimized kernels of the integer runtime: each node is prepared once (weights packed for the
// chosen ISA, eq. (3) folded) and then run on batches. 4-D activations flow channels-last (NHWC),
// the order the convolutions read and write; every kernel equals its reference kernel
// (runtime/reference_kernels.h) bit for bit, which tests/runtime checks.

#include <memory>
#include <string>
#include <vector>

#include "fxnn/ir/fixed_point_network.h"
#include "fxnn/runtime/codes.h"
#include "fxnn/runtime/isa.h"

namespace fxnn::runtime {

class PreparedNode {
 public:
  virtual ~PreparedNode() = default;
  /// `inputs` in any layout; `out` is re-described to the node's output (layout: kernel's choice).
  virtual void run(const std::vector<const Codes*>& inputs, Codes& out, int threads) = 0;
  /// What runs, for profiles: "conv2d u8s8 avx512vnni", "maxpool u8", ...
  virtual std::string kernel() const = 0;
};

/// `inputs`: the formats of the node's inputs, as in ir::Network::format_of. Throws
/// std::runtime_error naming the node when it cannot be prepared.
std::unique_ptr<PreparedNode> prepare_node(const ir::Node& node, const std::vector<Format>& inputs,
                                           const std::vector<std::vector<int64_t>>& input_shapes, Isa isa);

} // namespace fxnn::runtime
