#include "fxnn/precision/probe.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <stdexcept>

#include "fxnn/precision/backprop_gain.h"
#include "fxnn/precision/gradient_probe.h"
#include "fxnn/precision/noise_gain.h"
#include "fxnn/train/trainer.h"

namespace fxnn {

std::string probe_stats_path(const std::string& out_dir) {
  return (std::filesystem::path(out_dir) / "stats.json").string();
}

TextTable backprop_gain_table(const ProbeStats& stats) {
  TextTable table({"G^(A) point", "G^(W) of", "path", "lambda (run max)", "crossing (run mean)", "closed max",
                   "injected there", "ratio", "closed sum", "injected sum", "ratio "});
  const auto ratio = [](double measured, double closed) {
    return closed > 0 ? format_general(measured / closed, 3) : std::string("-");
  };
  for (const auto& l : stats.layers) {
    for (const auto& c : l.ga_checks) {
      std::string lambda = "-", crossing = "-";
      for (const auto& p : l.ga_paths) {
        if (p.weight_layer != c.weight_layer) continue;
        lambda = format_general(p.lambda_max(), 4);
        if (!p.crossing.empty()) crossing = format_general(p.crossing_mean(), 3);
      }
      const bool on_path = c.kind != "weights";
      table.add_row({l.name + ".GA", c.weight_layer, c.kind, lambda, crossing,
                     on_path ? format_general(c.closed_max, 4) : "-",
                     on_path ? format_general(c.injected_at_max, 4) : format_general(c.injected_max, 4) + " (max)",
                     ratio(c.injected_at_max, c.closed_max), on_path ? format_general(c.closed_total, 4) : "-",
                     format_general(c.injected_total, 4), ratio(c.injected_total, c.closed_total)});
    }
  }
  return table;
}

namespace {

/// Statistics without weight-gradient iterations (written by a probe that never trained) cannot give
/// a precision: refused with the file and the layer named.
void check_gradient_statistics(const ProbeStats& stats, const std::string& path) {
  for (const LayerStats& layer : stats.layers)
    if (layer.weights > 0 && layer.weight_gradient.iterations == 0)
      throw std::runtime_error(path + ": layer " + layer.name +
                               " has no weight-gradient statistics (0 iterations): these are not the statistics of a "
                               "probe run; remove the folder or choose another --out");
}

} // namespace

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
    ProbeStats done = ProbeStats::load(stats_path);
    check_gradient_statistics(done, stats_path);
    spdlog::info("{}: the probe is complete", options.out_dir);
    return done;
  }
  // The gradient statistics are gathered while the probe trains: a finished run without them (a
  // plain training run, or a probe stopped between its last epoch and its statistics) has none to give.
  if (trainer.complete())
    throw std::runtime_error(options.out_dir + ": a finished training run without probe statistics (no " + stats_path +
                             "); the probe gathers them while it trains: remove the folder or choose another --out");
  GradientProbe probe(trainer.network());
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
  stats.injection_draws = c.precision.injection_draws;
  if (stats.injection_draws > 0) {
    // One fixed batch of training samples without augmentation, of the run's batch size.
    auto order = data::epoch_order(trainer.data().train.size(), c.seed, /*epoch=*/0, /*shuffle=*/true);
    order.resize(static_cast<size_t>(std::min<int64_t>(c.train.batch_size, trainer.data().train.size())));
    data::LoaderOptions loader;
    loader.augment = false;
    loader.transform = c.transform;
    const auto batch = data::make_batch(trainer.data().train, order, 0, loader);
    for (auto& [layer, checks] : check_backprop_gains(trainer.network(), batch, stats.injection_draws, c.seed))
      stats.layer(layer).ga_checks = checks;
  }
  stats.save(stats_path);
  spdlog::info("{}: wrote {}", options.out_dir, stats_path);
  return stats;
}

} // namespace fxnn
