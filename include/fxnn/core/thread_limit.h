#pragma once
// Thread counts a person asks for (--threads, train.threads): 0 means one per hardware thread, and
// more than a few per hardware thread only slows a run down until the machine stalls
// (docs/crash-safety.md, "Limits").

#include <cstdint>
#include <string>

namespace fxnn {

/// Threads allowed per hardware thread.
inline constexpr int kThreadsPerHardwareThread = 4;

/// The thread count to use for `requested` (0: one per hardware thread). Throws std::invalid_argument,
/// one line naming `option`, for a negative count or more than kThreadsPerHardwareThread per hardware thread.
int checked_thread_count(int64_t requested, const std::string& option);

} // namespace fxnn
