// fxnn export (--run DIR | --checkpoint CKPT --config C.yaml --precision PLAN.yaml) --out OUT
// fxnn infer --model OUT --config C.yaml [--check] [--run DIR] [--limit N] [--save-inputs X.npy] ...

#include <cstdio>
#include <iostream>
#include <string>

#include "commands.h"
#include "fxnn/core/thread_limit.h"
#include "fxnn/deploy/export_run.h"
#include "fxnn/deploy/infer_run.h"

namespace fxnn::cli {

namespace {

struct InferArgs {
  InferRunOptions options;
  bool reference = false;
  int64_t threads = 0;
  std::string isa = "auto";
};

void run_infer(const InferArgs& a) {
  InferRunOptions o = a.options;
  o.inference.engine.with_reference(a.reference)
      .with_isa(runtime::parse_isa(a.isa))
      .with_threads(checked_thread_count(a.threads, "--threads"));
  fxnn::run_infer(o, std::cout);
}

} // namespace

void add_deploy_commands(CLI::App& app) {
  auto e = std::make_shared<ExportRunOptions>();
  auto* exp =
      app.add_subcommand("export", "Trained fixed-point network -> integer network folder (model.json, .npy, model.h)");
  exp->add_option("--run", e->run, "Run directory (config.yaml, plan.yaml, checkpoint.pt)")
      ->check(CLI::ExistingDirectory);
  exp->add_option("--checkpoint", e->checkpoint, "A checkpoint.pt (with --config and --precision)")
      ->check(CLI::ExistingFile);
  exp->add_option("--config", e->config, "Experiment config of the checkpoint")->check(CLI::ExistingFile);
  exp->add_option("--precision", e->precision, "Precision plan of the checkpoint")->check(CLI::ExistingFile);
  exp->add_option("--out", e->out, "Output folder")->required();
  exp->add_flag("--force", e->force,
                "Replace a fixed-point network folder already at --out (anything else is refused)");
  exp->add_option("--input-bits", e->export_options.input_bits, "Word length of the normalized input")
      ->capture_default_str();
  exp->add_option("--multiplier-bits", e->export_options.multiplier_bits, "Word length of the batch-norm multipliers")
      ->capture_default_str();
  exp->callback([e] { std::fputs(run_export(*e).c_str(), stdout); });

  auto i = std::make_shared<InferArgs>();
  auto* inf = app.add_subcommand("infer", "Evaluate an integer network folder on the test set of a config");
  auto& o = i->options;
  inf->add_option("--model", o.model, "Network folder (model.json)")->required()->check(CLI::ExistingDirectory);
  inf->add_option("--config", o.config, "Experiment config (its data set's test split)")
      ->required()
      ->check(CLI::ExistingFile);
  inf->add_option("--set", o.overrides, "Override a config key (repeatable)");
  inf->add_flag("--check", o.inference.check,
                "Also run the LibTorch simulation and count mismatches (non-zero exit if any)");
  inf->add_option("--run", o.run, "The run it was exported from: also evaluate the trained LibTorch model")
      ->check(CLI::ExistingDirectory);
  add_limit_option(inf, o.limit);
  inf->add_option("--batch", o.inference.batch_size, "Samples per batch")->capture_default_str();
  inf->add_option("--threads", i->threads, "Threads (0: all hardware threads)")->capture_default_str();
  inf->add_option("--isa", i->isa, "portable | avx512vnni | avx512amx | auto")->capture_default_str();
  inf->add_flag("--reference", i->reference, "Use the reference kernels (plain loops)");
  inf->add_flag("--quiet", o.inference.quiet, "No progress line");
  inf->add_option("--save-inputs", o.save_inputs, "Write the input codes (.npy)");
  inf->add_option("--save-labels", o.save_labels, "Write the labels (.npy)");
  inf->add_option("--save-output", o.save_output, "Write the runtime's output codes (.npy)");
  inf->add_option("--json", o.json, "Write the results as JSON");
  inf->callback([i] { run_infer(*i); });
}

} // namespace fxnn::cli
