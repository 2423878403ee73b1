#pragma once
// The independent re-check of a synthesized network (docs/synthesis.md section 8): the error bound
// of the actual integer codes by the plain recurrence (eq. (13)-(19)) in exact rational arithmetic,
// and the absence of overflow of every stored word and every accumulator (eq. (21)-(23)).

#include <string>
#include <vector>

#include "fxnn/floatnet/float_network.h"
#include "fxnn/ir/worst_case.h"
#include "fxnn/synth/quantized_network.h"
#include "fxnn/synth/ranges.h"

namespace fxnn::synth {

struct LayerCertificate {
  double max_error = 0.0;                // max_i e_i after the activation (rounded up to double)
  int acc_bits = 0;                      // signed bits every partial sum (and the rounding add) fits in
  std::vector<int> neuron_acc_bits;      // the same per neuron (at its own accumulator format)
  int storage_bits = 0;                  // signed bits every stored output code fits in
  int weight_bits = 0;                   // signed bits of the weight codes
  int folded_weight_bits = 0;            // signed bits of the weight constants with the alignment shift folded in
  std::vector<int64_t> code_lo, code_hi; // stored output codes
};

struct Certificate {
  bool certified = false; // bound <= eps and no overflow
  bool overflow_free = false;
  std::string failure;               // the first reason it is not certified ("" when certified)
  double bound = 0.0;                // max over outputs, rounded up
  std::string bound_exact;           // the exact rational max bound, "p/q"
  std::vector<double> output_bounds; // per output, rounded up
  int input_bits = 0;                // signed bits of the input codes
  std::vector<LayerCertificate> layers;
};

struct CertifyOptions {
  double eps = 0.0;
  int word = 32; // W: inputs, weights and stored outputs are signed W-bit words
  int acc = 64;  // A: accumulators are signed A-bit words
  /// For diagnosis: which rounding sources count (index 0: input quantization, l: layer l's weights,
  /// bias, shift and clip). Empty: all.
  std::vector<bool> sources;
  /// Threads of the per-part analyses of a partitioned box (the bound does not depend on them).
  int threads = 1;
};

/// Certifies q against its float network over the ranges (which must enclose the real values of
/// every neuron for every input of the box, as analyze_ranges guarantees).
Certificate certify(const floatnet::FloatNetwork& net, const NetworkRanges& ranges, const QuantizedNetwork& q,
                    const CertifyOptions& options);

/// Signed bits of the smallest two's-complement type holding every integer of [lo, hi] (ir/worst_case.h).
using ir::signed_bits;

} // namespace fxnn::synth
