#pragma once
// The code of a synthesized network (docs/synthesis.md section 10): integer-only C99 and HLS C++,
// generated from its fixed-point network by the generators of codegen/network_codegen.h whenever the
// network has one, else by the per-neuron generators here (per-neuron storage formats of lp,
// accumulators beyond eq. (52) of docs/synthesis.md).
//
//   void NAME_fixed(const int32_t *x, int32_t *y);  integer core: input codes in, output codes out;
//                                                   no floating point, weights and shifts constants
//   void NAME(const double *x, double *y);          boundary wrapper: quantizes x (eq. (3), clamped
//                                                   to the certified box), converts y back
//   void NAME_hls(const NAME_in_t x[N], NAME_out_t y[M]);   HLS C++ with ap_fixed<W, I> types
//
// The core computes exactly what evaluate_fixed (synth/quantized_network.h) computes. In the per-neuron
// HLS code the stored values of a layer share one type wide enough for every neuron's format; weights
// and accumulators likewise (products and sums are exact); each neuron's rounding is a conversion to
// ap_fixed<W, I, AP_RND> (round half up: fxnn's tie rule) or AP_TRN (floor), then the activation.
// Overflow mode AP_WRAP: the certificate proves that nothing wraps.

#include <optional>
#include <string>

#include "fxnn/codegen/generated_code.h"
#include "fxnn/ir/fixed_point_network.h"
#include "fxnn/synth/certificate.h"
#include "fxnn/synth/quantized_network.h"

namespace fxnn::synth {

/// The synthesized network as a fixed-point network (to_fixed_point_network), or nothing when its
/// formats have no exact encoding (per-neuron storage formats of lp, accumulators beyond eq. (52) of
/// docs/synthesis.md); `reason` then says why.
std::optional<ir::Network> synthesized_network(const QuantizedNetwork& q, const Certificate& cert,
                                               const std::string& name, std::string* reason = nullptr);

/// The C code of q: NAME_fixed(const int32_t *x, int32_t *y), the integer core, and the wrapper
/// NAME(const double *x, double *y). Generated from the fixed-point network of q (generate_network_c,
/// docs/codegen.md) when q has one (synthesized_network), else by the per-neuron generator;
/// GeneratedCode::origin says which. Both compute evaluate_fixed exactly on the box. The certificate
/// must be overflow free (throws std::invalid_argument otherwise).
codegen::GeneratedCode generate_c(const QuantizedNetwork& q, const Certificate& cert, const std::string& name,
                                  const codegen::Provenance& provenance = {});

/// The HLS code of q, from its fixed-point network (generate_network_hls) when it has one and its
/// types fit, else by the per-neuron generator; the interface is the same.
codegen::GeneratedHls generate_hls(const QuantizedNetwork& q, const Certificate& cert, const std::string& name,
                                   const codegen::Provenance& provenance = {});

} // namespace fxnn::synth
