#pragma once
// Fuzz targets of the YAML experiment config and the precision plan, parsed in memory.

#include <string>
#include <vector>

#include "../fuzz_contract.h"
#include "../fuzz_input.h"
#include "fxnn/config/experiment_config.h"
#include "fxnn/nn/precision_plan.h"

namespace fxnn::fuzz {

/// Parts: the config text, then `--set key=value` overrides. What parses must survive the round
/// trip through config.yaml that every run directory keeps (a resumed run reads it back).
inline Target experiment_config_target() {
  return {"experiment_config",
          [](const std::string& input, const std::string& scratch) {
            const auto parts = split_parts(input);
            const std::vector<std::string> overrides(parts.begin() + 1, parts.end());
            const ExperimentConfig config = ExperimentConfig::parse(parts[0], scratch + "/config.yaml", overrides);
            const std::string saved = config.to_yaml();
            if (ExperimentConfig::parse(saved, scratch + "/saved.yaml").to_yaml() != saved)
              throw std::logic_error("config.yaml does not round-trip:\n" + saved);
          },
          [](const std::string& scratch) {
            return std::vector<std::string>{scratch, "--set"};
          }};
}

/// The input is a plan; what parses must survive save() and load() unchanged.
inline Target precision_plan_target() {
  return {"precision_plan",
          [](const std::string& input, const std::string& scratch) {
            const PrecisionPlan plan = PrecisionPlan::parse(input, scratch + "/plan.yaml");
            const std::string saved = plan.to_yaml();
            if (PrecisionPlan::parse(saved, scratch + "/saved.yaml").to_yaml() != saved)
              throw std::logic_error("the plan does not round-trip:\n" + saved);
          },
          scratch_is_source};
}

} // namespace fxnn::fuzz
