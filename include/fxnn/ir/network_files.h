#pragma once
// The fixed-point network on disk: a folder with model.json, one .npy per tensor and model.h
// (docs/fixed-point-network.md, section 3).

#include <string>

#include "fxnn/io/output_folder.h"
#include "fxnn/ir/fixed_point_network.h"

namespace fxnn::ir {

inline constexpr const char* kManifestFormat = "fxnn-fixed-point-network";
inline constexpr const char* kManifestFile = "model.json";
inline constexpr const char* kHeaderFile = "model.h";
/// model.json nests 5 levels deep (nodes[i].requantize.multiplier); a text whose brackets nest deeper
/// than this is refused before it is parsed, so that no recursive walk of the parsed value (printing
/// it in an error, freeing it) can exhaust the stack. Counted on the bytes: '[' and '{' outside
/// strings open a level, ']' and '}' close one (docs/fixed-point-network.md, "What a reader checks").
inline constexpr int kMaxManifestDepth = 16;

/// Validates the network, then writes dir/<node>.<tensor>.npy (the narrowest signed integer type of
/// each tensor), dir/model.h and dir/model.json. The files are written into a staging folder beside
/// dir that then replaces dir, so a crash leaves either the old folder or the new one, never a mix.
/// An existing dir is replaced only when it is a network folder and `existing` is kReplace (--force);
/// anything else there (a run, a user's files, a plain file) is refused (write_folder_atomic).
void save_network(const Network& network, const std::string& dir, ExistingOutput existing = ExistingOutput::kRefuse);

/// A folder save_network writes: model.json of this format, model.h and .npy files, nothing else.
FolderKind network_folder_kind();

/// Reads dir/model.json and its .npy files with strict checks (format, version, every key, every
/// file's header, dtype, size and shape, values within their formats), then validates the network.
/// Errors are std::runtime_error naming the file and the key at fault.
Network load_network(const std::string& dir);

/// The manifest text of a network (the content of model.json).
std::string manifest_json(const Network& network);

} // namespace fxnn::ir
