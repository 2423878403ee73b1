// fxnn inspect --run DIR: the weights of a run against their initialization, per layer.

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "commands.h"
#include "fxnn/io/text_table.h"
#include "fxnn/train/checkpoint.h"
#include "fxnn/train/trainer.h"

namespace fxnn::cli {

namespace {

void inspect_run(const std::string& dir) {
  namespace fs = std::filesystem;
  auto config = ExperimentConfig::load((fs::path(dir) / "config.yaml").string());
  std::optional<PrecisionPlan> plan;
  if (fs::exists(fs::path(dir) / "plan.yaml")) plan = PrecisionPlan::load((fs::path(dir) / "plan.yaml").string());
  auto initial = build_network(config, plan);
  build_optimizer(config, *initial); // the initial weights as training started from them (W = Q_W(Q_acc(W)))
  auto trained = build_network(config, plan);
  const int64_t epoch = load_network_weights((fs::path(dir) / "checkpoint.pt").string(), *trained);
  TextTable table({"layer", "W format", "weights", "changed since init", "min", "max"});
  const auto a = initial->weight_quantizations(), b = trained->weight_quantizations();
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& w = b[i];
    const int64_t changed = a[i].weight.ne(w.weight).sum().item<int64_t>();
    table.add_row({w.layer, w.weight_point->spec() ? w.weight_point->spec()->format.str() : "float",
                   std::to_string(w.weight.numel()),
                   std::to_string(changed) + " (" +
                       format_percent(static_cast<double>(changed) / static_cast<double>(w.weight.numel()), 1) + ")",
                   format_general(w.weight.min().item<double>(), 4), format_general(w.weight.max().item<double>(), 4)});
  }
  std::printf("%s after epoch %lld:\n\n%s", dir.c_str(), static_cast<long long>(epoch), table.aligned().c_str());
}

} // namespace

void add_inspect_command(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("inspect", "The weights of a run directory against their initialization, per layer");
  cmd->add_option("--run", *dir, "Run directory (config.yaml, checkpoint.pt)")->required()->check(CLI::ExistingDirectory);
  cmd->callback([dir] { inspect_run(*dir); });
}

} // namespace fxnn::cli
