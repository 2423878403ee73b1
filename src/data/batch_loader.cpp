// Shuffling, the fused uint8 -> float / crop / flip / normalize pass, and the prefetching loader.

#include "fxnn/data/batch_loader.h"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>

#include "seeded_random.h"

namespace fxnn::data {
namespace {

constexpr int kPixelLevels = 256;
// The streams of an epoch are numbered by sample index (augmentation); the shuffle takes the one
// number no sample index reaches, so it never shares a stream with an image.
constexpr uint64_t kShuffleStream = ~uint64_t{0};
constexpr double kPixelMax = 255.0;

/// The float value of every (channel, pixel value): (p / 255 - mean[c]) / std[c], evaluated in
/// double and rounded once to float. A table lookup makes the fused pass exact and as cheap as a
/// multiply-add.
using ChannelTable = std::array<float, kPixelLevels>;

double channel_entry(const std::vector<double>& values, int64_t c, double fallback) {
  return values.empty() ? fallback : values[values.size() == 1 ? 0 : static_cast<size_t>(c)];
}

std::vector<ChannelTable> value_tables(const TransformOptions& t, int64_t channels) {
  const auto check_count = [&](const std::vector<double>& v, const char* name) {
    TORCH_CHECK(v.empty() || v.size() == 1 || static_cast<int64_t>(v.size()) == channels, "transform ", name, " has ",
                v.size(), " entries; the data has ", channels, " channels (give 1 or ", channels, ")");
  };
  check_count(t.mean, "mean");
  check_count(t.std, "std");
  std::vector<ChannelTable> tables(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    const double mean = channel_entry(t.mean, c, 0.0);
    const double std = channel_entry(t.std, c, 1.0);
    TORCH_CHECK(std > 0, "transform std[", c, "] = ", std, " must be positive");
    for (int p = 0; p < kPixelLevels; ++p) { tables[c][p] = static_cast<float>((p / kPixelMax - mean) / std); }
  }
  return tables;
}

/// Where a sample's output window lies in its source image: output pixel (y, x) shows source pixel
/// (y + dy, flip ? W - 1 - x + dx : x + dx); outside the source it is black padding.
struct Placement {
  int64_t dy = 0;
  int64_t dx = 0;
  bool flip = false;
};

/// Random crop of the image padded by p pixels per side (an offset in [0, 2p] of the padded
/// image, i.e. a shift in [-p, p]), then a flip with probability 1/2, drawn from (seed, epoch,
/// sample) only.
Placement draw_placement(const LoaderOptions& options, int64_t epoch, int64_t sample) {
  Placement pl;
  const auto& t = options.transform;
  const bool crop = t.crop_padding > 0;
  if (!options.augment || (!crop && !t.horizontal_flip)) return pl;
  detail::SplitMix64 rng(detail::mix_seed(options.seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(sample)));
  if (crop) {
    const auto span = static_cast<uint64_t>(2 * t.crop_padding + 1);
    pl.dy = static_cast<int64_t>(rng.uniform_below(span)) - t.crop_padding;
    pl.dx = static_cast<int64_t>(rng.uniform_below(span)) - t.crop_padding;
  }
  if (t.horizontal_flip) pl.flip = (rng.next() >> 63) != 0;
  return pl;
}

/// The fused pass for one sample: every output value is written exactly once, straight from the
/// uint8 source through the channel table (no intermediate float image, no separate pad/crop/flip).
void write_sample(const uint8_t* src, float* dst, int64_t channels, int64_t height, int64_t width, const Placement& pl,
                  const std::vector<ChannelTable>& tables) {
  // Columns whose source column lies inside the image: [x_begin, x_end).
  const int64_t x_begin = std::clamp<int64_t>(pl.flip ? pl.dx : -pl.dx, 0, width);
  const int64_t x_end = std::clamp<int64_t>(pl.flip ? width + pl.dx : width - pl.dx, 0, width);
  for (int64_t c = 0; c < channels; ++c) {
    const float* table = tables[c].data();
    const float pad = table[0]; // zero padding is black, as with padding before normalization
    for (int64_t y = 0; y < height; ++y) {
      float* out = dst + (c * height + y) * width;
      const int64_t sy = y + pl.dy;
      if (sy < 0 || sy >= height || x_begin >= x_end) {
        std::fill(out, out + width, pad);
        continue;
      }
      const uint8_t* in = src + (c * height + sy) * width;
      std::fill(out, out + x_begin, pad);
      // Indices, not shifted pointers: a pointer to "source column of x = 0" may lie outside the
      // image buffer, which C++ does not allow even when it is never dereferenced.
      if (pl.flip) {
        const int64_t mirror = width - 1 + pl.dx; // source column = mirror - x
        for (int64_t x = x_begin; x < x_end; ++x) out[x] = table[in[mirror - x]];
      } else {
        for (int64_t x = x_begin; x < x_end; ++x) out[x] = table[in[x + pl.dx]];
      }
      std::fill(out + x_end, out + width, pad);
    }
  }
}

void check_dataset(const ImageDataset& dataset) {
  TORCH_CHECK(dataset.images.defined() && dataset.labels.defined(), "the data set is empty");
  TORCH_CHECK(dataset.images.dim() == 4 && dataset.images.scalar_type() == torch::kUInt8 &&
                  dataset.images.is_contiguous() && dataset.images.device().is_cpu(),
              "data set images must be contiguous CPU uint8 [N, C, H, W], got ", dataset.images.sizes(), " ",
              dataset.images.scalar_type());
  TORCH_CHECK(dataset.labels.dim() == 1 && dataset.labels.scalar_type() == torch::kInt64 &&
                  dataset.labels.is_contiguous() && dataset.labels.size(0) == dataset.images.size(0),
              "data set labels must be contiguous int64 [N] matching the images");
}

} // namespace

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  TORCH_CHECK(n >= 0, "epoch_order: n = ", n, " must not be negative");
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  if (!shuffle) return order;
  // Fisher-Yates with our own generator, so the order is the same on every platform and rank.
  detail::SplitMix64 rng(detail::mix_seed(seed, static_cast<uint64_t>(epoch), kShuffleStream));
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(i + 1)));
    std::swap(order[i], order[j]);
  }
  return order;
}

Batch make_batch(const ImageDataset& dataset, const std::vector<int64_t>& indices, int64_t epoch,
                 const LoaderOptions& options) {
  check_dataset(dataset);
  const int64_t n = dataset.size();
  const int64_t channels = dataset.channels();
  const int64_t height = dataset.height();
  const int64_t width = dataset.width();
  const int64_t image_size = channels * height * width;
  const auto tables = value_tables(options.transform, channels);
  const auto batch = static_cast<int64_t>(indices.size());

  Batch out;
  out.inputs = torch::empty({batch, channels, height, width}, torch::kFloat32);
  out.labels = torch::empty({batch}, torch::kInt64);
  const auto* images = dataset.images.data_ptr<uint8_t>();
  const auto* labels = dataset.labels.data_ptr<int64_t>();
  auto* inputs = out.inputs.data_ptr<float>();
  auto* batch_labels = out.labels.data_ptr<int64_t>();
  // Plain loops on purpose: this also runs on the prefetch thread while the training thread uses
  // torch's intra-op pool, and a batch is far too small to be worth splitting.
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t i = indices[static_cast<size_t>(b)];
    TORCH_CHECK(i >= 0 && i < n, "sample index ", i, " is outside the data set [0, ", n, ")");
    write_sample(images + i * image_size, inputs + b * image_size, channels, height, width,
                 draw_placement(options, epoch, i), tables);
    batch_labels[b] = labels[i];
  }
  return out;
}

namespace {

/// Batch k of an epoch visiting the samples in `order`.
Batch epoch_batch(const ImageDataset& dataset, const LoaderOptions& options, const std::vector<int64_t>& order,
                  int64_t epoch, int64_t k) {
  const auto n = static_cast<int64_t>(order.size());
  const int64_t begin = k * options.batch_size;
  const int64_t end = std::min(n, begin + options.batch_size);
  const std::vector<int64_t> indices(order.begin() + begin, order.begin() + end);
  return make_batch(dataset, indices, epoch, options);
}

} // namespace

/// Makes the batches of one epoch in order on a background thread, at most kDepth ahead of the
/// consumer. Destroying it stops and joins the thread (mid-epoch included).
struct BatchLoader::Prefetcher {
  // Two batches: one being consumed, one ready; a deeper queue only costs memory.
  static constexpr size_t kDepth = 2;

  Prefetcher(const BatchLoader& loader, int64_t batches)
      : loader_(loader), batches_(batches), worker_([this] { run(); }) {}

  ~Prefetcher() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    worker_.join();
  }

  /// The next batch, an empty optional at the end of the epoch; rethrows the worker's exception.
  c10::optional<Batch> pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !ready_.empty() || error_ || consumed_ == batches_; });
    if (!ready_.empty()) {
      Batch b = std::move(ready_.front());
      ready_.pop_front();
      ++consumed_;
      lock.unlock();
      changed_.notify_all();
      return b;
    }
    if (error_) {
      consumed_ = batches_; // the epoch ends with the error
      std::rethrow_exception(std::exchange(error_, nullptr));
    }
    return c10::nullopt;
  }

 private:
  void run() {
    for (int64_t k = 0; k < batches_; ++k) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return stop_ || ready_.size() < kDepth; });
        if (stop_) return;
      }
      Batch b;
      try {
        b = epoch_batch(loader_.dataset_, loader_.options_, loader_.order_, loader_.epoch_, k);
      } catch (...) { // not swallowed: handed to the consumer, which rethrows it in next()
        std::lock_guard<std::mutex> lock(mutex_);
        error_ = std::current_exception();
        changed_.notify_all();
        return;
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.push_back(std::move(b));
      }
      changed_.notify_all();
    }
  }

  const BatchLoader& loader_;
  const int64_t batches_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> ready_;
  std::exception_ptr error_;
  int64_t consumed_ = 0;
  bool stop_ = false;
  std::thread worker_; // last: it starts running once everything above is constructed
};

BatchLoader::BatchLoader(const ImageDataset& dataset, LoaderOptions options)
    : dataset_(dataset), options_(std::move(options)) {
  check_dataset(dataset_);
  TORCH_CHECK(options_.batch_size > 0, "batch_size = ", options_.batch_size, " must be positive");
  TORCH_CHECK(options_.transform.crop_padding >= 0, "crop_padding = ", options_.transform.crop_padding,
              " must not be negative");
  value_tables(options_.transform, dataset_.channels()); // reports bad mean/std here, not mid-epoch
}

BatchLoader::~BatchLoader() = default;

void BatchLoader::start_epoch(int64_t epoch) {
  prefetcher_.reset(); // joins the previous epoch's worker before its order is replaced
  order_ = epoch_order(dataset_.size(), options_.seed, epoch, options_.shuffle);
  epoch_ = epoch;
  next_batch_ = 0;
  if (options_.prefetch && batches_per_epoch() > 0) {
    prefetcher_ = std::make_unique<Prefetcher>(*this, batches_per_epoch());
  }
}

c10::optional<Batch> BatchLoader::next() {
  // Before the first start_epoch() the order is empty (an empty data set has empty epochs anyway).
  TORCH_CHECK(static_cast<int64_t>(order_.size()) == dataset_.size(),
              "BatchLoader::next() called before start_epoch()");
  if (prefetcher_) {
    auto b = prefetcher_->pop();
    if (b) ++next_batch_;
    return b;
  }
  if (next_batch_ >= batches_per_epoch()) return c10::nullopt;
  return epoch_batch(dataset_, options_, order_, epoch_, next_batch_++);
}

int64_t BatchLoader::batches_per_epoch() const {
  const int64_t n = dataset_.size();
  const int64_t bs = options_.batch_size;
  return options_.drop_last ? n / bs : (n + bs - 1) / bs;
}

} // namespace fxnn::data
