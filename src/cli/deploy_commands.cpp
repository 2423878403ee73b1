// fxnn export (--run DIR | --checkpoint CKPT --config C.yaml --precision PLAN.yaml) --out OUT
// fxnn infer --model OUT --config C.yaml [--check] [--run DIR] [--limit N] [--save-inputs X.npy] ...

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "commands.h"
#include "fxnn/core/thread_limit.h"
#include "fxnn/data/dataset.h"
#include "fxnn/deploy/export_network.h"
#include "fxnn/deploy/inference.h"
#include "fxnn/io/atomic_file.h"
#include "fxnn/io/npy.h"
#include "fxnn/io/text_table.h"
#include "fxnn/ir/network_files.h"
#include "fxnn/train/trained_run.h"
#include "fxnn/train/trainer.h"

namespace fxnn::cli {

namespace {

struct ExportArgs {
  std::string run, checkpoint, config, precision, out;
  bool force = false;
  ExportOptions options;
};

struct InferArgs {
  std::string model, config, run;
  std::vector<std::string> overrides;
  bool check = false, reference = false, quiet = false;
  int64_t limit = 0, batch = 256, threads = 0;
  std::string isa = "auto";
  std::string save_inputs, save_labels, save_output, json;
};

TrainedRun trained_run_of(const ExportArgs& a) {
  if (!a.run.empty()) return load_trained_run(a.run);
  if (a.checkpoint.empty() || a.config.empty())
    throw std::runtime_error("export: give --run DIR, or --checkpoint CKPT with --config C.yaml and --precision PLAN.yaml");
  return load_trained_checkpoint(a.checkpoint, a.config, a.precision);
}

void run_export(const ExportArgs& a) {
  const ExistingOutput existing = a.force ? ExistingOutput::kReplace : ExistingOutput::kRefuse;
  check_output_folder(a.out, ir::network_folder_kind(), existing);
  TrainedRun run = trained_run_of(a);
  if (!run.plan) throw std::runtime_error("export: the run was trained in float; export needs a precision plan");
  ir::Network net = export_network(*run.network, run.config, run.config.input_shape(), a.options);
  net.source = a.run.empty() ? a.checkpoint : a.run;
  ir::save_network(net, a.out, existing);
  TextTable table({"node", "op", "output", "weights", "accumulator"});
  int64_t weights = 0;
  for (const auto& n : net.nodes) {
    const bool weighted = n.weight.has_value();
    if (weighted) weights += n.weight->numel();
    table.add_row({n.name, ir::to_string(n.op), n.output_format.str(),
                   weighted ? n.weight->format.str() + " x " + std::to_string(n.weight->numel()) : "",
                   n.requantize ? std::to_string(n.accumulator_bits) + " bits" : ""});
  }
  std::printf("%s (epoch %lld) -> %s: %zu nodes, %lld weights\n\n%s", net.source.c_str(),
              static_cast<long long>(run.epoch), a.out.c_str(), net.nodes.size(), static_cast<long long>(weights),
              table.aligned().c_str());
}

void save_codes(const std::string& path, std::vector<int64_t> shape, std::vector<int64_t> values) {
  int64_t lo = 0, hi = 0;
  for (int64_t v : values) lo = std::min(lo, v), hi = std::max(hi, v);
  io::save_npy(path, io::NpyArray{std::move(shape), io::narrowest_npy_dtype(lo, hi), std::move(values)});
}

void run_infer(const InferArgs& a) {
  const ir::Network net = ir::load_network(a.model);
  const auto config = ExperimentConfig::load(a.config, a.overrides);
  data::ImageDataset test = data::load_dataset(config.data).test;
  if (a.limit > 0 && a.limit < test.size()) {
    test.images = test.images.narrow(0, 0, a.limit);
    test.labels = test.labels.narrow(0, 0, a.limit);
  }
  InferenceOptions options;
  options.batch_size = a.batch;
  options.engine.with_reference(a.reference).with_isa(runtime::parse_isa(a.isa)).with_threads(
      checked_thread_count(a.threads, "--threads"));
  options.check = a.check;
  options.quiet = a.quiet;
  std::optional<TrainedRun> source;
  if (!a.run.empty()) {
    source = load_trained_run(a.run);
    options.source_model = source->network.get();
    options.source_transform = source->config.transform;
  }
  const InferenceReport r = run_inference(net, test, options);

  nlohmann::ordered_json j;
  j["model"] = a.model;
  j["samples"] = r.samples;
  j["accuracy"] = r.accuracy();
  j["runtime"] = a.reference ? "reference" : "optimized";
  j["runtime_seconds"] = r.runtime_seconds;
  std::printf("integer runtime (%s): accuracy %.2f%% on %lld test samples (%.2f s)\n",
              a.reference ? "reference kernels" : "optimized kernels", 100.0 * r.accuracy(),
              static_cast<long long>(r.samples), r.runtime_seconds);
  if (r.prediction_mismatches >= 0) {
    std::printf("LibTorch simulation: %lld prediction mismatches, %lld of %lld output codes differ\n",
                static_cast<long long>(r.prediction_mismatches), static_cast<long long>(r.code_mismatches),
                static_cast<long long>(r.samples * r.outputs));
    j["prediction_mismatches"] = r.prediction_mismatches;
    j["code_mismatches"] = r.code_mismatches;
  }
  if (r.source_correct >= 0) {
    const double n = static_cast<double>(r.samples);
    std::printf("trained LibTorch model (batch norm in float): accuracy %.2f%%, same prediction as the runtime on %.2f%%\n",
                100.0 * static_cast<double>(r.source_correct) / n, 100.0 * static_cast<double>(r.source_agreement) / n);
    j["source_accuracy"] = static_cast<double>(r.source_correct) / n;
    j["source_agreement"] = static_cast<double>(r.source_agreement) / n;
  }
  if (!a.save_inputs.empty()) {
    const auto pixels = test.images.to(torch::kLong).contiguous();
    save_codes(a.save_inputs, pixels.sizes().vec(),
               std::vector<int64_t>(pixels.data_ptr<int64_t>(), pixels.data_ptr<int64_t>() + pixels.numel()));
  }
  if (!a.save_labels.empty()) {
    const auto labels = test.labels.to(torch::kLong).contiguous();
    save_codes(a.save_labels, {r.samples},
               std::vector<int64_t>(labels.data_ptr<int64_t>(), labels.data_ptr<int64_t>() + labels.numel()));
  }
  if (!a.save_output.empty()) save_codes(a.save_output, {r.samples, r.outputs}, r.output_codes);
  if (!a.json.empty()) write_file_atomic(a.json, j.dump(2) + "\n");
  if (r.prediction_mismatches > 0 || r.code_mismatches > 0)
    throw std::runtime_error("the integer runtime disagrees with the LibTorch simulation");
}

} // namespace

void add_deploy_commands(CLI::App& app) {
  auto e = std::make_shared<ExportArgs>();
  auto* exp = app.add_subcommand("export", "Trained fixed-point network -> integer network folder (model.json, .npy, model.h)");
  exp->add_option("--run", e->run, "Run directory (config.yaml, plan.yaml, checkpoint.pt)")->check(CLI::ExistingDirectory);
  exp->add_option("--checkpoint", e->checkpoint, "A checkpoint.pt (with --config and --precision)")->check(CLI::ExistingFile);
  exp->add_option("--config", e->config, "Experiment config of the checkpoint")->check(CLI::ExistingFile);
  exp->add_option("--precision", e->precision, "Precision plan of the checkpoint")->check(CLI::ExistingFile);
  exp->add_option("--out", e->out, "Output folder")->required();
  exp->add_flag("--force", e->force, "Replace a fixed-point network folder already at --out (anything else is refused)");
  exp->add_option("--input-bits", e->options.input_bits, "Word length of the normalized input")->capture_default_str();
  exp->add_option("--multiplier-bits", e->options.multiplier_bits, "Word length of the batch-norm multipliers")
      ->capture_default_str();
  exp->callback([e] { run_export(*e); });

  auto i = std::make_shared<InferArgs>();
  auto* inf = app.add_subcommand("infer", "Evaluate an integer network folder on the test set of a config");
  inf->add_option("--model", i->model, "Network folder (model.json)")->required()->check(CLI::ExistingDirectory);
  inf->add_option("--config", i->config, "Experiment config (its data set's test split)")->required()->check(CLI::ExistingFile);
  inf->add_option("--set", i->overrides, "Override a config key (repeatable)");
  inf->add_flag("--check", i->check, "Also run the LibTorch simulation and count mismatches (non-zero exit if any)");
  inf->add_option("--run", i->run, "The run it was exported from: also evaluate the trained LibTorch model")
      ->check(CLI::ExistingDirectory);
  inf->add_option("--limit", i->limit, "Only the first N test samples");
  inf->add_option("--batch", i->batch, "Samples per batch")->capture_default_str();
  inf->add_option("--threads", i->threads, "Threads (0: all hardware threads)")->capture_default_str();
  inf->add_option("--isa", i->isa, "portable | avx512vnni | auto")->capture_default_str();
  inf->add_flag("--reference", i->reference, "Use the reference kernels (plain loops)");
  inf->add_flag("--quiet", i->quiet, "No progress line");
  inf->add_option("--save-inputs", i->save_inputs, "Write the input codes (.npy)");
  inf->add_option("--save-labels", i->save_labels, "Write the labels (.npy)");
  inf->add_option("--save-output", i->save_output, "Write the runtime's output codes (.npy)");
  inf->add_option("--json", i->json, "Write the results as JSON");
  inf->callback([i] { run_infer(*i); });
}

} // namespace fxnn::cli
