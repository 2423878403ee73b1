// MNIST / Fashion-MNIST IDX files (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"):
// big-endian header [magic, dims...] followed by the uint8 data, row-major.

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "files.h"
#include "fxnn/data/readers.h"

namespace fxnn::data {
namespace {

// The magic number is 0x00000800 | (number of dimensions); 0x08 in byte 2 says "unsigned byte".
constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;
constexpr size_t kImagesHeader = 16; // magic, N, rows, cols
constexpr size_t kLabelsHeader = 8;  // magic, N

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

void check_magic(const std::vector<uint8_t>& bytes, size_t header, uint32_t magic, const std::string& path,
                 const char* what) {
  // The magic first: a file of the wrong kind is reported as such even when it is short.
  if (bytes.size() >= sizeof(uint32_t)) {
    const uint32_t found = detail::read_be32(bytes.data());
    if (found != magic) {
      throw std::runtime_error(path + ": magic number " + hex(found) + " is not that of IDX " + what + " (" +
                               hex(magic) + ")");
    }
  }
  if (bytes.size() < header) {
    throw std::runtime_error(path + ": " + std::to_string(bytes.size()) + " bytes are too few for an IDX " + what +
                             " header (" + std::to_string(header) + " bytes)");
  }
}

// `announced` is computed in 128 bits: a product of three uint32 header fields can overflow size_t,
// and a corrupt header must fail here rather than wrap around.
void check_size(const std::vector<uint8_t>& bytes, size_t header, unsigned __int128 announced, const std::string& what,
                const std::string& path) {
  const size_t held = bytes.size() - header;
  if (announced != held) {
    throw std::runtime_error(path + ": the header announces " + what + " but the file holds " + std::to_string(held) +
                             " data bytes" + (announced > held ? " (truncated)" : " (trailing bytes)"));
  }
}

/// The class count of a generic IDX data set: its largest label + 1. One class is no classifier.
int64_t classes_from_labels(const std::vector<uint8_t>& label_bytes, const std::string& labels_file) {
  uint8_t largest = 0;
  for (size_t i = kLabelsHeader; i < label_bytes.size(); ++i) largest = std::max(largest, label_bytes[i]);
  if (largest == 0) {
    throw std::runtime_error(labels_file + ": every label is 0; a classifier needs at least 2 classes");
  }
  return int64_t{largest} + 1;
}

} // namespace

ImageDataset read_idx(const std::string& images_file, const std::string& labels_file, int64_t num_classes) {
  const auto image_bytes = detail::read_file_bytes(images_file);
  check_magic(image_bytes, kImagesHeader, kImagesMagic, images_file, "images (idx3-ubyte)");
  const uint32_t n = detail::read_be32(image_bytes.data() + 4);
  const uint32_t rows = detail::read_be32(image_bytes.data() + 8);
  const uint32_t cols = detail::read_be32(image_bytes.data() + 12);
  if (rows == 0 || cols == 0) {
    throw std::runtime_error(images_file + ": image size " + std::to_string(rows) + "x" + std::to_string(cols) +
                             " is empty");
  }
  check_size(image_bytes, kImagesHeader, static_cast<unsigned __int128>(n) * rows * cols,
             std::to_string(n) + " images of " + std::to_string(rows) + "x" + std::to_string(cols) + " pixels",
             images_file);
  const size_t pixels = image_bytes.size() - kImagesHeader;

  const auto label_bytes = detail::read_file_bytes(labels_file);
  check_magic(label_bytes, kLabelsHeader, kLabelsMagic, labels_file, "labels (idx1-ubyte)");
  const uint32_t n_labels = detail::read_be32(label_bytes.data() + 4);
  if (n_labels != n) {
    throw std::runtime_error(labels_file + " holds " + std::to_string(n_labels) + " labels but " + images_file +
                             " holds " + std::to_string(n) + " images");
  }
  check_size(label_bytes, kLabelsHeader, n, std::to_string(n) + " labels", labels_file);
  if (num_classes <= 0) num_classes = classes_from_labels(label_bytes, labels_file);

  ImageDataset out;
  out.images = torch::empty({int64_t{n}, 1, int64_t{rows}, int64_t{cols}}, torch::kUInt8);
  std::memcpy(out.images.data_ptr<uint8_t>(), image_bytes.data() + kImagesHeader, pixels);
  out.labels = torch::empty({int64_t{n}}, torch::kInt64);
  auto* labels = out.labels.data_ptr<int64_t>();
  for (uint32_t i = 0; i < n; ++i) {
    const uint8_t label = label_bytes[kLabelsHeader + i];
    if (label >= num_classes) {
      throw std::runtime_error(labels_file + ": record " + std::to_string(i) + " has label " + std::to_string(label) +
                               " (expected 0.." + std::to_string(num_classes - 1) + ")");
    }
    labels[i] = label;
  }
  out.num_classes = num_classes;
  out.source = images_file;
  return out;
}

} // namespace fxnn::data
