#include "fxnn/synth/synthesize.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "fxnn/synth/box_partition.h"
#include "fxnn/synth/error_model.h"
#include "fxnn/synth/float64_error.h"
#include "fxnn/synth/reference_plan.h"
#include "parallel.h"

namespace fxnn::synth {

namespace {

/// The stability margin of the error gains, in units of eps.
constexpr double kStableMargin = 4.0;
/// When the certificate leaves eps unused, one re-solve raises the target by 0.7 eps / bound, at
/// most by this factor (eq. (29c)).
constexpr double kMaxTargetRaise = 16.0;
constexpr double kTargetRaiseMargin = 0.7;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string number(double v) {
  std::ostringstream out;
  out.precision(4);
  out << v;
  return out.str();
}

/// The constants of the optimizers and of the diagnosis; with the limit of the fixed-point network's
/// accumulator check when the result is also written as one (eq. (52)).
SynthesisBounds problem_bounds(const floatnet::FloatNetwork& net, const NetworkRanges& ranges,
                               const SynthesisOptions& o) {
  SynthesisBounds b = synthesis_bounds(net, ranges);
  if (o.artifact) bound_artifact_accumulators(net, o.acc, b);
  return b;
}

/// Eigen's matrix products on one thread while it lives. The analyses' matrices are small (at most a
/// few hundred rows): OpenMP threads cost more than they save, and on a loaded machine their waits
/// made the partitioned analysis of AirplaneNN 6 times slower.
class SingleThreadedEigen {
 public:
  SingleThreadedEigen() : previous_(Eigen::nbThreads()) { Eigen::setNbThreads(1); }
  ~SingleThreadedEigen() { Eigen::setNbThreads(previous_); }
  SingleThreadedEigen(const SingleThreadedEigen&) = delete;
  SingleThreadedEigen& operator=(const SingleThreadedEigen&) = delete;

 private:
  int previous_;
};

/// Whether the method's formats store each tensor at one format (eq. (53)): then so does its reference.
bool stores_uniformly(const SynthesisOptions& o) { return o.method != Method::kLp || o.artifact; }

/// What every certificate of a synthesis checks: eps, the word sizes, all sources, the threads.
CertifyOptions certify_options(const SynthesisOptions& o) {
  return CertifyOptions{o.eps, o.word, o.acc, {}, detail::thread_count(o.threads)};
}

} // namespace

Method parse_method(const std::string& text) {
  if (text == "lp") return Method::kLp;
  if (text == "milp") return Method::kMilp;
  if (text == "aster") return Method::kAster;
  throw std::invalid_argument("--method: unknown method '" + text + "' (expected lp, milp or aster)");
}

std::string to_string(Method method) {
  switch (method) {
    case Method::kLp: return "lp";
    case Method::kMilp: return "milp";
    case Method::kAster: return "aster";
  }
  return "?";
}

std::string to_string(SynthesisStatus status) {
  switch (status) {
    case SynthesisStatus::kCertified: return "certified";
    case SynthesisStatus::kNotCertified: return "not_certified";
    case SynthesisStatus::kInfeasible: return "infeasible";
  }
  return "?";
}

void SynthesisOptions::validate() const {
  if (!(eps > 0) || !std::isfinite(eps))
    throw std::invalid_argument("--error: eps must be a positive number, got " + number(eps));
  if (word < 4 || word > 32) throw std::invalid_argument("--word: W must be in [4, 32], got " + std::to_string(word));
  if (acc < word || acc > 64)
    throw std::invalid_argument("--acc: A must be in [W, 64] = [" + std::to_string(word) + ", 64], got " +
                                std::to_string(acc));
  if (!(time_limit > 0)) throw std::invalid_argument("time limit must be positive");
  if (partition < 0)
    throw std::invalid_argument("--partition must be 0 (auto) or more, got " + std::to_string(partition));
  if (threads < 0) throw std::invalid_argument("--threads must be 0 (all) or more, got " + std::to_string(threads));
  if (rounding && *rounding != Rounding::kFloor && *rounding != Rounding::kNearest)
    throw std::invalid_argument("--rounding: synthesis supports floor and nearest, not " + to_string(*rounding));
}

Rounding SynthesisOptions::effective_rounding() const {
  if (rounding) return *rounding;
  return method == Method::kAster ? Rounding::kFloor : Rounding::kNearest;
}

SizeMetrics size_metrics(const QuantizedNetwork& q, const Certificate& cert) {
  SizeMetrics m;
  std::vector<int> in_bits, in_frac = q.input_frac;
  for (int64_t j = 0; j < q.inputs(); ++j) {
    in_bits.push_back(signed_bits(q.input_code_lo[static_cast<size_t>(j)], q.input_code_hi[static_cast<size_t>(j)]));
    m.total_bits += in_bits.back();
    m.frac_bits += in_frac[static_cast<size_t>(j)];
  }
  for (size_t l = 0; l < q.layers.size(); ++l) {
    const QuantizedLayer& ql = q.layers[l];
    const LayerCertificate& lc = cert.layers[l];
    std::vector<int> out_bits;
    for (int64_t i = 0; i < ql.outputs; ++i) {
      const size_t ui = static_cast<size_t>(i);
      int64_t lo = 0, hi = 0;
      for (int64_t j = 0; j < ql.inputs; ++j) {
        lo = std::min(lo, ql.weight[static_cast<size_t>(i * ql.inputs + j)]);
        hi = std::max(hi, ql.weight[static_cast<size_t>(i * ql.inputs + j)]);
      }
      const int weight_bits = signed_bits(lo, hi);
      for (int64_t j = 0; j < ql.inputs; ++j)
        if (ql.weight[static_cast<size_t>(i * ql.inputs + j)] != 0)
          m.cost += static_cast<double>(weight_bits) * in_bits[static_cast<size_t>(j)];
      m.total_bits += weight_bits * ql.inputs + signed_bits(ql.bias[ui], ql.bias[ui]);
      out_bits.push_back(signed_bits(lc.code_lo[ui], lc.code_hi[ui]));
      m.total_bits += out_bits.back();
      const NeuronFormat& f = ql.formats[ui];
      m.frac_bits += f.frac_out + f.frac_weight * ql.inputs + f.frac_acc;
    }
    in_bits = out_bits;
  }
  return m;
}

std::string diagnose_infeasibility(const floatnet::FloatNetwork& net, const InputBox& box, const NetworkRanges& ranges,
                                   const SynthesisOptions& o) {
  const SynthesisBounds b = problem_bounds(net, ranges, o);
  const std::string words = "W = " + std::to_string(o.word) + ", A = " + std::to_string(o.acc);
  CertifyOptions co = certify_options(o);
  ReferencePlan reference;
  try {
    reference = reference_plan(net, box, ranges, b, o.effective_rounding(), co, stores_uniformly(o));
  } catch (const std::overflow_error& e) { return "no formats within " + words + ": " + e.what(); }
  const QuantizedNetwork& q = reference.quantized;
  const Certificate& all = reference.certificate;
  if (all.certified)
    return "the " + to_string(o.method) + " model finds no formats, but formats within " + words +
           " exist (the finest give a certified bound of " + number(all.bound) + " <= eps = " + number(o.eps) +
           "): its linearization is too conservative here";
  if (!all.overflow_free) return "no formats within " + words + ": even the finest overflow (" + all.failure + ")";
  // Which rounding source dominates (index 0: the input quantization).
  size_t worst = 0;
  double worst_bound = -1.0;
  for (size_t s = 0; s <= net.layers.size(); ++s) {
    co.sources.assign(net.layers.size() + 1, false);
    co.sources[s] = true;
    const double bound = certify(net, ranges, q, co).bound;
    if (bound > worst_bound) {
      worst_bound = bound;
      worst = s;
    }
  }
  std::string limit;
  if (worst == 0) {
    int bits = -1000;
    for (const auto& v : b.inputs) bits = std::max(bits, v.storage_int);
    limit = "the inputs need " + std::to_string(bits) + " integer bits, which leaves them " +
            std::to_string(o.word - bits) + " fractional bits in W = " + std::to_string(o.word);
  } else {
    int bits = -1000, acc_int = -1000;
    for (const auto& n : b.layers[worst - 1]) {
      bits = std::max(bits, n.value.storage_int);
      acc_int = std::max(acc_int, n.acc_int);
    }
    limit = "its outputs need " + std::to_string(bits) + " integer bits (" + std::to_string(o.word - bits) +
            " fractional bits left by W = " + std::to_string(o.word) + ") and its sums " + std::to_string(acc_int + 1) +
            " (" + std::to_string(o.acc - 1 - acc_int) + " fractional bits left by A = " + std::to_string(o.acc) + ")";
  }
  return "no formats within " + words + " reach eps = " + number(o.eps) +
         ": the finest formats give a certified bound of " + number(all.bound) + ", of which " + number(worst_bound) +
         " comes from the rounding in " +
         (worst == 0 ? std::string("the input quantization") : "layer " + std::to_string(worst)) + ": " + limit;
}

int64_t auto_partition(const floatnet::FloatNetwork& net) {
  double neurons = 0;
  for (const auto& layer : net.layers) neurons += static_cast<double>(layer.outputs());
  // Halving every side of a box of n inputs takes 2^n parts: every input beyond 10 doubles the cap
  // and the time budget.
  const double per_input = std::ldexp(1.0, static_cast<int>(std::max<int64_t>(0, net.inputs() - 10)));
  const double budget = 2.56e9 * per_input / (neurons * neurons * neurons);
  return static_cast<int64_t>(std::clamp(std::floor(budget), 1.0, 256.0 * per_input));
}

SynthesisReport synthesize(const floatnet::FloatNetwork& net, const InputBox& box, const SynthesisOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const SingleThreadedEigen one_thread;
  options.validate();
  net.validate();
  box.check_dimension(net.inputs(), net.source);
  SynthesisReport report;
  report.model = net.source;
  report.box = box;
  report.options = options;
  report.rounding = options.effective_rounding();

  auto t = std::chrono::steady_clock::now();
  const int64_t parts = options.partition > 0 ? options.partition : auto_partition(net);
  PartitionedBox analysed = partition_box(net, box, options.ranges, parts, options.eps * kStableMargin,
                                          detail::thread_count(options.threads));
  report.ranges = std::move(analysed.ranges);
  const SynthesisBounds bounds = problem_bounds(net, report.ranges, options);
  // Neurons whose range keeps 4 eps away from 0 are taken as stable (eq. (20d)): the optimizers keep
  // their pre-activation errors below half that distance, and the certificate checks every neuron
  // with its actual errors.
  report.float64_error = float64_evaluation_error(net, report.ranges);
  report.range_seconds = seconds_since(t);
  if (options.eps <= report.float64_error) {
    // Formats would be sought for an accuracy that the float network's own binary64 evaluation
    // lacks, and the validation (long double) could not tell a right answer from a wrong one.
    report.status = SynthesisStatus::kInfeasible;
    report.message = "infeasible: eps = " + number(options.eps) +
                     " is below the float64 evaluation error of this network on the box (up to " +
                     number(report.float64_error) + ", eq. (54) of docs/synthesis.md): not even a binary64 " +
                     "evaluation of the float network is that accurate; choose eps above it";
    report.total_seconds = seconds_since(start);
    return report;
  }
  const ErrorGains gains = std::move(analysed.gains);

  SynthesisProblem problem;
  problem.net = &net;
  problem.box = &box;
  problem.ranges = &report.ranges;
  problem.bounds = &bounds;
  problem.gains = &gains;
  problem.eps = options.eps;
  problem.target = options.eps;
  problem.rounding = report.rounding;
  problem.word = options.word;
  problem.acc = options.acc;
  problem.time_limit = options.time_limit;
  problem.uniform_storage = options.artifact;
  // lp's error budget refers to the finest formats of the smallest bound; without quantizable
  // finest formats it falls back to finest_plan (and the diagnosis says why, if it fails).
  std::optional<ReferencePlan> reference;
  if (options.method == Method::kLp) {
    try {
      // The budget's shares need the reference's bound only roughly: its certificate is taken over
      // the parts' union without the per-part analyses, which would cost each of its five plans one
      // analysis per part.
      const NetworkRanges whole{
          report.ranges.mode, report.ranges.input_lo, report.ranges.input_hi, report.ranges.layers, {}};
      reference = reference_plan(net, box, whole, bounds, report.rounding, certify_options(options), options.artifact);
      problem.reference = &reference->plan;
    } catch (const std::overflow_error& e) {
      spdlog::info("synth: the finest formats cannot be quantized ({}); lp refers to them unquantized", e.what());
    }
  }

  const int attempts = options.method == Method::kAster ? 1 : 1 + options.retries;
  double solve_seconds = 0.0;
  bool tightened = false; // a certificate missed eps: the target only goes down from then on
  std::vector<std::string> retry_notes;
  // The certified attempt that a re-solve at a raised target (eq. (29c)) must beat.
  struct Certified {
    MethodResult method;
    QuantizedNetwork quantized;
    Certificate certificate;
    SizeMetrics size;
    std::string message;
  };
  std::optional<Certified> best;
  const auto better = [&](const SizeMetrics& a, const SizeMetrics& b) {
    return options.method == Method::kMilp ? a.cost < b.cost : a.total_bits < b.total_bits;
  };
  const auto restore_best = [&] {
    const double seconds = report.method.solve_seconds;
    report.method = best->method;
    report.method.solve_seconds = seconds; // every attempt's solver time counts
    report.quantized = best->quantized;
    report.certificate = best->certificate;
    report.size = best->size;
    report.status = SynthesisStatus::kCertified;
    report.message = best->message;
  };
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    report.attempts = attempt;
    switch (options.method) {
      case Method::kLp: report.method = solve_lp(problem); break;
      case Method::kMilp: report.method = solve_milp(problem); break;
      case Method::kAster: report.method = solve_aster(problem, options.aster); break;
    }
    solve_seconds += report.method.solve_seconds;
    report.method.solve_seconds = solve_seconds;
    // eq. (29b): lp's linearization (the rounding up of every term, the shares) can be infeasible
    // where its reference formats certify within eps; the certificate is the judge, so aim higher.
    if (!report.method.solved && reference && reference->certificate.certified && !tightened && attempt < attempts) {
      problem.target *= 2;
      retry_notes.push_back("the LP at target " + number(problem.target / 2) +
                            " is infeasible while its reference formats certify " +
                            number(reference->certificate.bound) + ": re-solved at " + number(problem.target));
      spdlog::info("synth: {}", retry_notes.back());
      continue;
    }
    if (!report.method.solved && best) {
      retry_notes.push_back("no formats at target " + number(problem.target) + ": the certified formats before kept");
      restore_best();
      break;
    }
    if (!report.method.solved) {
      report.status = SynthesisStatus::kInfeasible;
      report.message = "infeasible: " + (options.method == Method::kAster
                                             ? report.method.infeasible_reason
                                             : report.method.infeasible_reason + "; " +
                                                   diagnose_infeasibility(net, box, report.ranges, options));
      break;
    }
    t = std::chrono::steady_clock::now();
    report.quantized = quantize_network(net, box, report.method.plan, report.rounding);
    report.certificate = certify(net, report.ranges, *report.quantized, certify_options(options));
    report.certify_seconds += seconds_since(t);
    report.size = size_metrics(*report.quantized, *report.certificate);
    const Certificate& cert = *report.certificate;
    if (cert.certified) {
      report.status = SynthesisStatus::kCertified;
      report.message = "certified: error bound " + number(cert.bound) + " <= eps = " + number(options.eps);
      if (best && !better(report.size, best->size)) {
        retry_notes.push_back("target " + number(problem.target) + " saved nothing: the formats before kept");
        restore_best();
        break;
      }
      // eq. (29c): the optimizer's model bounds the error a priori, for any codes; the certificate
      // of the actual codes often proves far less. Aim at the eps it leaves unused, keep the better.
      if (options.method != Method::kAster && !tightened && !best && attempt < attempts &&
          cert.bound < options.eps / 2) {
        best = Certified{report.method, *report.quantized, cert, report.size, report.message};
        const double raise = std::min(kMaxTargetRaise, kTargetRaiseMargin * options.eps / cert.bound);
        retry_notes.push_back("certified bound " + number(cert.bound) + " at target " + number(problem.target) +
                              " (solved in " + number(solve_seconds) + " s): re-solved at " +
                              number(problem.target * raise));
        spdlog::info("synth: {}", retry_notes.back());
        problem.target *= raise;
        problem.start = report.method.solution; // still feasible: a raised target only relaxes the rows
        continue;
      }
      break;
    }
    if (best) { // a raised target whose formats the certificate refuses: the certified ones stay
      retry_notes.push_back("target " + number(problem.target) + " not certified (" + cert.failure +
                            "): the formats before kept");
      restore_best();
      break;
    }
    report.status = SynthesisStatus::kNotCertified;
    report.message = "not certified: " + cert.failure;
    if (options.method == Method::kAster) {
      report.message = "UNSOUND baseline (aster): claimed bound " + number(report.method.claimed_bound) +
                       ", certified (sound) bound of its formats " + number(cert.bound) +
                       (cert.certified ? "" : "; " + cert.failure);
      break;
    }
    // The optimizer's floating-point solution can miss eps by its tolerances: aim lower and re-solve.
    if (!cert.overflow_free || cert.bound <= options.eps) break;
    tightened = true;
    problem.target = std::min(problem.target / 2, problem.target * options.eps / cert.bound * 0.9);
    spdlog::info("synth: certified bound {} > eps {}: re-solving with target {}", cert.bound, options.eps,
                 problem.target);
  }
  report.method.notes.insert(report.method.notes.end(), retry_notes.begin(), retry_notes.end());
  if (options.artifact)
    report.method.notes.push_back(
        "formats also for the fixed-point network (--out): accumulators bounded over the full "
        "input formats" +
        std::string(options.method == Method::kLp ? ", one format for all inputs and one per layer's outputs" : ""));
  report.total_seconds = seconds_since(start);
  return report;
}

namespace {

nlohmann::ordered_json plan_json(const SynthesisReport& r) {
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  const QuantizedNetwork& q = *r.quantized;
  const Certificate& c = *r.certificate;
  const std::vector<RangeWidths> widths = range_widths(r.ranges);
  for (size_t l = 0; l < q.layers.size(); ++l) {
    const QuantizedLayer& ql = q.layers[l];
    nlohmann::ordered_json neurons = nlohmann::ordered_json::array();
    bool uniform = true;
    for (const auto& f : ql.formats) {
      uniform = uniform && f.frac_out == ql.formats[0].frac_out && f.frac_weight == ql.formats[0].frac_weight &&
                f.frac_acc == ql.formats[0].frac_acc;
      neurons.push_back({{"frac_out", f.frac_out}, {"frac_weight", f.frac_weight}, {"frac_acc", f.frac_acc}});
    }
    nlohmann::ordered_json layer = {
        {"neurons", ql.outputs},
        {"activation", floatnet::to_string(ql.activation)},
        {"max_error", c.layers[l].max_error},
        {"acc_bits", c.layers[l].acc_bits},
        {"storage_bits", c.layers[l].storage_bits},
        {"weight_bits", c.layers[l].weight_bits},
        {"range_mean_width", widths[l].mean_width},
        {"range_max_width", widths[l].max_width},
        {"range_max_magnitude", widths[l].max_magnitude},
    };
    if (uniform)
      layer["format"] = neurons[0];
    else
      layer["formats"] = neurons;
    layers.push_back(layer);
  }
  return layers;
}

} // namespace

nlohmann::ordered_json to_json(const SynthesisReport& r) {
  const SynthesisOptions& o = r.options;
  nlohmann::ordered_json j;
  j["model"] = r.model;
  j["method"] = to_string(o.method);
  j["sound"] = r.sound_method();
  if (!r.sound_method())
    j["warning"] =
        "UNSOUND baseline: Aster's formulation (signed row sums, off-by-one layer amplification, one rounding "
        "per dot product, per-layer hull ranges); its claimed bound is not a guarantee";
  j["rounding"] = to_string(r.rounding);
  j["range_mode"] = to_string(o.ranges);
  j["range_parts"] = std::max<size_t>(1, r.ranges.parts.size());
  j["artifact_formats"] = o.artifact;
  j["eps"] = o.eps;
  j["word"] = o.word;
  j["acc"] = o.acc;
  j["input_box"] = r.box.str();
  j["status"] = to_string(r.status);
  j["message"] = r.message;
  j["solver_status"] = to_string(r.method.status);
  j["float64_evaluation_error"] = r.float64_error;
  j["solve_seconds"] = r.method.solve_seconds;
  j["range_seconds"] = r.range_seconds;
  j["certify_seconds"] = r.certify_seconds;
  j["total_seconds"] = r.total_seconds;
  j["attempts"] = r.attempts;
  j["solver"] = {{"variables", r.method.variables},
                 {"constraints", r.method.constraints},
                 {"integers", r.method.integers},
                 {"objective", r.method.objective}};
  if (r.method.claimed_bound >= 0) j["claimed_bound"] = r.method.claimed_bound;
  if (!r.method.notes.empty()) j["notes"] = r.method.notes;
  if (r.certificate) {
    const Certificate& c = *r.certificate;
    j["certified"] = c.certified;
    j["certified_bound"] = c.bound;
    j["certified_bound_exact"] = c.bound_exact;
    j["output_bounds"] = c.output_bounds;
    j["overflow_free"] = c.overflow_free;
    if (!c.failure.empty()) j["certificate_failure"] = c.failure;
    j["total_bits"] = r.size.total_bits;
    j["frac_bits"] = r.size.frac_bits;
    j["cost"] = r.size.cost;
    j["input_frac"] = r.quantized->input_frac;
    j["input_bits"] = c.input_bits;
    j["layers"] = plan_json(r);
  }
  return j;
}

} // namespace fxnn::synth
