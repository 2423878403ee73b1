#include <gtest/gtest.h>

#include "../support/data_files.h"
#include "fxnn/data/readers.h"

namespace fxnn::data {
namespace {

using testing::error_of;
using testing::pattern;

void expect_images(const ImageDataset& ds, int64_t n, int64_t height, int64_t width) {
  ASSERT_EQ(ds.images.sizes(), (std::vector<int64_t>{n, 3, height, width}));
  ASSERT_TRUE(ds.images.is_contiguous());
  const auto img = ds.images.accessor<uint8_t, 4>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t h = 0; h < height; ++h)
        for (int64_t w = 0; w < width; ++w)
          ASSERT_EQ(img[i][c][h][w], pattern(i, c, h, w)) << i << " " << c << " " << h << " " << w;
}

std::vector<int64_t> labels_of(const ImageDataset& ds) {
  return {ds.labels.data_ptr<int64_t>(), ds.labels.data_ptr<int64_t>() + ds.size()};
}

TEST(SvhnReader, ReadsImagesWithoutTransposingAndMapsTenToZero) {
  testing::ScratchDir dir;
  testing::write_svhn_mat(dir / "train_32x32.mat", 4, {10, 1, 5, 10});
  const auto ds = read_svhn_mat(dir / "train_32x32.mat");
  expect_images(ds, 4, 32, 32);
  EXPECT_EQ(labels_of(ds), (std::vector<int64_t>{0, 1, 5, 0}));
  EXPECT_EQ(ds.num_classes, 10);
  EXPECT_EQ(ds.source, dir / "train_32x32.mat");
}

TEST(SvhnReader, KeepsHeightAndWidthApart) {
  testing::ScratchDir dir;
  testing::write_svhn_mat(dir / "x.mat", 3, {2, 3, 4}, 6, 9);
  expect_images(read_svhn_mat(dir / "x.mat"), 3, 6, 9);
}

TEST(SvhnReader, AcceptsIntegerLabelClass) {
  testing::ScratchDir dir;
  testing::write_svhn_mat(dir / "x.mat", 2, {10, 9}, 32, 32, MAT_C_UINT8);
  EXPECT_EQ(labels_of(read_svhn_mat(dir / "x.mat")), (std::vector<int64_t>{0, 9}));
}

TEST(SvhnReader, RejectsBadLabels) {
  testing::ScratchDir dir;
  testing::write_svhn_mat(dir / "zero.mat", 3, {1, 0, 2});
  auto msg = error_of([&] { read_svhn_mat(dir / "zero.mat"); });
  EXPECT_NE(msg.find(dir / "zero.mat"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'y'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("index 1"), std::string::npos) << msg;

  testing::write_svhn_mat(dir / "frac.mat", 2, {1, 2.5});
  EXPECT_NE(error_of([&] { read_svhn_mat(dir / "frac.mat"); }).find("index 1"), std::string::npos);
  testing::write_svhn_mat(dir / "eleven.mat", 1, {11});
  EXPECT_NE(error_of([&] { read_svhn_mat(dir / "eleven.mat"); }).find("index 0"), std::string::npos);
}

TEST(SvhnReader, RejectsMismatchedCounts) {
  testing::ScratchDir dir;
  testing::write_svhn_mat(dir / "x.mat", 4, {1, 2, 3});
  const auto msg = error_of([&] { read_svhn_mat(dir / "x.mat"); });
  EXPECT_NE(msg.find(dir / "x.mat"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'y'"), std::string::npos) << msg;
}

TEST(SvhnReader, NamesAMissingOrWrongVariable) {
  testing::ScratchDir dir;
  const std::string path = dir / "only_x.mat";
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
  ASSERT_NE(mat, nullptr);
  std::vector<double> x(32 * 32 * 3, 1.0);
  size_t dims[4] = {32, 32, 3, 1};
  // X stored as double instead of uint8.
  matvar_t* xv = Mat_VarCreate("X", MAT_C_DOUBLE, MAT_T_DOUBLE, 4, dims, x.data(), MAT_F_DONT_COPY_DATA);
  Mat_VarWrite(mat, xv, MAT_COMPRESSION_NONE);
  Mat_VarFree(xv);
  Mat_Close(mat);
  auto msg = error_of([&] { read_svhn_mat(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("'X' must be uint8"), std::string::npos) << msg;

  const std::string path2 = dir / "no_y.mat";
  mat = Mat_CreateVer(path2.c_str(), nullptr, MAT_FT_MAT5);
  std::vector<uint8_t> x8(32 * 32 * 3, 1);
  xv = Mat_VarCreate("X", MAT_C_UINT8, MAT_T_UINT8, 4, dims, x8.data(), MAT_F_DONT_COPY_DATA);
  Mat_VarWrite(mat, xv, MAT_COMPRESSION_NONE);
  Mat_VarFree(xv);
  Mat_Close(mat);
  msg = error_of([&] { read_svhn_mat(path2); });
  EXPECT_NE(msg.find(path2), std::string::npos) << msg;
  EXPECT_NE(msg.find("variable 'y' is missing"), std::string::npos) << msg;
}

TEST(SvhnReader, RejectsAFileThatIsNotMatlab) {
  testing::ScratchDir dir;
  testing::write_bytes(dir / "junk.mat", testing::Bytes(300, 7));
  const auto msg = error_of([&] { read_svhn_mat(dir / "junk.mat"); });
  EXPECT_NE(msg.find(dir / "junk.mat"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { read_svhn_mat(dir / "absent.mat"); }).find(dir / "absent.mat"), std::string::npos);
}

} // namespace
} // namespace fxnn::data
