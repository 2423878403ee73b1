// load_dataset: from a data set name, a folder and a format to the files of its official
// distribution, and the readers that read them.

#include "fxnn/data/dataset.h"

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "files.h"
#include "fxnn/data/readers.h"
#include "seeded_random.h"

namespace fxnn::data {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFashionMnistDefaultPath = "/usr/share/datasets/fashion-mnist";

/// What load_dataset knows about one data set. The generic sets (idx, folder) have no fixed shape:
/// num_classes = 0 says "read it from the files".
struct DatasetInfo {
  const char* name;
  const char* native_format; // the format of its official files
  SampleShape shape;         // its sample shape and class count (cifar100: the fine classes)
  bool generic() const { return shape.num_classes == 0; }
};

constexpr DatasetInfo kDatasets[] = {
    {"mnist", "idx", {1, 28, 28, 10}},
    {"fashion-mnist", "idx", {1, 28, 28, 10}},
    {"cifar10", "binary", {3, 32, 32, 10}},
    {"cifar100", "binary", {3, 32, 32, 100}},
    {"svhn", "mat", {3, 32, 32, 10}},
    {"idx", "idx", {}},
    {"folder", "jpeg", {}},
};
constexpr int64_t kCifar100CoarseClasses = 20;

const DatasetInfo& find_dataset(const std::string& name) {
  for (const auto& d : kDatasets) {
    if (name == d.name) return d;
  }
  throw std::invalid_argument("unknown data set '" + name +
                              "' (data.dataset): expected mnist, fashion-mnist, cifar10, cifar100, svhn, "
                              "idx or folder");
}

bool exists_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}
bool exists_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

/// `dir/name`, or `dir/name.gz` when only the gzipped file is there. Throws naming the file.
std::string idx_file(const fs::path& dir, const std::string& name) {
  if (exists_file(dir / name)) return (dir / name).string();
  if (exists_file(dir / (name + ".gz"))) return (dir / (name + ".gz")).string();
  throw std::runtime_error("file '" + (dir / name).string() + "(.gz)' does not exist");
}

std::string required_file(const fs::path& p) {
  if (!exists_file(p)) throw std::runtime_error("file '" + p.string() + "' does not exist");
  return p.string();
}

/// The folder holding the binary files: `path` itself or the sub-folder the official archive
/// unpacks to (cifar-10-batches-bin/, cifar-100-binary/).
fs::path binary_dir(const fs::path& path, const char* probe, const char* archive_folder) {
  if (!exists_file(path / probe) && exists_file(path / archive_folder / probe)) { return path / archive_folder; }
  return path;
}

bool has_native_files(const DatasetInfo& info, const fs::path& path) {
  const std::string name = info.name;
  if (name == "folder") return exists_dir(path / "train") && exists_dir(path / "test");
  if (name == "mnist" || name == "fashion-mnist" || name == "idx") {
    return exists_file(path / "train-images-idx3-ubyte") || exists_file(path / "train-images-idx3-ubyte.gz");
  }
  if (name == "cifar10") {
    return exists_file(binary_dir(path, "data_batch_1.bin", "cifar-10-batches-bin") / "data_batch_1.bin");
  }
  if (name == "cifar100") { return exists_file(binary_dir(path, "train.bin", "cifar-100-binary") / "train.bin"); }
  return exists_file(path / "train_32x32.mat"); // svhn
}

/// Option values are checked before the disk is touched, so a typo is reported as a typo.
void check_option_values(const DataOptions& options) {
  const std::string& format = options.format;
  if (format != "auto" && format != "idx" && format != "binary" && format != "mat" && format != "jpeg") {
    throw std::invalid_argument("unknown data format '" + format +
                                "' (data.format): expected auto, idx, binary, mat or jpeg");
  }
  const std::string& labels = options.cifar100_labels;
  if (labels != "fine" && labels != "coarse") {
    throw std::invalid_argument("unknown CIFAR-100 label kind '" + labels +
                                "' (data.cifar100_labels): expected fine or coarse");
  }
}

std::string pick_format(const DatasetInfo& info, const DataOptions& options, const fs::path& path) {
  const std::string& format = options.format;
  if (format == "auto") {
    if (has_native_files(info, path)) return info.native_format;
    if (info.generic()) {
      throw std::runtime_error("data folder '" + path.string() + "' holds no " +
                               (info.native_format == std::string("idx") ? "train-images-idx3-ubyte(.gz)"
                                                                         : "train/ and test/ JPEG class folders") +
                               " for the " + info.name + " data set (data.path)");
    }
    if (exists_dir(path / "train") && exists_dir(path / "test")) return "jpeg";
    throw std::runtime_error("data folder '" + path.string() + "' holds neither the " + info.native_format +
                             " files of " + info.name + " nor train/ and test/ JPEG class folders (data.path)");
  }
  if (info.generic() && format != info.native_format) {
    throw std::invalid_argument("data format '" + format + "' does not apply to the " + info.name +
                                " data set (data.format): expected auto or " + info.native_format);
  }
  if (format != "jpeg" && format != info.native_format) {
    throw std::invalid_argument("data format '" + format + "' does not apply to " + info.name +
                                " (data.format): expected auto, " + info.native_format + " or jpeg");
  }
  return format;
}

/// The two splits come from separate files (a generic set's, or JPEG folders), so nothing else makes
/// their images agree.
void check_same_shape(const ImageDataset& train, const ImageDataset& test) {
  if (train.images.sizes().slice(1) == test.images.sizes().slice(1)) return;
  const auto dims = [](const ImageDataset& d) {
    return std::to_string(d.channels()) + "x" + std::to_string(d.height()) + "x" + std::to_string(d.width());
  };
  throw std::runtime_error(test.source + ": images of " + dims(test) + " but the training images (" + train.source +
                           ") are " + dims(train));
}

/// A named set has its class count; a generic folder needs at least two classes to be a classifier.
void check_class_folders(const DatasetInfo& info, const fs::path& train_dir, int64_t found) {
  if (info.generic() ? found >= 2 : found == info.shape.num_classes) return;
  throw std::runtime_error("folder '" + train_dir.string() + "' has " + std::to_string(found) + " class folders but " +
                           info.name +
                           (info.generic() ? std::string(" needs at least 2 classes")
                                           : " has " + std::to_string(info.shape.num_classes) + " classes"));
}

DatasetSplits load_jpeg(const DatasetInfo& info, const fs::path& path) {
  const fs::path train_dir = path / "train";
  const fs::path test_dir = path / "test";
  for (const auto& dir : {train_dir, test_dir}) {
    if (!exists_dir(dir)) throw std::runtime_error("folder '" + dir.string() + "' does not exist");
  }
  // The test split uses the training split's classes, so a label means the same in both.
  const auto classes = detail::sorted_subfolders(train_dir.string());
  check_class_folders(info, train_dir, static_cast<int64_t>(classes.size()));
  DatasetSplits splits{read_jpeg_folder(train_dir.string(), classes), read_jpeg_folder(test_dir.string(), classes)};
  check_same_shape(splits.train, splits.test);
  return splits;
}

DatasetSplits load_native(const DatasetInfo& info, const DataOptions& options, const fs::path& path) {
  const std::string name = info.name;
  if (name == "mnist" || name == "fashion-mnist" || name == "idx") {
    // Named one by one: the first missing file is the one reported (argument order is unspecified).
    const auto train_images = idx_file(path, "train-images-idx3-ubyte");
    const auto train_labels = idx_file(path, "train-labels-idx1-ubyte");
    const auto test_images = idx_file(path, "t10k-images-idx3-ubyte");
    const auto test_labels = idx_file(path, "t10k-labels-idx1-ubyte");
    if (name != "idx") return {read_idx(train_images, train_labels), read_idx(test_images, test_labels)};
    // The generic set: the training labels give the class count, the test labels must lie within it.
    ImageDataset train = read_idx(train_images, train_labels, 0);
    ImageDataset test = read_idx(test_images, test_labels, train.num_classes);
    check_same_shape(train, test);
    return {std::move(train), std::move(test)};
  }
  if (name == "cifar10") {
    const fs::path dir = binary_dir(path, "data_batch_1.bin", "cifar-10-batches-bin");
    std::vector<std::string> train_files;
    for (int i = 1; i <= 5; ++i) {
      train_files.push_back(required_file(dir / ("data_batch_" + std::to_string(i) + ".bin")));
    }
    const auto test_file = required_file(dir / "test_batch.bin");
    return {read_cifar10_binary(train_files), read_cifar10_binary({test_file})};
  }
  if (name == "cifar100") {
    const bool fine = options.cifar100_labels == "fine";
    const fs::path dir = binary_dir(path, "train.bin", "cifar-100-binary");
    const auto train_file = required_file(dir / "train.bin");
    const auto test_file = required_file(dir / "test.bin");
    return {read_cifar100_binary(train_file, fine), read_cifar100_binary(test_file, fine)};
  }
  const auto train_file = required_file(path / "train_32x32.mat");
  const auto test_file = required_file(path / "test_32x32.mat");
  return {read_svhn_mat(train_file), read_svhn_mat(test_file)};
}

/// The folder of the data set's files: data.path, or the default of Fashion-MNIST. Throws naming a
/// folder that is not there.
std::string data_folder(const DataOptions& options) {
  std::string path = options.path;
  if (path.empty()) {
    if (options.dataset != "fashion-mnist") {
      throw std::invalid_argument("data set '" + options.dataset + "' has no default folder: set data.path");
    }
    path = kFashionMnistDefaultPath;
  }
  if (!exists_dir(path)) { throw std::runtime_error("data folder '" + path + "' does not exist (data.path)"); }
  return path;
}

} // namespace

SampleShape sample_shape(const DataOptions& options) {
  const DatasetInfo& info = find_dataset(options.dataset);
  check_option_values(options);
  if (!info.generic()) {
    SampleShape shape = info.shape;
    if (options.dataset == "cifar100" && options.cifar100_labels == "coarse")
      shape.num_classes = kCifar100CoarseClasses;
    return shape;
  }
  const std::string path = data_folder(options);
  const std::string format = pick_format(info, options, path);
  if (format == "jpeg") {
    const auto folder = read_jpeg_folder_shape((fs::path(path) / "train").string());
    check_class_folders(info, fs::path(path) / "train", folder.num_classes);
    return {folder.channels, folder.height, folder.width, folder.num_classes};
  }
  const fs::path dir(path);
  const ImageDataset train =
      read_idx(idx_file(dir, "train-images-idx3-ubyte"), idx_file(dir, "train-labels-idx1-ubyte"), 0);
  return {train.channels(), train.height(), train.width(), train.num_classes};
}

DatasetSplits load_dataset(const DataOptions& options) {
  const DatasetInfo& info = find_dataset(options.dataset);
  check_option_values(options);
  const std::string path = data_folder(options);
  const std::string format = pick_format(info, options, path);
  if (options.dataset == "cifar100" && format == "jpeg" && options.cifar100_labels != "fine") {
    throw std::invalid_argument("data.cifar100_labels = '" + options.cifar100_labels +
                                "' needs the binary files: JPEG class folders give one label each");
  }
  DatasetSplits splits = format == "jpeg" ? load_jpeg(info, path) : load_native(info, options, path);
  splits.train = random_subset(splits.train, options.train_limit, options.subset_seed);
  splits.test = random_subset(splits.test, options.test_limit, options.subset_seed);
  return splits;
}

ImageDataset random_subset(const ImageDataset& dataset, int64_t n, uint64_t seed) {
  const int64_t size = dataset.size();
  if (n <= 0 || n >= size) return dataset;
  // A partial Fisher-Yates shuffle draws n distinct indices; sorting them keeps the original order
  // (class-major data stays class-major), so the subset depends only on (seed, n, size).
  std::vector<int64_t> index(static_cast<size_t>(size));
  std::iota(index.begin(), index.end(), 0);
  detail::SplitMix64 rng(seed);
  for (int64_t i = 0; i < n; ++i) {
    const auto j = i + static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(size - i)));
    std::swap(index[i], index[j]);
  }
  index.resize(static_cast<size_t>(n));
  std::sort(index.begin(), index.end());
  const auto chosen = torch::from_blob(index.data(), {n}, torch::kInt64);
  ImageDataset out;
  out.images = dataset.images.index_select(0, chosen).contiguous();
  out.labels = dataset.labels.index_select(0, chosen).contiguous();
  out.num_classes = dataset.num_classes;
  out.source = dataset.source;
  return out;
}

ImageDataset first_samples(const ImageDataset& dataset, int64_t n) {
  if (n <= 0 || n >= dataset.size()) return dataset;
  ImageDataset first = dataset;
  first.images = dataset.images.narrow(0, 0, n);
  first.labels = dataset.labels.narrow(0, 0, n);
  return first;
}

} // namespace fxnn::data
