#include "fxnn/train/trainer.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <thread>

#include "fxnn/io/atomic_file.h"
#include "fxnn/train/checkpoint.h"
#include "fxnn/train/progress_line.h"
#include "fxnn/train/train_step.h"

namespace fxnn {

namespace fs = std::filesystem;

namespace {

constexpr const char* kConfigFile = "config.yaml";
constexpr const char* kPlanFile = "plan.yaml";
constexpr const char* kMetricsFile = "metrics.jsonl";
constexpr const char* kCheckpointFile = "checkpoint.pt";

data::LoaderOptions loader_options(const ExperimentConfig& c, bool training) {
  data::LoaderOptions o;
  o.batch_size = training ? c.train.batch_size : c.train.eval_batch_size;
  o.shuffle = training;
  o.augment = training;
  o.drop_last = false;
  o.seed = c.seed;
  o.prefetch = c.train.prefetch;
  o.transform = c.transform;
  return o;
}

/// The config as it is compared on resume: the thread count may differ between sessions.
std::string comparable_config(ExperimentConfig config) {
  config.train.threads = 0;
  return config.to_yaml();
}

std::string percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%", 100.0 * fraction);
  return text;
}

} // namespace

uint64_t mix_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + (stream + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

int configure_threads(int64_t threads) {
  const int n = threads > 0 ? static_cast<int>(threads)
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(n);
  return n;
}

Network build_network(const ExperimentConfig& config, const std::optional<PrecisionPlan>& plan) {
  torch::manual_seed(config.seed); // weight initialization
  Network network = make_network(config.model, config.input_shape());
  if (plan) plan->apply(*network);
  else clear_precision(*network);
  for (auto& point : network->quant_points()) point->set_seed(mix_seed(config.seed, std::hash<std::string>{}(point->name())));
  return network;
}

std::unique_ptr<FixedPointSGD> build_optimizer(const ExperimentConfig& config, NetworkImpl& network) {
  auto optimizer = std::make_unique<FixedPointSGD>(
      network.weight_quantizations(), network.float_parameters(),
      FixedPointSGDOptions(config.optim.lr_at(1))
          .momentum(config.optim.momentum)
          .weight_clip(config.optim.weight_clip)
          .weight_decay(config.optim.weight_decay));
  optimizer->initialize_accumulators();
  return optimizer;
}

Trainer::Trainer(TrainerOptions options) : options_(std::move(options)) {
  const auto& c = options_.config;
  if (options_.out_dir.empty()) throw std::invalid_argument("--out: an output directory is required");
  // Refuse to mix two runs in one directory before doing any expensive work.
  const bool has_run = fs::exists(path(kConfigFile)) || fs::exists(path(kCheckpointFile));
  if (has_run && !options_.resume)
    throw std::runtime_error(options_.out_dir + ": already holds a run (use --resume to continue it, or another --out)");
  // Compared as parsed configs, so that a key added to fxnn later (with its default) does not stop a
  // run from resuming.
  if (has_run && fs::exists(path(kConfigFile)) &&
      comparable_config(ExperimentConfig::load(path(kConfigFile))) != comparable_config(c))
    throw std::runtime_error(path(kConfigFile) + ": the run was made with a different config; use another --out");
  if (has_run && options_.plan.has_value() != fs::exists(path(kPlanFile)))
    throw std::runtime_error(options_.out_dir + ": the run was made " +
                             (options_.plan ? std::string("in float") : std::string("with a precision plan")) +
                             "; use another --out");
  if (has_run && options_.plan && read_file(path(kPlanFile)) != options_.plan->to_yaml())
    throw std::runtime_error(path(kPlanFile) + ": the run was made with a different precision plan; use another --out");

  data_ = data::load_dataset(c.data);
  network_ = build_network(c, options_.plan);
  const auto expected = c.input_shape();
  if (data_.train.channels() != expected.channels || data_.train.height() != expected.height ||
      data_.train.width() != expected.width || data_.train.num_classes != expected.num_classes)
    throw std::runtime_error(data_.train.source + ": images of " + std::to_string(data_.train.channels()) + "x" +
                             std::to_string(data_.train.height()) + "x" + std::to_string(data_.train.width()) + " in " +
                             std::to_string(data_.train.num_classes) + " classes, not what data.dataset '" +
                             c.data.dataset + "' has");
  optimizer_ = build_optimizer(c, *network_);
  train_loader_ = std::make_unique<data::BatchLoader>(data_.train, loader_options(c, true));
  test_loader_ = std::make_unique<data::BatchLoader>(data_.test, loader_options(c, false));

  if (options_.resume && fs::exists(path(kCheckpointFile))) {
    const int64_t done = load_checkpoint(path(kCheckpointFile), *network_, *optimizer_);
    first_epoch_ = done + 1;
    for (auto& m : read_metrics(path(kMetricsFile)))
      if (m.epoch <= done) history_.push_back(m); // drop lines of an epoch that did not finish
  }
}

void Trainer::set_observer(TrainingObserver* observer) {
  observer_ = observer;
  if (observer_ && first_epoch_ > 1) observer_->load_state(options_.out_dir);
}

std::string Trainer::path(const std::string& file) const { return (fs::path(options_.out_dir) / file).string(); }

void Trainer::prepare_run_directory() {
  fs::create_directories(options_.out_dir);
  write_file_atomic(path(kConfigFile), comparable_config(options_.config));
  if (options_.plan) write_file_atomic(path(kPlanFile), options_.plan->to_yaml());
  write_metrics(path(kMetricsFile), history_);
}

std::vector<EpochMetrics> Trainer::run() {
  const auto& c = options_.config;
  if (first_epoch_ > c.train.epochs) {
    spdlog::info("{}: all {} epochs are done", options_.out_dir, c.train.epochs);
    return history_;
  }
  prepare_run_directory();
  spdlog::info("{}: {} in {} ({} train / {} test samples, {} threads), epochs {}..{} into {}", c.name,
               c.model.arch, options_.plan ? "fixed point (" + options_.plan->source + ")" : std::string("float"),
               data_.train.size(), data_.test.size(), torch::get_num_threads(), first_epoch_, c.train.epochs,
               options_.out_dir);
  const int64_t last_epoch =
      options_.stop_after_epoch > 0 ? std::min(options_.stop_after_epoch, c.train.epochs) : c.train.epochs;
  for (int64_t epoch = first_epoch_; epoch <= last_epoch; ++epoch) {
    history_.push_back(train_epoch(epoch));
    write_metrics(path(kMetricsFile), history_);
    // Observer state first: a checkpoint never names an epoch whose measurements are missing.
    if (observer_) observer_->save_state(options_.out_dir);
    save_checkpoint(path(kCheckpointFile), epoch, *network_, *optimizer_);
    first_epoch_ = epoch + 1;
  }
  return history_;
}

EpochMetrics Trainer::train_epoch(int64_t epoch) {
  const auto& c = options_.config;
  const auto start = std::chrono::steady_clock::now();
  EpochMetrics m;
  m.epoch = epoch;
  m.lr = c.optim.lr_at(epoch);
  optimizer_->options().lr(m.lr);
  // Dropout draws from LibTorch's generator: reseeding per epoch makes an epoch's result independent
  // of whether the run was resumed before it.
  torch::manual_seed(mix_seed(c.seed, static_cast<uint64_t>(epoch)));
  for (auto& point : network_->quant_points()) point->reset_stats();

  network_->train();
  train_loader_->start_epoch(epoch);
  ProgressLine progress("epoch " + std::to_string(epoch) + "/" + std::to_string(c.train.epochs),
                        train_loader_->batches_per_epoch());
  double loss_sum = 0;
  int64_t correct = 0, samples = 0, batches = 0;
  while (auto batch = train_loader_->next()) {
    if (batches == 0 && observer_) observer_->on_epoch_start(epoch, *network_, *batch);
    const auto step = train_step(*network_, *optimizer_, *batch, observer_);
    loss_sum += step.loss_sum;
    correct += step.correct;
    samples += step.samples;
    ++batches;
    if (!options_.quiet)
      progress.update(batches, "loss " + std::to_string(loss_sum / static_cast<double>(samples)).substr(0, 6) +
                                     " acc " + percent(static_cast<double>(correct) / static_cast<double>(samples)));
  }
  if (observer_) observer_->on_epoch_end(epoch, *network_);
  m.train_loss = loss_sum / static_cast<double>(std::max<int64_t>(samples, 1));
  m.train_acc = static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(samples, 1));
  for (const auto& point : network_->quant_points())
    if (point->is_quantized()) m.saturation.emplace_back(point->name(), point->saturation_rate());

  const auto test = evaluate(*network_, *test_loader_);
  m.test_loss = test.loss;
  m.test_acc = test.accuracy;
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!options_.quiet)
    progress.finish("train loss " + std::to_string(m.train_loss).substr(0, 6) + " acc " + percent(m.train_acc) +
                    " | test loss " + std::to_string(m.test_loss).substr(0, 6) + " acc " + percent(m.test_acc));
  return m;
}

} // namespace fxnn
