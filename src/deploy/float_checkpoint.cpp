#include "fxnn/deploy/float_checkpoint.h"

#include <filesystem>
#include <stdexcept>

namespace fxnn::lowbit {

namespace fs = std::filesystem;

namespace {

/// The layers whose optimizer state holds a fixed-point accumulator ("weight.<layer>.accumulator",
/// written by FixedPointSGD only for quantized weights).
std::vector<std::string> fixed_point_layers(const std::string& checkpoint, const NetworkImpl& network) {
  torch::serialize::InputArchive archive, optimizer;
  archive.load_from(checkpoint);
  std::vector<std::string> layers;
  if (!archive.try_read("optimizer", optimizer)) return layers;
  for (const auto& w : network.weight_quantizations()) {
    torch::Tensor accumulator;
    if (optimizer.try_read("weight." + w.layer + ".accumulator", accumulator)) layers.push_back(w.layer);
  }
  return layers;
}

} // namespace

TrainedRun load_float_checkpoint(const std::string& checkpoint, const std::string& config) {
  if (!fs::exists(checkpoint)) throw std::runtime_error(checkpoint + ": no such checkpoint");
  const fs::path plan = fs::path(checkpoint).parent_path() / "plan.yaml";
  if (fs::exists(plan))
    throw std::runtime_error(checkpoint + ": trained with the precision plan " + plan.string() +
                             "; lowbit converts float-trained checkpoints (fxnn export takes fixed-point runs)");
  TrainedRun run = load_trained_checkpoint(checkpoint, config, "");
  const auto fixed = fixed_point_layers(checkpoint, *run.network);
  if (!fixed.empty())
    throw std::runtime_error(checkpoint +
                             ": trained in fixed point (its optimizer state holds the weight accumulator of " +
                             fixed.front() + "); lowbit converts float-trained checkpoints");
  return run;
}

} // namespace fxnn::lowbit
