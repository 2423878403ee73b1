#pragma once
// A fixed-point network as an ONNX model (docs/onnx.md), in one of two flavors:
//   qdq:   standard ONNX operators that ONNX Runtime evaluates to the integer runtime's codes exactly;
//   qonnx: the QONNX dialect (Quant and Trunc nodes around float operators) that hls4ml and FINN read
//          as fixed-point types.
// The model is returned as the bytes of a .onnx file, so that no protobuf type crosses this header.

#include <string>
#include <vector>

#include "fxnn/ir/fixed_point_network.h"

namespace fxnn::onnx_export {

enum class OnnxFlavor { kQdq, kQonnx };

std::string to_string(OnnxFlavor flavor);
/// "qdq" or "qonnx"; throws std::invalid_argument naming the value otherwise.
OnnxFlavor parse_onnx_flavor(const std::string& text);

/// A node of the network that the exported graph does not reproduce bit for bit, and why.
struct InexactNode {
  std::string node; // the IR node's name (or the network input's)
  std::string reason;
  /// "node 'NAME': REASON", the line the command prints.
  std::string line() const;
};

struct OnnxModel {
  std::string bytes;                // the serialized ModelProto
  std::vector<InexactNode> inexact; // empty when every node is exact
  int opset = 0;                    // of the default ONNX domain
  int onnx_nodes = 0;               // nodes of the graph
};

/// Builds the graph of `network` (validated first). Nodes that cannot be reproduced exactly are still
/// mapped, as closely as the flavor allows, and listed in OnnxModel::inexact; the caller decides whether
/// to write such a model.
OnnxModel export_onnx(const ir::Network& network, OnnxFlavor flavor);

} // namespace fxnn::onnx_export
