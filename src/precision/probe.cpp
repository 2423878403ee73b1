#include "fxnn/precision/probe.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "fxnn/precision/gradient_probe.h"
#include "fxnn/precision/noise_gain.h"
#include "fxnn/train/trainer.h"

namespace fxnn {

std::string probe_stats_path(const std::string& out_dir) {
  return (std::filesystem::path(out_dir) / "stats.json").string();
}

ProbeStats run_probe(const ProbeOptions& options) {
  const std::string stats_path = probe_stats_path(options.out_dir);
  TrainerOptions trainer_options;
  trainer_options.config = options.config;
  trainer_options.out_dir = options.out_dir;
  trainer_options.resume = options.resume;
  trainer_options.quiet = options.quiet;
  trainer_options.stop_after_epoch = options.stop_after_epoch;
  Trainer trainer(trainer_options);
  if (trainer.complete() && std::filesystem::exists(stats_path)) {
    spdlog::info("{}: the probe is complete", options.out_dir);
    return ProbeStats::load(stats_path);
  }
  GradientProbe probe(trainer.network(), options.config.precision.j_epoch);
  trainer.set_observer(&probe);
  trainer.run();
  ProbeStats stats = probe.stats();
  if (!trainer.complete()) return stats; // stopped early; --resume continues

  const auto& c = options.config;
  stats.config_name = c.name;
  stats.seed = c.seed;
  stats.epochs = c.train.epochs;
  stats.lr_min = c.optim.lr_min(c.train.epochs);
  NoiseGainOptions gains;
  gains.samples = c.precision.noise_samples;
  gains.seed = c.seed;
  gains.transform = c.transform;
  gains.quiet = options.quiet;
  const auto e = compute_noise_gains(trainer.network(), trainer.data().train, gains);
  stats.noise_samples = std::min<int64_t>(c.precision.noise_samples, trainer.data().train.size());
  for (auto& layer : stats.layers) {
    if (e.count(layer.name + ".W")) layer.noise_gain_weight = e.at(layer.name + ".W");
    if (e.count(layer.name + ".A")) layer.noise_gain_activation = e.at(layer.name + ".A");
  }
  stats.save(stats_path);
  spdlog::info("{}: wrote {}", options.out_dir, stats_path);
  return stats;
}

} // namespace fxnn
