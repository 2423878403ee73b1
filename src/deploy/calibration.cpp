#include "fxnn/deploy/calibration.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace fxnn::lowbit {

namespace {

double channel_entry(const std::vector<double>& v, int64_t c, double otherwise) {
  if (v.empty()) return otherwise;
  return v[v.size() == 1 ? 0 : static_cast<size_t>(c)];
}

/// Appends to `groups` up to `quota` values of each group of x ([N, C, ...] float64, contiguous).
void sample_into(GroupedSamples& groups, const torch::Tensor& x, bool per_channel, size_t quota, std::mt19937_64& rng) {
  const auto t = x.to(torch::kDouble).contiguous();
  const int64_t n = t.size(0), c = t.size(1), inner = t.numel() / std::max<int64_t>(1, n * c);
  const double* data = t.data_ptr<double>();
  const size_t count = per_channel ? static_cast<size_t>(c) : 1;
  if (groups.empty()) groups.resize(count);
  for (size_t g = 0; g < count; ++g) {
    // The elements of group g: all of them, or those of channel g in every sample.
    const int64_t size = per_channel ? n * inner : t.numel();
    const auto element = [&](int64_t j) {
      if (!per_channel) return data[j];
      const int64_t sample = j / inner, k = j % inner;
      return data[(sample * c + static_cast<int64_t>(g)) * inner + k];
    };
    auto& out = groups[g];
    if (static_cast<size_t>(size) <= quota) {
      for (int64_t j = 0; j < size; ++j) out.push_back(element(j));
      continue;
    }
    std::uniform_int_distribution<int64_t> pick(0, size - 1);
    for (size_t j = 0; j < quota; ++j) out.push_back(element(pick(rng)));
  }
}

} // namespace

double normalization_mean(const data::TransformOptions& t, int64_t c) { return channel_entry(t.mean, c, 0.0); }
double normalization_std(const data::TransformOptions& t, int64_t c) { return channel_entry(t.std, c, 1.0); }

CalibrationSamples calibrate(const std::vector<FloatLayer>& layers, const data::ImageDataset& images,
                             const data::TransformOptions& transform, const CalibrationOptions& options) {
  torch::NoGradGuard no_grad;
  CalibrationSamples samples;
  std::mt19937_64 rng(options.seed);
  const int64_t total = images.size();
  data::LoaderOptions loader;
  loader.shuffle = false;
  loader.augment = false;
  loader.transform = transform;
  const size_t cap = options.per_channel ? options.values_per_channel : options.values_per_tensor;
  for (int64_t start = 0; start < total; start += options.batch_size) {
    const int64_t count = std::min(options.batch_size, total - start);
    // Each batch contributes its share of every group's quota.
    const size_t quota =
        (cap * static_cast<size_t>(count) + static_cast<size_t>(total) - 1) / static_cast<size_t>(total);
    std::vector<int64_t> indices(static_cast<size_t>(count));
    std::iota(indices.begin(), indices.end(), start);
    const auto pixels = images.images.narrow(0, start, count).to(torch::kDouble);
    auto u = pixels.clone();
    for (int64_t c = 0; c < u.size(1); ++c) u.select(1, c).sub_(255.0 * normalization_mean(transform, c));
    sample_into(samples.input, u, options.per_channel, quota, rng);
    auto x = data::make_batch(images, indices, 0, loader).inputs.to(torch::kDouble);
    for (const auto& layer : layers) {
      x = forward(layer, x);
      if (layer.weighted() && layer.clip)
        sample_into(samples.activations[layer.name], x, options.per_channel, quota, rng);
    }
  }
  return samples;
}

} // namespace fxnn::lowbit
