#include "files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <system_error>

namespace fxnn::data::detail {
namespace {

namespace fs = std::filesystem;

// zlib reads in chunks of at most INT_MAX bytes; up to 16 MiB keeps the buffer growth cheap, and
// small files start with small chunks (the buffer is zero-filled as it grows).
constexpr size_t kReadChunk = size_t{16} << 20;
constexpr size_t kFirstChunk = size_t{64} << 10;
// A larger zlib input buffer than the 8 KiB default roughly halves the time spent in read().
constexpr unsigned kGzBuffer = 1u << 20;

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

std::string gz_message(gzFile file) {
  int errnum = Z_OK;
  const char* msg = gzerror(file, &errnum);
  if (errnum == Z_ERRNO) return std::strerror(errno);
  return msg != nullptr ? msg : "unknown zlib error";
}

} // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    throw std::runtime_error("file '" + path + "' does not exist or is not a regular file");
  }
  const auto on_disk = fs::file_size(path, ec);
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  if (!file) { throw std::runtime_error("cannot open '" + path + "': " + std::strerror(errno)); }
  gzbuffer(file.get(), kGzBuffer);

  std::vector<uint8_t> bytes;
  // A plain file fits the first allocation (its size, plus a byte for the final empty read); for
  // gzip data, whose inflated size is unknown, the buffer doubles, by at most kReadChunk at a time.
  size_t chunk = ec ? kFirstChunk : std::max(static_cast<size_t>(on_disk) + 1, kFirstChunk);
  size_t used = 0;
  for (;;) {
    if (used == bytes.size()) {
      bytes.resize(used + chunk);
      chunk = std::min(std::max(chunk, bytes.size()), kReadChunk);
    }
    const size_t room = std::min(bytes.size() - used, kReadChunk);
    const int got = gzread(file.get(), bytes.data() + used, static_cast<unsigned>(room));
    if (got < 0) { throw std::runtime_error("cannot read '" + path + "': " + gz_message(file.get())); }
    used += static_cast<size_t>(got);
    if (got == 0) break;
  }
  // A gzip stream that ends early is reported here (Z_BUF_ERROR), not by gzread's return value.
  int errnum = Z_OK;
  gzerror(file.get(), &errnum);
  if (errnum != Z_OK) {
    throw std::runtime_error("cannot read '" + path + "': " + gz_message(file.get()) +
                             " (truncated or corrupt gzip data)");
  }
  bytes.resize(used);
  return bytes;
}

MappedFile::MappedFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error("cannot open '" + path + "': " + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw std::runtime_error("file '" + path + "' does not exist or is not a regular file");
  }
  size_ = static_cast<size_t>(info.st_size);
  if (size_ > 0) {
    void* map = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      const int error = errno;
      ::close(fd);
      throw std::runtime_error("cannot map '" + path + "': " + std::strerror(error));
    }
    data_ = static_cast<const uint8_t*>(map);
  }
  ::close(fd); // the mapping stays valid
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

std::vector<std::string> sorted_subfolders(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (!name.empty() && name[0] != '.' && it->is_directory()) names.push_back(name);
  }
  if (ec) throw std::runtime_error("cannot list folder '" + dir + "': " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

} // namespace fxnn::data::detail
