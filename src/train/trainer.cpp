#include "fxnn/train/trainer.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <thread>

#include "fxnn/core/seed.h"
#include "fxnn/core/thread_limit.h"
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

/// What must not change when a run resumes: everything but the threads and the number of epochs. The
/// schedule is indexed by absolute epochs and each epoch's sample order by the seed and the epoch, so a
/// run extended from N to M epochs is the run trained for M epochs from the start.
std::string resumable_config(ExperimentConfig config) {
  config.train.epochs = 0;
  return comparable_config(std::move(config));
}

/// The non-finite values of the network and the optimizer state (accumulators, velocities), for
/// messages; "" when there are none.
std::string non_finite_state(const NetworkImpl& network, const FixedPointSGD& optimizer) {
  std::string bad = non_finite_tensors(network);
  int64_t bad_state = 0;
  for (const auto& t : optimizer.state_tensors())
    if (t.is_floating_point()) bad_state += torch::logical_not(torch::isfinite(t)).sum().item<int64_t>();
  if (bad_state > 0)
    bad += (bad.empty() ? "" : ", ") + std::string("optimizer state: ") + std::to_string(bad_state) +
           " values NaN or infinite";
  return bad;
}

std::string percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%", 100.0 * fraction);
  return text;
}

/// The activation points whose scale training learns (docs/lowbit.md eq. (11)).
std::vector<QuantPointPtr> learned_activation_points(const NetworkImpl& network) {
  std::vector<QuantPointPtr> learned;
  for (const auto& point : network.quant_points())
    if (point->tensor_class() == TensorClass::kActivation && point->spec() && point->spec()->learned)
      learned.push_back(point);
  return learned;
}

} // namespace

int configure_threads(int64_t threads) {
  const int n = checked_thread_count(threads, "--threads (train.threads)");
  torch::set_num_threads(n);
  return n;
}

Network build_network(const ExperimentConfig& config, const std::optional<PrecisionPlan>& plan) {
  torch::manual_seed(config.seed); // weight initialization
  Network network = make_network(config.model, config.input_shape());
  if (plan)
    plan->apply(*network);
  else
    clear_precision(*network);
  for (auto& point : network->quant_points()) point->set_seed(mix_seed(config.seed, hash_name(point->name())));
  return network;
}

std::unique_ptr<FixedPointSGD> build_optimizer(const ExperimentConfig& config, NetworkImpl& network) {
  auto optimizer = std::make_unique<FixedPointSGD>(network.weight_quantizations(), network.float_parameters(),
                                                   FixedPointSGDOptions(config.optim.lr_at(1))
                                                       .momentum(config.optim.momentum)
                                                       .weight_clip(config.optim.weight_clip)
                                                       .weight_decay(config.optim.weight_decay));
  optimizer->set_learned_activation_points(learned_activation_points(network));
  optimizer->initialize_accumulators();
  return optimizer;
}

Trainer::Trainer(TrainerOptions options) : options_(std::move(options)) {
  const auto& c = options_.config;
  if (options_.out_dir.empty()) throw std::invalid_argument("--out: an output directory is required");
  const bool root = options_.distributed.rank == 0;
  if (root) {
    lock_ = std::make_unique<DirectoryLock>(options_.out_dir); // one writer per run directory
    check_run_directory();                                     // before any expensive work
    // A run killed while it wrote a file leaves its temporary copy behind: never read, removed here.
    std::error_code ec;
    if (fs::is_directory(options_.out_dir, ec))
      for (const auto& name : remove_stale_temporaries(options_.out_dir))
        spdlog::info("{}: removed {}, the unfinished write of a killed run", options_.out_dir, name);
  }

  data_ = data::load_dataset(c.data);
  network_ = build_network(c, options_.plan);
  const auto expected = c.input_shape();
  if (data_.train.channels() != expected.channels || data_.train.height() != expected.height ||
      data_.train.width() != expected.width || data_.train.num_classes != expected.num_classes)
    throw std::runtime_error(data_.train.source + ": images of " + std::to_string(data_.train.channels()) + "x" +
                             std::to_string(data_.train.height()) + "x" + std::to_string(data_.train.width()) + " in " +
                             std::to_string(data_.train.num_classes) + " classes, not what data.dataset '" +
                             c.data.dataset + "' has");
  if (options_.initialize) options_.initialize(*network_);
  optimizer_ = build_optimizer(c, *network_); // its accumulators start from the weights set above
  train_loader_ = std::make_unique<data::BatchLoader>(data_.train, loader_options(c, true));
  test_loader_ = std::make_unique<data::BatchLoader>(data_.test, loader_options(c, false));

  // A learned activation scale collects its gradient in the process's own backward passes; the
  // processes do not sum it (yet), so such a plan runs in one process.
  if (const auto learned = learned_activation_points(*network_);
      options_.distributed.world_size > 1 && !learned.empty())
    throw std::invalid_argument("a plan with learned activation scales (" + learned.front()->name() +
                                ") trains in one process");
  if (root && options_.resume) resume_from_checkpoint();
  // Joining the other processes comes last: a rank with bad input fails alone and fast.
  communicator_ = std::make_unique<Communicator>(options_.distributed);
  if (communicator_->size() > 1) share_state_from_root();
  step_ = std::make_unique<DataParallelStep>(*network_, *optimizer_, *communicator_, c.train.micro_batches, c.seed);
}

RunIdentity run_identity(const ExperimentConfig& config, const std::optional<PrecisionPlan>& plan) {
  return {resumable_config(config), plan ? plan->to_yaml() : std::string()};
}

RunIdentity Trainer::identity() const { return run_identity(options_.config, options_.plan); }

/// The checkpoint must be this run's: its plan (or float), and its config compared as parsed configs,
/// as config.yaml is, so that a key added to fxnn later does not stop a run from resuming.
void Trainer::check_identity(const RunIdentity& stored) const {
  const std::string file = path(kCheckpointFile);
  if (stored.plan.empty() != !options_.plan.has_value())
    throw std::runtime_error(file + ": written by a " + (stored.plan.empty() ? "float" : "fixed-point") +
                             " run, not this " + (options_.plan ? "fixed-point" : "float") +
                             " one (was it copied from another run?)");
  if (options_.plan && stored.plan != options_.plan->to_yaml())
    throw std::runtime_error(file + ": written by a run with another precision plan (was it copied from another run?)");
  std::string config;
  try {
    config = resumable_config(ExperimentConfig::parse(stored.config, file));
  } catch (const std::exception&) {
    config = stored.config; // a config this fxnn cannot read is not this run's
  }
  if (config != resumable_config(options_.config))
    throw std::runtime_error(file + ": written by a run with another config (was it copied from another run?)");
}

/// Everything read from the run directory is checked against the config and against each other before
/// anything is written: the checkpoint (shapes, optimizer state, identity, checksum, epoch) and the
/// metrics (epochs 1..E in order, E the checkpoint's epoch or one more: the metrics are written first).
void Trainer::resume_from_checkpoint() {
  const auto& c = options_.config;
  const bool has_checkpoint = fs::exists(path(kCheckpointFile));
  const bool has_metrics = fs::exists(path(kMetricsFile));
  if (!has_checkpoint && !fs::exists(path(kConfigFile))) return; // nothing of a run here: a fresh start
  int64_t done = 0;
  if (has_checkpoint) {
    const auto loaded = load_checkpoint(path(kCheckpointFile), *network_, *optimizer_);
    done = loaded.epoch;
    if (loaded.identity) check_identity(*loaded.identity);
    // Training on from NaN or infinite weights (or accumulators) only repeats them; a complete run is
    // left as it is.
    const std::string bad = non_finite_state(*network_, *optimizer_);
    if (!bad.empty() && done < c.train.epochs)
      throw std::runtime_error(path(kCheckpointFile) + ": cannot resume: the weights of epoch " + std::to_string(done) +
                               " are not finite (" + bad + "); the run diverged (lower optim.lr or widen the plan's " +
                               "formats) or the file is damaged");
    if (!has_metrics)
      throw std::runtime_error(path(kMetricsFile) + ": missing, but " + kCheckpointFile + " is at epoch " +
                               std::to_string(done) + ": the run's history is gone; refusing to continue it");
  }
  const auto lines = has_metrics ? read_metrics(path(kMetricsFile)) : std::vector<EpochMetrics>{};
  for (size_t i = 0; i < lines.size(); ++i)
    if (lines[i].epoch != static_cast<int64_t>(i) + 1)
      throw std::runtime_error(path(kMetricsFile) + ": line " + std::to_string(i + 1) + " is epoch " +
                               std::to_string(lines[i].epoch) + ", expected " + std::to_string(i + 1) +
                               " (epochs out of order, repeated or missing); refusing to continue the run");
  const auto count = static_cast<int64_t>(lines.size());
  if (count != done && count != done + 1)
    throw std::runtime_error(path(kMetricsFile) + ": holds " +
                             (count == 0 ? std::string("no epoch") : "epochs 1.." + std::to_string(count)) + " but " +
                             (has_checkpoint ? std::string(kCheckpointFile) + " is at epoch " + std::to_string(done)
                                             : std::string(kCheckpointFile) + " is missing") +
                             ": the files do not belong together; refusing to continue the run");
  for (const auto& m : lines)
    if (m.epoch <= done) history_.push_back(m); // the line of an epoch whose checkpoint was not written goes
  first_epoch_ = done + 1;
}

void Trainer::check_run_directory() const {
  const auto& c = options_.config;
  // Refuse to mix two runs in one directory.
  const bool has_run = fs::exists(path(kConfigFile)) || fs::exists(path(kCheckpointFile));
  if (has_run && !options_.resume)
    throw std::runtime_error(options_.out_dir +
                             ": already holds a run (use --resume to continue it, or another --out)");
  // Compared as parsed configs, so that a key added to fxnn later (with its default) does not stop a
  // run from resuming.
  if (has_run && fs::exists(path(kConfigFile)) &&
      resumable_config(ExperimentConfig::load(path(kConfigFile))) != resumable_config(c))
    throw std::runtime_error(path(kConfigFile) + ": the run was made with a different config; use another --out");
  // Without a finished epoch a missing plan.yaml is a start killed between its identity files (older fxnn
  // wrote config.yaml first): nothing can be lost, the files are written again.
  if (has_run && fs::exists(path(kCheckpointFile)) && options_.plan.has_value() != fs::exists(path(kPlanFile)))
    throw std::runtime_error(options_.out_dir + ": the run was made " +
                             (options_.plan ? std::string("in float") : std::string("with a precision plan")) +
                             "; use another --out");
  if (has_run && options_.plan && fs::exists(path(kPlanFile)) && read_file(path(kPlanFile)) != options_.plan->to_yaml())
    throw std::runtime_error(path(kPlanFile) + ": the run was made with a different precision plan; use another --out");
}

/// Every process starts from rank 0's state: the epoch to start from, the metrics so far (their
/// count), the parameters, buffers and optimizer state. The other ranks need no run directory.
void Trainer::share_state_from_root() {
  torch::NoGradGuard no_grad;
  auto first = torch::tensor(first_epoch_, torch::kLong);
  communicator_->broadcast(first);
  first_epoch_ = first.item<int64_t>();
  for (auto p : network_->parameters()) communicator_->broadcast(p);
  for (auto b : network_->buffers()) communicator_->broadcast(b);
  for (auto t : optimizer_->state_tensors()) communicator_->broadcast(t);
}

/// Each process evaluates every N-th test batch; the sums are combined (one process: all of them).
Evaluation Trainer::evaluate_test_set() {
  torch::NoGradGuard no_grad;
  network_->eval();
  double loss_sum = 0, correct = 0, samples = 0;
  test_loader_->start_epoch(0);
  int64_t index = 0;
  while (auto batch = test_loader_->next()) {
    if (index++ % communicator_->size() != communicator_->rank()) continue;
    const auto logits = network_->forward(batch->inputs);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, batch->labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += static_cast<double>(logits.argmax(1).eq(batch->labels).sum().item<int64_t>());
    samples += static_cast<double>(batch->labels.size(0));
  }
  network_->train();
  auto totals = torch::tensor({loss_sum, correct, samples}, torch::kDouble);
  communicator_->all_reduce_sum(totals);
  Evaluation result;
  if (totals[2].item<double>() > 0) {
    result.loss = totals[0].item<double>() / totals[2].item<double>();
    result.accuracy = totals[1].item<double>() / totals[2].item<double>();
  }
  return result;
}

void Trainer::set_observer(TrainingObserver* observer) {
  observer_ = observer;
  if (observer_ && first_epoch_ > 1) observer_->load_state(options_.out_dir);
}

std::string Trainer::path(const std::string& file) const { return (fs::path(options_.out_dir) / file).string(); }

void Trainer::prepare_run_directory() {
  if (!communicator_->is_root()) return;
  fs::create_directories(options_.out_dir);
  // config.yaml last: its presence says a run is here, so a kill before it leaves no half-identified
  // run (a plan without its config is a start that never happened, and is written over).
  if (options_.plan)
    write_file_atomic(path(kPlanFile), options_.plan->to_yaml());
  else
    fs::remove(path(kPlanFile)); // a float run restarted where a fixed-point start was killed
  write_metrics(path(kMetricsFile), history_);
  write_file_atomic(path(kConfigFile), comparable_config(options_.config));
}

std::vector<EpochMetrics> Trainer::run() {
  const auto& c = options_.config;
  if (first_epoch_ > c.train.epochs) {
    spdlog::info("{}: all {} epochs are done", options_.out_dir, c.train.epochs);
    return history_;
  }
  if (observer_ && communicator_->size() > 1)
    throw std::invalid_argument("measurements (the probe) run in one process only");
  prepare_run_directory();
  if (communicator_->is_root())
    spdlog::info(
        "{}: {} in {} ({} train / {} test samples, {} process{} x {} threads, {} micro-batch{}), "
        "epochs {}..{} into {}",
        c.name, c.model.arch, options_.plan ? "fixed point (" + options_.plan->source + ")" : std::string("float"),
        data_.train.size(), data_.test.size(), communicator_->size(), communicator_->size() > 1 ? "es" : "",
        torch::get_num_threads(), c.train.micro_batches, c.train.micro_batches > 1 ? "es" : "", first_epoch_,
        c.train.epochs, options_.out_dir);
  const int64_t last_epoch =
      options_.stop_after_epoch > 0 ? std::min(options_.stop_after_epoch, c.train.epochs) : c.train.epochs;
  for (int64_t epoch = first_epoch_; epoch <= last_epoch; ++epoch) {
    history_.push_back(train_epoch(epoch));
    if (communicator_->is_root()) {
      write_metrics(path(kMetricsFile), history_);
      // Observer state first: a checkpoint never names an epoch whose measurements are missing.
      if (observer_) observer_->save_state(options_.out_dir);
      save_checkpoint(path(kCheckpointFile), epoch, *network_, *optimizer_, identity());
    }
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
  for (auto& point : network_->quant_points()) point->reset_stats();
  const bool show = !options_.quiet && communicator_->is_root();

  network_->train();
  train_loader_->start_epoch(epoch);
  ProgressLine progress("epoch " + std::to_string(epoch) + "/" + std::to_string(c.train.epochs),
                        train_loader_->batches_per_epoch());
  double loss_sum = 0;
  int64_t correct = 0, samples = 0, batches = 0;
  while (auto batch = train_loader_->next()) {
    if (batches == 0 && observer_) observer_->on_epoch_start(epoch, *network_, *batch);
    // Dropout and stochastic rounding draw from streams of (seed, epoch, step, micro-batch): an epoch's
    // result does not depend on whether the run was resumed before it, nor on the process count.
    const auto step = step_->run(*batch, epoch, batches, observer_);
    loss_sum += step.loss_sum;
    correct += step.correct;
    samples += step.samples;
    ++batches;
    if (show)
      progress.update(batches, "loss " + std::to_string(loss_sum / static_cast<double>(samples)).substr(0, 6) +
                                   " acc " + percent(static_cast<double>(correct) / static_cast<double>(samples)));
  }
  if (observer_) observer_->on_epoch_end(epoch, *network_);
  // Sums over the processes: the loss, the counts, and every point's saturation counters.
  auto totals = torch::tensor({loss_sum, static_cast<double>(correct), static_cast<double>(samples)}, torch::kDouble);
  communicator_->all_reduce_sum(totals);
  loss_sum = totals[0].item<double>();
  correct = static_cast<int64_t>(totals[1].item<double>());
  samples = static_cast<int64_t>(totals[2].item<double>());
  const auto points = network_->quant_points();
  std::vector<int64_t> counters;
  for (const auto& p : points) {
    counters.push_back(p->values_seen());
    counters.push_back(p->values_saturated());
  }
  auto counts = torch::tensor(counters, torch::kLong);
  communicator_->all_reduce_sum(counts);
  for (size_t i = 0; i < points.size(); ++i)
    points[i]->set_stats(counts[static_cast<int64_t>(2 * i)].item<int64_t>(),
                         counts[static_cast<int64_t>(2 * i + 1)].item<int64_t>());
  m.train_loss = loss_sum / static_cast<double>(std::max<int64_t>(samples, 1));
  m.train_acc = static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(samples, 1));
  for (const auto& point : points)
    if (point->is_quantized()) m.saturation.emplace_back(point->name(), point->saturation_rate());
  m.gradient_bytes_per_step = step_->gradient_bytes();

  const auto test = evaluate_test_set();
  m.test_loss = test.loss;
  m.test_acc = test.accuracy;
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (show)
    progress.finish("train loss " + std::to_string(m.train_loss).substr(0, 6) + " acc " + percent(m.train_acc) +
                    " | test loss " + std::to_string(m.test_loss).substr(0, 6) + " acc " + percent(m.test_acc));
  return m;
}

} // namespace fxnn
