#include "fxnn/io/directory_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace fxnn {

DirectoryLock::DirectoryLock(const std::string& dir) : dir_(dir) {
  std::error_code ec;
  created_dir_ = std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error(dir + ": cannot create the directory (" + ec.message() + ")");
  const std::string path = (std::filesystem::path(dir) / kLockFile).string();
  // O_CLOEXEC: programs the run starts (a compiler, a re-executed fxnn) must not inherit the lock.
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error(path + ": cannot open the lock (" + std::strerror(errno) + ")");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char holder[32] = {0};
    const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (error != EWOULDBLOCK) throw std::runtime_error(path + ": cannot lock (" + std::strerror(error) + ")");
    const std::string pid = n > 0 ? std::string(holder, static_cast<size_t>(n)) : std::string("?");
    throw std::runtime_error(dir + ": another fxnn process (pid " + pid.substr(0, pid.find('\n')) +
                             ") is writing this run; wait for it to finish or stop it");
  }
  // Who holds it, for a second writer's message; the lock is the flock, so a failure here loses only that.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
}

DirectoryLock::~DirectoryLock() {
  if (fd_ < 0) return;
  if (created_dir_) {
    // Only the lock file inside: remove it while still holding the lock, then the empty directory.
    std::error_code ec;
    const std::filesystem::path lock = std::filesystem::path(dir_) / kLockFile;
    auto entries = std::filesystem::directory_iterator(dir_, ec);
    const bool only_lock =
        !ec && std::all_of(begin(entries), end(entries), [&](const auto& e) { return e.path() == lock; });
    if (only_lock && std::filesystem::remove(lock, ec)) std::filesystem::remove(dir_, ec);
  }
  ::close(fd_); // closing releases the flock
}

} // namespace fxnn
