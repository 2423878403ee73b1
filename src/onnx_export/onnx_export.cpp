#include "fxnn/onnx_export/onnx_export.h"

#include <onnx/onnx_pb.h>

#include <stdexcept>

#include "flavor_graphs.h"

namespace fxnn::onnx_export {

namespace {

// IR version 8 goes with opset 17 (ONNX 1.12), the newest python3-onnx 1.12 checks.
constexpr int64_t kIrVersion = 8;

void add_metadata(onnx::ModelProto& model, const std::string& key, const std::string& value) {
  onnx::StringStringEntryProto& entry = *model.add_metadata_props();
  entry.set_key(key);
  entry.set_value(value);
}

std::string join_lines(const std::vector<InexactNode>& nodes) {
  std::string s;
  for (const auto& n : nodes) s += (s.empty() ? "" : "; ") + n.line();
  return s;
}

} // namespace

std::string to_string(OnnxFlavor flavor) { return flavor == OnnxFlavor::kQdq ? "qdq" : "qonnx"; }

OnnxFlavor parse_onnx_flavor(const std::string& text) {
  if (text == "qdq") return OnnxFlavor::kQdq;
  if (text == "qonnx") return OnnxFlavor::kQonnx;
  throw std::invalid_argument("--flavor: '" + text + "' is not a flavor (expected qdq or qonnx)");
}

std::string InexactNode::line() const { return "node '" + node + "': " + reason; }

OnnxModel export_onnx(const ir::Network& network, OnnxFlavor flavor) {
  network.validate();
  onnx::ModelProto model;
  model.set_ir_version(kIrVersion);
  model.set_producer_name("fxnn");
  model.set_producer_version("0.1.0");
  model.set_domain("fxnn");
  model.set_doc_string("The fixed-point network '" + network.name + "' as ONNX (" + to_string(flavor) +
                       " flavor, docs/onnx.md of fxnn).");
  OnnxModel result;
  result.opset = flavor == OnnxFlavor::kQdq ? kQdqOpset : kQonnxOpset;
  onnx::OperatorSetIdProto& standard = *model.add_opset_import();
  standard.set_domain("");
  standard.set_version(result.opset);
  if (flavor == OnnxFlavor::kQonnx) {
    onnx::OperatorSetIdProto& custom = *model.add_opset_import();
    custom.set_domain(kQonnxDomain);
    custom.set_version(kQonnxDomainVersion);
  }
  onnx::GraphProto& graph = *model.mutable_graph();
  graph.set_name(network.name);
  if (flavor == OnnxFlavor::kQdq)
    build_qdq_graph(network, graph, result.inexact);
  else
    build_qonnx_graph(network, graph, result.inexact);
  // What a reader needs to turn the tensors back into codes (docs/onnx.md, section 1).
  add_metadata(model, "fxnn.flavor", to_string(flavor));
  add_metadata(model, "fxnn.input_format", network.input_format.str());
  add_metadata(model, "fxnn.output_format", network.node(network.output).output_format.str());
  add_metadata(model, "fxnn.tensors", flavor == OnnxFlavor::kQdq ? "codes" : "values");
  if (!result.inexact.empty()) add_metadata(model, "fxnn.inexact", join_lines(result.inexact));
  if (!network.source.empty()) add_metadata(model, "fxnn.source", network.source);
  result.onnx_nodes = graph.node_size();
  if (!model.SerializeToString(&result.bytes)) throw std::runtime_error("onnx export: the model does not serialize");
  return result;
}

} // namespace fxnn::onnx_export
