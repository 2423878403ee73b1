#pragma once
// File helpers shared by the readers (private to src/data).

#include <cstdint>
#include <string>
#include <vector>

namespace fxnn::data::detail {

/// The whole contents of `path`. gzip data is inflated on the fly (zlib passes plain files through
/// unchanged), so every reader accepts `.gz` files. Throws std::runtime_error naming the file when
/// it is missing or unreadable, or when its gzip stream is corrupt or truncated.
std::vector<uint8_t> read_file_bytes(const std::string& path);

/// A file mapped read-only into memory (not inflated): for checks that look at a few headers of a
/// large file without reading all of it. Throws std::runtime_error naming the file.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

/// The names of the sub-folders of `dir` in byte order (what `LC_ALL=C ls` prints), so that the
/// class order does not depend on the locale or the file system.
std::vector<std::string> sorted_subfolders(const std::string& dir);

/// Reads a big-endian 32-bit unsigned integer (IDX headers are big-endian).
inline uint32_t read_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

} // namespace fxnn::data::detail
