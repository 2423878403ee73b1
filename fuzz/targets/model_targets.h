#pragma once
// Fuzz targets of the float network importers and the synthesis problem files (no LibTorch).

#include <string>

#include "../fuzz_contract.h"
#include "../fuzz_input.h"
#include "fxnn/floatnet/nnet_import.h"
#include "fxnn/floatnet/onnx_import.h"
#include "fxnn/floatnet/onnx_layer_import.h"
#include "fxnn/synth/input_box.h"

namespace fxnn::fuzz {

/// The input is NNet text, parsed in memory.
inline Target nnet_target() {
  return {"nnet",
          [](const std::string& input, const std::string& scratch) {
            floatnet::NNetHeader header;
            floatnet::parse_nnet(input, scratch + "/input.nnet", &header);
          },
          scratch_is_source};
}

/// The input is an ONNX ModelProto, parsed in memory.
inline Target onnx_target() {
  return {"onnx",
          [](const std::string& input, const std::string& scratch) {
            floatnet::parse_onnx(input, scratch + "/input.onnx");
          },
          scratch_is_source};
}

/// The input is an ONNX ModelProto read as the layers of a CNN (`fxnn lowbit --onnx`), in memory.
inline Target onnx_layers_target() {
  return {"onnx_layers",
          [](const std::string& input, const std::string& scratch) {
            floatnet::parse_onnx_layers(input, scratch + "/input.onnx");
          },
          scratch_is_source};
}

/// The input is a benchmark suite file (benchmarks.yaml). The box of every entry must print as a
/// text that parses back to the same box.
inline Target benchmarks_target() {
  return {"benchmarks",
          [](const std::string& input, const std::string& scratch) {
            const std::string suite = scratch + "/benchmarks.yaml";
            write_file(suite, input);
            for (const auto& b : synth::load_benchmarks(suite))
              if (synth::parse_input_box(b.box.str()).str() != b.box.str())
                throw std::logic_error("the box of " + b.name + " does not round-trip: " + b.box.str());
          },
          scratch_is_source};
}

/// The input is the text of --input-box; a parsed box must round-trip through its text.
inline Target input_box_target() {
  return {"input_box",
          [](const std::string& input, const std::string&) {
            const synth::InputBox box = synth::parse_input_box(input);
            if (synth::parse_input_box(box.str()).str() != box.str())
              throw std::logic_error("the box does not round-trip: " + box.str());
          },
          [](const std::string&) { return std::vector<std::string>{"--input-box"}; }};
}

} // namespace fxnn::fuzz
