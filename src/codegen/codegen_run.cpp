#include "fxnn/codegen/codegen_run.h"

#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "fxnn/codegen/network_codegen.h"
#include "fxnn/ir/model_header.h"
#include "fxnn/ir/network_files.h"

namespace fxnn::codegen {

namespace {

bool same_folder(const std::string& a, const std::string& b) {
  return std::filesystem::path(a).lexically_normal() == std::filesystem::path(b).lexically_normal();
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

} // namespace

std::string CodegenRunReport::summary() const {
  std::ostringstream out;
  out << "fxnn codegen: " << network << " (" << nodes << " nodes) as '" << name << "'\n";
  if (!c_files.empty())
    out << "  C99: " << join(c_files) << "\n    void " << function << "(const " << name << "_input_t *x, " << name
        << "_output_t *y); work area " << work_bytes << " bytes, constants " << constant_bytes << " bytes\n";
  if (!hls_files.empty())
    out << "  HLS: " << join(hls_files) << "\n    void " << hls_function << "(const " << name << "_in_t x[], " << name
        << "_out_t y[])\n";
  return out.str();
}

CodegenRunReport run_codegen(const CodegenRunOptions& o) {
  if (o.model.empty()) throw std::invalid_argument("--model: give the network folder");
  if (o.c_dir.empty() && o.hls_dir.empty()) throw std::invalid_argument("give --emit-c DIR, --emit-hls DIR or both");
  if (!o.name.empty()) check_c_identifier(o.name);
  const ExistingOutput existing = o.force ? ExistingOutput::kReplace : ExistingOutput::kRefuse;
  for (const std::string& dir : {o.c_dir, o.hls_dir}) {
    if (dir.empty()) continue;
    if (same_folder(dir, o.model))
      throw std::invalid_argument(dir + ": is the network folder --model; write the code to another folder");
    check_output_folder(dir, code_folder_kind(), existing);
  }

  const ir::Network net = ir::load_network(o.model);
  CodegenRunReport report;
  report.name = o.name;
  if (report.name.empty()) {
    report.name = ir::c_identifier(net.name);
    try {
      check_c_identifier(report.name);
    } catch (const std::invalid_argument&) {
      throw std::invalid_argument("the network's name '" + net.name + "' makes no C identifier; give --name");
    }
  }
  report.network = o.model;
  report.nodes = static_cast<int64_t>(net.nodes.size());
  NetworkCodegenOptions options;
  options.with_name(report.name).with_provenance({"from the network folder " + o.model + " (fxnn codegen)"});

  std::vector<std::pair<std::string, std::string>> c_files, hls_files;
  if (!o.c_dir.empty()) {
    const GeneratedCode code = generate_network_c(net, options);
    c_files = {{report.name + ".h", code.header}, {report.name + ".c", code.source}};
    report.function = report.name;
    report.work_bytes = code.work_bytes;
    report.constant_bytes = code.constant_bytes;
  }
  if (!o.hls_dir.empty()) {
    const GeneratedHls code = generate_network_hls(net, options);
    hls_files = {{report.name + "_hls.h", code.header}, {report.name + "_hls.cpp", code.source}};
    report.hls_function = report.name + "_hls";
  }
  // Everything is generated before anything is written; one folder is one atomic write.
  if (!o.c_dir.empty() && !o.hls_dir.empty() && same_folder(o.c_dir, o.hls_dir)) {
    std::vector<std::pair<std::string, std::string>> all = c_files;
    all.insert(all.end(), hls_files.begin(), hls_files.end());
    const auto paths = write_code_folder(o.c_dir, all, existing);
    report.c_files = {paths[0], paths[1]};
    report.hls_files = {paths[2], paths[3]};
    return report;
  }
  if (!o.c_dir.empty()) report.c_files = write_code_folder(o.c_dir, c_files, existing);
  if (!o.hls_dir.empty()) report.hls_files = write_code_folder(o.hls_dir, hls_files, existing);
  return report;
}

} // namespace fxnn::codegen
