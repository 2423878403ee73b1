#pragma once
// One writer per run directory: an advisory lock (flock) on DIR/.lock that dies with its process, so a
// killed run can be resumed at once while a second live writer is refused (docs/crash-safety.md).

#include <string>

namespace fxnn {

class DirectoryLock {
 public:
  /// Creates `dir` if needed and takes its lock. Throws std::runtime_error, one line naming the
  /// directory and the pid that holds it, when another live process does.
  explicit DirectoryLock(const std::string& dir);
  /// Releases the lock. A directory this lock created and nothing else wrote into (a run refused
  /// before its first file) is removed with it, so that a failed command leaves nothing behind.
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

  static constexpr const char* kLockFile = ".lock";

 private:
  std::string dir_;
  bool created_dir_ = false;
  int fd_ = -1;
};

} // namespace fxnn
