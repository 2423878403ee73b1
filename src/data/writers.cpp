#include "fxnn/data/writers.h"

#include <matio.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "fxnn/io/atomic_file.h"

namespace fxnn::data {

namespace {

constexpr int64_t kCifarPixels = 3 * 32 * 32;

void check_cifar_shape(const ImageDataset& d, const std::string& path) {
  if (d.images.dim() != 4 || d.images.size(1) != 3 || d.images.size(2) != 32 || d.images.size(3) != 32)
    throw std::invalid_argument(path + ": CIFAR files hold 3x32x32 images");
}

std::string records(const ImageDataset& d, const torch::Tensor* coarse) {
  const auto images = d.images.contiguous();
  const auto* pixels = images.data_ptr<uint8_t>();
  const auto labels = d.labels.contiguous();
  std::string out;
  out.reserve(static_cast<size_t>(d.size() * (kCifarPixels + 2)));
  for (int64_t i = 0; i < d.size(); ++i) {
    if (coarse) out.push_back(static_cast<char>((*coarse)[i].item<int64_t>()));
    out.push_back(static_cast<char>(labels[i].item<int64_t>()));
    out.append(reinterpret_cast<const char*>(pixels + i * kCifarPixels), kCifarPixels);
  }
  return out;
}

} // namespace

void write_cifar10_binary(const ImageDataset& dataset, const std::string& path) {
  check_cifar_shape(dataset, path);
  write_file_atomic(path, records(dataset, nullptr));
}

void write_cifar100_binary(const ImageDataset& dataset, const torch::Tensor& coarse, const std::string& path) {
  check_cifar_shape(dataset, path);
  write_file_atomic(path, records(dataset, &coarse));
}

void write_svhn_mat(const ImageDataset& dataset, const std::string& path) {
  check_cifar_shape(dataset, path);
  const size_t n = static_cast<size_t>(dataset.size());
  // MATLAB stores X(h, w, c, i) column-major: h varies fastest.
  const auto x = dataset.images.permute({0, 1, 3, 2}).contiguous(); // [N, C, W, H]: H fastest, then W, C, N
  std::vector<double> y(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t label = dataset.labels[static_cast<int64_t>(i)].item<int64_t>();
    y[i] = label == 0 ? 10.0 : static_cast<double>(label);
  }
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  mat_t* mat = Mat_CreateVer(tmp.c_str(), nullptr, MAT_FT_MAT5);
  if (!mat) throw std::runtime_error(path + ": cannot create the MATLAB file");
  size_t x_dims[4] = {32, 32, 3, n};
  size_t y_dims[2] = {n, 1};
  matvar_t* xv = Mat_VarCreate("X", MAT_C_UINT8, MAT_T_UINT8, 4, x_dims, const_cast<uint8_t*>(x.data_ptr<uint8_t>()),
                               MAT_F_DONT_COPY_DATA);
  matvar_t* yv = Mat_VarCreate("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, y_dims, y.data(), MAT_F_DONT_COPY_DATA);
  const bool ok =
      xv && yv && Mat_VarWrite(mat, xv, MAT_COMPRESSION_NONE) == 0 && Mat_VarWrite(mat, yv, MAT_COMPRESSION_NONE) == 0;
  Mat_VarFree(xv);
  Mat_VarFree(yv);
  Mat_Close(mat);
  std::error_code ec;
  if (ok) std::filesystem::rename(tmp, path, ec);
  if (!ok || ec) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot write the MATLAB file");
  }
}

ImageDataset synthetic_images(int64_t n, int64_t channels, int64_t size, int64_t classes, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  ImageDataset d;
  d.num_classes = classes;
  d.source = "synthetic";
  d.labels = torch::randint(0, classes, {n}, gen, torch::kLong);
  const auto colours = torch::rand({classes, channels, 1, 1}, gen) * 160 + 48;
  const auto rows = torch::arange(size, torch::kFloat).view({1, 1, size, 1});
  // Stripes whose period depends on the class: a spatial feature, not only a colour.
  const auto period = (d.labels.to(torch::kFloat) % 7 + 2).view({n, 1, 1, 1});
  const auto stripes = 40 * torch::sin(rows * (6.2831853f / period));
  const auto noise = torch::randn({n, channels, size, size}, gen) * 30;
  d.images = (colours.index_select(0, d.labels) + stripes + noise).clamp(0, 255).to(torch::kUInt8).contiguous();
  return d;
}

void write_sample_dataset(const std::string& dataset_name, const std::string& dir, int64_t train, int64_t test,
                          uint64_t seed) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  const fs::path root(dir);
  if (dataset_name == "cifar10") {
    // Five training batches as in the official archive; the first holds the remainder.
    const auto all = synthetic_images(train, 3, 32, 10, seed);
    for (int64_t b = 0; b < 5; ++b) {
      const int64_t begin = b == 0 ? 0 : train - (5 - b) * (train / 5), end = train - (4 - b) * (train / 5);
      ImageDataset part{all.images.slice(0, begin, end), all.labels.slice(0, begin, end), 10, ""};
      write_cifar10_binary(part, (root / ("data_batch_" + std::to_string(b + 1) + ".bin")).string());
    }
    write_cifar10_binary(synthetic_images(test, 3, 32, 10, seed + 1), (root / "test_batch.bin").string());
  } else if (dataset_name == "cifar100") {
    for (const auto& [name, n, s] : {std::tuple{"train.bin", train, seed}, std::tuple{"test.bin", test, seed + 1}}) {
      const auto d = synthetic_images(n, 3, 32, 100, s);
      write_cifar100_binary(d, torch::floor_divide(d.labels, 5), (root / name).string()); // 20 superclasses of 5
    }
  } else if (dataset_name == "svhn") {
    write_svhn_mat(synthetic_images(train, 3, 32, 10, seed), (root / "train_32x32.mat").string());
    write_svhn_mat(synthetic_images(test, 3, 32, 10, seed + 1), (root / "test_32x32.mat").string());
  } else {
    throw std::invalid_argument("--dataset: no sample writer for '" + dataset_name + "' (cifar10, cifar100 or svhn)");
  }
}

} // namespace fxnn::data
