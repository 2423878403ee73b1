// The generic data sets (data.dataset: idx | folder): a user's own IDX files or JPEG class folders,
// whose sample shape and class count come from the files. sample_shape() must say what
// load_dataset() then gives, and every inconsistency between the files is one error naming a file.

#include <gtest/gtest.h>

#include "../support/data_files.h"
#include "fxnn/data/dataset.h"

namespace fxnn::data {
namespace {

using testing::error_of;

/// 8x8 "digits" in `classes` classes: what a new user brings, in MNIST's file names.
void write_small_idx(const testing::ScratchDir& dir, uint32_t classes, uint32_t test_rows = 8) {
  testing::write_bytes(dir / "train-images-idx3-ubyte", testing::idx_images(12, 8, 8));
  testing::write_bytes(dir / "train-labels-idx1-ubyte", testing::idx_labels(12, classes));
  testing::write_gzip(dir / "t10k-images-idx3-ubyte.gz", testing::idx_images(5, test_rows, 8));
  testing::write_gzip(dir / "t10k-labels-idx1-ubyte.gz", testing::idx_labels(5, classes));
}

void expect_shape(const SampleShape& s, int64_t channels, int64_t height, int64_t width, int64_t classes) {
  EXPECT_EQ(s.channels, channels);
  EXPECT_EQ(s.height, height);
  EXPECT_EQ(s.width, width);
  EXPECT_EQ(s.num_classes, classes);
}

TEST(GenericIdx, TakesShapeAndClassCountFromTheFiles) {
  testing::ScratchDir dir;
  write_small_idx(dir, 5);
  for (const char* format : {"auto", "idx"}) {
    auto o = testing::data_options("idx", dir.str());
    o.format = format;
    expect_shape(sample_shape(o), 1, 8, 8, 5);
    const auto splits = load_dataset(o);
    EXPECT_EQ(splits.train.images.sizes(), (std::vector<int64_t>{12, 1, 8, 8}));
    EXPECT_EQ(splits.test.images.sizes(), (std::vector<int64_t>{5, 1, 8, 8}));
    EXPECT_EQ(splits.train.num_classes, 5);
    EXPECT_EQ(splits.test.num_classes, 5);
    EXPECT_EQ(splits.train.labels[4].item<int64_t>(), (4 * 3) % 5);
    EXPECT_EQ(splits.train.images[3][0][2][6].item<uint8_t>(), testing::pattern(3, 0, 2, 6));
  }
  // The named MNIST refuses the same files where it matters: in the model's expected shape (its
  // shape is a constant, not read), which the trainer compares with the loaded images.
  expect_shape(sample_shape(testing::data_options("mnist", dir.str())), 1, 28, 28, 10);
}

TEST(GenericIdx, TestLabelsMustLieInTheTrainingClasses) {
  testing::ScratchDir dir;
  write_small_idx(dir, 4);
  // Test labels of 7 classes against training labels of 4: sample 2's label, 6, is out.
  testing::write_gzip(dir / "t10k-labels-idx1-ubyte.gz", testing::idx_labels(5, 7));
  const auto msg = error_of([&] { load_dataset(testing::data_options("idx", dir.str())); });
  EXPECT_NE(msg.find(dir / "t10k-labels-idx1-ubyte.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("record 2 has label 6 (expected 0..3)"), std::string::npos) << msg;
}

TEST(GenericIdx, OneClassIsNoClassifier) {
  testing::ScratchDir dir;
  write_small_idx(dir, 1);
  const auto msg = error_of([&] { sample_shape(testing::data_options("idx", dir.str())); });
  EXPECT_NE(msg.find(dir / "train-labels-idx1-ubyte"), std::string::npos) << msg;
  EXPECT_NE(msg.find("at least 2 classes"), std::string::npos) << msg;
}

TEST(GenericIdx, SplitsOfDifferentImageSizesAreRefused) {
  testing::ScratchDir dir;
  write_small_idx(dir, 4, /*test_rows=*/9);
  const auto msg = error_of([&] { load_dataset(testing::data_options("idx", dir.str())); });
  EXPECT_NE(msg.find(dir / "t10k-images-idx3-ubyte.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1x9x8"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1x8x8"), std::string::npos) << msg;
}

TEST(GenericIdx, NamesTheMissingFilesAndTheWrongFormat) {
  testing::ScratchDir dir;
  auto msg = error_of([&] { sample_shape(testing::data_options("idx", dir.str())); });
  EXPECT_NE(msg.find("train-images-idx3-ubyte"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir.str()), std::string::npos) << msg;
  EXPECT_THROW(sample_shape(testing::data_options("idx", "")), std::invalid_argument); // no default folder
  write_small_idx(dir, 4);
  auto o = testing::data_options("idx", dir.str());
  o.format = "jpeg";
  EXPECT_THROW(load_dataset(o), std::invalid_argument);
  EXPECT_THROW(sample_shape(o), std::invalid_argument);
}

void write_folder_image(const testing::ScratchDir& dir, const std::string& file, int channels, uint8_t value) {
  const int side = 12;
  if (channels == 3) {
    testing::write_jpeg(dir / file, testing::flat_rgb(side, side, value, 0, 255), side, side, 3);
  } else {
    testing::write_jpeg(dir / file, std::vector<uint8_t>(side * side, value), side, side, 1);
  }
}

TEST(GenericFolder, TakesChannelsSizeAndClassesFromTheImages) {
  testing::ScratchDir dir;
  for (const char* cls : {"cat", "cow", "dog"}) {
    write_folder_image(dir, std::string("train/") + cls + "/a.jpg", 1, 40);
    write_folder_image(dir, std::string("train/") + cls + "/b.jpg", 1, 200);
    write_folder_image(dir, std::string("test/") + cls + "/a.jpg", 1, 90);
  }
  for (const char* format : {"auto", "jpeg"}) {
    auto o = testing::data_options("folder", dir.str());
    o.format = format;
    expect_shape(sample_shape(o), 1, 12, 12, 3);
    const auto splits = load_dataset(o);
    EXPECT_EQ(splits.train.images.sizes(), (std::vector<int64_t>{6, 1, 12, 12}));
    EXPECT_EQ(splits.test.images.sizes(), (std::vector<int64_t>{3, 1, 12, 12}));
    EXPECT_EQ(splits.test.labels[2].item<int64_t>(), 2); // dog
  }
  // One colour image in the training split makes every image three channels, as the loader does.
  write_folder_image(dir, "train/cow/c.jpg", 3, 10);
  expect_shape(sample_shape(testing::data_options("folder", dir.str())), 3, 12, 12, 3);
  // ...and the all-grey test split no longer matches: one error naming it.
  const auto msg = error_of([&] { load_dataset(testing::data_options("folder", dir.str())); });
  EXPECT_NE(msg.find(dir / "test"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1x12x12"), std::string::npos) << msg;
}

TEST(GenericFolder, NeedsTwoClassesAndBothSplits) {
  testing::ScratchDir dir;
  write_folder_image(dir, "train/only/a.jpg", 3, 1);
  auto msg = error_of([&] { sample_shape(testing::data_options("folder", dir.str())); });
  EXPECT_NE(msg.find("train/ and test/"), std::string::npos) << msg;
  write_folder_image(dir, "test/only/a.jpg", 3, 1);
  msg = error_of([&] { load_dataset(testing::data_options("folder", dir.str())); });
  EXPECT_NE(msg.find("1 class folders"), std::string::npos) << msg;
  EXPECT_NE(msg.find("at least 2 classes"), std::string::npos) << msg;
  EXPECT_EQ(error_of([&] { sample_shape(testing::data_options("folder", dir.str())); }), msg);
  testing::write_bytes(dir / "train/other/broken.jpg", {0x68, 0x65, 0x6c, 0x6c, 0x6f}); // "hello"
  msg = error_of([&] { sample_shape(testing::data_options("folder", dir.str())); });
  EXPECT_NE(msg.find(dir / "train/other/broken.jpg"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a valid JPEG file"), std::string::npos) << msg;
}

} // namespace
} // namespace fxnn::data
