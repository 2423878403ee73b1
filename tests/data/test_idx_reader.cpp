#include <gtest/gtest.h>

#include "../support/data_files.h"
#include "fxnn/data/readers.h"

namespace fxnn::data {
namespace {

using testing::Bytes;
using testing::error_of;
using testing::pattern;

void expect_pattern(const ImageDataset& ds, int64_t n, int64_t rows, int64_t cols) {
  ASSERT_EQ(ds.images.sizes(), (std::vector<int64_t>{n, 1, rows, cols}));
  ASSERT_EQ(ds.labels.sizes(), (std::vector<int64_t>{n}));
  ASSERT_EQ(ds.images.scalar_type(), torch::kUInt8);
  ASSERT_EQ(ds.labels.scalar_type(), torch::kInt64);
  ASSERT_TRUE(ds.images.is_contiguous());
  const auto img = ds.images.accessor<uint8_t, 4>();
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(ds.labels[i].item<int64_t>(), (i * 3) % 10);
    for (int64_t h = 0; h < rows; ++h)
      for (int64_t w = 0; w < cols; ++w) ASSERT_EQ(img[i][0][h][w], pattern(i, 0, h, w)) << i << " " << h << " " << w;
  }
  EXPECT_EQ(ds.num_classes, 10);
}

TEST(IdxReader, ReadsPlainFiles) {
  testing::ScratchDir dir;
  testing::write_bytes(dir / "img", testing::idx_images(5));
  testing::write_bytes(dir / "lab", testing::idx_labels(5));
  const auto ds = read_idx(dir / "img", dir / "lab");
  expect_pattern(ds, 5, 28, 28);
  EXPECT_EQ(ds.source, dir / "img");
}

TEST(IdxReader, ReadsGzippedFiles) {
  testing::ScratchDir dir;
  testing::write_gzip(dir / "img.gz", testing::idx_images(7));
  testing::write_gzip(dir / "lab.gz", testing::idx_labels(7));
  expect_pattern(read_idx(dir / "img.gz", dir / "lab.gz"), 7, 28, 28);
}

TEST(IdxReader, KeepsRowsAndColumnsApart) {
  testing::ScratchDir dir;
  testing::write_bytes(dir / "img", testing::idx_images(2, 3, 5));
  testing::write_bytes(dir / "lab", testing::idx_labels(2));
  expect_pattern(read_idx(dir / "img", dir / "lab"), 2, 3, 5);
}

TEST(IdxReader, RejectsWrongMagic) {
  testing::ScratchDir dir;
  testing::write_bytes(dir / "img", testing::idx_images(2));
  testing::write_bytes(dir / "lab", testing::idx_labels(2));
  // Images and labels swapped: each magic is that of the other kind.
  const auto msg = error_of([&] { read_idx(dir / "lab", dir / "img"); });
  EXPECT_NE(msg.find(dir / "lab"), std::string::npos) << msg;
  EXPECT_NE(msg.find("magic number 0x00000801"), std::string::npos) << msg;

  Bytes bad_labels = testing::idx_labels(2);
  bad_labels[3] = 0x03;
  testing::write_bytes(dir / "lab3", bad_labels);
  const auto msg2 = error_of([&] { read_idx(dir / "img", dir / "lab3"); });
  EXPECT_NE(msg2.find(dir / "lab3"), std::string::npos) << msg2;
  EXPECT_NE(msg2.find("magic"), std::string::npos) << msg2;
}

TEST(IdxReader, RejectsMismatchedCounts) {
  testing::ScratchDir dir;
  testing::write_bytes(dir / "img", testing::idx_images(5));
  testing::write_bytes(dir / "lab", testing::idx_labels(4));
  const auto msg = error_of([&] { read_idx(dir / "img", dir / "lab"); });
  EXPECT_NE(msg.find("4 labels"), std::string::npos) << msg;
  EXPECT_NE(msg.find("5 images"), std::string::npos) << msg;
}

TEST(IdxReader, RejectsTruncatedAndOverlongFiles) {
  testing::ScratchDir dir;
  Bytes images = testing::idx_images(3);
  testing::write_bytes(dir / "lab", testing::idx_labels(3));
  testing::write_bytes(dir / "short", Bytes(images.begin(), images.end() - 10));
  const auto msg = error_of([&] { read_idx(dir / "short", dir / "lab"); });
  EXPECT_NE(msg.find(dir / "short"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

  images.push_back(0);
  testing::write_bytes(dir / "long", images);
  const auto msg2 = error_of([&] { read_idx(dir / "long", dir / "lab"); });
  EXPECT_NE(msg2.find("trailing"), std::string::npos) << msg2;

  // A header announcing 2^32-1 images of 2^16 x 2^16 pixels must fail cleanly, not overflow.
  Bytes huge;
  testing::put_be32(huge, 0x00000803);
  for (uint32_t v : {0xffffffffu, 0x10000u, 0x10000u}) testing::put_be32(huge, v);
  testing::write_bytes(dir / "huge", huge);
  EXPECT_NE(error_of([&] { read_idx(dir / "huge", dir / "lab"); }).find("truncated"), std::string::npos);

  testing::write_bytes(dir / "tiny", Bytes{0, 0, 8});
  EXPECT_NE(error_of([&] { read_idx(dir / "tiny", dir / "lab"); }).find("too few"), std::string::npos);
}

TEST(IdxReader, RejectsTruncatedGzipStream) {
  testing::ScratchDir dir;
  testing::write_gzip(dir / "img.gz", testing::idx_images(20));
  testing::write_bytes(dir / "lab", testing::idx_labels(20));
  const auto whole = std::filesystem::file_size(dir / "img.gz");
  std::filesystem::resize_file(dir / "img.gz", whole / 2);
  const auto msg = error_of([&] { read_idx(dir / "img.gz", dir / "lab"); });
  EXPECT_NE(msg.find(dir / "img.gz"), std::string::npos) << msg;
}

TEST(IdxReader, RejectsLabelOutOfRange) {
  testing::ScratchDir dir;
  Bytes labels = testing::idx_labels(4);
  labels[8 + 2] = 10;
  testing::write_bytes(dir / "img", testing::idx_images(4));
  testing::write_bytes(dir / "lab", labels);
  const auto msg = error_of([&] { read_idx(dir / "img", dir / "lab"); });
  EXPECT_NE(msg.find(dir / "lab"), std::string::npos) << msg;
  EXPECT_NE(msg.find("record 2 has label 10"), std::string::npos) << msg;
}

TEST(IdxReader, NamesAMissingFile) {
  testing::ScratchDir dir;
  testing::write_bytes(dir / "img", testing::idx_images(1));
  const auto msg = error_of([&] { read_idx(dir / "img", dir / "nothing-here"); });
  EXPECT_NE(msg.find(dir / "nothing-here"), std::string::npos) << msg;
}

} // namespace
} // namespace fxnn::data
