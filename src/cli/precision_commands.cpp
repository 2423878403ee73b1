// fxnn probe --config C.yaml --out DIR
// fxnn assign --stats DIR/stats.json [--target-pm 0.01] --out PLAN.yaml

#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"
#include "fxnn/io/text_table.h"
#include "fxnn/precision/assignment.h"
#include "fxnn/precision/pipeline.h"
#include "fxnn/precision/probe.h"
#include "fxnn/train/trainer.h"

namespace fxnn::cli {

namespace {

struct ProbeArgs {
  std::string config;
  std::string out;
  std::vector<std::string> overrides;
  bool resume = false;
  bool quiet = false;
  int64_t threads = -1;
  int64_t j_epoch = 5;
  int64_t samples = 200;
  int64_t stop_after_epoch = 0;
};

struct RunArgs {
  ProbeArgs probe;
  double target_pm = 0.01;
};

struct AssignArgs {
  std::string stats;
  std::string out;
  double target_pm = 0.01;
};

ExperimentConfig load_config_with(const ProbeArgs& args);

void run_probe_command(const ProbeArgs& args) {
  ProbeOptions options;
  options.config = load_config_with(args);
  options.out_dir = args.out;
  options.resume = args.resume;
  options.quiet = args.quiet;
  options.j_epoch = args.j_epoch;
  options.noise_samples = args.samples;
  options.stop_after_epoch = args.stop_after_epoch;
  configure_threads(options.config.train.threads);
  run_probe(options);
}

void run_assign_command(const AssignArgs& args) {
  const auto stats = ProbeStats::load(args.stats);
  const auto assignment = assign_precisions(stats, AssignOptions{args.target_pm});
  std::printf("%s", assignment_table(assignment).aligned().c_str());
  std::printf("\n%s", candidate_table(assignment, args.target_pm).aligned().c_str());
  std::printf("\nB_min = %d: p_m <= %s (target %s)\n", assignment.b_min, format_general(assignment.bound).c_str(),
              format_general(args.target_pm).c_str());
  assignment.plan.save(args.out);
  std::printf("wrote %s\n", args.out.c_str());
}

ExperimentConfig load_config_with(const ProbeArgs& args) {
  std::vector<std::string> overrides = args.overrides;
  if (args.threads >= 0) overrides.push_back("train.threads=" + std::to_string(args.threads));
  return ExperimentConfig::load(args.config, overrides);
}

void run_pipeline_command(const RunArgs& args) {
  PipelineOptions options;
  options.config = load_config_with(args.probe);
  options.out_dir = args.probe.out;
  options.target_pm = args.target_pm;
  options.j_epoch = args.probe.j_epoch;
  options.noise_samples = args.probe.samples;
  options.quiet = args.probe.quiet;
  configure_threads(options.config.train.threads);
  run_pipeline(options);
}

} // namespace

void add_precision_commands(CLI::App& app) {
  auto probe = std::make_shared<ProbeArgs>();
  auto* probe_cmd = app.add_subcommand("probe", "Float baseline run that records the statistics of the precision assignment");
  probe_cmd->add_option("--config", probe->config, "Experiment config (YAML)")->required()->check(CLI::ExistingFile);
  probe_cmd->add_option("--out", probe->out, "Run directory (stats.json is written there)")->required();
  probe_cmd->add_option("--set", probe->overrides, "Override a config key (repeatable)");
  probe_cmd->add_flag("--resume", probe->resume, "Continue the probe in --out from its last checkpoint");
  probe_cmd->add_option("--threads", probe->threads, "Threads (default: the config's; 0 = all hardware threads)");
  probe_cmd->add_option("--j-epoch", probe->j_epoch, "Take lambda_max(J) after this epoch")->capture_default_str();
  probe_cmd->add_option("--samples", probe->samples, "Samples N of the noise gains E")->capture_default_str();
  probe_cmd->add_option("--stop-after-epoch", probe->stop_after_epoch, "Stop after this epoch; continue with --resume");
  probe_cmd->add_flag("--quiet", probe->quiet, "No progress line");
  probe_cmd->callback([probe] { run_probe_command(*probe); });

  auto run = std::make_shared<RunArgs>();
  auto* run_cmd = app.add_subcommand("run", "The whole method: float probe, assignment, fixed-point run, report");
  run_cmd->add_option("--config", run->probe.config, "Experiment config (YAML)")->required()->check(CLI::ExistingFile);
  run_cmd->add_option("--out", run->probe.out, "Pipeline directory (fl/, plan.yaml, fx/, report.md)")->required();
  run_cmd->add_option("--set", run->probe.overrides, "Override a config key (repeatable)");
  run_cmd->add_option("--threads", run->probe.threads, "Threads (default: the config's; 0 = all hardware threads)");
  run_cmd->add_option("--target-pm", run->target_pm, "Mismatch-probability budget p_m")->capture_default_str();
  run_cmd->add_option("--j-epoch", run->probe.j_epoch, "Take lambda_max(J) after this epoch")->capture_default_str();
  run_cmd->add_option("--samples", run->probe.samples, "Samples N of the noise gains E")->capture_default_str();
  run_cmd->add_flag("--quiet", run->probe.quiet, "No progress line");
  run_cmd->callback([run] { run_pipeline_command(*run); });

  auto report_dir = std::make_shared<std::string>();
  auto* report_cmd = app.add_subcommand("report", "Write DIR/report.md (and curves.png) for a `fxnn run` directory");
  report_cmd->add_option("dir", *report_dir, "Pipeline directory")->required()->check(CLI::ExistingDirectory);
  report_cmd->callback([report_dir] {
    write_report(*report_dir);
    std::printf("wrote %s/report.md\n", report_dir->c_str());
  });

  auto assign = std::make_shared<AssignArgs>();
  auto* assign_cmd = app.add_subcommand("assign", "Per-tensor precisions from probe statistics, as a precision plan");
  assign_cmd->add_option("--stats", assign->stats, "stats.json of a probe run")->required()->check(CLI::ExistingFile);
  assign_cmd->add_option("--target-pm", assign->target_pm, "Mismatch-probability budget p_m")->capture_default_str();
  assign_cmd->add_option("--out", assign->out, "Precision plan to write (YAML)")->required();
  assign_cmd->callback([assign] { run_assign_command(*assign); });
}

} // namespace fxnn::cli
