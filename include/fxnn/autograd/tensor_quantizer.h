#pragma once
// Quantization of whole tensors: the bridge from LibTorch tensors to the raw-array kernels of core.

#include <torch/torch.h>

#include <cstdint>

#include "fxnn/core/quantize_kernels.h"
#include "fxnn/core/quantizer_spec.h"

namespace fxnn {

struct TensorQuantization {
  torch::Tensor values;       // quantized values, same dtype/shape/device as the input
  Format format;              // the format actually used (auto ranges resolved from max|x|)
  SaturationCount saturation; // inputs clamped at each end
  double scale = 1.0;         // the spec's scale: values = scale * codes * step

  double min() const { return scale * format.min(); } // the clipping range of the values
  double max() const { return scale * format.max(); }
};

/// Resolves an `auto` range from the tensor's max |x| (eq. (4) of docs/number-system.md) and quantizes.
/// A scaled spec quantizes x / scale and multiplies the values back (docs/number-system.md section 5).
/// CPU float/double tensors go through the fused kernel of core; any other device through the
/// device-agnostic tensor-op path below, which computes the same values.
TensorQuantization quantize_tensor(const torch::Tensor& x, const QuantizerSpec& spec, uint64_t seed);

/// The same written into `out` (x's dtype, shape and device; x itself for an in-place quantization),
/// which the result's values then are: no allocation on the CPU kernel's path, for the optimizer's
/// state tensors, which are updated every step.
TensorQuantization quantize_tensor_into(const torch::Tensor& x, const torch::Tensor& out, const QuantizerSpec& spec,
                                        uint64_t seed);

/// Q(g) where lo <= x <= hi, 0 elsewhere: the fused backward of a quantized activation
/// (core's quantize_masked). The auto range is resolved from g; saturation is counted over all of g.
TensorQuantization quantize_tensor_masked(const torch::Tensor& g, const torch::Tensor& x, double lo, double hi,
                                          const QuantizerSpec& spec, uint64_t seed);

/// The resolved format for x: spec.format itself, or its auto range resolved from max |x|.
Format resolve_format(const torch::Tensor& x, const Format& format);

/// Device-agnostic implementation with plain tensor ops (nearest and floor are bit-identical to the
/// kernel; stochastic draws from torch's generator instead of the counter-based hash).
TensorQuantization quantize_tensor_ops(const torch::Tensor& x, const QuantizerSpec& spec);

} // namespace fxnn
