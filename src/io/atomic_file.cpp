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

/// fsync of a written file: the rename must not reach the disk before the data it points to.
bool sync_to_disk(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

/// The writer's pid of a name `NAME.tmp.<pid>`, or -1 for any other name.
long temporary_writer(const std::string& name) {
  const size_t mark = name.rfind(kTemporaryMark);
  if (mark == std::string::npos || mark == 0) return -1;
  const std::string digits = name.substr(mark + std::strlen(kTemporaryMark));
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stol(digits);
}

} // namespace

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(path + ": cannot write (" + std::strerror(errno) + ")");
    write(out);
    out.close();
    if (!out) throw std::runtime_error(path + ": write failed");
    if (!sync_to_disk(tmp)) throw std::runtime_error(path + ": cannot flush to disk (" + std::strerror(errno) + ")");
  } catch (...) {
    std::remove(tmp.c_str()); // never leave the temporary behind; the error goes on to the caller
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot rename the temporary file (" + ec.message() + ")");
  }
}

void write_file_atomic(const std::string& path, const std::string& content) {
  write_file_atomic(path, [&](std::ostream& out) { out << content; });
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

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open (" + std::strerror(errno) + ")");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

} // namespace fxnn
