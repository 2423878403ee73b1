#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "../support/data_files.h"
#include "fxnn/data/batch_loader.h"

namespace fxnn::data {
namespace {

/// n images [c, h, w] with distinct pixel patterns; label i, so a label identifies its sample.
ImageDataset synthetic(int64_t n, int64_t c = 3, int64_t h = 5, int64_t w = 7) {
  ImageDataset ds;
  ds.images = torch::empty({n, c, h, w}, torch::kUInt8);
  auto img = ds.images.accessor<uint8_t, 4>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) img[i][k][y][x] = testing::pattern(i, k, y, x);
  ds.labels = torch::arange(n, torch::kInt64);
  ds.num_classes = n;
  return ds;
}

LoaderOptions augmenting(int64_t padding, bool flip) {
  LoaderOptions o;
  o.seed = 1234;
  o.transform.crop_padding = padding;
  o.transform.horizontal_flip = flip;
  return o;
}

/// Pad with black, crop at (oy, ox) of the padded image, flip: the textbook pipeline in torch ops.
torch::Tensor reference_view(const torch::Tensor& image, int64_t p, int64_t oy, int64_t ox, bool flip) {
  const auto padded = torch::constant_pad_nd(image.to(torch::kFloat64) / 255.0, {p, p, p, p}, 0);
  auto crop = padded.slice(1, oy, oy + image.size(1)).slice(2, ox, ox + image.size(2));
  if (flip) crop = crop.flip({2});
  return crop.to(torch::kFloat32);
}

bool batches_equal(const Batch& a, const Batch& b) {
  return torch::equal(a.inputs, b.inputs) && torch::equal(a.labels, b.labels);
}

TEST(EpochOrder, IsASeededPermutationPerEpoch) {
  const auto a = epoch_order(1000, 7, 3, true);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, epoch_order(1000, 7, 3, false)); // a permutation of 0..n-1
  EXPECT_EQ(a, epoch_order(1000, 7, 3, true));       // a function of (seed, epoch)
  EXPECT_NE(a, epoch_order(1000, 7, 4, true));       // a new order each epoch
  EXPECT_NE(a, epoch_order(1000, 8, 3, true));       // and each seed
  EXPECT_NE(a, sorted);
  const auto identity = epoch_order(5, 7, 3, false);
  EXPECT_EQ(identity, (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(epoch_order(0, 1, 1, true).empty());
  EXPECT_EQ(epoch_order(1, 1, 1, true), std::vector<int64_t>{0});
}

TEST(EpochOrder, PutsEverySampleEverywhere) {
  // Over many epochs, sample 0 must visit every position of a 4-sample epoch (a shuffle that is
  // not uniform, e.g. off by one in Fisher-Yates, misses some).
  std::set<int64_t> positions;
  for (int64_t e = 0; e < 200; ++e) {
    const auto order = epoch_order(4, 99, e, true);
    positions.insert(std::find(order.begin(), order.end(), 0) - order.begin());
  }
  EXPECT_EQ(positions.size(), 4u);
}

TEST(MakeBatch, ScalesPixelsAndGathersLabels) {
  const auto ds = synthetic(6);
  LoaderOptions o;
  o.augment = false;
  const auto b = make_batch(ds, {4, 1}, 0, o);
  ASSERT_EQ(b.inputs.sizes(), (std::vector<int64_t>{2, 3, 5, 7}));
  ASSERT_EQ(b.inputs.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(b.labels, torch::tensor({4, 1}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(b.inputs[0], reference_view(ds.images[4], 0, 0, 0, false)));
  EXPECT_TRUE(torch::equal(b.inputs[1], reference_view(ds.images[1], 0, 0, 0, false)));
  EXPECT_THROW(make_batch(ds, {6}, 0, o), c10::Error);
}

TEST(MakeBatch, NormalizesPerChannel) {
  const auto ds = synthetic(3);
  LoaderOptions o;
  o.augment = false;
  o.transform.mean = {0.5, 0.4, 0.3};
  o.transform.std = {0.2, 0.25, 0.5};
  const auto b = make_batch(ds, {0, 1, 2}, 0, o);
  const auto in = b.inputs.accessor<float, 4>();
  const auto img = ds.images.accessor<uint8_t, 4>();
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 5; ++y)
        for (int64_t x = 0; x < 7; ++x) {
          // Evaluated in double and rounded once: equal to 0 ulp.
          const double expected = (img[i][c][y][x] / 255.0 - o.transform.mean[c]) / o.transform.std[c];
          ASSERT_EQ(in[i][c][y][x], static_cast<float>(expected));
        }
  // One entry applies to all channels.
  o.transform.mean = {0.5};
  o.transform.std = {0.5};
  const auto one = make_batch(ds, {2}, 0, o);
  EXPECT_EQ(one.inputs[0][2][1][3].item<float>(), static_cast<float>((img[2][2][1][3] / 255.0 - 0.5) / 0.5));
  o.transform.mean = {0.1, 0.2};
  EXPECT_THROW(make_batch(ds, {0}, 0, o), c10::Error);
  o.transform.mean = {0.1};
  o.transform.std = {0.0};
  EXPECT_THROW(make_batch(ds, {0}, 0, o), c10::Error);
}

TEST(MakeBatch, EveryAugmentedImageIsAPaddedCropOrItsMirror) {
  const auto ds = synthetic(10);
  constexpr int64_t p = 2;
  const auto o = augmenting(p, true);
  std::set<std::tuple<int64_t, int64_t, bool>> seen;
  for (int64_t epoch = 0; epoch < 30; ++epoch) {
    const auto b = make_batch(ds, epoch_order(10, 0, 0, false), epoch, o);
    for (int64_t i = 0; i < 10; ++i) {
      bool matched = false;
      for (int64_t oy = 0; oy <= 2 * p && !matched; ++oy)
        for (int64_t ox = 0; ox <= 2 * p && !matched; ++ox)
          for (bool flip : {false, true}) {
            if (torch::equal(b.inputs[i], reference_view(ds.images[i], p, oy, ox, flip))) {
              seen.insert({oy, ox, flip});
              matched = true;
              break;
            }
          }
      ASSERT_TRUE(matched) << "sample " << i << " epoch " << epoch;
    }
  }
  // 300 draws from 50 placements: the extremes and both flips must all occur.
  for (bool flip : {false, true}) {
    EXPECT_TRUE(seen.count({0, 0, flip}) || seen.count({0, 2 * p, flip}) || seen.count({2 * p, 0, flip}) ||
                seen.count({2 * p, 2 * p, flip}));
  }
  EXPECT_GE(seen.size(), 40u);
}

TEST(MakeBatch, FlipAloneMirrorsAboutHalfTheImages) {
  const auto ds = synthetic(64, 1, 4, 9);
  const auto b = make_batch(ds, epoch_order(64, 0, 0, false), 5, augmenting(0, true));
  int flipped = 0;
  for (int64_t i = 0; i < 64; ++i) {
    const auto plain = reference_view(ds.images[i], 0, 0, 0, false);
    const bool is_flip = torch::equal(b.inputs[i], plain.flip({2}));
    ASSERT_TRUE(is_flip || torch::equal(b.inputs[i], plain)) << i;
    flipped += is_flip;
  }
  EXPECT_GT(flipped, 16);
  EXPECT_LT(flipped, 48);
}

TEST(MakeBatch, PaddingIsBlackBeforeNormalization) {
  ImageDataset ds;
  ds.images = torch::full({20, 1, 4, 4}, 255, torch::kUInt8);
  ds.labels = torch::zeros({20}, torch::kInt64);
  ds.num_classes = 1;
  auto o = augmenting(3, false);
  o.transform.mean = {0.5};
  o.transform.std = {0.5};
  const auto b = make_batch(ds, epoch_order(20, 0, 0, false), 0, o);
  const auto white = (b.inputs == 1.0f).sum().item<int64_t>();
  const auto black = (b.inputs == -1.0f).sum().item<int64_t>();
  EXPECT_EQ(white + black, b.inputs.numel());
  EXPECT_GT(black, 0);
  EXPECT_GT(white, 0);
}

TEST(MakeBatch, DoesNotDependOnGrouping) {
  const auto ds = synthetic(10);
  const auto o = augmenting(2, true);
  const auto pair = make_batch(ds, {3, 7}, 4, o);
  const auto a = make_batch(ds, {3}, 4, o);
  const auto b = make_batch(ds, {7}, 4, o);
  EXPECT_TRUE(torch::equal(pair.inputs, torch::cat({a.inputs, b.inputs})));
  EXPECT_TRUE(batches_equal(pair, make_batch(ds, {3, 7}, 4, o))); // deterministic
  // Another epoch draws other augmentations (for at least one of ten samples).
  const auto all = epoch_order(10, 0, 0, false);
  EXPECT_FALSE(torch::equal(make_batch(ds, all, 4, o).inputs, make_batch(ds, all, 5, o).inputs));
}

TEST(BatchLoader, CountsBatchesWithAndWithoutDropLast) {
  const auto ds = synthetic(10);
  LoaderOptions o;
  o.batch_size = 4;
  for (bool prefetch : {false, true}) {
    o.prefetch = prefetch;
    o.drop_last = false;
    BatchLoader keep(ds, o);
    EXPECT_EQ(keep.batches_per_epoch(), 3);
    keep.start_epoch(0);
    std::vector<int64_t> sizes;
    while (auto b = keep.next()) sizes.push_back(b->inputs.size(0));
    EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2}));
    EXPECT_FALSE(keep.next().has_value());

    o.drop_last = true;
    BatchLoader drop(ds, o);
    EXPECT_EQ(drop.batches_per_epoch(), 2);
    drop.start_epoch(0);
    sizes.clear();
    while (auto b = drop.next()) sizes.push_back(b->inputs.size(0));
    EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4}));
  }
  o.batch_size = 5;
  o.drop_last = true;
  EXPECT_EQ(BatchLoader(ds, o).batches_per_epoch(), 2);
}

TEST(BatchLoader, PrefetchingGivesTheSameBatches) {
  const auto ds = synthetic(23);
  auto o = augmenting(1, true);
  o.batch_size = 4;
  o.transform.mean = {0.5};
  o.transform.std = {0.25};
  auto sync = o;
  sync.prefetch = false;
  BatchLoader ahead(ds, o), inline_loader(ds, sync);
  for (int64_t epoch : {0, 1, 7}) {
    ahead.start_epoch(epoch);
    inline_loader.start_epoch(epoch);
    std::vector<int64_t> visited;
    int64_t count = 0;
    while (auto a = ahead.next()) {
      const auto b = inline_loader.next();
      ASSERT_TRUE(b.has_value());
      EXPECT_TRUE(batches_equal(*a, *b)) << "epoch " << epoch << " batch " << count;
      for (int64_t i = 0; i < a->labels.size(0); ++i) visited.push_back(a->labels[i].item<int64_t>());
      ++count;
    }
    EXPECT_FALSE(inline_loader.next().has_value());
    EXPECT_EQ(count, ahead.batches_per_epoch());
    EXPECT_EQ(visited, epoch_order(23, o.seed, epoch, true)); // every sample once, in epoch order
  }
}

TEST(BatchLoader, RestartsMidEpochAndStopsCleanly) {
  const auto ds = synthetic(40);
  auto o = augmenting(2, true);
  o.batch_size = 3;
  BatchLoader loader(ds, o);
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next().has_value()); // the worker now has batches queued
  loader.start_epoch(1);                  // abandons epoch 0 mid-way
  auto fresh_options = o;
  fresh_options.prefetch = false;
  BatchLoader fresh(ds, fresh_options);
  fresh.start_epoch(1);
  int64_t count = 0;
  while (auto b = loader.next()) {
    EXPECT_TRUE(batches_equal(*b, *fresh.next()));
    ++count;
  }
  EXPECT_EQ(count, 14);
  // Destroyed mid-epoch with a full queue: must join, not hang.
  BatchLoader abandoned(ds, o);
  abandoned.start_epoch(3);
  abandoned.next();
}

TEST(BatchLoader, RethrowsTheWorkersError) {
  auto ds = synthetic(10);
  LoaderOptions o;
  o.batch_size = 4;
  BatchLoader loader(ds, o);
  ds.images = ds.images.to(torch::kFloat32); // make_batch rejects it on the worker thread
  loader.start_epoch(0);
  EXPECT_THROW(loader.next(), c10::Error);
  EXPECT_FALSE(loader.next().has_value()); // the error ended the epoch
}

TEST(BatchLoader, RejectsMisuse) {
  const auto ds = synthetic(10);
  LoaderOptions o;
  BatchLoader loader(ds, o);
  EXPECT_THROW(loader.next(), c10::Error); // before start_epoch
  o.batch_size = 0;
  EXPECT_THROW(BatchLoader(ds, o), c10::Error);
  o.batch_size = 2;
  o.transform.std = {1, 2};
  EXPECT_THROW(BatchLoader(ds, o), c10::Error);
}

} // namespace
} // namespace fxnn::data
