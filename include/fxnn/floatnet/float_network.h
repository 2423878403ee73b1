#pragma once
// A trained float network as a chain of dense layers: what every importer (NNet, ONNX, fxnn
// checkpoints of MLPs) produces and what sound synthesis (docs/synthesis.md) consumes.

#include <Eigen/Dense>

#include <cstdint>
#include <string>
#include <vector>

namespace fxnn::floatnet {

/// The activation after a dense layer (docs/synthesis.md eq. (2)).
enum class Activation {
  kLinear,      // y = z
  kRelu,        // y = max(z, 0)
  kClippedRelu, // y = min(max(z, 0), clip)
};

std::string to_string(Activation activation);

/// z = W y_prev + b, then the activation. Values are the imported network's, as doubles.
struct DenseLayer {
  Eigen::MatrixXd weight; // [outputs, inputs]
  Eigen::VectorXd bias;   // [outputs]
  Activation activation = Activation::kLinear;
  double clip = 0.0; // upper end of kClippedRelu (> 0); unused otherwise
  std::string name;  // for messages and generated code comments

  int64_t inputs() const { return weight.cols(); }
  int64_t outputs() const { return weight.rows(); }
};

/// The reference network of synthesis: its real-valued function, with the doubles of `layers` read
/// as exact reals, is what the certified error bound is measured against.
struct FloatNetwork {
  std::vector<DenseLayer> layers;
  std::string source; // the file it was read from

  int64_t inputs() const;
  int64_t outputs() const;
  /// Total neurons of all layers (the outputs included).
  int64_t neurons() const;

  /// Throws std::invalid_argument (naming `source` and the layer) when the chain of shapes breaks,
  /// a value is not finite, or a clip is not positive.
  void validate() const;

  /// The network's output in long double arithmetic (64-bit significand): the float64-or-better
  /// reference of validation. x.size() must be inputs().
  std::vector<long double> evaluate(const std::vector<long double>& x) const;
  std::vector<double> evaluate(const std::vector<double>& x) const;
};

/// Applies one activation to a long double value.
long double activate(Activation activation, double clip, long double z);

/// Folds an input normalization x' = (x - mean) / divisor into the first layer, so that the layer
/// takes raw x: W' = W diag(1/divisor), b' = b - W' mean. Each folded coefficient is computed in long
/// double and rounded once to double. One mean/divisor per input (divisor != 0).
void fold_input_normalization(DenseLayer& first, const std::vector<long double>& mean,
                              const std::vector<long double>& divisor);

/// Folds an output de-normalization y = y' * scale + offset into a linear last layer.
void fold_output_scaling(DenseLayer& last, const std::vector<long double>& scale,
                         const std::vector<long double>& offset);

} // namespace fxnn::floatnet
