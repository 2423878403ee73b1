// Applying a precision plan to a network (kept apart from the parser, which needs no network).

#include "fxnn/nn/network.h"
#include "fxnn/nn/precision_plan.h"

#include <stdexcept>

namespace fxnn {

void PrecisionPlan::apply(NetworkImpl& network) const {
  const auto names = network.layer_names();
  for (const auto& override_entry : layers) {
    bool used = false;
    for (const auto& name : names) used = used || layer_matches(override_entry.pattern, name);
    if (!used) {
      std::string known;
      for (const auto& name : names) known += (known.empty() ? "" : ", ") + name;
      throw std::runtime_error(source + ": layers." + override_entry.pattern + ": matches no layer of the network (" +
                               known + ")");
    }
  }
  for (auto& point : network.quant_points()) point->set_spec(resolve(point->layer(), point->tensor_class()));
}

void clear_precision(NetworkImpl& network) {
  for (auto& point : network.quant_points()) point->set_spec(std::nullopt);
}

} // namespace fxnn
