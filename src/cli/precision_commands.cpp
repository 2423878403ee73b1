// fxnn probe --config C.yaml --out DIR
// fxnn assign --stats DIR/stats.json [--target-pm 0.01] --out PLAN.yaml

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "fxnn/io/text_table.h"
#include "fxnn/precision/assignment.h"
#include "fxnn/precision/cost_model.h"
#include "fxnn/precision/pipeline.h"
#include "fxnn/precision/probe.h"
#include "fxnn/precision/sweep.h"
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
  std::optional<int64_t> samples;
  std::optional<int64_t> injection_draws;
  int64_t stop_after_epoch = 0;
};

struct RunArgs {
  ProbeArgs probe;
  std::optional<double> target_pm;
};

struct SweepArgs {
  ProbeArgs run;
  std::string plan;
  std::string reference;
  bool minus_one = false;
};

struct CostArgs {
  std::string config;
  std::string plan;
  std::vector<std::string> overrides;
  bool json = false;
};

struct AssignArgs {
  std::string stats;
  std::string out;
  double target_pm = 0.01;
  std::string gradient_rounding = "nearest";
};

ExperimentConfig load_config_with(const ProbeArgs& args, std::optional<double> target_pm);

void run_probe_command(const ProbeArgs& args) {
  ProbeOptions options;
  options.config = load_config_with(args, std::nullopt);
  options.out_dir = args.out;
  options.resume = args.resume;
  options.quiet = args.quiet;
  options.stop_after_epoch = args.stop_after_epoch;
  configure_threads(options.config.train.threads);
  const auto stats = run_probe(options);
  if (stats.injection_draws > 0)
    std::printf("Back-propagated noise gains (eq. (13)) against noise injection (%lld draws):\n\n%s",
                static_cast<long long>(stats.injection_draws), backprop_gain_table(stats).aligned().c_str());
}

void run_assign_command(const AssignArgs& args) {
  const auto stats = ProbeStats::load(args.stats);
  const auto assignment =
      assign_precisions(stats, AssignOptions{args.target_pm, parse_rounding(args.gradient_rounding)});
  std::printf("%s", assignment_table(assignment).aligned().c_str());
  std::printf("\n%s", candidate_table(assignment, args.target_pm).aligned().c_str());
  std::printf("\nB_min = %d: p_m <= %s (target %s)\n", assignment.b_min, format_general(assignment.bound).c_str(),
              format_general(args.target_pm).c_str());
  for (const auto& name : floored_tensors(assignment))
    std::printf("note: %s: the narrowest word overrides the rules (a finer step than they need)\n", name.c_str());
  assignment.plan.save(args.out);
  std::printf("wrote %s\n", args.out.c_str());
}

/// The config with the command line's overrides; --samples, --injection-draws and --target-pm set keys
/// of its `precision:` section.
ExperimentConfig load_config_with(const ProbeArgs& args, std::optional<double> target_pm = std::nullopt) {
  std::vector<std::string> overrides = args.overrides;
  if (args.threads >= 0) overrides.push_back("train.threads=" + std::to_string(args.threads));
  if (args.injection_draws) overrides.push_back("precision.injection_draws=" + std::to_string(*args.injection_draws));
  if (args.samples) overrides.push_back("precision.noise_samples=" + std::to_string(*args.samples));
  if (target_pm) overrides.push_back("precision.target_pm=" + format_general(*target_pm, 17));
  return ExperimentConfig::load(args.config, overrides);
}

void run_pipeline_command(const RunArgs& args) {
  PipelineOptions options;
  options.config = load_config_with(args.probe, args.target_pm);
  options.out_dir = args.probe.out;
  options.quiet = args.probe.quiet;
  configure_threads(options.config.train.threads);
  run_pipeline(options);
}

void run_sweep_command(const SweepArgs& args) {
  if (!args.minus_one) throw std::invalid_argument("fxnn sweep: say which sweep (--minus-one)");
  SweepOptions options;
  options.config = load_config_with(args.run, std::nullopt);
  options.plan = PrecisionPlan::load(args.plan);
  options.out_dir = args.run.out;
  options.reference_dir = args.reference;
  options.quiet = args.run.quiet;
  configure_threads(options.config.train.threads);
  run_minus_one_sweep(options);
}

void run_cost_command(const CostArgs& args) {
  const auto config = ExperimentConfig::load(args.config, args.overrides);
  const auto plan = PrecisionPlan::load(args.plan);
  const auto schemes = standard_schemes(plan);
  const auto costs = training_costs(config, schemes);
  if (args.json) {
    std::printf("%s\n", cost_json(costs).dump(2).c_str());
    return;
  }
  std::printf("Training costs per step of %lld samples (%s):\n\n%s\n", static_cast<long long>(config.train.batch_size),
              config.name.c_str(), cost_table(costs).aligned().c_str());
  for (const auto& s : schemes) std::printf("%s: %s\n", s.name.c_str(), s.description.c_str());
  std::printf("\nJSON:\n%s\n", cost_json(costs).dump().c_str());
}

} // namespace

void add_precision_commands(CLI::App& app) {
  auto probe = std::make_shared<ProbeArgs>();
  auto* probe_cmd =
      app.add_subcommand("probe", "Float baseline run that records the statistics of the precision assignment");
  probe_cmd->add_option("--config", probe->config, "Experiment config (YAML)")->required()->check(CLI::ExistingFile);
  probe_cmd->add_option("--out", probe->out, "Run directory (stats.json is written there)")->required();
  probe_cmd->add_option("--set", probe->overrides, "Override a config key (repeatable)");
  probe_cmd->add_flag("--resume", probe->resume, "Continue the probe in --out from its last checkpoint");
  probe_cmd->add_option("--threads", probe->threads, "Threads (default: the config's; 0 = all hardware threads)");
  probe_cmd->add_option("--injection-draws", probe->injection_draws,
                        "Draws of the noise-injection check of the gains (precision.injection_draws, 32; 0 = none)");
  probe_cmd->add_option("--samples", probe->samples, "Samples N of the noise gains E (precision.noise_samples, 200)");
  probe_cmd->add_option("--stop-after-epoch", probe->stop_after_epoch, "Stop after this epoch; continue with --resume");
  probe_cmd->add_flag("--quiet", probe->quiet, "No progress line");
  probe_cmd->callback([probe] { run_probe_command(*probe); });

  auto run = std::make_shared<RunArgs>();
  auto* run_cmd = app.add_subcommand("run", "The whole method: float probe, assignment, fixed-point run, report");
  run_cmd->add_option("--config", run->probe.config, "Experiment config (YAML)")->required()->check(CLI::ExistingFile);
  run_cmd->add_option("--out", run->probe.out, "Pipeline directory (fl/, plan.yaml, fx/, report.md)")->required();
  run_cmd->add_option("--set", run->probe.overrides, "Override a config key (repeatable)");
  run_cmd->add_option("--threads", run->probe.threads, "Threads (default: the config's; 0 = all hardware threads)");
  run_cmd->add_option("--target-pm", run->target_pm, "Mismatch-probability budget p_m (precision.target_pm, 0.01)");
  run_cmd->add_option("--injection-draws", run->probe.injection_draws,
                      "Draws of the noise-injection check of the gains (precision.injection_draws, 32; 0 = none)");
  run_cmd->add_option("--samples", run->probe.samples, "Samples N of the noise gains E (precision.noise_samples, 200)");
  run_cmd->add_flag("--quiet", run->probe.quiet, "No progress line");
  run_cmd->callback([run] { run_pipeline_command(*run); });

  auto report_dir = std::make_shared<std::string>();
  auto* report_cmd = app.add_subcommand("report", "Write DIR/report.md (and curves.png) for a `fxnn run` directory");
  report_cmd->add_option("dir", *report_dir, "Pipeline directory")->required()->check(CLI::ExistingDirectory);
  report_cmd->callback([report_dir] {
    write_report(*report_dir);
    std::printf("wrote %s/report.md\n", report_dir->c_str());
  });

  auto sweep = std::make_shared<SweepArgs>();
  auto* sweep_cmd = app.add_subcommand("sweep", "Retrain with each tensor class one bit narrower (near-minimality)");
  sweep_cmd->add_option("--config", sweep->run.config, "Experiment config (YAML)")
      ->required()
      ->check(CLI::ExistingFile);
  sweep_cmd->add_option("--plan", sweep->plan, "The precision plan to test")->required()->check(CLI::ExistingFile);
  sweep_cmd->add_flag("--minus-one", sweep->minus_one, "Each class one bit narrower, one at a time, then all");
  sweep_cmd->add_option("--out", sweep->run.out, "Sweep directory")->required();
  sweep_cmd
      ->add_option("--reference", sweep->reference, "A `fxnn run` directory whose fl/ and fx/ runs to compare with")
      ->check(CLI::ExistingDirectory);
  sweep_cmd->add_option("--set", sweep->run.overrides, "Override a config key (repeatable)");
  sweep_cmd->add_option("--threads", sweep->run.threads, "Threads (default: the config's; 0 = all hardware threads)");
  sweep_cmd->add_flag("--quiet", sweep->run.quiet, "No progress line");
  sweep_cmd->callback([sweep] { run_sweep_command(*sweep); });

  auto cost = std::make_shared<CostArgs>();
  auto* cost_cmd =
      app.add_subcommand("cost", "Computational, representational and communication costs of FL, FX, BN, SQ, TG");
  cost_cmd->add_option("--config", cost->config, "Experiment config (YAML)")->required()->check(CLI::ExistingFile);
  cost_cmd->add_option("--plan", cost->plan, "The precision plan (FX)")->required()->check(CLI::ExistingFile);
  cost_cmd->add_option("--set", cost->overrides, "Override a config key (repeatable)");
  cost_cmd->add_flag("--json", cost->json, "Only the JSON");
  cost_cmd->callback([cost] { run_cost_command(*cost); });

  auto assign = std::make_shared<AssignArgs>();
  auto* assign_cmd = app.add_subcommand("assign", "Per-tensor precisions from probe statistics, as a precision plan");
  assign_cmd->add_option("--stats", assign->stats, "stats.json of a probe run")->required()->check(CLI::ExistingFile);
  assign_cmd->add_option("--target-pm", assign->target_pm, "Mismatch-probability budget p_m")->capture_default_str();
  assign_cmd
      ->add_option("--gradient-rounding", assign->gradient_rounding,
                   "Rounding of the G^(W) and G^(A) formats: nearest (the method) or stochastic (an ablation)")
      ->check(CLI::IsMember({"nearest", "stochastic"}))
      ->capture_default_str();
  assign_cmd->add_option("--out", assign->out, "Precision plan to write (YAML)")->required();
  assign_cmd->callback([assign] { run_assign_command(*assign); });
}

} // namespace fxnn::cli
