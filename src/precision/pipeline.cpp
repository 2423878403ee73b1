#include "fxnn/precision/pipeline.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "fxnn/io/atomic_file.h"
#include "fxnn/precision/assignment.h"
#include "fxnn/precision/probe.h"
#include "fxnn/train/trainer.h"

namespace fxnn {

namespace fs = std::filesystem;

void run_pipeline(const PipelineOptions& options) {
  const fs::path dir(options.out_dir);
  spdlog::info("1/4 float probe run into {}", (dir / "fl").string());
  ProbeOptions probe;
  probe.config = options.config;
  probe.out_dir = (dir / "fl").string();
  probe.resume = true;
  probe.quiet = options.quiet;
  const auto stats = run_probe(probe);

  const double target_pm = options.config.precision.target_pm;
  spdlog::info("2/4 precision assignment (target p_m {})", target_pm);
  const auto assignment =
      assign_precisions(stats, AssignOptions{target_pm, parse_rounding(options.config.precision.gradient_rounding)});
  for (const auto& name : floored_tensors(assignment))
    spdlog::warn("{}: the narrowest word overrides the rules (a finer step than they need)", name);
  auto plan = assignment.plan;
  plan.source = (dir / "plan.yaml").string();
  plan.save(plan.source);
  write_file_atomic((dir / "assignment.json").string(), assignment.to_json().dump(2) + "\n");
  spdlog::info("B_min = {}, p_m bound {:.3g}", assignment.b_min, assignment.bound);

  spdlog::info("3/4 fixed-point run into {}", (dir / "fx").string());
  TrainerOptions fx;
  fx.config = options.config;
  fx.plan = plan;
  fx.out_dir = (dir / "fx").string();
  fx.resume = true;
  fx.quiet = options.quiet;
  Trainer(fx).run();

  spdlog::info("4/4 report");
  write_report(options.out_dir);
}

} // namespace fxnn
