#include "files.h"

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

// zlib reads in chunks of at most INT_MAX bytes; 16 MiB keeps the buffer growth cheap.
constexpr size_t kReadChunk = size_t{16} << 20;
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
  if (!file) {
    throw std::runtime_error("cannot open '" + path + "': " + std::strerror(errno));
  }
  gzbuffer(file.get(), kGzBuffer);

  std::vector<uint8_t> bytes;
  // Enough for a plain file plus the final empty read, so that it is read without reallocation.
  bytes.reserve(ec ? kReadChunk : static_cast<size_t>(on_disk) + kReadChunk);
  size_t used = 0;
  for (;;) {
    if (bytes.size() - used < kReadChunk) bytes.resize(used + kReadChunk);
    const int got = gzread(file.get(), bytes.data() + used, static_cast<unsigned>(kReadChunk));
    if (got < 0) {
      throw std::runtime_error("cannot read '" + path + "': " + gz_message(file.get()));
    }
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
