#include "fxnn/train/launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <thread>

#include "fxnn/core/thread_limit.h"

namespace fxnn {

namespace {

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    throw std::runtime_error("launch: cannot find a free port on 127.0.0.1");
  const int port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

std::string self_executable() {
  char buffer[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  if (n <= 0) throw std::runtime_error("launch: cannot find the fxnn executable (/proc/self/exe)");
  return std::string(buffer, static_cast<size_t>(n));
}

/// After SIGTERM, a rank gets this long to stop before SIGKILL (a stopped process ignores SIGTERM).
constexpr std::chrono::seconds kKillDelay{5};

pid_t spawn(const std::vector<std::string>& argv) {
  const pid_t launcher = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("launch: fork failed");
  if (pid == 0) {
    // The launcher's death, however it comes (SIGKILL included), takes its ranks down with it; a
    // launcher that died before this line is noticed by the parent check.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != launcher) ::_exit(1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "fxnn: error: launch: cannot run %s\n", args[0]);
    ::_exit(127);
  }
  return pid;
}

} // namespace

int launch_ranks(const LaunchOptions& options) {
  if (options.processes < 1) throw std::invalid_argument("--nproc must be >= 1");
  checked_thread_count(options.processes, "--nproc"); // processes, like threads, beyond what the machine can run
  if (options.command.empty()) throw std::invalid_argument("launch: give the command after --, e.g. -- fxnn train ...");
  const int port = options.port > 0 ? options.port : free_port();
  std::set<pid_t> running;
  for (int rank = 0; rank < options.processes; ++rank) {
    std::vector<std::string> argv = options.command;
    if (argv[0] == "fxnn") argv[0] = self_executable();
    argv.insert(argv.end(), {"--world-size", std::to_string(options.processes), "--rank", std::to_string(rank),
                             "--master", "127.0.0.1:" + std::to_string(port)});
    running.insert(spawn(argv));
  }
  using Clock = std::chrono::steady_clock;
  int result = 0;
  Clock::time_point failed_at, terminated_at;
  bool terminated = false, killed = false;
  while (!running.empty()) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      running.erase(pid);
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (code != 0 && result == 0) {
        result = code;
        failed_at = Clock::now();
      }
      continue;
    }
    const auto now = Clock::now();
    if (result != 0 && !terminated && now - failed_at > std::chrono::seconds(options.grace_seconds)) {
      for (pid_t child : running) {
        ::kill(child, SIGTERM);
        ::kill(child, SIGCONT); // a stopped process acts on SIGTERM only once continued
      }
      terminated = true;
      terminated_at = now;
    }
    if (terminated && !killed && now - terminated_at > kKillDelay) {
      for (pid_t child : running) ::kill(child, SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return result;
}

} // namespace fxnn
