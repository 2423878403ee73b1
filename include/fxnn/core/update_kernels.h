#pragma once
// The fixed-point weight update in one pass over the weight (no LibTorch): the weight-gradient, the
// accumulator and the weight quantizers applied on the way through, so that an update reads the
// gradient and the accumulator once and writes the accumulator and the weight once
// (docs/fixed-point-training.md, "The weight update"). A plain-loop reference and a fused kernel
// (OpenMP across blocks, vectorized within a block) that must agree bit for bit.

#include <cstdint>

#include "fxnn/core/format.h"
#include "fxnn/core/quantize_kernels.h"
#include "fxnn/core/rounding.h"

namespace fxnn {

/// One quantizer of the update: a concrete (not auto) format, its rounding and the seed of this call.
struct UpdateQuantizer {
  Format format;
  Rounding rounding = Rounding::kNearest;
  uint64_t seed = 0;
};

/// What each quantizer saturated (as quantize() counts it).
struct UpdateCounts {
  SaturationCount gradient;
  SaturationCount accumulator;
  SaturationCount weight;
};

/// For every element i:
///   g = Q_GW(gradient[i])                              in float (gw null: gradient[i], already on its grid)
///   a = Q_acc( clamp( fma(-lr, g, acc[i]), -clip, clip ) )   in double (clip <= 0: no clamp)
///   acc[i] = a,   weight[i] = float( Q_W(a) )
/// Each quantizer rounds and counts with element index i, as quantize() on the whole tensor would.
/// Q_W's format must have at most 24 significant bits, so that the cast to float is exact.
UpdateCounts accumulator_update_reference(const float* gradient, double* acc, float* weight, int64_t n, double lr,
                                          double clip, const UpdateQuantizer* gw, const UpdateQuantizer& acc_q,
                                          const UpdateQuantizer& w_q);
UpdateCounts accumulator_update(const float* gradient, double* acc, float* weight, int64_t n, double lr, double clip,
                                const UpdateQuantizer* gw, const UpdateQuantizer& acc_q, const UpdateQuantizer& w_q);

} // namespace fxnn
