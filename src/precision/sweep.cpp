#include "fxnn/precision/sweep.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "fxnn/io/atomic_file.h"
#include "fxnn/io/plot.h"
#include "fxnn/io/text_table.h"
#include "fxnn/train/metrics.h"
#include "fxnn/train/trainer.h"

namespace fxnn {

namespace fs = std::filesystem;

namespace {

struct SweepRun {
  std::string name;        // folder
  std::string description; // what changed
  std::string dir;
};

/// Trains (or resumes, or finds complete) one run of the sweep.
void train(const SweepOptions& options, const std::string& dir, const std::optional<PrecisionPlan>& plan) {
  TrainerOptions t;
  t.config = options.config;
  t.plan = plan;
  t.out_dir = dir;
  t.resume = true;
  t.quiet = options.quiet;
  Trainer(t).run();
}

/// The metrics of DIR's run at `epoch`; throws naming DIR/metrics.jsonl when the run never reached it.
EpochMetrics metrics_at(const std::string& dir, int64_t epoch) {
  const std::string path = (fs::path(dir) / "metrics.jsonl").string();
  const auto metrics = read_metrics(path);
  const auto at = std::find_if(metrics.begin(), metrics.end(), [&](const EpochMetrics& m) { return m.epoch == epoch; });
  if (at == metrics.end()) throw std::runtime_error(path + ": no epoch " + std::to_string(epoch) + " to compare with");
  return *at;
}

bool diverged(const EpochMetrics& m) { return !std::isfinite(m.train_loss) || m.test_acc <= 0.11; }

} // namespace

void run_minus_one_sweep(const SweepOptions& options) {
  const fs::path out(options.out_dir);
  const fs::path reference = options.reference_dir.empty() ? out : fs::path(options.reference_dir);
  std::vector<SweepRun> runs = {{"fl", "float", (reference / "fl").string()},
                                {"fx", "the plan", (reference / "fx").string()}};
  const std::pair<const char*, TensorClass> classes[] = {{"W", TensorClass::kWeight},
                                                         {"A", TensorClass::kActivation},
                                                         {"GW", TensorClass::kWeightGradient},
                                                         {"GA", TensorClass::kActivationGradient},
                                                         {"acc", TensorClass::kAccumulator}};
  // Every run is compared at the sweep's last epoch. A reference trained for more epochs with the same
  // seed and schedule passed through that epoch in exactly the same state, so a shorter sweep
  // (--set train.epochs=N) compares like with like.
  const int64_t epochs = options.config.train.epochs;
  if (options.reference_dir.empty()) {
    spdlog::info("sweep: reference runs FL and FX into {}", options.out_dir);
    train(options, runs[0].dir, std::nullopt);
    train(options, runs[1].dir, options.plan);
  } else {
    for (const auto& r : runs) metrics_at(r.dir, epochs); // before any training: fail fast
  }
  std::vector<TensorClass> all;
  for (const auto& [name, tensor_class] : classes) {
    const std::string dir = (out / ("minus1_" + std::string(name))).string();
    spdlog::info("sweep: {} one bit narrower", name);
    train(options, dir, options.plan.with_fewer_bits({tensor_class}));
    runs.push_back({"minus1_" + std::string(name), std::string(name) + " - 1 bit", dir});
    all.push_back(tensor_class);
  }
  const std::string all_dir = (out / "minus1_all").string();
  spdlog::info("sweep: every class one bit narrower");
  train(options, all_dir, options.plan.with_fewer_bits(all));
  runs.push_back({"minus1_all", "every class - 1 bit", all_dir});

  // ---- the table and the figure ----
  std::map<std::string, EpochMetrics> last;
  for (const auto& r : runs) last[r.name] = metrics_at(r.dir, epochs);
  const double fl_error = 1 - last["fl"].test_acc, fx_error = 1 - last["fx"].test_acc;
  TextTable table({"run", "change", "test error at epoch " + std::to_string(epochs), "gap to FX (points)",
                   "gap to FL (points)", "diverged"});
  std::vector<std::pair<std::string, std::string>> series;
  for (const auto& r : runs) {
    const auto& m = last[r.name];
    const double error = 1 - m.test_acc;
    table.add_row({r.name, r.description, format_percent(error), format_general(100 * (error - fx_error), 3),
                   format_general(100 * (error - fl_error), 3), diverged(m) ? "yes" : "no"});
    series.emplace_back(r.name, (fs::path(r.dir) / "metrics.jsonl").string());
  }
  std::ostringstream md;
  md << "# Minus-one sweep: " << options.config.name << "\n\n"
     << "Each run retrains from scratch (same seed and schedule) with one tensor class one bit narrower than the plan `"
     << options.plan.source << "` (same ranges, one fractional bit less), then every class at once.\n\n"
     << table.markdown() << "\n";
  if (plot_curves((out / "sweep.png").string(), "minus-one sweep: " + options.config.name, series))
    md << "![training loss and test error of every run](sweep.png)\n";
  write_file_atomic((out / "sweep.md").string(), md.str());
  std::printf("%s", table.aligned().c_str());
}

} // namespace fxnn
