#pragma once
// The fixed-point network that synthesis produces and code generation consumes: integer codes of
// every weight, bias and clip, the fractional bits of every quantity, and the integer semantics of
// docs/synthesis.md section 2 (eq. (3)-(8)), which the generated C and HLS code implement bit for bit.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "fxnn/core/rounding.h"
#include "fxnn/floatnet/float_network.h"
#include "fxnn/synth/input_box.h"

namespace fxnn::synth {

/// Fractional bits of one neuron (value = code * 2^-frac; frac may be negative).
struct NeuronFormat {
  int frac_out = 0;    // F_i: the stored output, eq. (7)
  int frac_weight = 0; // Fw_i: the weights of the neuron's row, eq. (4)
  int frac_acc = 0;    // Fa_i: the accumulator and the bias, eq. (5)-(6)
};

/// A choice of formats: per input, and per neuron of every layer.
struct FormatPlan {
  std::vector<int> input_frac;
  std::vector<std::vector<NeuronFormat>> layers;
};

/// Checks that a plan fits a network: sizes, Fa_i >= Fw_i + F_j for every input j of neuron i
/// (exact products, eq. (6)), F_i <= Fa_i, and shifts below 63. Throws std::invalid_argument.
void check_plan(const floatnet::FloatNetwork& net, const FormatPlan& plan);

struct QuantizedLayer {
  int64_t inputs = 0, outputs = 0;
  floatnet::Activation activation = floatnet::Activation::kLinear;
  std::vector<NeuronFormat> formats; // [outputs]
  std::vector<int64_t> weight;       // [outputs * inputs] codes at frac_weight of the row
  std::vector<int> align;            // [outputs * inputs] k_ij = Fa_i - Fw_i - F_j >= 0, eq. (6)
  std::vector<int64_t> bias;         // [outputs] codes at frac_acc
  std::vector<int64_t> clip;         // [outputs] codes at frac_out (kClippedRelu only)

  int shift(int64_t i) const {
    return formats[static_cast<size_t>(i)].frac_acc - formats[static_cast<size_t>(i)].frac_out;
  }
  /// The weight code with its alignment folded in, W_ij * 2^k_ij: the compile-time constant of code.
  __int128 folded_weight(int64_t i, int64_t j) const;
};

struct QuantizedNetwork {
  Rounding rounding = Rounding::kNearest;
  std::vector<int> input_frac;
  std::vector<int64_t> input_code_lo, input_code_hi; // codes of the box ends (the wrapper clamps to them)
  std::vector<QuantizedLayer> layers;

  int64_t inputs() const { return static_cast<int64_t>(input_frac.size()); }
  int64_t outputs() const { return layers.empty() ? 0 : layers.back().outputs; }
  std::vector<int> output_frac() const;
};

/// R(value * 2^frac) exactly (eq. (3)): floor, or round half up for kNearest. Throws
/// std::overflow_error when the code does not fit 62 bits. Only kFloor and kNearest are valid.
int64_t round_to_code(double value, int frac, Rounding rounding);

/// The integer shift of eq. (7): floor(v / 2^s) or floor(v / 2^s + 1/2), s >= 0.
__int128 shift_round(__int128 v, int s, Rounding rounding);

/// Quantizes a network by a plan (eq. (3)-(5)); the box gives the input code limits.
QuantizedNetwork quantize_network(const floatnet::FloatNetwork& net, const InputBox& box, const FormatPlan& plan,
                                  Rounding rounding);

/// Raised by the reference evaluation when an integer leaves its C type (never for a certified network).
class IntegerOverflow : public std::overflow_error {
 public:
  using std::overflow_error::overflow_error;
};

/// The integer semantics of the generated C, evaluated with 128-bit checks: x are input codes,
/// returns output codes. Throws IntegerOverflow naming the layer and neuron when a product, a partial
/// sum or the rounding add leaves int64_t, or a stored value leaves `storage_bits` (signed).
std::vector<int64_t> evaluate_fixed(const QuantizedNetwork& q, const std::vector<int64_t>& x, int storage_bits = 32);

/// The input codes of the generated wrapper for real inputs: R(x * 2^F), clamped to the box's codes.
std::vector<int64_t> quantize_inputs(const QuantizedNetwork& q, const std::vector<double>& x);

/// The generated wrapper end to end: real inputs to real outputs (code * 2^-F).
std::vector<double> evaluate_fixed_real(const QuantizedNetwork& q, const std::vector<double>& x);

} // namespace fxnn::synth
