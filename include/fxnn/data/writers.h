#pragma once
// Writers of the official file formats, for sample data sets that exercise a pipeline end to end
// where the real data is not available (CIFAR-100 and SVHN here). The readers of readers.h read them.

#include <string>

#include "fxnn/data/dataset.h"

namespace fxnn::data {

/// CIFAR-10 binary batch (1 label byte + 3072 pixel bytes per record). Images must be [N, 3, 32, 32].
void write_cifar10_binary(const ImageDataset& dataset, const std::string& path);
/// CIFAR-100 binary file (coarse label, fine label, 3072 pixel bytes); `coarse` holds the coarse labels.
void write_cifar100_binary(const ImageDataset& dataset, const torch::Tensor& coarse, const std::string& path);
/// SVHN cropped-digits MATLAB v5 file: X uint8 32x32x3xN (column-major), y double Nx1 with 10 for the digit 0.
void write_svhn_mat(const ImageDataset& dataset, const std::string& path);

/// A learnable synthetic data set: every class has its own mean colour and a stripe pattern, plus
/// noise, so a network trained on it does better than chance. Deterministic in `seed`.
ImageDataset synthetic_images(int64_t n, int64_t channels, int64_t size, int64_t classes, uint64_t seed);

/// Writes train and test files of `dataset_name` (cifar10 | cifar100 | svhn) in the official layout into
/// `dir` (the files load_dataset looks for), with synthetic images. Every file is written atomically.
void write_sample_dataset(const std::string& dataset_name, const std::string& dir, int64_t train, int64_t test,
                          uint64_t seed);

} // namespace fxnn::data
