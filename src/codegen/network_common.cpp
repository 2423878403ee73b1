#include "network_common.h"

#include <algorithm>
#include <cctype>

#include "fxnn/ir/model_header.h"

namespace fxnn::codegen::detail {

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string comment_text(const std::string& s) {
  std::string out;
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7f ? '?' : c;
  }
  for (size_t i = 0; i + 1 < out.size(); ++i)
    if ((out[i] == '*' && out[i + 1] == '/') || (out[i] == '/' && out[i + 1] == '*')) out[i] = '_';
  return out;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::map<std::string, std::string> node_identifiers(const ir::Network& network) {
  std::map<std::string, std::string> ids;
  std::set<std::string> taken;
  for (const ir::Node& node : network.nodes) {
    const std::string base = ir::c_identifier(node.name);
    std::string id = base;
    for (int k = 2; taken.count(id); ++k) id = base + "_" + std::to_string(k);
    taken.insert(id);
    ids[node.name] = id;
  }
  return ids;
}

std::vector<bool> needed_nodes(const ir::Network& network) {
  std::vector<bool> needed(network.nodes.size(), false);
  std::set<std::string> wanted{network.output};
  for (size_t k = network.nodes.size(); k-- > 0;) {
    const ir::Node& node = network.nodes[k];
    if (!wanted.count(node.name)) continue;
    needed[k] = true;
    for (const auto& in : node.inputs) wanted.insert(in);
  }
  return needed;
}

std::string storage_base(const ir::Network& network, const std::string& tensor) {
  std::string t = tensor;
  while (t != network.input_name) {
    const ir::Node& node = network.node(t);
    if (node.op != ir::OpKind::kFlatten) break;
    t = node.inputs[0];
  }
  return t;
}

std::string describe(const ir::Network& network, const ir::Node& node) {
  std::string s = node.name + ": " + ir::to_string(node.op);
  if (node.op == ir::OpKind::kConv2d || node.op == ir::OpKind::kMaxPool || node.op == ir::OpKind::kAvgPool) {
    s += " " + std::to_string(node.kernel) + "x" + std::to_string(node.kernel) + ", stride " +
         std::to_string(node.stride);
    if (node.op == ir::OpKind::kConv2d) s += ", padding " + std::to_string(node.padding);
  }
  s += " of";
  for (size_t i = 0; i < node.inputs.size(); ++i)
    s += (i ? " and " : " ") + node.inputs[i] + " " + shape_str(network.shape_of(node.inputs[i])) + " (" +
         network.format_of(node.inputs[i]).str() + ")";
  return s + " -> " + shape_str(node.output_shape) + " (" + node.output_format.str() + ")";
}

int signed_width(unsigned __int128 m) {
  int bits = 0;
  while (m > 0) {
    ++bits;
    m >>= 1;
  }
  return std::max(2, bits + 1);
}

} // namespace fxnn::codegen::detail
