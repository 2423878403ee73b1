// CIFAR-10 / CIFAR-100 binary versions (https://www.cs.toronto.edu/~kriz/cifar.html, "Binary
// version"): fixed-size records of label byte(s) followed by 3072 pixel bytes, the 1024 red, then
// 1024 green, then 1024 blue values of a 32x32 image in row-major order, i.e. already [3, 32, 32].

#include <cstring>
#include <stdexcept>
#include <string>

#include "files.h"
#include "fxnn/data/readers.h"

namespace fxnn::data {
namespace {

constexpr int64_t kChannels = 3;
constexpr int64_t kSide = 32;
constexpr size_t kPixelBytes = kChannels * kSide * kSide;

/// How one record layout is read: `label_bytes` leading label bytes, of which byte `label_offset`
/// is the label used, valid below `label_limits[i]` for label byte i.
struct RecordLayout {
  size_t label_bytes;
  size_t label_offset;
  std::vector<int64_t> label_limits;
  size_t record_bytes() const { return label_bytes + kPixelBytes; }
};

/// Checks one file and returns its number of records.
int64_t check_records(const std::vector<uint8_t>& bytes, const RecordLayout& layout, const std::string& path) {
  const size_t rec = layout.record_bytes();
  const size_t whole = bytes.size() / rec;
  if (bytes.size() % rec != 0) {
    throw std::runtime_error(path + ": record " + std::to_string(whole) + " is truncated (" +
                             std::to_string(bytes.size() % rec) + " of " + std::to_string(rec) + " bytes)");
  }
  if (whole == 0) throw std::runtime_error(path + ": the file holds no records");
  for (size_t r = 0; r < whole; ++r) {
    for (size_t b = 0; b < layout.label_bytes; ++b) {
      const int64_t label = bytes[r * rec + b];
      if (label >= layout.label_limits[b]) {
        throw std::runtime_error(path + ": record " + std::to_string(r) + " has label " + std::to_string(label) +
                                 " (expected 0.." + std::to_string(layout.label_limits[b] - 1) + ")");
      }
    }
  }
  return static_cast<int64_t>(whole);
}

ImageDataset read_records(const std::vector<std::string>& files, const RecordLayout& layout, int64_t num_classes) {
  if (files.empty()) throw std::invalid_argument("no CIFAR binary files given");
  // All files are read before the output is allocated: its size is the sum of their record counts.
  std::vector<std::vector<uint8_t>> contents;
  std::vector<int64_t> counts;
  int64_t total = 0;
  for (const auto& path : files) {
    contents.push_back(detail::read_file_bytes(path));
    counts.push_back(check_records(contents.back(), layout, path));
    total += counts.back();
  }

  ImageDataset out;
  out.images = torch::empty({total, kChannels, kSide, kSide}, torch::kUInt8);
  out.labels = torch::empty({total}, torch::kInt64);
  auto* images = out.images.data_ptr<uint8_t>();
  auto* labels = out.labels.data_ptr<int64_t>();
  const size_t rec = layout.record_bytes();
  int64_t i = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    const uint8_t* record = contents[f].data();
    for (int64_t r = 0; r < counts[f]; ++r, ++i, record += rec) {
      labels[i] = record[layout.label_offset];
      std::memcpy(images + i * kPixelBytes, record + layout.label_bytes, kPixelBytes);
    }
    contents[f] = {}; // release each file as soon as it is copied
  }
  out.num_classes = num_classes;
  out.source = files.front();
  return out;
}

} // namespace

ImageDataset read_cifar10_binary(const std::vector<std::string>& files) {
  return read_records(files, RecordLayout{1, 0, {10}}, 10);
}

ImageDataset read_cifar100_binary(const std::string& file, bool fine_labels) {
  // Both label bytes are validated whichever is used: a bad one means a damaged record.
  const RecordLayout layout{2, fine_labels ? size_t{1} : size_t{0}, {20, 100}};
  return read_records({file}, layout, fine_labels ? 100 : 20);
}

} // namespace fxnn::data
