#pragma once
// A precision plan: which format every quantization point of a network uses (docs/precision-plan.md).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fxnn/core/quantizer_spec.h"
#include "fxnn/nn/quant_point.h"

namespace fxnn {

class NetworkImpl;

/// A format per tensor class (W, A, GW, GA, acc); a class that is absent stays in float.
using ClassSpecs = std::map<TensorClass, std::optional<QuantizerSpec>>;

/// Per-layer overrides, applied in file order (a later match wins). `pattern` is a layer name or a
/// shell glob such as "s1b*" or "conv*".
struct LayerOverride {
  std::string pattern;
  ClassSpecs specs;
};

struct PrecisionPlan {
  std::string source; // file it was read from, for messages
  ClassSpecs defaults;
  std::vector<LayerOverride> layers;
  /// Free-text notes kept per point name (e.g. the statistic a precision came from); written as
  /// comments by save().
  std::map<std::string, std::string> notes;

  /// Reads a plan; throws std::runtime_error naming the file, the key and the bad value.
  static PrecisionPlan load(const std::string& path);
  static PrecisionPlan parse(const std::string& yaml_text, const std::string& source);
  /// Writes the plan (atomically: a temporary file, then rename).
  void save(const std::string& path) const;
  std::string to_yaml() const;

  /// Whether a layer override's pattern (a name or a shell glob) covers the layer.
  static bool layer_matches(const std::string& pattern, const std::string& layer);

  /// The spec of one point: the last matching layer override, else the class default, else float.
  std::optional<QuantizerSpec> resolve(const std::string& layer, TensorClass tensor_class) const;

  /// This plan with every format of the given classes `fewer` bits narrower at the same range (a fixed
  /// format loses its last fractional bit, an auto one a bit), never below one bit (two if signed).
  PrecisionPlan with_fewer_bits(const std::vector<TensorClass>& classes, int fewer = 1) const;

  /// Sets every point of the network from this plan. Throws when a layer override matches no layer
  /// of the network (a typo would otherwise silently leave a layer in the default format).
  void apply(NetworkImpl& network) const;
};

/// Every point of the network left in float.
void clear_precision(NetworkImpl& network);

} // namespace fxnn
