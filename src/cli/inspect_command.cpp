// fxnn inspect --run DIR: the weights of a run against their initialization, per layer.

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "commands.h"
#include "fxnn/io/text_table.h"
#include "fxnn/train/checkpoint.h"
#include "fxnn/train/trained_run.h"
#include "fxnn/train/trainer.h"

namespace fxnn::cli {

namespace {

namespace fs = std::filesystem;

/// Two runs of the same network: how many weights and buffers differ, and by how much.
void compare_runs(const std::string& a_dir, const std::string& b_dir) {
  const TrainedRun run_a = load_trained_run(a_dir), run_b = load_trained_run(b_dir);
  const auto& a = run_a.network;
  const auto& b = run_b.network;
  const int64_t epoch_a = run_a.epoch, epoch_b = run_b.epoch;
  const auto pa = a->named_parameters(), pb = b->named_parameters();
  const auto ba = a->named_buffers(), bb = b->named_buffers();
  TextTable table({"tensor", "elements", "different", "max |difference|"});
  int64_t different_total = 0;
  auto add = [&](const std::string& name, const torch::Tensor& x, const torch::Tensor& y) {
    if (x.sizes() != y.sizes()) throw std::runtime_error(name + ": the two runs have different shapes");
    const int64_t different = x.ne(y).sum().item<int64_t>();
    different_total += different;
    const double max_diff = x.numel() ? (x.to(torch::kDouble) - y.to(torch::kDouble)).abs().max().item<double>() : 0.0;
    table.add_row({name, std::to_string(x.numel()), std::to_string(different), format_general(max_diff, 3)});
  };
  for (const auto& item : pa) add(item.key(), item.value(), pb[item.key()]);
  for (const auto& item : ba) add(item.key(), item.value(), bb[item.key()]);
  std::printf("%s (epoch %lld) against %s (epoch %lld):\n\n%s\n%s\n", a_dir.c_str(), static_cast<long long>(epoch_a),
              b_dir.c_str(), static_cast<long long>(epoch_b), table.aligned().c_str(),
              different_total == 0 ? "bitwise identical" : "the runs differ");
}

void inspect_run(const std::string& dir) {
  const TrainedRun run = load_trained_run(dir);
  const auto& trained = run.network;
  const int64_t epoch = run.epoch;
  auto initial = build_network(run.config, run.plan);
  build_optimizer(run.config, *initial); // the initial weights as training started from them (W = Q_W(Q_acc(W)))
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
  auto against = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("inspect", "The weights of a run against their initialization, or against another run");
  cmd->add_option("--run", *dir, "Run directory (config.yaml, checkpoint.pt)")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--against", *against, "Another run of the same network: compare their weights and buffers")
      ->check(CLI::ExistingDirectory);
  cmd->callback([dir, against] {
    if (against->empty()) inspect_run(*dir);
    else compare_runs(*dir, *against);
  });
}

} // namespace fxnn::cli
