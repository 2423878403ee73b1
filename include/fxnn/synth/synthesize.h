#pragma once
// Sound fixed-point synthesis end to end: ranges, an optimizer, quantization and the certificate
// (docs/synthesis.md). Infeasibility and a failed certificate are results, not exceptions.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "fxnn/floatnet/float_network.h"
#include "fxnn/synth/certificate.h"
#include "fxnn/synth/input_box.h"
#include "fxnn/synth/methods.h"
#include "fxnn/synth/quantized_network.h"
#include "fxnn/synth/ranges.h"

namespace fxnn::synth {

enum class Method { kLp, kMilp, kAster };
Method parse_method(const std::string& text); // "lp" | "milp" | "aster"
std::string to_string(Method method);

struct SynthesisOptions {
  double eps = 1e-3;
  Method method = Method::kLp;
  /// kNearest (round half up) or kFloor (truncation); empty: nearest for lp/milp, floor for aster.
  std::optional<Rounding> rounding;
  RangeMode ranges = RangeMode::kSymbolic;
  /// The error analysis cuts the box into at most this many parts (docs/synthesis.md section 5.1);
  /// 0: as many as auto_partition allows for the network.
  int64_t partition = 0;
  /// Threads of the per-part analyses (partition and certificate); 0: all hardware threads. The
  /// formats and bounds do not depend on it.
  int threads = 0;
  int word = 32;            // W, at most 32 (the generated interface is int32_t)
  int acc = 64;             // A, at most 64 (int64_t accumulators)
  double time_limit = 60.0; // seconds per solver call
  int retries = 3;          // re-solves with a tighter target when the certificate misses eps by rounding
  /// The formats must also be encodable as a fixed-point network (`--out`, docs/synthesis.md
  /// section 13): accumulators bounded over the full input formats (eq. (52)), and for lp one
  /// format for all inputs and one per layer's outputs (weights and accumulators stay per neuron).
  bool artifact = false;
  AsterSettings aster;

  /// Throws std::invalid_argument naming the option for eps <= 0 (or not finite), W outside [4, 32],
  /// A outside [W, 64], a time limit <= 0, a negative partition or thread count, or the stochastic
  /// rounding mode.
  void validate() const;
  Rounding effective_rounding() const;
};

enum class SynthesisStatus {
  kCertified,    // formats found and the certificate holds: code may be emitted
  kNotCertified, // formats found but the certificate fails (aster's formats, or a solver problem)
  kInfeasible,   // no formats within the word sizes (or the method's model finds none)
};
std::string to_string(SynthesisStatus status);

/// Storage and arithmetic size of a quantized network.
struct SizeMetrics {
  int64_t total_bits = 0; // word lengths of every input, weight, bias and stored neuron output
  int64_t frac_bits = 0;  // fractional bits of inputs, neuron outputs, weights (one per weight) and accumulators
  double cost = 0.0;      // sum over multiplications of weight width x input width (Aster's cost model)
};

struct SynthesisReport {
  std::string model;
  InputBox box;
  SynthesisOptions options;
  Rounding rounding = Rounding::kNearest;
  SynthesisStatus status = SynthesisStatus::kInfeasible;
  std::string message; // one line: what happened
  NetworkRanges ranges;
  MethodResult method;
  std::optional<QuantizedNetwork> quantized;
  std::optional<Certificate> certificate;
  SizeMetrics size;
  /// eq. (54): how accurately a binary64 evaluation of the network computes it on the box; an eps
  /// at or below it is refused (infeasible) with that reason.
  double float64_error = 0.0;
  double range_seconds = 0.0, certify_seconds = 0.0, total_seconds = 0.0;
  int attempts = 0;

  bool sound_method() const { return options.method != Method::kAster; }
};

/// The parts of `--partition 0` (eq. (28e)): for N neurons and n inputs, floor(2.56e9 2^k / N^3) parts,
/// k = max(0, n - 10), at least 1 and at most 256 2^k. A part's analyses cost about N^3; halving
/// every side of a box takes 2^n parts, hence the factor 2^k for many inputs.
int64_t auto_partition(const floatnet::FloatNetwork& net);

SynthesisReport synthesize(const floatnet::FloatNetwork& net, const InputBox& box, const SynthesisOptions& options);

/// Why no formats exist: certifies the finest formats the word sizes allow and names the layer whose
/// rounding dominates the bound and the word size that limits it (or says that formats exist and the
/// method's model is too conservative to find them).
std::string diagnose_infeasibility(const floatnet::FloatNetwork& net, const InputBox& box, const NetworkRanges& ranges,
                                   const SynthesisOptions& options);

SizeMetrics size_metrics(const QuantizedNetwork& q, const Certificate& cert);

/// The JSON report (docs/synthesis.md section 11).
nlohmann::ordered_json to_json(const SynthesisReport& report);

} // namespace fxnn::synth
