#include <gtest/gtest.h>

#include "../support/data_files.h"
#include "fxnn/data/readers.h"

namespace fxnn::data {
namespace {

using testing::Bytes;
using testing::error_of;
using testing::pattern;

void expect_images(const ImageDataset& ds, int64_t n) {
  ASSERT_EQ(ds.images.sizes(), (std::vector<int64_t>{n, 3, 32, 32}));
  ASSERT_TRUE(ds.images.is_contiguous());
  const auto img = ds.images.accessor<uint8_t, 4>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t h = 0; h < 32; ++h)
        for (int64_t w = 0; w < 32; ++w) ASSERT_EQ(img[i][c][h][w], pattern(i, c, h, w));
}

std::vector<int64_t> labels_of(const ImageDataset& ds) {
  return {ds.labels.data_ptr<int64_t>(), ds.labels.data_ptr<int64_t>() + ds.size()};
}

TEST(CifarReader, ReadsCifar10BatchesInOrder) {
  testing::ScratchDir dir;
  testing::write_bytes(dir / "data_batch_1.bin", testing::cifar_records({{3}, {9}, {0}}));
  testing::write_bytes(dir / "data_batch_2.bin", testing::cifar_records({{7}, {1}}, 3));
  const auto ds = read_cifar10_binary({dir / "data_batch_1.bin", dir / "data_batch_2.bin"});
  expect_images(ds, 5);
  EXPECT_EQ(labels_of(ds), (std::vector<int64_t>{3, 9, 0, 7, 1}));
  EXPECT_EQ(ds.num_classes, 10);
  EXPECT_EQ(ds.source, dir / "data_batch_1.bin");
}

TEST(CifarReader, ReadsCifar100FineOrCoarse) {
  testing::ScratchDir dir;
  testing::write_bytes(dir / "train.bin", testing::cifar_records({{19, 99}, {0, 0}, {4, 42}}));
  const auto fine = read_cifar100_binary(dir / "train.bin", true);
  expect_images(fine, 3);
  EXPECT_EQ(labels_of(fine), (std::vector<int64_t>{99, 0, 42}));
  EXPECT_EQ(fine.num_classes, 100);
  const auto coarse = read_cifar100_binary(dir / "train.bin", false);
  EXPECT_EQ(labels_of(coarse), (std::vector<int64_t>{19, 0, 4}));
  EXPECT_EQ(coarse.num_classes, 20);
}

TEST(CifarReader, NamesTheTruncatedRecord) {
  testing::ScratchDir dir;
  const Bytes records = testing::cifar_records({{1}, {2}, {3}});
  testing::write_bytes(dir / "data_batch_1.bin", Bytes(records.begin(), records.end() - 1873));
  const auto msg = error_of([&] { read_cifar10_binary({dir / "data_batch_1.bin"}); });
  EXPECT_NE(msg.find(dir / "data_batch_1.bin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("record 2 is truncated (1200 of 3073 bytes)"), std::string::npos) << msg;

  const Bytes records100 = testing::cifar_records({{1, 1}, {2, 2}});
  testing::write_bytes(dir / "test.bin", Bytes(records100.begin(), records100.end() - 1));
  const auto msg100 = error_of([&] { read_cifar100_binary(dir / "test.bin", true); });
  EXPECT_NE(msg100.find("record 1 is truncated (3073 of 3074 bytes)"), std::string::npos) << msg100;

  testing::write_bytes(dir / "empty.bin", {});
  EXPECT_NE(error_of([&] { read_cifar10_binary({dir / "empty.bin"}); }).find("no records"), std::string::npos);
}

TEST(CifarReader, NamesTheRecordWithABadLabel) {
  testing::ScratchDir dir;
  testing::write_bytes(dir / "b.bin", testing::cifar_records({{1}, {10}}));
  const auto msg = error_of([&] { read_cifar10_binary({dir / "b.bin"}); });
  EXPECT_NE(msg.find(dir / "b.bin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("record 1 has label 10"), std::string::npos) << msg;

  testing::write_bytes(dir / "fine.bin", testing::cifar_records({{0, 1}, {0, 2}, {1, 100}}));
  EXPECT_NE(error_of([&] { read_cifar100_binary(dir / "fine.bin", true); }).find("record 2 has label 100"),
            std::string::npos);
  // A bad coarse byte is a damaged record even when the fine labels are used.
  testing::write_bytes(dir / "coarse.bin", testing::cifar_records({{20, 1}}));
  EXPECT_NE(error_of([&] { read_cifar100_binary(dir / "coarse.bin", true); }).find("record 0 has label 20"),
            std::string::npos);
}

TEST(CifarReader, NamesAMissingFile) {
  testing::ScratchDir dir;
  testing::write_bytes(dir / "data_batch_1.bin", testing::cifar_records({{1}}));
  const auto msg = error_of([&] { read_cifar10_binary({dir / "data_batch_1.bin", dir / "data_batch_2.bin"}); });
  EXPECT_NE(msg.find(dir / "data_batch_2.bin"), std::string::npos) << msg;
}

} // namespace
} // namespace fxnn::data
