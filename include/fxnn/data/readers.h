#pragma once
// Readers of the official file formats. Each throws std::runtime_error whose message names the file
// (and the record, for a truncated or corrupt one).

#include <string>
#include <vector>

#include "fxnn/data/dataset.h"

namespace fxnn::data {

/// An IDX pair (idx3 ubyte images of any rows x cols, idx1 ubyte labels), gzipped or not: MNIST,
/// Fashion-MNIST or a user's own. Labels must lie in [0, num_classes); num_classes = 0 takes the class
/// count from the labels themselves (largest label + 1, at least 2): the generic `idx` data set.
ImageDataset read_idx(const std::string& images_file, const std::string& labels_file, int64_t num_classes = 10);

/// CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes (R, G, B planes of 32x32).
ImageDataset read_cifar10_binary(const std::vector<std::string>& files);

/// CIFAR-100 binary train.bin/test.bin: 1 coarse label byte, 1 fine label byte, 3072 pixel bytes.
ImageDataset read_cifar100_binary(const std::string& file, bool fine_labels);

/// SVHN cropped digits .mat (MATLAB v5, through matio): X uint8 32x32x3xN, y Nx1 with 1..10, 10 = digit 0.
ImageDataset read_svhn_mat(const std::string& file);

/// A folder of class sub-folders of JPEG images (<dir>/<class>/<name>.jpg), decoded with libturbojpeg.
/// Classes are the sub-folder names in sorted order (for CIFAR-10 that is its standard label order)
/// unless `class_names` gives the order. All images must have the same size and channel count.
ImageDataset read_jpeg_folder(const std::string& dir, const std::vector<std::string>& class_names = {});

/// What read_jpeg_folder(dir) would give, from the class folders and the JPEG headers alone (no
/// image is decoded): the channels (1 when every image is grayscale, else 3), the size of the first
/// image (read_jpeg_folder refuses a folder whose images differ in size) and the class count.
struct JpegFolderShape {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  int64_t num_classes = 0;
};
JpegFolderShape read_jpeg_folder_shape(const std::string& dir);

} // namespace fxnn::data
