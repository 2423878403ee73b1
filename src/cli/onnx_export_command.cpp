// fxnn export-onnx --model DIR --out MODEL.onnx [--flavor qdq|qonnx] [--accept-inexact]

#include <cstdio>
#include <memory>

#include "commands.h"
#include "fxnn/onnx_export/onnx_export_run.h"

namespace fxnn::cli {

void add_onnx_export_command(CLI::App& app) {
  auto o = std::make_shared<onnx_export::OnnxExportRunOptions>();
  auto* cmd =
      app.add_subcommand("export-onnx", "Fixed-point network folder -> ONNX model, qdq or qonnx (docs/onnx.md)");
  cmd->add_option("--model", o->model, "Network folder (model.json) written by export, lowbit or synth --out")
      ->required();
  cmd->add_option("--out", o->out, "The .onnx file to write")->required();
  cmd->add_option("--flavor", o->flavor,
                  "qdq: standard operators, ONNX Runtime gives the runtime's codes; qonnx: Quant/Trunc nodes for "
                  "hls4ml and FINN")
      ->capture_default_str();
  cmd->add_flag("--accept-inexact", o->accept_inexact,
                "Write the model even where ONNX arithmetic may differ from the runtime (listed)");
  cmd->callback([o] { std::fputs(onnx_export::run_onnx_export(*o).summary().c_str(), stdout); });
}

} // namespace fxnn::cli
