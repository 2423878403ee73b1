#include "fxnn/synth/synth_run.h"

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "fxnn/codegen/generated_code.h"
#include "fxnn/io/atomic_file.h"
#include "fxnn/ir/network_files.h"
#include "fxnn/synth/network_artifact.h"
#include "fxnn/synth/synth_codegen.h"

namespace fxnn::synth {

namespace {

std::string num(double v, int precision = 4) {
  std::ostringstream out;
  out << std::setprecision(precision) << v;
  return out.str();
}

/// An input as "x1,x2,..." with every digit (17 significant), to be reproduced exactly.
std::string point_str(const std::vector<double>& x) {
  std::ostringstream out;
  out.precision(17);
  for (size_t i = 0; i < x.size(); ++i) out << (i ? "," : "") << x[i];
  return out.str();
}

codegen::Provenance provenance(const SynthesisReport& r) {
  return {"model: " + r.model,
          "method: " + to_string(r.options.method) + (r.sound_method() ? "" : " (UNSOUND baseline)") +
              ", rounding: " + to_string(r.rounding) + ", ranges: " + to_string(r.options.ranges) +
              ", W = " + std::to_string(r.options.word) + ", A = " + std::to_string(r.options.acc),
          "input box: " + r.box.str(),
          "certified: |output error| <= " + num(r.certificate->bound, 6) + " (eps = " + num(r.options.eps, 6) +
              ") for every input in the box"};
}

std::string artifact_source(const SynthesisReport& r) {
  return "fxnn synth --method " + to_string(r.options.method) + " of " + r.model + " on the box " + r.box.str() +
         ": certified |output error| <= " + num(r.certificate->bound, 6) + " (eps = " + num(r.options.eps, 6) + ")";
}

void print_summary(const SynthesisReport& r, std::ostream& out) {
  out << "fxnn synth: " << r.model << "\n";
  out << "  method " << to_string(r.options.method)
      << (r.sound_method() ? "" : " (UNSOUND baseline: Aster's formulation)") << ", rounding " << to_string(r.rounding)
      << ", ranges " << to_string(r.options.ranges)
      << (r.ranges.parts.empty() ? std::string() : " over " + std::to_string(r.ranges.parts.size()) + " parts")
      << ", W = " << r.options.word << ", A = " << r.options.acc << ", eps = " << r.options.eps << "\n";
  const std::vector<RangeWidths> widths = range_widths(r.ranges);
  for (size_t l = 0; l < widths.size(); ++l)
    out << "  layer " << l + 1 << " ranges: mean width " << num(widths[l].mean_width) << ", max |value| "
        << num(widths[l].max_magnitude) << "\n";
  if (r.attempts > 0) // no solver runs when the problem is refused before (eq. (54))
    out << "  solver: " << to_string(r.method.status) << " in " << num(r.method.solve_seconds, 3) << " s ("
        << r.method.variables << " variables, " << r.method.integers << " integer, " << r.method.constraints
        << " constraints)\n";
  for (const std::string& note : r.method.notes) out << "  note: " << note << "\n";
  if (r.certificate) {
    const Certificate& c = *r.certificate;
    const QuantizedNetwork& q = *r.quantized;
    for (size_t l = 0; l < q.layers.size(); ++l) {
      int f_lo = 1000, f_hi = -1000, w_lo = 1000, w_hi = -1000;
      for (const auto& f : q.layers[l].formats) {
        f_lo = std::min(f_lo, f.frac_out);
        f_hi = std::max(f_hi, f.frac_out);
        w_lo = std::min(w_lo, f.frac_weight);
        w_hi = std::max(w_hi, f.frac_weight);
      }
      const auto span = [](int a, int b) {
        return a == b ? std::to_string(a) : std::to_string(a) + ".." + std::to_string(b);
      };
      out << "  layer " << l + 1 << ": output frac " << span(f_lo, f_hi) << " (" << c.layers[l].storage_bits
          << " bits), weight frac " << span(w_lo, w_hi) << " (" << c.layers[l].weight_bits << " bits), accumulator "
          << c.layers[l].acc_bits << " bits, max error " << num(c.layers[l].max_error) << "\n";
    }
    if (r.method.claimed_bound >= 0)
      out << "  claimed bound (Aster's model, unsound): " << num(r.method.claimed_bound, 6) << "\n";
    out << "  certified bound " << num(c.bound, 6) << " (eps " << r.options.eps << "), total bits " << r.size.total_bits
        << ", cost " << num(r.size.cost, 8) << "\n";
  }
  out << "  " << r.message << "\n";
}

nlohmann::ordered_json validation_json(const ValidationResult& v, const Certificate& cert) {
  nlohmann::ordered_json j = {
      {"inputs", v.total_inputs},
      {"random_inputs", v.random_inputs},
      {"corner_inputs", v.corner_inputs},
      {"corners_in_box", v.corners_in_box},
      {"corners_sampled", v.corners_sampled},
      {"centre", true},
      {"max_error", v.max_error},
      {"max_error_all", v.max_error_all},
      {"ratio_to_bound", cert.bound > 0 ? v.max_error_all / cert.bound : 0.0},
      {"outputs_match_integer_reference", v.outputs_match_reference},
      {"sanitizer_clean", v.sanitizer_clean},
      {"compile_command", v.compile_command},
      {"seconds", v.seconds},
  };
  if (!v.sanitizer_report.empty()) j["sanitizer_report"] = v.sanitizer_report;
  if (v.searched)
    j["search"] = {
        {"evaluations", v.search_evaluations},
        {"max_error", v.search_error},
        {"input", v.search_input},
        {"found_by", v.search_found_by},
        {"bound", v.attacked_bound},
        {"bound_kind", v.attacked_bound == cert.bound ? "certified" : "claimed"},
        {"ratio_to_bound", v.attacked_bound > 0 ? std::max(v.search_error, v.max_error_all) / v.attacked_bound : 0.0},
        {"violates_bound", v.violation_found}};
  return j;
}

void print_validation(const ValidationResult& v, const SynthesisReport& r, std::ostream& out) {
  out << "  validation: " << v.total_inputs << " inputs (" << v.random_inputs << " random, " << v.corner_inputs
      << (v.corners_sampled ? " random corners of " + std::to_string(v.corners_in_box) : " corners")
      << ", the centre)\n";
  for (size_t o = 0; o < v.max_error.size(); ++o)
    out << "    output " << o << ": max |error| " << num(v.max_error[o], 6) << " <= certified "
        << num(r.certificate->output_bounds[o], 6) << "\n";
  out << "    max |error| " << num(v.max_error_all, 6) << ", certified bound " << num(r.certificate->bound, 6)
      << ", eps " << r.options.eps << "; sanitizer " << (v.sanitizer_clean ? "clean" : "REPORT: " + v.sanitizer_report)
      << "; compiled C = integer reference: " << (v.outputs_match_reference ? "yes" : "NO") << "\n";
  if (v.searched)
    out << "    attack on the " << (r.sound_method() ? "certified" : "claimed") << " bound " << num(v.attacked_bound, 6)
        << " (" << v.search_evaluations << " evaluations of local search): max |error| " << num(v.search_error, 6)
        << " (found by " << v.search_found_by << "), ratio " << num(v.search_error / v.attacked_bound, 4)
        << (v.violation_found ? (r.sound_method() ? " -> VIOLATED (the certificate is wrong)"
                                                  : " -> VIOLATED (the claimed bound is wrong)")
                              : " -> not violated")
        << "\n";
}

} // namespace

ExistingOutput existing_output(const SynthRunOptions& o) {
  return o.force ? ExistingOutput::kReplace : ExistingOutput::kRefuse;
}

ResolvedProblem resolve_problem(const SynthRunOptions& o) {
  ResolvedProblem p;
  const bool have_box = o.input_box.has_value(), have_bench = !o.benchmark.empty() || !o.benchmarks.empty();
  if (have_box == have_bench)
    throw std::invalid_argument("give either --input-box or --benchmarks YAML --benchmark NAME");
  if (have_bench && (o.benchmark.empty() || o.benchmarks.empty()))
    throw std::invalid_argument("--benchmarks and --benchmark go together");
  if (have_box) {
    p.box = parse_input_box(*o.input_box);
    if (!o.eps) throw std::invalid_argument("--error EPS is required with --input-box");
    p.model = o.model;
  } else {
    const Benchmark b = load_benchmark(o.benchmarks, o.benchmark);
    p.box = b.box;
    p.eps = b.error_bound;
    p.model = o.model.empty() ? b.model : o.model;
  }
  if (o.eps) p.eps = *o.eps;
  if (p.model.empty()) throw std::invalid_argument("--model is required");
  SynthesisOptions s = o.synthesis;
  s.eps = p.eps;
  s.validate();
  if (!o.emit_c_dir.empty() || !o.emit_hls_dir.empty()) codegen::check_c_identifier(o.name);
  // The code files replace no file of a user's (codegen::write_files checks again when it writes).
  if (!o.emit_c_dir.empty()) codegen::check_code_files(o.emit_c_dir, {o.name + ".h", o.name + ".c"});
  if (!o.emit_hls_dir.empty()) codegen::check_code_files(o.emit_hls_dir, {o.name + "_hls.h", o.name + "_hls.cpp"});
  if (!o.out_dir.empty()) check_output_folder(o.out_dir, ir::network_folder_kind(), existing_output(o));
  return p;
}

void run_synthesis(const floatnet::FloatNetwork& net, const ResolvedProblem& problem, const SynthRunOptions& options,
                   std::ostream& out) {
  SynthesisOptions so = options.synthesis;
  so.eps = problem.eps;
  so.artifact = so.artifact || !options.out_dir.empty(); // formats the fixed-point network can hold (section 13)
  const SynthesisReport report = synthesize(net, problem.box, so);
  print_summary(report, out);
  nlohmann::ordered_json json = to_json(report);
  const auto write_json = [&] {
    if (!options.json.empty()) write_file_atomic(options.json, json.dump(2) + "\n");
  };
  if (report.status == SynthesisStatus::kInfeasible) {
    write_json();
    throw std::runtime_error(report.message);
  }
  const Certificate& cert = *report.certificate;
  const bool want_code = !options.emit_c_dir.empty() || !options.emit_hls_dir.empty() || !options.out_dir.empty();
  if (!cert.certified && (report.sound_method() || want_code)) {
    write_json();
    throw std::runtime_error(report.message + (want_code ? " (no code emitted)" : ""));
  }
  // Built before anything is written, so that formats without an exact encoding write nothing.
  std::optional<ir::Network> artifact;
  if (!options.out_dir.empty()) {
    try {
      artifact = to_fixed_point_network(*report.quantized, cert, options.name, artifact_source(report));
    } catch (const std::exception& e) {
      json["fixed_point_network_error"] = e.what(); // the report says why, then the run fails
      write_json();
      throw;
    }
  }

  if (options.validate >= 0) {
    if (!cert.overflow_free) {
      json["validation"] = {{"skipped", "the formats may overflow: " + cert.failure}};
      out << "  validation skipped: the formats may overflow (" << cert.failure << ")\n";
    } else {
      ValidationOptions vo;
      vo.samples = options.validate;
      vo.seed = options.seed;
      vo.search_evaluations = options.attack;
      if (!report.sound_method()) vo.claimed_bound = report.method.claimed_bound;
      const ValidationResult v = validate(net, problem.box, *report.quantized, cert, vo);
      print_validation(v, report, out);
      json["validation"] = validation_json(v, cert);
      std::string failure;
      if (!v.sanitizer_clean)
        failure = "the sanitizer build reported: " + v.sanitizer_report;
      else if (!v.outputs_match_reference)
        failure = "the compiled C differs from the integer reference";
      else if (v.max_error_all > cert.bound)
        failure = "a measured error " + num(v.max_error_all, 6) + " exceeds the certified bound";
      else if (v.searched && v.search_error > cert.bound)
        failure = "the attack found an error " + num(v.search_error, 6) + " above the certified bound " +
                  num(cert.bound, 6) + " at the input " + point_str(v.search_input);
      if (!failure.empty()) {
        write_json();
        throw std::runtime_error("validation failed: " + failure);
      }
    }
  }
  // The code comes from the fixed-point network of the synthesized formats when they have one (the
  // generator of every fixed-point network, docs/codegen.md), else from the per-neuron generator.
  const auto origin = [](const std::string& from, const std::string& why) {
    return from + (why.empty() ? "" : " (" + why + ")");
  };
  if (!options.emit_c_dir.empty()) {
    const codegen::GeneratedCode code = generate_c(*report.quantized, cert, options.name, provenance(report));
    const auto files = codegen::write_c(options.emit_c_dir, options.name, code);
    out << "  wrote " << files[0] << ", " << files[1] << ", generated from the "
        << origin(code.origin, code.origin_reason) << "\n";
    json["emitted_c"] = files;
    json["emitted_c_from"] = code.origin;
    if (!code.origin_reason.empty()) json["emitted_c_from_reason"] = code.origin_reason;
  }
  if (!options.emit_hls_dir.empty()) {
    const codegen::GeneratedHls code = generate_hls(*report.quantized, cert, options.name, provenance(report));
    const auto files = codegen::write_hls(options.emit_hls_dir, options.name, code);
    out << "  wrote " << files[0] << ", " << files[1] << ", generated from the "
        << origin(code.origin, code.origin_reason) << "\n";
    json["emitted_hls"] = files;
    json["emitted_hls_from"] = code.origin;
    if (!code.origin_reason.empty()) json["emitted_hls_from_reason"] = code.origin_reason;
  }
  if (artifact) {
    ir::save_network(*artifact, options.out_dir, existing_output(options));
    out << "  wrote the fixed-point network " << options.out_dir << " (" << ir::kManifestFile << ")\n";
    json["fixed_point_network"] = options.out_dir;
  }
  write_json();
  if (!options.json.empty()) out << "  report " << options.json << "\n";
}

} // namespace fxnn::synth
