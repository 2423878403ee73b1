#pragma once
// Reading NNet text files (the format of Reluplex, Marabou and NNV).
//
// Layout: `//` comment lines; then
//   numLayers, numInputs, numOutputs, maxLayerSize
//   layer sizes (numLayers + 1 values, input first)
//   a flag line (unused)
//   input minimums, input maximums (numInputs values each)
//   means, ranges (numInputs + 1 values each: the inputs', then the outputs')
//   per layer: one line per weight row (inputs values), then one line per bias (1 value).
// Values are separated by commas and/or spaces; a trailing comma is allowed.
//
// Tolerated variations (real files look like this, e.g. controller_single_pendulum_archcomp.nnet):
// extra values at the end of the header lines (ignored, logged), and a single value where a header
// line expects one per input (broadcast). A header whose means and ranges are all zero is a
// placeholder: no normalization is applied (logged). Otherwise the normalization
// x' = (x - mean) / range, y = y' * range_out + mean_out is folded into the first and last layers.
// The input minimums/maximums are kept as information only: NNet tools clip inputs to them, but
// synthesis analyses the box it is given, and the network function used is the unclipped one.
// Hidden layers are ReLU, the last layer is linear.

#include <string>
#include <vector>

#include "fxnn/floatnet/float_network.h"

namespace fxnn::floatnet {

struct NNetHeader {
  std::vector<double> input_min, input_max; // empty when the file has placeholders
  bool normalized = false;                  // a non-identity normalization was folded
};

/// Parses NNet text; `source` names it in messages ("file:line: ..."). Throws std::runtime_error
/// naming the line for malformed content.
FloatNetwork parse_nnet(const std::string& text, const std::string& source, NNetHeader* header = nullptr);

/// Reads an NNet file.
FloatNetwork read_nnet(const std::string& path, NNetHeader* header = nullptr);

} // namespace fxnn::floatnet
