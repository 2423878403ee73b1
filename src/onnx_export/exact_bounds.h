#pragma once
// When float arithmetic reproduces the integer network exactly (docs/onnx.md, section 2): a float32
// holds every integer of magnitude <= 2^24, a double every one <= 2^53, so a sum or product of such
// integers whose every intermediate stays within that bound is computed without rounding, in any order.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fxnn/ir/fixed_point_network.h"
#include "fxnn/ir/worst_case.h"

namespace fxnn::onnx_export {

inline constexpr uint64_t kFloat32Integers = uint64_t{1} << 24; // eq. (1) of docs/onnx.md
inline constexpr uint64_t kFloat64Integers = uint64_t{1} << 53; // eq. (2) of docs/onnx.md

/// "2^24", "2^53": how reasons name the bounds.
std::string bound_name(uint64_t bound);

/// The largest magnitude eq. (3) of docs/fixed-point-network.md reaches before its clamp, over the
/// channels, as the double evaluation forms it: (|acc| |multiplier| + |offset| + rounding constant)
/// times 2^-shift when the shift is negative (saturated at 2^64 - 1).
uint64_t requantize_magnitude(const ir::Requantize& requantize, const ir::WorstCase& worst, int64_t channels);

/// x * 2^exponent when a float32 (double) holds it exactly, else nothing.
std::optional<float> exact_float32(int64_t x, int exponent);
std::optional<double> exact_float64(int64_t x, int exponent);

/// float32 values, each exact, whose sum is x * 2^exponent exactly: the 24 most significant bits of x
/// first, then the next 24, ...; none for x = 0; empty as well when a part falls outside float32's
/// exponents (callers tell the two apart by x).
std::vector<double> float32_parts(int64_t x, int exponent);

} // namespace fxnn::onnx_export
