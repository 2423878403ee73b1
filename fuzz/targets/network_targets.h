#pragma once
// Fuzz targets of the fixed-point network folder (model.json and its .npy arrays) and of .npy.

#include <cctype>
#include <string>

#include "../fuzz_contract.h"
#include "../fuzz_input.h"
#include "fxnn/io/npy.h"
#include "fxnn/ir/network_files.h"

namespace fxnn::fuzz {

/// Letters, digits, '.', '_', '-', not starting with '.': a name that stays inside a folder.
inline bool is_plain_file_name(const std::string& name) {
  if (name.empty() || name.size() > 200 || name[0] == '.') return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

/// Parts: model.json, then one file per part as "<file name>\n<bytes>" (other names are skipped:
/// the harness writes plain files inside its folder only).
inline Target network_folder_target() {
  return {"network_folder",
          [](const std::string& input, const std::string& scratch) {
            const auto parts = split_parts(input);
            const std::string dir = scratch + "/net";
            write_file(dir + "/" + ir::kManifestFile, parts[0]);
            for (size_t i = 1; i < parts.size(); ++i) {
              const size_t newline = parts[i].find('\n');
              const std::string name = parts[i].substr(0, newline);
              if (newline == std::string::npos || !is_plain_file_name(name)) continue;
              write_file(dir + "/" + name, parts[i].substr(newline + 1));
            }
            ir::load_network(dir);
          },
          scratch_is_source};
}

/// The input is a .npy file, decoded in memory; what decodes must encode and decode to the same array.
inline Target npy_target() {
  return {"npy",
          [](const std::string& input, const std::string& scratch) {
            const io::NpyArray array = io::decode_npy(input, scratch + "/input.npy");
            const io::NpyArray again = io::decode_npy(io::encode_npy(array), scratch + "/encoded.npy");
            if (again.shape != array.shape || again.data != array.data || again.dtype != array.dtype)
              throw std::logic_error("the array does not round-trip through encode_npy");
          },
          scratch_is_source};
}

} // namespace fxnn::fuzz
