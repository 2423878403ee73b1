#pragma once
// The values the low-bit converter chooses activation steps from (docs/lowbit.md, section 3): the
// network input in pixel units, u = p - 255 mean_c, and each hidden layer's output after its clipped
// ReLU, evaluated in float on calibration images and subsampled with a fixed seed.

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fxnn/data/batch_loader.h"
#include "fxnn/data/dataset.h"
#include "fxnn/deploy/float_layers.h"

namespace fxnn::lowbit {

/// Samples per group: one group per channel, or a single group for the whole tensor.
using GroupedSamples = std::vector<std::vector<double>>;

struct CalibrationSamples {
  GroupedSamples input;                              // u = p - 255 mean_c
  std::map<std::string, GroupedSamples> activations; // hidden layer name -> its clipped-ReLU outputs
};

struct CalibrationOptions {
  bool per_channel = false;
  int64_t batch_size = 100;
  /// At most this many values are kept per group (a uniform sample with replacement beyond it): the
  /// squared error of eq. (2) is then estimated from up to 2^21 values per tensor, 2^18 per channel.
  size_t values_per_tensor = size_t{1} << 21;
  size_t values_per_channel = size_t{1} << 18;
  uint64_t seed = 1;
};

/// Mean and standard deviation of the input normalization for channel c (0 and 1 when absent).
double normalization_mean(const data::TransformOptions& t, int64_t c);
double normalization_std(const data::TransformOptions& t, int64_t c);

CalibrationSamples calibrate(const std::vector<FloatLayer>& layers, const data::ImageDataset& images,
                             const data::TransformOptions& transform, const CalibrationOptions& options);

} // namespace fxnn::lowbit
