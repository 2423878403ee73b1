#include "fxnn/train/run_inspection.h"

#include <stdexcept>

#include "fxnn/io/text_table.h"
#include "fxnn/train/trained_run.h"
#include "fxnn/train/trainer.h"

namespace fxnn {

std::string compare_runs(const std::string& a_dir, const std::string& b_dir) {
  const TrainedRun run_a = load_trained_run(a_dir), run_b = load_trained_run(b_dir);
  const auto& a = run_a.network;
  const auto& b = run_b.network;
  const auto pa = a->named_parameters(), pb = b->named_parameters();
  const auto ba = a->named_buffers(), bb = b->named_buffers();
  TextTable table({"tensor", "elements", "different", "max |difference|"});
  int64_t different_total = 0;
  auto add = [&](const std::string& name, const torch::Tensor& x, const torch::Tensor& y) {
    if (x.sizes() != y.sizes()) throw std::runtime_error(name + ": the two runs have different shapes");
    const int64_t different = x.ne(y).sum().item<int64_t>();
    different_total += different;
    const double max_diff = x.numel() ? (x.to(torch::kDouble) - y.to(torch::kDouble)).abs().max().item<double>() : 0.0;
    table.add_row({name, std::to_string(x.numel()), std::to_string(different), format_general(max_diff, 3)});
  };
  for (const auto& item : pa) add(item.key(), item.value(), pb[item.key()]);
  for (const auto& item : ba) add(item.key(), item.value(), bb[item.key()]);
  return format_printf("%s (epoch %lld) against %s (epoch %lld):\n\n%s\n%s\n", a_dir.c_str(),
                       static_cast<long long>(run_a.epoch), b_dir.c_str(), static_cast<long long>(run_b.epoch),
                       table.aligned().c_str(), different_total == 0 ? "bitwise identical" : "the runs differ");
}

std::string inspect_run(const std::string& dir) {
  const TrainedRun run = load_trained_run(dir);
  const auto& trained = run.network;
  auto initial = build_network(run.config, run.plan);
  build_optimizer(run.config, *initial); // the initial weights as training started from them (W = Q_W(Q_acc(W)))
  TextTable table({"layer", "W format", "weights", "changed since init", "min", "max"});
  const auto a = initial->weight_quantizations(), b = trained->weight_quantizations();
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& w = b[i];
    const int64_t changed = a[i].weight.ne(w.weight).sum().item<int64_t>();
    const auto& spec = w.weight_point->spec();
    table.add_row({w.layer,
                   !spec            ? "float"
                   : spec->scaled() ? spec->format.str() + " x " + format_general(spec->scale, 6)
                                    : spec->format.str(),
                   std::to_string(w.weight.numel()),
                   std::to_string(changed) + " (" +
                       format_percent(static_cast<double>(changed) / static_cast<double>(w.weight.numel()), 1) + ")",
                   format_general(w.weight.min().item<double>(), 4), format_general(w.weight.max().item<double>(), 4)});
  }
  return format_printf("%s after epoch %lld:\n\n%s", dir.c_str(), static_cast<long long>(run.epoch),
                       table.aligned().c_str());
}

} // namespace fxnn
