#pragma once
// The low-bit converter (docs/lowbit.md): a float-trained network to a fixed-point network of B-bit
// weight and activation codes, in mode float-scale (one float32-precision multiply-add per output,
// held as a 24-significant-bit integer multiplier and offset) or shift-clip (power-of-two steps,
// integer bias, rounding shift and clamp only).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fxnn/config/experiment_config.h"
#include "fxnn/core/rounding.h"
#include "fxnn/data/dataset.h"
#include "fxnn/deploy/float_layers.h"
#include "fxnn/ir/fixed_point_network.h"
#include "fxnn/lowbit/step_search.h"
#include "fxnn/nn/network.h"

namespace fxnn::lowbit {

enum class LowbitMode {
  kFloatScale, // mode (i): u = alpha acc + beta per output, eq. (6)
  kShiftClip,  // mode (ii): (acc + b) >> s and a clamp, eq. (8)
};
/// "float-scale" | "shift-clip"; throws std::invalid_argument naming the text.
LowbitMode parse_lowbit_mode(const std::string& text);
std::string to_string(LowbitMode mode);

enum class Granularity { kLayer, kChannel };
/// "layer" | "channel"; throws std::invalid_argument naming the text.
Granularity parse_granularity(const std::string& text);
std::string to_string(Granularity granularity);

/// What the converter fits on the calibration images after quantizing a layer's weights, given the
/// integer network built so far (docs/lowbit.md section 4, eq. (10)).
enum class Correction {
  kNone,   // the folded bias as it is
  kBias,   // the bias that makes the mean of Delta_w acc + b equal the float pre-activation's
  kAffine, // float-scale only: the least-squares scale and bias of z ~ g Delta_w acc + b per channel
};
/// "none" | "bias" | "affine"; throws std::invalid_argument naming the text.
Correction parse_correction(const std::string& text);
std::string to_string(Correction correction);

inline constexpr int kMinBits = 2;
inline constexpr int kMaxBits = 8;

/// The grids a layer was trained on (`fxnn lowbit --finetune`, docs/lowbit.md section 7): weights
/// (batch norm folded, in the units of the float network) on multiples of `weight_step` with the
/// two's-complement codes of their bits, hidden activations on multiples of `activation_step`.
/// Powers of two in shift-clip mode; any positive steps in float-scale mode.
struct TrainedGrid {
  double weight_step = 1;
  std::optional<double> activation_step; // none: the logits
};

struct LowbitOptions {
  LowbitMode mode = LowbitMode::kShiftClip;
  int bits = 3;       // B of the weights and of the hidden activations, kMinBits..kMaxBits
  int input_bits = 8; // the normalized network input's codes (the rescale node), kMinBits..kMaxBits
  int edge_bits = 0;  // weights of the first and the last weighted layer (0: `bits`), kMinBits..kMaxBits
  StepRule steps = StepRule::kMinMse;
  Granularity granularity = Granularity::kLayer; // of weight and activation steps
  int64_t calibration_images = 1000;             // training images the activation steps come from
  Rounding rounding = Rounding::kNearest;        // of every shift: nearest or floor (truncation)
  Correction correction = Correction::kBias;
  uint64_t seed = 1; // calibration subset and subsamples
  /// Per layer name: take these grids instead of searching steps (every weighted layer must have one).
  std::map<std::string, TrainedGrid> trained_grids;

  LowbitOptions& with_mode(LowbitMode v) {
    mode = v;
    return *this;
  }
  LowbitOptions& with_bits(int v) {
    bits = v;
    return *this;
  }
  LowbitOptions& with_input_bits(int v) {
    input_bits = v;
    return *this;
  }
  LowbitOptions& with_edge_bits(int v) {
    edge_bits = v;
    return *this;
  }
  LowbitOptions& with_steps(StepRule v) {
    steps = v;
    return *this;
  }
  LowbitOptions& with_granularity(Granularity v) {
    granularity = v;
    return *this;
  }
  LowbitOptions& with_calibration_images(int64_t v) {
    calibration_images = v;
    return *this;
  }
  LowbitOptions& with_rounding(Rounding v) {
    rounding = v;
    return *this;
  }
  LowbitOptions& with_correction(Correction v) {
    correction = v;
    return *this;
  }
  /// Throws std::invalid_argument naming the option and value that is out of range.
  void validate() const;
};

/// What the converter chose for one conv/dense node, and the accumulator it needs (docs/lowbit.md eq. (9)).
struct LayerReport {
  std::string name;
  int64_t fan_in = 0;                                      // n: products per output
  double input_step = 0;                                   // of its input codes (the finest channel's)
  double weight_step_min = 0, weight_step_max = 0;         // Delta_w over the channels (folded units)
  double activation_step_min = 0, activation_step_max = 0; // Delta_a of its output (0: logits)
  int64_t weight_code_max = 0;                             // q_hi(w)
  int64_t input_code_max = 0;                              // q_hi(a) of its input codes
  int64_t bias_max = 0;                                    // max |b| in accumulator units, |round(b / Delta_w)|
  uint64_t spec_bound = 0;                                 // n q_hi(w) q_hi(a) + max |b|
  uint64_t worst_case = 0;                                 // max_c sum_i |W[c, i]| q_hi(a) (ir::worst_case_accumulator)
  int accumulator_bits = 32;                               // the IR's width (32 or 64)
  int significant_bits = 0;                                // float-scale: bits of the smallest multiplier
  double bias_shift_max = 0;           // max |b_corrected - b'| over the channels (0 without correction)
  double scale_min = 1, scale_max = 1; // the fitted g of eq. (10) (1 without affine correction)
};

struct LowbitConversion {
  ir::Network network;
  std::vector<LayerReport> layers;
  double input_step_min = 0, input_step_max = 0; // Delta_u of the input codes, in pixels
};

/// Converts the float network (eval mode; built from `config` without a precision plan). The
/// activation steps come from `options.calibration_images` images of `train`. Throws
/// std::runtime_error naming the layer that has no low-bit form.
LowbitConversion convert_to_lowbit(const NetworkImpl& network, const ExperimentConfig& config,
                                   const data::ImageDataset& train, const LowbitOptions& options);

/// The same for layers read elsewhere (an ONNX file): `config` gives the input shape and normalization.
LowbitConversion convert_to_lowbit(const std::vector<FloatLayer>& layers, const ExperimentConfig& config,
                                   const data::ImageDataset& train, const LowbitOptions& options);

/// The number of bits (sign included) a signed accumulator needs to hold |x| <= bound.
int signed_bits_for(uint64_t bound);

} // namespace fxnn::lowbit
