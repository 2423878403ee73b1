#include "fxnn/train/trained_run.h"

#include <filesystem>
#include <stdexcept>

#include "fxnn/train/checkpoint.h"
#include "fxnn/train/trainer.h"

namespace fxnn {

namespace fs = std::filesystem;

TrainedRun load_trained_checkpoint(const std::string& checkpoint, const std::string& config, const std::string& plan) {
  if (!fs::exists(checkpoint)) throw std::runtime_error(checkpoint + ": no such checkpoint");
  TrainedRun run;
  run.config = ExperimentConfig::load(config);
  if (!plan.empty()) run.plan = PrecisionPlan::load(plan);
  run.network = build_network(run.config, run.plan);
  run.epoch = load_network_weights(checkpoint, *run.network);
  run.network->eval();
  return run;
}

TrainedRun load_trained_run(const std::string& dir) {
  const fs::path root(dir);
  if (!fs::exists(root / "config.yaml")) throw std::runtime_error(dir + ": not a run directory (no config.yaml)");
  const fs::path plan = root / "plan.yaml";
  return load_trained_checkpoint((root / "checkpoint.pt").string(), (root / "config.yaml").string(),
                                 fs::exists(plan) ? plan.string() : std::string());
}

} // namespace fxnn
