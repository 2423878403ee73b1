#pragma once
// The two graphs of a fixed-point network (docs/onnx.md): each fills the graph of a model and lists
// the nodes it cannot reproduce exactly.

#include <onnx/onnx_pb.h>

#include <vector>

#include "fxnn/ir/fixed_point_network.h"
#include "fxnn/onnx_export/onnx_export.h"

namespace fxnn::onnx_export {

inline constexpr int kQdqOpset = 17;          // the newest python3-onnx 1.12 checks; ONNX Runtime 1.x runs it
inline constexpr int kQonnxOpset = 13;        // Clip takes its bounds as inputs (11), Flatten/Gemm as of 13
inline constexpr int kQonnxDomainVersion = 2; // Trunc with an output scale (trunc_v2); Quant is version 1
inline constexpr const char* kQonnxDomain = "qonnx.custom_op.general";

/// Standard operators on integer-valued float tensors (section 3 of docs/onnx.md).
void build_qdq_graph(const ir::Network& network, onnx::GraphProto& graph, std::vector<InexactNode>& inexact);

/// Quant/Trunc nodes around float operators on real values (section 4 of docs/onnx.md).
void build_qonnx_graph(const ir::Network& network, onnx::GraphProto& graph, std::vector<InexactNode>& inexact);

} // namespace fxnn::onnx_export
