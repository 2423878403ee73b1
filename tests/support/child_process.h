#pragma once
// A command run in the background, with its standard output and error in a file, that a test can
// watch and kill (the crash-safety tests SIGKILL training runs).

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "run_command.h"

extern char** environ;

namespace fxnn::testing_support {

class ChildProcess {
 public:
  /// Starts argv[0] (a path) with `argv`, stdout and stderr appended to `log`.
  ChildProcess(const std::vector<std::string>& argv, std::string log) : log_(std::move(log)) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  }
  ~ChildProcess() {
    if (running()) kill_now();
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return !finished_; }
  std::string output() const { return slurp(log_); }

  /// Polls (every millisecond) until `ready(output)` holds; false when the process ended first or
  /// `timeout` passed.
  bool wait_for_output(const std::function<bool(const std::string&)>& ready, std::chrono::seconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (ready(output())) return true;
      if (reap(WNOHANG)) return ready(output());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  /// SIGKILL: the process gets no chance to finish what it is writing. True when the signal ended it
  /// (false when it had already exited).
  bool kill_now() {
    if (finished_) return false;
    ::kill(pid_, SIGKILL);
    reap(0);
    return WIFSIGNALED(status_) && WTERMSIG(status_) == SIGKILL;
  }

  /// Waits for the end; the exit code, or -1 when a signal ended it.
  int wait(std::chrono::seconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!reap(WNOHANG)) {
      if (std::chrono::steady_clock::now() > end) {
        kill_now();
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }

 private:
  bool reap(int options) {
    if (finished_) return true;
    const pid_t done = ::waitpid(pid_, &status_, options);
    finished_ = done == pid_;
    return finished_;
  }

  std::string log_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool finished_ = false;
};

} // namespace fxnn::testing_support
