#pragma once
// Batches for training and evaluation: shuffling, augmentation, normalization, prefetching.

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "fxnn/data/dataset.h"

namespace fxnn::data {

struct Batch {
  torch::Tensor inputs; // float [B, C, H, W], normalized
  torch::Tensor labels; // int64 [B]
};

struct TransformOptions {
  /// Pixels are scaled to [0, 1], then (x - mean[c]) / std[c] when mean/std are given (one entry,
  /// or one per channel).
  std::vector<double> mean;
  std::vector<double> std;
  /// Random crop with zero padding of this many pixels on each side (0 = off). Training only.
  int64_t crop_padding = 0;
  /// Random horizontal flip with probability 1/2. Training only.
  bool horizontal_flip = false;
};

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true; // a new permutation per epoch, a function of (seed, epoch) only
  bool augment = true; // apply crop/flip (set false for evaluation)
  bool drop_last = false;
  uint64_t seed = 0;
  bool prefetch = true; // prepare the next batch on a background thread
  TransformOptions transform;
};

/// The order in which the samples of an epoch are visited: a permutation of [0, n) that depends only
/// on (seed, epoch) (identity when shuffle is false). All ranks of a distributed run compute the same.
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle);

/// Makes the batch of the given sample indices. Augmentation of sample i in epoch e draws from a
/// generator seeded by (seed, e, i), so a batch does not depend on how samples are grouped or threaded.
Batch make_batch(const ImageDataset& dataset, const std::vector<int64_t>& indices, int64_t epoch,
                 const LoaderOptions& options);

/// Iterates over one epoch at a time:  loader.start_epoch(e); while (auto b = loader.next()) {...}
class BatchLoader {
 public:
  BatchLoader(const ImageDataset& dataset, LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  void start_epoch(int64_t epoch);
  /// The next batch of the epoch, or an empty optional at its end.
  c10::optional<Batch> next();
  int64_t batches_per_epoch() const;
  const ImageDataset& dataset() const { return dataset_; }

 private:
  struct Prefetcher;
  const ImageDataset& dataset_;
  LoaderOptions options_;
  std::vector<int64_t> order_;
  int64_t epoch_ = 0;
  int64_t next_batch_ = 0;
  std::unique_ptr<Prefetcher> prefetcher_;
};

} // namespace fxnn::data
