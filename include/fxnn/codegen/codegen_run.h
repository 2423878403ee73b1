#pragma once
// `fxnn codegen`: a fixed-point network folder to C99 and HLS C++ files (docs/codegen.md). The command
// line only fills CodegenRunOptions and prints the report.

#include <cstdint>
#include <string>
#include <vector>

namespace fxnn::codegen {

struct CodegenRunOptions {
  std::string model;   // the network folder (model.json, .npy files)
  std::string c_dir;   // --emit-c: NAME.h and NAME.c go here
  std::string hls_dir; // --emit-hls: NAME_hls.h and NAME_hls.cpp go here (may equal c_dir)
  std::string name;    // C identifier; empty: the network's name made an identifier (ir::c_identifier)
  bool force = false;  // replace a folder of generated code already there (never anything else)
};

struct CodegenRunReport {
  std::string name, network, function, hls_function;
  std::vector<std::string> c_files, hls_files;
  int64_t work_bytes = 0, constant_bytes = 0, nodes = 0;
  /// The lines `fxnn codegen` prints.
  std::string summary() const;
};

/// Checks the options and the output folders (nothing is read or written before), reads the network
/// (ir::load_network: every error names the file), generates the code and writes each folder
/// atomically (write_code_folder). Throws std::runtime_error or std::invalid_argument with one line
/// naming the file or value at fault.
CodegenRunReport run_codegen(const CodegenRunOptions& options);

} // namespace fxnn::codegen
