#include "fxnn/data/writers.h"

#include <gtest/gtest.h>

#include "../support/temp_dir.h"
#include "fxnn/data/dataset.h"
#include "fxnn/data/readers.h"

namespace fxnn::data {
namespace {

using testing_support::TempDir;

TEST(Writers, SampleDatasetsReadBackThroughTheReaders) {
  TempDir tmp;
  for (const char* name : {"cifar10", "cifar100", "svhn"}) {
    const std::string dir = tmp / name;
    write_sample_dataset(name, dir, 23, 7, 5);
    DataOptions options;
    options.dataset = name;
    options.path = dir;
    const auto splits = load_dataset(options);
    EXPECT_EQ(splits.train.size(), 23) << name;
    EXPECT_EQ(splits.test.size(), 7) << name;
    EXPECT_EQ(splits.train.images.sizes(), (std::vector<int64_t>{23, 3, 32, 32})) << name;
    // Pixels and labels survive the round trip exactly.
    const auto expected = synthetic_images(23, 3, 32, std::string(name) == "cifar100" ? 100 : 10, 5);
    EXPECT_TRUE(torch::equal(splits.train.images, expected.images)) << name;
    EXPECT_TRUE(torch::equal(splits.train.labels, expected.labels)) << name;
  }
}

TEST(Writers, SyntheticImagesAreDeterministicAndUseEveryClass) {
  const auto a = synthetic_images(400, 3, 32, 10, 1), b = synthetic_images(400, 3, 32, 10, 1);
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_EQ(std::get<0>(at::_unique(a.labels)).numel(), 10);
  EXPECT_FALSE(torch::equal(a.images, synthetic_images(400, 3, 32, 10, 2).images));
}

} // namespace
} // namespace fxnn::data
