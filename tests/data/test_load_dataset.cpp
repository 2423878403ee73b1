#include <gtest/gtest.h>

#include <chrono>

#include "../support/data_files.h"
#include "fxnn/data/dataset.h"

namespace fxnn::data {
namespace {

using testing::error_of;

void write_idx_set(const testing::ScratchDir& dir, uint32_t train, uint32_t test, bool gz) {
  const auto write = gz ? testing::write_gzip : testing::write_bytes;
  const std::string ext = gz ? ".gz" : "";
  write(dir / ("train-images-idx3-ubyte" + ext), testing::idx_images(train));
  write(dir / ("train-labels-idx1-ubyte" + ext), testing::idx_labels(train));
  write(dir / ("t10k-images-idx3-ubyte" + ext), testing::idx_images(test));
  write(dir / ("t10k-labels-idx1-ubyte" + ext), testing::idx_labels(test));
}

void write_cifar10_set(const std::string& dir) {
  for (int i = 1; i <= 5; ++i) {
    testing::write_bytes(dir + "/data_batch_" + std::to_string(i) + ".bin",
                         testing::cifar_records({{uint8_t(i)}, {uint8_t(i + 1)}}));
  }
  testing::write_bytes(dir + "/test_batch.bin", testing::cifar_records({{0}, {9}, {5}}));
}

TEST(LoadDataset, ReadsIdxFolders) {
  for (bool gz : {true, false}) {
    testing::ScratchDir dir;
    write_idx_set(dir, 6, 4, gz);
    for (const char* name : {"mnist", "fashion-mnist"}) {
      for (const char* format : {"auto", "idx"}) {
        auto o = testing::data_options(name, dir.str());
        o.format = format;
        const auto splits = load_dataset(o);
        EXPECT_EQ(splits.train.size(), 6);
        EXPECT_EQ(splits.test.size(), 4);
        EXPECT_EQ(splits.train.images.sizes(), (std::vector<int64_t>{6, 1, 28, 28}));
        EXPECT_EQ(splits.test.source, dir / (gz ? "t10k-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte"));
      }
    }
  }
}

TEST(LoadDataset, ReadsCifar10BinaryAlsoInTheArchiveFolder) {
  testing::ScratchDir dir;
  write_cifar10_set(dir / "cifar-10-batches-bin");
  const auto splits = load_dataset(testing::data_options("cifar10", dir.str()));
  EXPECT_EQ(splits.train.size(), 10);
  EXPECT_EQ(splits.test.size(), 3);
  EXPECT_EQ(splits.train.num_classes, 10);
  EXPECT_EQ(splits.train.labels[9].item<int64_t>(), 6);
  EXPECT_EQ(splits.test.images.sizes(), (std::vector<int64_t>{3, 3, 32, 32}));

  std::filesystem::remove(dir / "cifar-10-batches-bin/data_batch_3.bin");
  const auto msg = error_of([&] { load_dataset(testing::data_options("cifar10", dir.str())); });
  EXPECT_NE(msg.find(dir / "cifar-10-batches-bin/data_batch_3.bin"), std::string::npos) << msg;
}

TEST(LoadDataset, ReadsCifar100FineOrCoarse) {
  testing::ScratchDir dir;
  testing::write_bytes(dir / "cifar-100-binary/train.bin", testing::cifar_records({{3, 33}, {4, 44}}));
  testing::write_bytes(dir / "cifar-100-binary/test.bin", testing::cifar_records({{5, 55}}));
  auto o = testing::data_options("cifar100", dir.str());
  auto splits = load_dataset(o);
  EXPECT_EQ(splits.train.num_classes, 100);
  EXPECT_EQ(splits.train.labels[1].item<int64_t>(), 44);
  o.cifar100_labels = "coarse";
  o.format = "binary";
  splits = load_dataset(o);
  EXPECT_EQ(splits.test.num_classes, 20);
  EXPECT_EQ(splits.test.labels[0].item<int64_t>(), 5);
  o.cifar100_labels = "medium";
  EXPECT_THROW(load_dataset(o), std::invalid_argument);
}

TEST(LoadDataset, ReadsSvhnMatFiles) {
  testing::ScratchDir dir;
  testing::write_svhn_mat(dir / "train_32x32.mat", 3, {10, 2, 3});
  testing::write_svhn_mat(dir / "test_32x32.mat", 2, {1, 10});
  const auto splits = load_dataset(testing::data_options("svhn", dir.str()));
  EXPECT_EQ(splits.train.size(), 3);
  EXPECT_EQ(splits.test.size(), 2);
  EXPECT_EQ(splits.train.labels[0].item<int64_t>(), 0);
  EXPECT_EQ(splits.test.labels[1].item<int64_t>(), 0);
  std::filesystem::remove(dir / "test_32x32.mat");
  const auto msg = error_of([&] { load_dataset(testing::data_options("svhn", dir.str())); });
  EXPECT_NE(msg.find(dir / "test_32x32.mat"), std::string::npos) << msg;
}

TEST(LoadDataset, AutoPicksJpegFoldersForCifar10) {
  testing::ScratchDir dir;
  const char* classes[] = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  for (int c = 0; c < 10; ++c) {
    for (const char* split : {"train", "test"}) {
      testing::write_jpeg(dir / (std::string(split) + "/" + classes[c] + "/0000.jpg"),
                          testing::flat_rgb(32, 32, uint8_t(20 * c), 0, 0), 32, 32, 3);
    }
  }
  testing::write_jpeg(dir / "train/truck/0001.jpg", testing::flat_rgb(32, 32, 1, 1, 1), 32, 32, 3);
  for (const char* format : {"auto", "jpeg"}) {
    auto o = testing::data_options("cifar10", dir.str());
    o.format = format;
    const auto splits = load_dataset(o);
    EXPECT_EQ(splits.train.size(), 11);
    EXPECT_EQ(splits.test.size(), 10);
    EXPECT_EQ(splits.train.num_classes, 10);
    EXPECT_EQ(splits.test.labels[9].item<int64_t>(), 9); // truck
    EXPECT_EQ(splits.train.images.sizes(), (std::vector<int64_t>{11, 3, 32, 32}));
  }
  // With the binary files also there, auto prefers them.
  write_cifar10_set(dir.str());
  EXPECT_EQ(load_dataset(testing::data_options("cifar10", dir.str())).train.size(), 10);
  // A class folder too many is not CIFAR-10.
  testing::write_jpeg(dir / "train/zebra/0.jpg", testing::flat_rgb(32, 32, 1, 1, 1), 32, 32, 3);
  auto o = testing::data_options("cifar10", dir.str());
  o.format = "jpeg";
  EXPECT_NE(error_of([&] { load_dataset(o); }).find("11 class folders"), std::string::npos);
}

TEST(LoadDataset, NamesMissingFoldersAndFiles) {
  testing::ScratchDir dir;
  const std::string missing = dir / "x/y";
  EXPECT_EQ(error_of([&] { load_dataset(testing::data_options("cifar10", missing)); }),
            "data folder '" + missing + "' does not exist (data.path)");
  // An empty folder: auto finds nothing and says where it looked.
  auto msg = error_of([&] { load_dataset(testing::data_options("mnist", dir.str())); });
  EXPECT_NE(msg.find(dir.str()), std::string::npos) << msg;
  auto o = testing::data_options("mnist", dir.str());
  o.format = "idx";
  msg = error_of([&] { load_dataset(o); });
  EXPECT_NE(msg.find(dir / "train-images-idx3-ubyte"), std::string::npos) << msg;
  write_idx_set(dir, 2, 2, true);
  std::filesystem::remove(dir / "t10k-labels-idx1-ubyte.gz");
  msg = error_of([&] { load_dataset(o); });
  EXPECT_NE(msg.find(dir / "t10k-labels-idx1-ubyte"), std::string::npos) << msg;
}

TEST(LoadDataset, RejectsUnknownNames) {
  testing::ScratchDir dir;
  try {
    load_dataset(testing::data_options("imagenet", dir.str()));
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'imagenet'"), std::string::npos) << e.what();
  }
  auto o = testing::data_options("mnist", dir.str());
  o.format = "png";
  try {
    load_dataset(o);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'png'"), std::string::npos) << e.what();
  }
  o.format = "mat"; // a real format, but not MNIST's
  EXPECT_THROW(load_dataset(o), std::invalid_argument);
  EXPECT_THROW(load_dataset(testing::data_options("cifar10", "")), std::invalid_argument); // no default path
}

TEST(LoadDataset, AppliesSeededLimits) {
  testing::ScratchDir dir;
  write_idx_set(dir, 50, 20, false);
  auto o = testing::data_options("mnist", dir.str());
  o.train_limit = 7;
  o.test_limit = 3;
  o.subset_seed = 11;
  const auto a = load_dataset(o);
  EXPECT_EQ(a.train.size(), 7);
  EXPECT_EQ(a.test.size(), 3);
  const auto b = load_dataset(o);
  EXPECT_TRUE(torch::equal(a.train.images, b.train.images));
  EXPECT_TRUE(torch::equal(a.train.labels, b.train.labels));
  o.subset_seed = 12;
  EXPECT_FALSE(torch::equal(a.train.images, load_dataset(o).train.images));
}

TEST(RandomSubset, KeepsPairsAndOrder) {
  ImageDataset ds;
  ds.images = torch::arange(100, torch::kUInt8).reshape({100, 1, 1, 1});
  ds.labels = torch::arange(100, torch::kInt64);
  ds.num_classes = 100;
  const auto sub = random_subset(ds, 30, 5);
  ASSERT_EQ(sub.size(), 30);
  EXPECT_TRUE(torch::equal(sub.images.flatten().to(torch::kInt64), sub.labels)); // pairs intact
  const auto l = sub.labels;
  EXPECT_TRUE(torch::all(l.slice(0, 1) > l.slice(0, 0, 29)).item<bool>()); // distinct, in order
  EXPECT_EQ(random_subset(ds, 0, 5).size(), 100);
  EXPECT_EQ(random_subset(ds, 100, 5).size(), 100);
  EXPECT_EQ(random_subset(ds, 500, 5).size(), 100);
  EXPECT_FALSE(torch::equal(sub.labels, random_subset(ds, 30, 6).labels));
}

TEST(LoadDataset, ReadsTheRealFashionMnist) {
  const std::string path = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(path + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST is not installed at " << path;
  }
  const auto start = std::chrono::steady_clock::now();
  const auto splits = load_dataset(DataOptions{}); // the default: fashion-mnist from its default path
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("Fashion-MNIST loaded in %.2f s\n", seconds);
  EXPECT_EQ(splits.train.images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(splits.test.images.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  // Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
  EXPECT_TRUE(torch::equal(torch::bincount(splits.train.labels), torch::full({10}, 6000, torch::kInt64)));
  EXPECT_TRUE(torch::equal(torch::bincount(splits.test.labels), torch::full({10}, 1000, torch::kInt64)));
  EXPECT_GT(splits.train.images.max().item<uint8_t>(), 200); // real pixels, not zeros
}

TEST(LoadDataset, ReadsTheRealCifar10Jpeg) {
  // The project's shared data folder sits next to the repository (configs use
  // ../shared/data/cifar10-jpeg from the repository root).
  const auto path =
      std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "../shared/data/cifar10-jpeg";
  if (!std::filesystem::is_directory(path / "train")) { GTEST_SKIP() << "cifar10-jpeg is not at " << path; }
  const auto start = std::chrono::steady_clock::now();
  const auto splits = load_dataset(testing::data_options("cifar10", path.string()));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("cifar10-jpeg loaded in %.2f s\n", seconds);
  EXPECT_EQ(splits.train.images.sizes(), (std::vector<int64_t>{50000, 3, 32, 32}));
  EXPECT_EQ(splits.test.images.sizes(), (std::vector<int64_t>{10000, 3, 32, 32}));
  EXPECT_TRUE(torch::equal(torch::bincount(splits.train.labels), torch::full({10}, 5000, torch::kInt64)));
  EXPECT_TRUE(torch::equal(torch::bincount(splits.test.labels), torch::full({10}, 1000, torch::kInt64)));
  // Colour images: the channels differ (a gray or channel-collapsed decode would make them equal).
  EXPECT_FALSE(torch::equal(splits.train.images.select(1, 0), splits.train.images.select(1, 2)));
}

} // namespace
} // namespace fxnn::data
