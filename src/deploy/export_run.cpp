#include "fxnn/deploy/export_run.h"

#include <stdexcept>

#include "fxnn/io/text_table.h"
#include "fxnn/ir/network_files.h"
#include "fxnn/train/trained_run.h"

namespace fxnn {

std::string run_export(const ExportRunOptions& o) {
  const ExistingOutput existing = o.force ? ExistingOutput::kReplace : ExistingOutput::kRefuse;
  check_output_folder(o.out, ir::network_folder_kind(), existing);
  if (o.run.empty() && (o.checkpoint.empty() || o.config.empty()))
    throw std::runtime_error(
        "export: give --run DIR, or --checkpoint CKPT with --config C.yaml and --precision PLAN.yaml");
  TrainedRun run =
      o.run.empty() ? load_trained_checkpoint(o.checkpoint, o.config, o.precision) : load_trained_run(o.run);
  if (!run.plan) throw std::runtime_error("export: the run was trained in float; export needs a precision plan");
  ir::Network net = export_network(*run.network, run.config, run.config.input_shape(), o.export_options);
  net.source = o.run.empty() ? o.checkpoint : o.run;
  ir::save_network(net, o.out, existing);
  TextTable table({"node", "op", "output", "weights", "accumulator"});
  int64_t weights = 0;
  for (const auto& n : net.nodes) {
    const bool weighted = n.weight.has_value();
    if (weighted) weights += n.weight->numel();
    table.add_row({n.name, ir::to_string(n.op), n.output_format.str(),
                   weighted ? n.weight->format.str() + " x " + std::to_string(n.weight->numel()) : "",
                   n.requantize ? std::to_string(n.accumulator_bits) + " bits" : ""});
  }
  return format_printf("%s (epoch %lld) -> %s: %zu nodes, %lld weights\n\n%s", net.source.c_str(),
                       static_cast<long long>(run.epoch), o.out.c_str(), net.nodes.size(),
                       static_cast<long long>(weights), table.aligned().c_str());
}

} // namespace fxnn
