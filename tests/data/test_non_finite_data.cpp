// NaN and infinity in data files: images are integer codes in every format fxnn reads, so only
// labels and arrays of the wrong class can carry them; both are refused with the file and the value.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "../support/data_files.h"
#include "fxnn/data/readers.h"

namespace fxnn::data {
namespace {

using testing::error_of;

/// X of any class [h, w, 3, n] and y double [n, 1], written by matio.
void write_x_and_y(const std::string& path, matio_classes x_class, matio_types x_type, void* x,
                   std::vector<size_t> x_dims, std::vector<double> y, matio_compression compression) {
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
  ASSERT_NE(mat, nullptr);
  size_t y_dims[2] = {y.size(), 1};
  matvar_t* xv = Mat_VarCreate("X", x_class, x_type, 4, x_dims.data(), x, MAT_F_DONT_COPY_DATA);
  matvar_t* yv = Mat_VarCreate("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, y_dims, y.data(), MAT_F_DONT_COPY_DATA);
  Mat_VarWrite(mat, xv, compression);
  Mat_VarWrite(mat, yv, compression);
  Mat_VarFree(xv);
  Mat_VarFree(yv);
  Mat_Close(mat);
}

TEST(NonFiniteData, SvhnLabelsThatAreNotFiniteNameTheirIndex) {
  testing::ScratchDir dir;
  for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    const std::string path = dir / "labels.mat";
    testing::write_svhn_mat(path, 3, {1, 2, bad});
    const std::string message = error_of([&] { read_svhn_mat(path); });
    EXPECT_NE(message.find(path + ": variable 'y' has label"), std::string::npos) << message;
    EXPECT_NE(message.find("at index 2 (expected 1..10)"), std::string::npos) << message;
  }
}

TEST(NonFiniteData, SvhnImagesStoredAsDoublesAreRefusedNotConverted) {
  // X as doubles could hold NaN or 300.5; the reader takes uint8 pixels only, whatever the values.
  testing::ScratchDir dir;
  const std::string path = dir / "double_x.mat";
  std::vector<double> x(4 * 4 * 3 * 2, std::numeric_limits<double>::quiet_NaN());
  write_x_and_y(path, MAT_C_DOUBLE, MAT_T_DOUBLE, x.data(), {4, 4, 3, 2}, {1, 2}, MAT_COMPRESSION_NONE);
  const std::string message = error_of([&] { read_svhn_mat(path); });
  EXPECT_NE(message.find(path + ": variable 'X' must be uint8 HxWx3xN, found class"), std::string::npos) << message;
}

TEST(NonFiniteData, CompressedSvhnFilePassesTheStructureCheck) {
  // The structure check of matio's input reads compressed variables on their inflated beginning.
  testing::ScratchDir dir;
  const std::string path = dir / "compressed.mat";
  std::vector<uint8_t> x(32 * 32 * 3 * 2, 7);
  write_x_and_y(path, MAT_C_UINT8, MAT_T_UINT8, x.data(), {32, 32, 3, 2}, {10, 3}, MAT_COMPRESSION_ZLIB);
  const ImageDataset ds = read_svhn_mat(path);
  EXPECT_EQ(ds.size(), 2);
  EXPECT_EQ(ds.labels[0].item<int64_t>(), 0);
  EXPECT_EQ(ds.images.sum().item<int64_t>(), 7 * 32 * 32 * 3 * 2);
}

} // namespace
} // namespace fxnn::data
