#pragma once
// HLS C++ of a synthesized fixed-point network with ap_fixed<W, I> types (docs/synthesis.md
// section 10), computing exactly what the C code computes:
//
//   void NAME_hls(const NAME_in_t x[N], NAME_out_t y[M]);
//
// Per layer, the stored values share one type wide enough for every neuron's format; weights and
// accumulators likewise (products and sums are exact); each neuron's rounding is a conversion to
// ap_fixed<W, I, AP_RND> (round half up: fxnn's tie rule) or AP_TRN (floor), then the activation.
// Overflow mode AP_WRAP: the certificate proves that nothing wraps.

#include <string>
#include <vector>

#include "fxnn/codegen/c_codegen.h"

namespace fxnn::codegen {

struct GeneratedHls {
  std::string header; // NAME_hls.h
  std::string source; // NAME_hls.cpp
  std::string origin; // "fixed-point network" or "per-neuron formats", as GeneratedCode::origin
  std::string origin_reason;
};

/// The HLS code of q, from its fixed-point network (generate_network_hls) when it has one and its
/// types fit, else by the per-neuron generator described above; the interface is the same.
GeneratedHls generate_hls(const synth::QuantizedNetwork& q, const synth::Certificate& cert, const std::string& name,
                          const Provenance& provenance = {});

/// Writes DIR/NAME_hls.h and DIR/NAME_hls.cpp (atomically; DIR is created). Returns the two paths.
std::vector<std::string> write_hls(const std::string& dir, const std::string& name, const GeneratedHls& code);

/// The exact decimal expansion of code * 2^-frac ("-0.375", "12", "0.000244140625").
std::string exact_decimal(__int128 code, int frac);

} // namespace fxnn::codegen
