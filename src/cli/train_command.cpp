// fxnn train --config C.yaml [--precision PLAN.yaml] --out DIR [--resume] [--seed S] [--threads N] [--set k=v]...

#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "fxnn/train/trainer.h"

namespace fxnn::cli {

namespace {

struct TrainArgs {
  std::string config;
  std::string precision;
  std::string out;
  std::vector<std::string> overrides;
  bool resume = false;
  bool quiet = false;
  int64_t threads = -1;
  int64_t stop_after_epoch = 0;
  std::optional<uint64_t> seed;
  DistributedOptions distributed;
  int64_t timeout_seconds = 60;
};

void run_train(const TrainArgs& args) {
  std::vector<std::string> overrides = args.overrides;
  if (args.seed) overrides.push_back("seed=" + std::to_string(*args.seed));
  if (args.threads >= 0) overrides.push_back("train.threads=" + std::to_string(args.threads));
  TrainerOptions options;
  options.config = ExperimentConfig::load(args.config, overrides);
  if (!args.precision.empty()) options.plan = PrecisionPlan::load(args.precision);
  options.out_dir = args.out;
  options.resume = args.resume;
  options.quiet = args.quiet;
  options.stop_after_epoch = args.stop_after_epoch;
  options.distributed = args.distributed;
  options.distributed.timeout = std::chrono::seconds(args.timeout_seconds);
  configure_threads(options.config.train.threads);
  Trainer trainer(std::move(options));
  trainer.run();
}

} // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Train a network in float, or in fixed point with a precision plan");
  cmd->add_option("--config", args->config, "Experiment config (YAML)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--precision", args->precision, "Precision plan (YAML); without it the run is in float")
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", args->out, "Run directory")->required();
  cmd->add_option("--set", args->overrides, "Override a config key, e.g. --set train.epochs=3 (repeatable)");
  cmd->add_flag("--resume", args->resume, "Continue the run in --out from its last checkpoint");
  cmd->add_option("--seed", args->seed, "Seed (overrides the config's seed)");
  cmd->add_option("--threads", args->threads,
                  "Threads (default: the config's train.threads; 0 = all hardware threads)");
  cmd->add_flag("--quiet", args->quiet, "No progress line");
  cmd->add_option("--stop-after-epoch", args->stop_after_epoch,
                  "Stop after this epoch (checkpointed); continue later with --resume");
  cmd->add_option("--world-size", args->distributed.world_size,
                  "Processes of a data-parallel run (docs/distributed.md)")
      ->capture_default_str();
  cmd->add_option("--rank", args->distributed.rank, "This process's rank in [0, world size)")->capture_default_str();
  cmd->add_option("--master", args->distributed.master, "HOST:PORT of rank 0")->capture_default_str();
  cmd->add_option("--timeout", args->timeout_seconds, "Seconds before a stuck collective fails")->capture_default_str();
  cmd->callback([args] { run_train(*args); });
}

} // namespace fxnn::cli
