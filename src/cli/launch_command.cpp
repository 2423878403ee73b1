// fxnn launch --nproc N [--port P] -- fxnn train ... : N local processes of one data-parallel run
// (train/launcher.h).

#include <cstdlib>

#include "commands.h"
#include "fxnn/train/launcher.h"

namespace fxnn::cli {

void add_launch_command(CLI::App& app) {
  auto o = std::make_shared<LaunchOptions>();
  auto* cmd = app.add_subcommand(
      "launch", "Start N local processes of a data-parallel run: fxnn launch --nproc N -- fxnn train ...");
  cmd->add_option("--nproc", o->processes, "Processes")->capture_default_str();
  cmd->add_option("--port", o->port, "Port of rank 0's store on 127.0.0.1 (default: a free one)");
  cmd->add_option("--grace", o->grace_seconds, "Seconds the others get to stop after one fails")->capture_default_str();
  cmd->add_option("command", o->command, "The command of every rank (after --)")->required();
  cmd->callback([o] {
    const int code = launch_ranks(*o);
    if (code != 0) std::exit(code);
  });
}

} // namespace fxnn::cli
