#pragma once
// What the C and the HLS generators of a fixed-point network share (src/codegen/network_*.cpp):
// identifiers of the nodes, the nodes the output needs, comment-safe text, shapes.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fxnn/ir/fixed_point_network.h"

namespace fxnn::codegen::detail {

std::string upper(std::string s);

/// Text safe inside a C or C++ comment: no "*/" or "/*", control characters as '?'.
std::string comment_text(const std::string& s);

std::string shape_str(const std::vector<int64_t>& shape);

int64_t numel(const std::vector<int64_t>& shape);

/// One C identifier per node (ir::c_identifier, made unique with a suffix _2, _3, ...).
std::map<std::string, std::string> node_identifiers(const ir::Network& network);

/// needed[k]: node k contributes to the network output (the others are not evaluated).
std::vector<bool> needed_nodes(const ir::Network& network);

/// The network input or node whose memory a tensor uses: a flatten is its input, unmoved.
std::string storage_base(const ir::Network& network, const std::string& tensor);

/// A one-line description of a node for comments: "conv1: conv2d 3x3, stride 1, padding 1, of
/// input_scale [1, 28, 28] (s12.9) -> [8, 28, 28] (u8.7)".
std::string describe(const ir::Network& network, const ir::Node& node);

/// Bits of the smallest two's-complement integer holding [-m, m] (at least 2).
int signed_width(unsigned __int128 m);

} // namespace fxnn::codegen::detail
