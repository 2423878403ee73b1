// fxnn codegen --model DIR (--emit-c OUTDIR | --emit-hls OUTDIR)... [--name NAME] [--force]

#include <cstdio>
#include <memory>

#include "commands.h"
#include "fxnn/codegen/codegen_run.h"

namespace fxnn::cli {

void add_codegen_command(CLI::App& app) {
  auto o = std::make_shared<codegen::CodegenRunOptions>();
  auto* cmd =
      app.add_subcommand("codegen", "Fixed-point network folder -> integer-only C99 and HLS C++ (docs/codegen.md)");
  cmd->add_option("--model", o->model, "Network folder (model.json) written by export, lowbit or synth --out")
      ->required();
  cmd->add_option("--emit-c", o->c_dir, "Write OUTDIR/NAME.h and OUTDIR/NAME.c (a folder of generated code)");
  cmd->add_option("--emit-hls", o->hls_dir, "Write OUTDIR/NAME_hls.h and OUTDIR/NAME_hls.cpp (ap_fixed)");
  cmd->add_option("--name", o->name,
                  "C identifier of the function and prefix of every name (default: the network's name)");
  cmd->add_flag("--force", o->force, "Replace a folder of generated code already there (anything else is refused)");
  cmd->callback([o] { std::fputs(codegen::run_codegen(*o).summary().c_str(), stdout); });
}

} // namespace fxnn::cli
