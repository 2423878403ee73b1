#include "fxnn/lowbit/shift_clip_check.h"

#include "fxnn/lowbit/requantize_builder.h"

namespace fxnn::lowbit {

std::vector<std::string> shift_clip_violations(const ir::Network& network) {
  std::vector<std::string> problems;
  for (const auto& node : network.nodes) {
    if (!node.requantize) continue;
    const auto& m = node.requantize->multiplier;
    for (size_t c = 0; c < m.size(); ++c)
      if (!is_power_of_two(m[c]))
        problems.push_back("node '" + node.name + "': multiplier " + std::to_string(m[c]) + " of channel " +
                           std::to_string(c) + " is not a power of two");
  }
  return problems;
}

} // namespace fxnn::lowbit
