#pragma once
// The reference formats of the lp method's error budget shares and of infeasibility diagnoses
// (docs/synthesis.md section 6, eq. (29a)): among the finest formats the word sizes allow, the ones
// whose certified bound is smallest.

#include "fxnn/floatnet/float_network.h"
#include "fxnn/synth/certificate.h"
#include "fxnn/synth/error_model.h"
#include "fxnn/synth/input_box.h"
#include "fxnn/synth/quantized_network.h"
#include "fxnn/synth/ranges.h"

namespace fxnn::synth {

/// finest_plan trades at most this many weight bits for finer inputs.
constexpr int kMaxTradedWeightBits = 4;

struct ReferencePlan {
  FormatPlan plan;
  QuantizedNetwork quantized;
  Certificate certificate;
  int traded_weight_bits = 0;
};

/// finest_plan with 0 to kMaxTradedWeightBits weight bits traded, each quantized and certified: the
/// overflow-free one with the smallest bound (the fewest traded bits on ties), else the first that
/// could be quantized. Rethrows the quantization error (codes beyond 62 bits) when none could be.
ReferencePlan reference_plan(const floatnet::FloatNetwork& net, const InputBox& box, const NetworkRanges& ranges,
                             const SynthesisBounds& bounds, Rounding rounding, const CertifyOptions& certify_options,
                             bool uniform_storage);

} // namespace fxnn::synth
