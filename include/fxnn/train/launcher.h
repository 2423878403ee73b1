#pragma once
// `fxnn launch`: N local processes of one data-parallel run (docs/distributed.md). Each rank runs the
// given command with --world-size N --rank R --master 127.0.0.1:PORT appended; the launcher waits for
// all of them and takes them down when one fails. The command only fills LaunchOptions.

#include <string>
#include <vector>

namespace fxnn {

struct LaunchOptions {
  int processes = 2;
  int port = 0;            // of rank 0's store on 127.0.0.1; 0: a free one
  int grace_seconds = 120; // how long the others get to stop on their own after one fails
  /// The command of every rank; a first word "fxnn" is this executable (/proc/self/exe).
  std::vector<std::string> command;

  LaunchOptions& with_processes(int v) {
    processes = v;
    return *this;
  }
  LaunchOptions& with_port(int v) {
    port = v;
    return *this;
  }
  LaunchOptions& with_grace_seconds(int v) {
    grace_seconds = v;
    return *this;
  }
  LaunchOptions& with_command(std::vector<std::string> v) {
    command = std::move(v);
    return *this;
  }
};

/// Starts the ranks, waits for all of them; when one fails, the others get `grace_seconds` to notice
/// (they stop on their own with an error naming the lost rank), then SIGTERM (with SIGCONT, for a
/// stopped rank), then after a few seconds SIGKILL; every rank is reaped before it returns. A rank
/// dies with the launcher (PR_SET_PDEATHSIG). Returns 0, or the exit status of the first rank that
/// failed (128 + signal when a signal ended it). Throws std::invalid_argument for bad options.
int launch_ranks(const LaunchOptions& options);

} // namespace fxnn
