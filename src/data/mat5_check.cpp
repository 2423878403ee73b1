#include "mat5_check.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace fxnn::data::detail {
namespace {

// MAT-File Format (The MathWorks, version 5), table "MAT-File Data Types" and "MATLAB Array Types".
constexpr uint32_t kMiInt8 = 1, kMiInt32 = 5, kMiUint32 = 6, kMiMatrix = 14, kMiCompressed = 15;
constexpr uint32_t kMxCell = 1, kMxStruct = 2, kMxChar = 4, kMxDouble = 6, kMxUint64 = 15;
constexpr uint32_t kComplexFlag = 0x0800;
constexpr size_t kHeaderBytes = 128;
constexpr size_t kTagBytes = 8;
// deflate's largest expansion is about 1032:1; with a margin for the stream's own overhead.
constexpr uint64_t kMaxInflation = 1032;
constexpr uint64_t kInflationSlack = 4096;
// Compressed numeric arrays are checked on their inflated beginning: tag, flags, dimensions, name and
// data tag; names and ranks beyond these limits are refused.
constexpr size_t kMaxRank = 32;
constexpr size_t kMaxName = 4096;
constexpr size_t kPrefixBytes = 256 + 4 * kMaxRank + kMaxName;
// More elements than this in one array is not a data set (and keeps the products below in 128 bits).
constexpr uint64_t kMaxElements = uint64_t{1} << 48;
// Cells and structs nest; deeper than this is not a data set.
constexpr int kMaxDepth = 16;

/// Bytes of one element of a MAT data type (0: not a numeric type).
size_t type_size(uint32_t type) {
  switch (type) {
    case 1:
    case 2:
    case 16: return 1; // miINT8, miUINT8, miUTF8
    case 3:
    case 4:
    case 17: return 2; // miINT16, miUINT16, miUTF16
    case 5:
    case 6:
    case 7:
    case 18: return 4; // miINT32, miUINT32, miSINGLE, miUTF32
    case 9:
    case 12:
    case 13: return 8; // miDOUBLE, miINT64, miUINT64
    default: return 0;
  }
}

size_t padded8(uint64_t n) { return static_cast<size_t>((n + 7) / 8 * 8); }

class Mat5Checker {
 public:
  Mat5Checker(std::string path, bool big_endian) : path_(std::move(path)), big_endian_(big_endian) {}

  /// The top-level elements of the file.
  void check_file(const uint8_t* data, size_t size) {
    size_t at = kHeaderBytes;
    while (at < size) {
      if (size - at < kTagBytes) fail(at, "a truncated element tag (" + std::to_string(size - at) + " bytes)");
      const uint32_t type = u32(data + at), bytes = u32(data + at + 4);
      if (bytes > size - at - kTagBytes)
        fail(at, "an element of " + std::to_string(bytes) + " bytes, but the file has " +
                     std::to_string(size - at - kTagBytes) + " after its tag");
      if (type == kMiMatrix)
        check_matrix(data + at + kTagBytes, bytes, bytes, at + kTagBytes, 0);
      else if (type == kMiCompressed)
        check_compressed(data + at + kTagBytes, bytes, at);
      // Other top-level types are skipped by matio, as by MATLAB.
      at += kTagBytes + (type == kMiCompressed ? bytes : std::min<size_t>(padded8(bytes), size - at - kTagBytes));
    }
  }

 private:
  /// One sub-element of a matrix: its type, its data and its size in the stream (tag and padding).
  struct Element {
    uint32_t type = 0;
    const uint8_t* data = nullptr;
    size_t bytes = 0;
    size_t stride = 0;
  };

  [[noreturn]] void fail(size_t offset, const std::string& what) const {
    throw std::runtime_error(path_ + ": not a valid MATLAB v5 file: at byte " + std::to_string(offset) + ", " + what);
  }

  uint32_t u32(const uint8_t* p) const {
    return big_endian_ ? (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3]
                       : (uint32_t{p[3]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[1]} << 8) | p[0];
  }

  /// The element at `data` of `available` bytes whose sizes are known (`declared`: the bytes the
  /// matrix's tag announced from here on, >= available for a checked prefix of compressed data).
  Element element(const uint8_t* data, size_t available, size_t declared, size_t offset, const char* what) const {
    if (available < kTagBytes || declared < kTagBytes) fail(offset, std::string("the matrix ends before its ") + what);
    Element e;
    const uint32_t first = u32(data);
    if (first >> 16 != 0) { // small data element: 2-byte size, 2-byte type, up to 4 bytes of data
      e.type = first & 0xffff;
      e.bytes = first >> 16;
      if (e.bytes > 4)
        fail(offset, std::string("a small ") + what + " element of " + std::to_string(e.bytes) + " bytes");
      e.data = data + 4;
      e.stride = kTagBytes;
      return e;
    }
    e.type = first;
    e.bytes = u32(data + 4);
    if (e.bytes > declared - kTagBytes)
      fail(offset, std::string("the ") + what + " takes " + std::to_string(e.bytes) + " bytes, the matrix has " +
                       std::to_string(declared - kTagBytes) + " left");
    e.data = data + kTagBytes;
    e.stride = std::min(kTagBytes + padded8(e.bytes), declared);
    return e;
  }

  /// A miMATRIX element's content of `available` bytes (all of it, or the inflated prefix of a
  /// compressed one), of `declared` bytes in all.
  void check_matrix(const uint8_t* data, size_t available, size_t declared, size_t offset, int depth) {
    if (depth > kMaxDepth) fail(offset, "cells or structs nested deeper than " + std::to_string(kMaxDepth));
    if (declared == 0) return; // an empty matrix element: matio reads it as an empty variable
    size_t at = 0;
    // Elements whose content is read must lie in `available`; a numeric part only needs its tag
    // there (its size is checked against `declared`).
    const auto next = [&](const char* what, bool content = true) {
      const Element e = element(data + at, available - at, declared - at, offset + at, what);
      if (content && e.stride > available - at) fail(offset + at, std::string("the ") + what + " goes past the data");
      at += e.stride;
      return e;
    };
    const Element flags = next("array flags");
    if (flags.type != kMiUint32 || flags.bytes != 8) fail(offset, "the array flags are not 8 bytes of miUINT32");
    const uint32_t flag_word = u32(flags.data), array_class = flag_word & 0xff;
    const Element dims = next("dimensions");
    if (dims.type != kMiInt32 || dims.bytes % 4 != 0 || dims.bytes < 8 || dims.bytes > 4 * kMaxRank)
      fail(offset, "the dimensions are not 2 to " + std::to_string(kMaxRank) + " miINT32 values");
    using Wide = unsigned __int128;
    Wide count = 1;
    for (size_t d = 0; d < dims.bytes / 4; ++d) {
      const auto dim = static_cast<int32_t>(u32(dims.data + 4 * d));
      if (dim < 0) fail(offset, "dimension " + std::to_string(d + 1) + " is negative (" + std::to_string(dim) + ")");
      count *= static_cast<uint32_t>(dim);
      if (count > kMaxElements) fail(offset, "the dimensions announce more than 2^48 elements");
    }
    const Element name = next("name");
    if (name.type != kMiInt8 || name.bytes > kMaxName)
      fail(offset, "the name is not miINT8 of at most " + std::to_string(kMaxName) + " bytes");
    if (array_class == kMxCell) {
      for (Wide k = 0; k < count; ++k) at += child(data + at, available - at, declared - at, offset + at, depth);
    } else if (array_class == kMxStruct) {
      const Element length = next("field name length");
      if (length.type != kMiInt32 || length.bytes != 4) fail(offset, "the field name length is not one miINT32");
      const uint32_t field_length = u32(length.data);
      const Element names = next("field names");
      if (names.type != kMiInt8 || (field_length == 0 ? names.bytes != 0 : names.bytes % field_length != 0))
        fail(offset, "the field names are not a multiple of the field name length " + std::to_string(field_length));
      const size_t fields = field_length == 0 ? 0 : names.bytes / field_length;
      for (Wide k = 0; k < count * fields; ++k)
        at += child(data + at, available - at, declared - at, offset + at, depth);
    } else if (array_class == kMxChar || (array_class >= kMxDouble && array_class <= kMxUint64)) {
      check_data(next("real part", false), count, offset);
      // The imaginary part is allocated like the real one (already bounded); checked when present.
      if ((flag_word & kComplexFlag) && at < available) check_data(next("imaginary part", false), count, offset);
    } else {
      fail(offset, "an array of class " + std::to_string(array_class) +
                       " (sparse, object or opaque arrays are not read; numeric, char, cell and struct are)");
    }
  }

  /// A numeric part must hold every element the dimensions announce: matio allocates them all.
  void check_data(const Element& part, unsigned __int128 count, size_t offset) const {
    const size_t size = type_size(part.type);
    if (size == 0) fail(offset, "the data has type " + std::to_string(part.type) + ", not a numeric type");
    if (count * size > part.bytes)
      fail(offset, "the dimensions announce " + std::to_string(static_cast<uint64_t>(count)) +
                       " elements, the data holds " + std::to_string(part.bytes / size));
  }

  /// One miMATRIX element inside a cell or struct; returns its size in the stream.
  size_t child(const uint8_t* data, size_t available, size_t declared, size_t offset, int depth) {
    if (available < kTagBytes || declared < kTagBytes) fail(offset, "the cell or struct ends before its elements");
    const uint32_t type = u32(data), bytes = u32(data + 4);
    if (type != kMiMatrix) fail(offset, "an element of a cell or struct is not a miMATRIX");
    if (bytes > declared - kTagBytes || bytes > available - kTagBytes)
      fail(offset, "an element of " + std::to_string(bytes) + " bytes goes past its cell or struct");
    check_matrix(data + kTagBytes, bytes, bytes, offset + kTagBytes, depth + 1);
    return kTagBytes + std::min(padded8(bytes), declared - kTagBytes);
  }

  /// A miCOMPRESSED element: its inflated form is one element whose announced size zlib's ratio
  /// must allow; a numeric array is checked on its inflated beginning, a cell or struct in full.
  void check_compressed(const uint8_t* data, size_t bytes, size_t offset) {
    const uint64_t limit = kMaxInflation * bytes + kInflationSlack;
    std::vector<uint8_t> head = inflate_prefix(data, bytes, kTagBytes + kPrefixBytes, offset);
    if (head.size() < kTagBytes) fail(offset, "the compressed element inflates to less than a tag");
    const uint32_t type = u32(head.data()), inner = u32(head.data() + 4);
    if (type != kMiMatrix)
      fail(offset, "the compressed element holds type " + std::to_string(type) + ", not a miMATRIX");
    if (inner > limit)
      fail(offset, "the compressed element announces " + std::to_string(inner) + " bytes, more than " +
                       std::to_string(bytes) + " compressed bytes can inflate to");
    const uint32_t array_class = head.size() >= kTagBytes + 16 ? u32(head.data() + kTagBytes + 8) & 0xff : 0;
    if (array_class == kMxCell || array_class == kMxStruct)
      head = inflate_prefix(data, bytes, kTagBytes + inner, offset);
    const size_t available = std::min<size_t>(head.size() - kTagBytes, inner);
    check_matrix(head.data() + kTagBytes, available, inner, offset + kTagBytes, 0);
  }

  /// Up to `want` bytes of the zlib stream's inflated data (less when the stream ends or breaks
  /// first: matio then reports the damage itself).
  std::vector<uint8_t> inflate_prefix(const uint8_t* data, size_t bytes, size_t want, size_t offset) const {
    std::vector<uint8_t> out(want);
    z_stream z{};
    if (inflateInit(&z) != Z_OK) fail(offset, "zlib cannot start");
    z.next_in = const_cast<Bytef*>(data);
    z.avail_in = static_cast<uInt>(bytes);
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(want);
    const int rc = inflate(&z, Z_SYNC_FLUSH);
    out.resize(z.total_out);
    inflateEnd(&z);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
      fail(offset, "the compressed element is not a valid zlib stream");
    return out;
  }

  std::string path_;
  bool big_endian_;
};

} // namespace

void check_mat5_file(const uint8_t* bytes, size_t size, const std::string& path) {
  static constexpr char kHdf5Text[] = "MATLAB 7.3 MAT-file";
  if (size >= sizeof kHdf5Text - 1 && std::memcmp(bytes, kHdf5Text, sizeof kHdf5Text - 1) == 0)
    throw std::runtime_error(path + ": a MATLAB 7.3 (HDF5) file; save it as a v7 file (save -v7), which fxnn reads");
  if (size < kHeaderBytes)
    throw std::runtime_error(path + ": not a MATLAB v5 file (" + std::to_string(size) +
                             " bytes, fewer than its 128-byte header)");
  const bool little = bytes[126] == 'I' && bytes[127] == 'M', big = bytes[126] == 'M' && bytes[127] == 'I';
  if (!little && !big)
    throw std::runtime_error(path + ": not a MATLAB v5 file (no endian indicator 'IM' or 'MI' at byte 126)");
  const unsigned version = little ? bytes[124] | (bytes[125] << 8) : (bytes[124] << 8) | bytes[125];
  if (version != 0x0100)
    throw std::runtime_error(path + ": MAT-file version " + std::to_string(version) + " (expected 0x0100, MATLAB v5)");
  Mat5Checker(path, big).check_file(bytes, size);
}

} // namespace fxnn::data::detail
