// write_report: the convergence report of a pipeline directory (DIR/report.md).

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "fxnn/io/atomic_file.h"
#include "fxnn/io/plot.h"
#include "fxnn/io/text_table.h"
#include "fxnn/precision/assignment.h"
#include "fxnn/precision/pipeline.h"
#include "fxnn/precision/probe.h"
#include "fxnn/train/metrics.h"

namespace fxnn {

namespace fs = std::filesystem;

namespace {

std::vector<EpochMetrics> require_metrics(const fs::path& run) {
  const auto path = (run / "metrics.jsonl").string();
  if (!fs::exists(path)) throw std::runtime_error(path + ": missing (has the run started?)");
  auto metrics = read_metrics(path);
  if (metrics.empty()) throw std::runtime_error(path + ": no finished epoch yet");
  return metrics;
}

std::string error_text(double accuracy) { return format_percent(1.0 - accuracy); }

TextTable epoch_table(const std::vector<EpochMetrics>& fl, const std::vector<EpochMetrics>& fx) {
  TextTable table({"epoch", "lr", "FL train loss", "FX train loss", "FL test error", "FX test error"});
  for (size_t i = 0; i < std::max(fl.size(), fx.size()); ++i) {
    const auto* a = i < fl.size() ? &fl[i] : nullptr;
    const auto* b = i < fx.size() ? &fx[i] : nullptr;
    const auto& any = a ? *a : *b;
    table.add_row({std::to_string(any.epoch), format_general(any.lr), a ? format_general(a->train_loss, 4) : "",
                   b ? format_general(b->train_loss, 4) : "", a ? error_text(a->test_acc) : "",
                   b ? error_text(b->test_acc) : ""});
  }
  return table;
}

/// Per point: saturation in the last epoch and the largest over all epochs.
TextTable saturation_table(const std::vector<EpochMetrics>& fx) {
  TextTable table({"point", "saturated (last epoch)", "saturated (worst epoch)"});
  for (const auto& [name, last] : fx.back().saturation) {
    double worst = 0;
    for (const auto& m : fx)
      for (const auto& [n, rate] : m.saturation)
        if (n == name) worst = std::max(worst, rate);
    table.add_row({name, format_percent(last, 4), format_percent(worst, 4)});
  }
  return table;
}

} // namespace

void write_report(const std::string& dir_text) {
  const fs::path dir(dir_text);
  const auto fl = require_metrics(dir / "fl");
  const auto fx = require_metrics(dir / "fx");
  std::ostringstream md;
  md << "# Convergence report: " << dir.filename().string() << "\n\n";
  md << "Float (FL) and fixed-point (FX) runs of the same network, seed and schedule; FX uses the precision "
        "plan `plan.yaml` assigned analytically from the FL run's statistics (`fl/stats.json`).\n\n";

  const double gap = 100.0 * (fl.back().test_acc - fx.back().test_acc);
  TextTable final_table({"run", "epochs", "final train loss", "final test accuracy", "final test error"});
  final_table.add_row({"FL", std::to_string(fl.back().epoch), format_general(fl.back().train_loss, 4),
                       format_percent(fl.back().test_acc), error_text(fl.back().test_acc)});
  final_table.add_row({"FX", std::to_string(fx.back().epoch), format_general(fx.back().train_loss, 4),
                       format_percent(fx.back().test_acc), error_text(fx.back().test_acc)});
  md << "## Final gap\n\n" << final_table.markdown() << "\n";
  md << "FX test accuracy is " << format_general(std::abs(gap), 3) << " percentage points "
     << (gap >= 0 ? "below" : "above") << " FL.\n\n";

  md << "## Curves\n\n";
  if (plot_curves((dir / "curves.png").string(), "FL vs FX: " + dir.filename().string(),
                  {{"FL", (dir / "fl" / "metrics.jsonl").string()}, {"FX", (dir / "fx" / "metrics.jsonl").string()}}))
    md << "![training loss and test error per epoch](curves.png)\n\n";
  else
    md << "(no figure: python3-matplotlib is not available)\n\n";
  md << epoch_table(fl, fx).markdown() << "\n";

  const auto assignment_path = dir / "assignment.json";
  if (fs::exists(assignment_path)) {
    const auto assignment =
        Assignment::from_json(nlohmann::json::parse(read_file(assignment_path.string())), assignment_path.string());
    md << "## Precision plan\n\n" << assignment_table(assignment).markdown() << "\n";
    md << "Feedforward bound: B_min = " << assignment.b_min << " gives p_m <= " << format_general(assignment.bound)
       << " (target " << format_general(assignment.target_pm) << ").\n\n"
       << candidate_table(assignment, assignment.target_pm).markdown() << "\n";
  }
  const auto stats_path = dir / "fl" / "stats.json";
  if (fs::exists(stats_path)) {
    const auto stats = ProbeStats::load(stats_path.string());
    if (stats.injection_draws > 0)
      md << "## Back-propagated noise gains\n\nPer G^(A) point and weight layer its noise reaches: lambda (the "
            "largest element of eq. (13) of docs/precision-assignment.md over the probe's epochs, times the mean "
            "crossing factor of eq. (18) on identity paths: what the assignment uses), and on the final network the "
            "closed form against the noise-injection measurement ("
         << stats.injection_draws
         << " draws), at the closed form's largest element and summed over the elements. "
            "Rows `weights`: layers reached only through weights, which eq. (15) leaves out.\n\n"
         << backprop_gain_table(stats).markdown() << "\n";
  }
  md << "## Saturation (FX)\n\nFraction of the values of each quantization point clamped at its range during "
        "training. For activations only the top end counts, and it includes the clipped ReLU's own clip at 2: "
        "values above 2 and values in (max, 2] both map to the largest code.\n\n"
     << saturation_table(fx).markdown();
  write_file_atomic((dir / "report.md").string(), md.str());
}

} // namespace fxnn
