// fxnn inspect --run DIR [--against DIR2]: the weights of a run against their initialization, or
// against another run (train/run_inspection.h).

#include <cstdio>
#include <string>

#include "commands.h"
#include "fxnn/train/run_inspection.h"

namespace fxnn::cli {

void add_inspect_command(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto against = std::make_shared<std::string>();
  auto* cmd =
      app.add_subcommand("inspect", "The weights of a run against their initialization, or against another run");
  cmd->add_option("--run", *dir, "Run directory (config.yaml, checkpoint.pt)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--against", *against, "Another run of the same network: compare their weights and buffers")
      ->check(CLI::ExistingDirectory);
  cmd->callback([dir, against] {
    const std::string text = against->empty() ? inspect_run(*dir) : compare_runs(*dir, *against);
    std::fputs(text.c_str(), stdout);
  });
}

} // namespace fxnn::cli
