#pragma once
// Integer-only C99 code of a synthesized fixed-point network (docs/synthesis.md section 10).
//
//   void NAME_fixed(const int32_t *x, int32_t *y);  integer core: input codes in, output codes out;
//                                                   no floating point, weights and shifts constants
//   void NAME(const double *x, double *y);          boundary wrapper: quantizes x (eq. (3), clamped
//                                                   to the certified box), converts y back
//
// The core computes exactly what evaluate_fixed (synth/quantized_network.h) computes.

#include <string>
#include <utility>
#include <vector>

#include "fxnn/synth/certificate.h"
#include "fxnn/synth/quantized_network.h"

namespace fxnn::codegen {

struct GeneratedCode {
  std::string header; // NAME.h
  std::string source; // NAME.c
};

/// Lines of text put in the generated files' leading comment (model, method, bound, ...).
using Provenance = std::vector<std::string>;

/// Throws std::invalid_argument when `name` is not a C identifier (or is a C keyword).
void check_c_identifier(const std::string& name);

/// The C code of q. The certificate chooses the integer types: it must be overflow free (throws
/// std::invalid_argument otherwise, naming the failure).
GeneratedCode generate_c(const synth::QuantizedNetwork& q, const synth::Certificate& cert, const std::string& name,
                         const Provenance& provenance = {});

/// Writes each (file name, content) into DIR (atomically; DIR is created). Returns the paths.
std::vector<std::string> write_files(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& files);

/// Writes DIR/NAME.h and DIR/NAME.c (each atomically; DIR is created). Returns the two paths.
std::vector<std::string> write_c(const std::string& dir, const std::string& name, const GeneratedCode& code);

/// The smallest of int8_t, int16_t, int32_t, int64_t holding every integer of [lo, hi].
std::string c_int_type(__int128 lo, __int128 hi);
/// A C integer literal of v (INT64_C for wide values, INT64_MIN spelled as an expression).
std::string c_int_literal(__int128 v);

} // namespace fxnn::codegen
