#include "fxnn/io/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fxnn {

namespace {

constexpr char kTemporaryMark[] = ".tmp.";

/// The writer's pid of a name `NAME.tmp.<pid>`, or -1 for any other name.
long temporary_writer(const std::string& name) {
  const size_t mark = name.rfind(kTemporaryMark);
  if (mark == std::string::npos || mark == 0) return -1;
  const std::string digits = name.substr(mark + std::strlen(kTemporaryMark));
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stol(digits);
}

} // namespace

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  // POSIX calls rather than a stream, so that a failure names its cause (errno): a full disk (ENOSPC),
  // a file-size limit (EFBIG), a quota (EDQUOT).
  const auto fail = [&](const char* what, int error) {
    std::remove(tmp.c_str()); // never leave the temporary behind
    throw std::runtime_error(path + ": " + what + " (" + std::strerror(error) + ")");
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(path + ": cannot write (" + std::strerror(errno) + ")");
  for (size_t written = 0; written < content.size();) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      ::close(fd);
      fail("write failed", error);
    }
    written += static_cast<size_t>(n);
  }
  // The rename must not reach the disk before the data it points to.
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    fail("cannot flush to disk", error);
  }
  if (::close(fd) != 0) fail("write failed", errno);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot rename the temporary file (" + ec.message() + ")");
  }
}

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  // Serialized in memory first: a writer that fails halfway (LibTorch's archive writer aborts the process
  // when its stream breaks) only ever sees a string stream, and the file's own errors carry errno.
  std::ostringstream buffer(std::ios::binary);
  write(buffer);
  if (!buffer) throw std::runtime_error(path + ": could not serialize the content");
  write_file_atomic(path, buffer.str());
}

std::vector<std::string> remove_stale_temporaries(const std::string& dir) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const long pid = temporary_writer(name);
    // kill(pid, 0) fails with ESRCH only when no such process exists: that writer was killed.
    if (pid <= 0 || !it->is_regular_file() || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code remove_error;
    if (std::filesystem::remove(it->path(), remove_error)) removed.push_back(name);
  }
  if (ec) throw std::runtime_error(dir + ": cannot list the folder (" + ec.message() + ")");
  return removed;
}

std::string read_file(const std::string& path, size_t max_bytes, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open (" + std::strerror(errno) + ")");
  std::string text(max_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  const auto got = static_cast<size_t>(in.gcount());
  if (got > max_bytes)
    throw std::runtime_error(path + ": larger than " + std::to_string(max_bytes >> 10) + " KiB, the limit of " + what +
                             " (is it the right file?)");
  if (in.bad()) throw std::runtime_error(path + ": cannot read (" + std::strerror(errno) + ")");
  text.resize(got);
  return text;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open (" + std::strerror(errno) + ")");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

} // namespace fxnn
