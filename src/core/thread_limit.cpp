#include "fxnn/core/thread_limit.h"

#include <algorithm>
#include <stdexcept>
#include <thread>

namespace fxnn {

int checked_thread_count(int64_t requested, const std::string& option) {
  const int64_t hardware = std::max(1u, std::thread::hardware_concurrency());
  if (requested < 0) throw std::invalid_argument(option + ": " + std::to_string(requested) + " threads: must be >= 0");
  if (requested > hardware * kThreadsPerHardwareThread)
    throw std::invalid_argument(option + ": " + std::to_string(requested) + " threads: at most " +
                                std::to_string(hardware * kThreadsPerHardwareThread) + " on this machine (" +
                                std::to_string(kThreadsPerHardwareThread) + " per hardware thread, " +
                                std::to_string(hardware) + " here)");
  return static_cast<int>(requested > 0 ? requested : hardware);
}

} // namespace fxnn
