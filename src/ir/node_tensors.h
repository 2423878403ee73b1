#pragma once
// The integer arrays of a node as the files hold them: shared by the .npy writer and model.h.

#include <algorithm>
#include <string>
#include <vector>

#include "fxnn/io/npy.h"
#include "fxnn/ir/fixed_point_network.h"

namespace fxnn::ir {

struct NodeTensor {
  std::string key;                  // "weight", "multiplier", "offset"
  const std::vector<int64_t>* data; // the values (owned by the node)
  std::vector<int64_t> shape;       // as in the manifest
  io::NpyDType dtype;               // the narrowest type holding the format (weights) or the values
  std::string file_name(const Node& node) const { return node.name + "." + key + ".npy"; }
};

inline io::NpyDType values_dtype(const std::vector<int64_t>& v) {
  if (v.empty()) return io::NpyDType::kInt8;
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return io::narrowest_npy_dtype(*lo, *hi);
}

inline std::vector<NodeTensor> node_tensors(const Node& node) {
  std::vector<NodeTensor> tensors;
  if (node.weight)
    tensors.push_back({"weight", &node.weight->data, node.weight->shape,
                       io::narrowest_npy_dtype(node.weight->format.code_min(), node.weight->format.code_max())});
  if (node.requantize) {
    const auto& r = *node.requantize;
    tensors.push_back(
        {"multiplier", &r.multiplier, {static_cast<int64_t>(r.multiplier.size())}, values_dtype(r.multiplier)});
    tensors.push_back({"offset", &r.offset, {static_cast<int64_t>(r.offset.size())}, values_dtype(r.offset)});
  }
  return tensors;
}

} // namespace fxnn::ir
