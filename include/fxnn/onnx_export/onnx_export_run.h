#pragma once
// `fxnn export-onnx`: a fixed-point network folder to one .onnx file (docs/onnx.md). The command line
// only fills OnnxExportRunOptions and prints the report.

#include <string>
#include <vector>

#include "fxnn/onnx_export/onnx_export.h"

namespace fxnn::onnx_export {

struct OnnxExportRunOptions {
  std::string model;           // the network folder (model.json, .npy files)
  std::string out;             // the .onnx file to write
  std::string flavor = "qdq";  // qdq | qonnx
  bool accept_inexact = false; // write a graph that differs from the runtime, and say where
};

struct OnnxExportRunReport {
  std::string out, network, flavor;
  int opset = 0, onnx_nodes = 0, ir_nodes = 0;
  std::vector<InexactNode> inexact; // written anyway (--accept-inexact)
  /// The lines `fxnn export-onnx` prints.
  std::string summary() const;
};

/// Reads the network (ir::load_network: errors name the file), builds the graph and writes `out`
/// atomically. Without accept_inexact a graph with an inexact node is refused before anything is
/// written: std::runtime_error with one line naming the first such node and the reason.
OnnxExportRunReport run_onnx_export(const OnnxExportRunOptions& options);

} // namespace fxnn::onnx_export
