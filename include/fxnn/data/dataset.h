#pragma once
// A labelled image data set held in memory, and the options that say which one to load.

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace fxnn::data {

/// Images as uint8 pixels [N, C, H, W] (contiguous, CPU) and int64 labels [N] in [0, num_classes).
struct ImageDataset {
  torch::Tensor images;
  torch::Tensor labels;
  int64_t num_classes = 0;
  std::string source; // the file or folder it was read from, for messages

  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  int64_t channels() const { return images.size(1); }
  int64_t height() const { return images.size(2); }
  int64_t width() const { return images.size(3); }
};

struct DatasetSplits {
  ImageDataset train;
  ImageDataset test;
};

/// Which data set to load and from where. Filled from the `data:` section of a config.
struct DataOptions {
  /// mnist | fashion-mnist | cifar10 | cifar100 | svhn: the named sets, whose shapes and class
  /// counts are known; idx | folder: a user's own IDX files or JPEG class folders, whose shape,
  /// channels and class count are read from the files (docs/datasets.md).
  std::string dataset = "fashion-mnist";
  /// Folder holding the files. Empty: the data set's default (/usr/share/datasets/fashion-mnist
  /// for fashion-mnist; no default for the others).
  std::string path;
  /// auto | idx | binary | mat | jpeg. auto picks by the files found in `path`.
  std::string format = "auto";
  /// cifar100 only: fine (100 classes) or coarse (20 superclasses) labels.
  std::string cifar100_labels = "fine";
  /// Use a seeded random subset of this many samples (0 = all). For quick runs and tests.
  int64_t train_limit = 0;
  int64_t test_limit = 0;
  uint64_t subset_seed = 0;
};

/// One sample's shape and the number of classes of a data set.
struct SampleShape {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  int64_t num_classes = 0;
};

/// The sample shape and class count load_dataset(options) gives: constants for the named data sets
/// (no file is read), read from the training split's files for idx (the headers and the labels) and
/// folder (the class folders and the JPEG headers). Throws as load_dataset does.
SampleShape sample_shape(const DataOptions& options);

/// Loads train and test splits as the options say. Throws std::runtime_error naming the folder,
/// file and record on a missing, corrupt or truncated file.
DatasetSplits load_dataset(const DataOptions& options);

/// A seeded random subset of n samples (all of them, in order, if n <= 0 or n >= size()).
ImageDataset random_subset(const ImageDataset& dataset, int64_t n, uint64_t seed);

/// The first n samples (all of them if n <= 0 or n >= size()): `--limit N` of the commands that
/// evaluate a network on a test split.
ImageDataset first_samples(const ImageDataset& dataset, int64_t n);

} // namespace fxnn::data
