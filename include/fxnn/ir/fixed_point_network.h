#pragma once
// The fixed-point network: the artifact that leaves fxnn (docs/fixed-point-network.md). Produced by
// the export of trained runs, the low-bit converter and the sound synthesis; consumed by the integer
// runtime, the code generators and the file exporters. Plain C++: no LibTorch.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fxnn/core/format.h"
#include "fxnn/core/rounding.h"

namespace fxnn::ir {

inline constexpr int kFormatVersion = 1;

/// The most elements a per-sample tensor may have (the network input, every node's output, every
/// weight), and the largest padding: 2^31, beyond any network fxnn deals with. With it every size
/// and index the evaluators form (shape products, padded sizes, kernel^2, a batch of up to 2^31
/// samples times a tensor) stays inside int64, and a manifest cannot announce an allocation of
/// exabytes. validate() refuses larger shapes before it multiplies their dimensions.
inline constexpr int64_t kMaxTensorElements = int64_t{1} << 31;

/// An integer tensor: codes (row-major) of one fixed-point format. Stored as int64 in memory; the
/// files use the narrowest of int8/int16/int32/int64 that holds the format.
struct IntTensor {
  std::vector<int64_t> shape;
  std::vector<int64_t> data;
  Format format;
  int64_t numel() const;
};

/// Requantization of an integer accumulator to the next activation format, per channel c:
///   v   = acc * multiplier[c] + offset[c]                                        (int64)
///   out = clamp( shift_right(v, shift), clamp_min, clamp_max )                    (eq. (3))
/// shift_right rounds as `rounding` says: nearest = (v + 2^(shift-1)) >> shift (ties up), floor = v >> shift;
/// a negative shift is an exact left shift. `multiplier` and `offset` hold one entry per channel (the
/// dimension 1 of an NCHW or NC tensor) or a single entry for the whole tensor. The clamp is the
/// saturation of the output format and, for activations, the (clipped) ReLU.
struct Requantize {
  std::vector<int64_t> multiplier; // fractional bits: multiplier_frac
  int multiplier_frac = 0;
  std::vector<int64_t> offset; // in the fractional bits of acc * multiplier
  int shift = 0;
  Rounding rounding = Rounding::kNearest;
  int64_t clamp_min = 0;
  int64_t clamp_max = 0;
};

enum class OpKind {
  kRescale, // per-channel affine map of one input, then Requantize (the input normalization)
  kConv2d,  // 2-D convolution (NCHW, OIHW weights, square kernel, zero padding), then Requantize
  kDense,   // y = W x (W: [out, in]), then Requantize
  kMaxPool, // max over kernel x kernel windows (stride), codes and format unchanged
  kAvgPool, // sum over kernel x kernel windows, then Requantize (the division in the multiplier, or in
            // the next layer's weights for a low-bit network: docs/lowbit.md section 3)
  kAdd,     // a * 2^(F - F_a) + b * 2^(F - F_b) with F = max(F_a, F_b), then Requantize
  kFlatten, // [N, C, H, W] -> [N, C*H*W], codes and format unchanged
};

std::string to_string(OpKind op);
OpKind parse_op_kind(const std::string& text);

struct Node {
  std::string name; // unique; also the name of its output tensor
  OpKind op = OpKind::kDense;
  std::vector<std::string> inputs;   // names of earlier nodes, or of the network input
  Format output_format;              // format of the output codes
  std::vector<int64_t> output_shape; // per sample (no batch dimension)
  // kConv2d, kDense:
  std::optional<IntTensor> weight;
  int accumulator_bits = 32; // 32 or 64: the integer width the accumulation needs (checked)
  // kConv2d, kMaxPool, kAvgPool:
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t padding = 0;
  // kRescale, kConv2d, kDense, kAvgPool, kAdd:
  std::optional<Requantize> requantize;
};

struct Network {
  int version = kFormatVersion;
  std::string name;
  std::string input_name = "input";
  std::vector<int64_t> input_shape; // per sample, e.g. [1, 28, 28]
  Format input_format;              // e.g. u8.0: raw pixels
  std::vector<Node> nodes;          // in evaluation order
  std::string output;               // name of the node whose codes are the network output
  std::string source;               // what produced it (run directory, converter, synthesis)

  const Node& node(const std::string& name) const;
  /// Format and per-sample shape of a tensor: the input or a node output.
  Format format_of(const std::string& tensor) const;
  std::vector<int64_t> shape_of(const std::string& tensor) const;
  /// Structural checks (names, shapes, formats, accumulator widths against their worst case);
  /// throws std::runtime_error naming the node.
  void validate() const;
};

} // namespace fxnn::ir
