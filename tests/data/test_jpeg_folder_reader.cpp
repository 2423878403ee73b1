#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <iterator>

#include "../support/data_files.h"
#include "fxnn/data/readers.h"

namespace fxnn::data {
namespace {

using testing::error_of;

// JPEG is lossy: at quality 100 with 4:4:4 sampling, flat 8x8 blocks come back within a couple of
// levels (colour conversion rounding).
constexpr int kTolerance = 3;

/// Colour of 8x8 block (by, bx) of the block-pattern image: every block, and every channel within a
/// block, differs, so a transposed, mirrored or channel-swapped decode cannot pass.
std::array<uint8_t, 3> block_colour(int by, int bx) {
  return {uint8_t(30 + 60 * bx + 10 * by), uint8_t(220 - 50 * by - 20 * bx), uint8_t(90 + 35 * by + 45 * bx)};
}

std::vector<uint8_t> block_image(int height, int width) {
  std::vector<uint8_t> hwc;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const auto c = block_colour(y / 8, x / 8);
      hwc.insert(hwc.end(), c.begin(), c.end());
    }
  return hwc;
}

void expect_near(const torch::Tensor& image, int c, int h, int w, int expected) {
  const int got = image[c][h][w].item<uint8_t>();
  EXPECT_NEAR(got, expected, kTolerance) << "c=" << c << " h=" << h << " w=" << w;
}

TEST(JpegFolderReader, DecodesPixelsInPlace) {
  testing::ScratchDir dir;
  testing::write_jpeg(dir / "one/a.jpg", block_image(16, 24), 16, 24, 3);
  const auto ds = read_jpeg_folder(dir.str());
  ASSERT_EQ(ds.images.sizes(), (std::vector<int64_t>{1, 3, 16, 24}));
  ASSERT_TRUE(ds.images.is_contiguous());
  for (int by = 0; by < 2; ++by)
    for (int bx = 0; bx < 3; ++bx)
      for (int c = 0; c < 3; ++c) {
        // Probe the centre and a corner of each block.
        expect_near(ds.images[0], c, by * 8 + 4, bx * 8 + 4, block_colour(by, bx)[c]);
        expect_near(ds.images[0], c, by * 8, bx * 8 + 7, block_colour(by, bx)[c]);
      }
  EXPECT_EQ(ds.num_classes, 1);
  EXPECT_EQ(ds.source, dir.str());
}

TEST(JpegFolderReader, OrdersClassesAndFilesByName) {
  testing::ScratchDir dir;
  // Written out of order; only .jpg/.jpeg files count.
  testing::write_jpeg(dir / "dog/b.jpeg", testing::flat_rgb(8, 8, 40, 0, 0), 8, 8, 3);
  testing::write_jpeg(dir / "dog/a.JPG", testing::flat_rgb(8, 8, 30, 0, 0), 8, 8, 3);
  testing::write_jpeg(dir / "cat/z.jpg", testing::flat_rgb(8, 8, 20, 0, 0), 8, 8, 3);
  testing::write_jpeg(dir / "cat/10.jpg", testing::flat_rgb(8, 8, 10, 0, 0), 8, 8, 3);
  testing::write_bytes(dir / "cat/notes.txt", {1, 2, 3});
  testing::write_bytes(dir / "README", {1});
  const auto ds = read_jpeg_folder(dir.str());
  ASSERT_EQ(ds.size(), 4);
  EXPECT_EQ(ds.num_classes, 2);
  const std::vector<int64_t> labels(ds.labels.data_ptr<int64_t>(), ds.labels.data_ptr<int64_t>() + 4);
  EXPECT_EQ(labels, (std::vector<int64_t>{0, 0, 1, 1}));
  for (int i = 0; i < 4; ++i) expect_near(ds.images[i], 0, 3, 3, 10 * (i + 1));

  // An explicit class order wins over the folder order.
  const auto swapped = read_jpeg_folder(dir.str(), {"dog", "cat"});
  expect_near(swapped.images[0], 0, 0, 0, 30);
  EXPECT_EQ(swapped.labels[0].item<int64_t>(), 0);
  EXPECT_EQ(swapped.labels[3].item<int64_t>(), 1);
}

TEST(JpegFolderReader, DecodesManyFilesInParallelInOrder) {
  testing::ScratchDir dir;
  constexpr int kPerClass = 150;
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < kPerClass; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "c%d/%04d.jpg", c, i);
      testing::write_jpeg(dir / name, testing::flat_rgb(8, 8, uint8_t(i), uint8_t(c * 100), 50), 8, 8, 3);
    }
  const auto ds = read_jpeg_folder(dir.str());
  ASSERT_EQ(ds.size(), 2 * kPerClass);
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < kPerClass; ++i) {
      const int64_t k = c * kPerClass + i;
      ASSERT_EQ(ds.labels[k].item<int64_t>(), c);
      expect_near(ds.images[k], 0, 4, 4, i);
      expect_near(ds.images[k], 1, 4, 4, c * 100);
    }
}

TEST(JpegFolderReader, KeepsOneChannelOnlyWhenAllImagesAreGray) {
  testing::ScratchDir dir;
  testing::write_jpeg(dir / "a/1.jpg", std::vector<uint8_t>(64, 77), 8, 8, 1);
  testing::write_jpeg(dir / "b/1.jpg", std::vector<uint8_t>(64, 155), 8, 8, 1);
  const auto gray = read_jpeg_folder(dir.str());
  ASSERT_EQ(gray.images.sizes(), (std::vector<int64_t>{2, 1, 8, 8}));
  expect_near(gray.images[1], 0, 2, 5, 155);

  testing::write_jpeg(dir / "b/2.jpg", testing::flat_rgb(8, 8, 200, 100, 0), 8, 8, 3);
  const auto mixed = read_jpeg_folder(dir.str());
  ASSERT_EQ(mixed.images.sizes(), (std::vector<int64_t>{3, 3, 8, 8}));
  for (int c = 0; c < 3; ++c) expect_near(mixed.images[0], c, 1, 1, 77); // gray -> R = G = B
  expect_near(mixed.images[2], 0, 1, 1, 200);
  expect_near(mixed.images[2], 2, 1, 1, 0);
}

TEST(JpegFolderReader, NamesACorruptOrTruncatedFile) {
  testing::ScratchDir dir;
  testing::write_jpeg(dir / "a/good.jpg", block_image(16, 16), 16, 16, 3);
  testing::write_bytes(dir / "a/junk.jpg", testing::Bytes(500, 0x42));
  auto msg = error_of([&] { read_jpeg_folder(dir.str()); });
  EXPECT_NE(msg.find(dir / "a/junk.jpg"), std::string::npos) << msg;

  std::filesystem::remove(dir / "a/junk.jpg");
  std::filesystem::copy_file(dir / "a/good.jpg", dir / "a/half.jpg");
  std::filesystem::resize_file(dir / "a/half.jpg", std::filesystem::file_size(dir / "a/good.jpg") / 2);
  msg = error_of([&] { read_jpeg_folder(dir.str()); });
  EXPECT_NE(msg.find(dir / "a/half.jpg"), std::string::npos) << msg;
}

TEST(JpegFolderReader, RejectsMixedSizes) {
  testing::ScratchDir dir;
  testing::write_jpeg(dir / "a/1.jpg", testing::flat_rgb(8, 8, 1, 2, 3), 8, 8, 3);
  testing::write_jpeg(dir / "a/2.jpg", testing::flat_rgb(8, 16, 1, 2, 3), 8, 16, 3);
  const auto msg = error_of([&] { read_jpeg_folder(dir.str()); });
  EXPECT_NE(msg.find(dir / "a/2.jpg"), std::string::npos) << msg;
  EXPECT_NE(msg.find("16x8"), std::string::npos) << msg;
}

TEST(JpegFolderReader, RefusesHeadersTheFileDoesNotBack) {
  // A 16x16 JPEG whose frame header (SOF0: FF C0, length, precision, height, width) is rewritten to
  // claim another size: the loader must not allocate for the claim before it decodes one image.
  testing::ScratchDir dir;
  testing::write_jpeg(dir / "a/1.jpg", block_image(16, 16), 16, 16, 3);
  std::ifstream in(dir / "a/1.jpg", std::ios::binary);
  const testing::Bytes good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t sof = 0;
  while (sof + 8 < good.size() && !(good[sof] == 0xFF && good[sof + 1] == 0xC0)) ++sof;
  ASSERT_LT(sof + 8, good.size()) << "no SOF0 marker";
  const auto claiming = [&](int height, int width) {
    testing::Bytes bytes = good;
    bytes[sof + 5] = uint8_t(height >> 8), bytes[sof + 6] = uint8_t(height);
    bytes[sof + 7] = uint8_t(width >> 8), bytes[sof + 8] = uint8_t(width);
    return bytes;
  };
  // Far above the loader's limit: refused from the header.
  for (const char* name : {"1.jpg", "2.jpg", "3.jpg"})
    testing::write_bytes(dir / (std::string("a/") + name), claiming(60000, 60000));
  auto msg = error_of([&] { read_jpeg_folder(dir.str()); });
  EXPECT_NE(msg.find(dir / "a/1.jpg"), std::string::npos) << msg;
  EXPECT_NE(msg.find("60000x60000, more than"), std::string::npos) << msg;
  // Within the limit but not backed by the data: the first decode fails and names the file.
  for (const char* name : {"1.jpg", "2.jpg", "3.jpg"})
    testing::write_bytes(dir / (std::string("a/") + name), claiming(4096, 4096));
  msg = error_of([&] { read_jpeg_folder(dir.str()); });
  EXPECT_NE(msg.find(dir / "a/1.jpg"), std::string::npos) << msg;
}

TEST(JpegFolderReader, NamesMissingFolders) {
  testing::ScratchDir dir;
  EXPECT_NE(error_of([&] { read_jpeg_folder(dir / "nope"); }).find(dir / "nope"), std::string::npos);
  EXPECT_NE(error_of([&] { read_jpeg_folder(dir.str()); }).find("no class sub-folders"), std::string::npos);
  testing::write_jpeg(dir / "a/1.jpg", testing::flat_rgb(8, 8, 1, 2, 3), 8, 8, 3);
  const auto msg = error_of([&] { read_jpeg_folder(dir.str(), {"a", "b"}); });
  EXPECT_NE(msg.find(dir / "b"), std::string::npos) << msg;
}

} // namespace
} // namespace fxnn::data
