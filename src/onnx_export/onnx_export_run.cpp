#include "fxnn/onnx_export/onnx_export_run.h"

#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "fxnn/io/atomic_file.h"
#include "fxnn/ir/network_files.h"

namespace fxnn::onnx_export {

std::string OnnxExportRunReport::summary() const {
  std::ostringstream text;
  text << "fxnn export-onnx: " << network << " (" << ir_nodes << " nodes) -> " << out << " (" << flavor << ", opset "
       << opset << ", " << onnx_nodes << " ONNX nodes)\n";
  if (inexact.empty())
    text << "  exact: every node within the bounds of docs/onnx.md\n";
  else
    for (const auto& n : inexact) text << "  inexact (written with --accept-inexact): " << n.line() << "\n";
  return text.str();
}

OnnxExportRunReport run_onnx_export(const OnnxExportRunOptions& o) {
  if (o.model.empty()) throw std::invalid_argument("--model: give the network folder");
  if (o.out.empty()) throw std::invalid_argument("--out: give the .onnx file to write");
  const OnnxFlavor flavor = parse_onnx_flavor(o.flavor);
  if (std::filesystem::is_directory(o.out)) throw std::invalid_argument(o.out + ": is a folder; give a file name");

  const ir::Network net = ir::load_network(o.model);
  const OnnxModel model = export_onnx(net, flavor);
  if (!model.inexact.empty() && !o.accept_inexact) {
    const size_t more = model.inexact.size() - 1;
    throw std::runtime_error(model.inexact.front().line() +
                             (more ? " (and " + std::to_string(more) + " more)" : std::string()) +
                             "; nothing written (--accept-inexact writes it anyway)");
  }
  write_file_atomic(o.out, model.bytes);

  OnnxExportRunReport report;
  report.out = o.out;
  report.network = o.model;
  report.flavor = to_string(flavor);
  report.opset = model.opset;
  report.onnx_nodes = model.onnx_nodes;
  report.ir_nodes = static_cast<int>(net.nodes.size());
  report.inexact = model.inexact;
  return report;
}

} // namespace fxnn::onnx_export
