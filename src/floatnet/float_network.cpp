#include "fxnn/floatnet/float_network.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace fxnn::floatnet {

std::string to_string(Activation activation) {
  switch (activation) {
    case Activation::kLinear: return "linear";
    case Activation::kRelu: return "relu";
    case Activation::kClippedRelu: return "clipped_relu";
  }
  return "?";
}

int64_t FloatNetwork::inputs() const { return layers.empty() ? 0 : layers.front().inputs(); }

int64_t FloatNetwork::outputs() const { return layers.empty() ? 0 : layers.back().outputs(); }

int64_t FloatNetwork::neurons() const {
  int64_t n = 0;
  for (const auto& layer : layers) n += layer.outputs();
  return n;
}

void FloatNetwork::validate() const {
  if (layers.empty()) throw std::invalid_argument(source + ": the network has no layers");
  for (size_t l = 0; l < layers.size(); ++l) {
    const DenseLayer& layer = layers[l];
    const std::string where =
        source + ": layer " + std::to_string(l + 1) + (layer.name.empty() ? "" : " ('" + layer.name + "')");
    if (layer.outputs() <= 0 || layer.inputs() <= 0) throw std::invalid_argument(where + ": empty weight matrix");
    if (layer.bias.size() != layer.outputs())
      throw std::invalid_argument(where + ": " + std::to_string(layer.bias.size()) + " biases for " +
                                  std::to_string(layer.outputs()) + " outputs");
    if (l > 0 && layer.inputs() != layers[l - 1].outputs())
      throw std::invalid_argument(where + ": takes " + std::to_string(layer.inputs()) + " inputs but layer " +
                                  std::to_string(l) + " has " + std::to_string(layers[l - 1].outputs()) + " outputs");
    if (!layer.weight.allFinite() || !layer.bias.allFinite())
      throw std::invalid_argument(where + ": a weight or bias is not finite");
    if (layer.activation == Activation::kClippedRelu && !(layer.clip > 0 && std::isfinite(layer.clip)))
      throw std::invalid_argument(where + ": clipped ReLU bound must be positive, got " + std::to_string(layer.clip));
  }
}

long double activate(Activation activation, double clip, long double z) {
  switch (activation) {
    case Activation::kLinear: return z;
    case Activation::kRelu: return z > 0 ? z : 0.0L;
    case Activation::kClippedRelu: return std::min<long double>(z > 0 ? z : 0.0L, clip);
  }
  return z;
}

void fold_input_normalization(DenseLayer& first, const std::vector<long double>& mean,
                              const std::vector<long double>& divisor) {
  if (static_cast<int64_t>(mean.size()) != first.inputs() || static_cast<int64_t>(divisor.size()) != first.inputs())
    throw std::invalid_argument("input normalization: " + std::to_string(mean.size()) + " means and " +
                                std::to_string(divisor.size()) + " divisors for " + std::to_string(first.inputs()) +
                                " inputs");
  for (int64_t i = 0; i < first.outputs(); ++i) {
    long double shift = 0.0L;
    for (int64_t j = 0; j < first.inputs(); ++j) {
      const long double folded = static_cast<long double>(first.weight(i, j)) / divisor[static_cast<size_t>(j)];
      shift += folded * mean[static_cast<size_t>(j)];
      first.weight(i, j) = static_cast<double>(folded);
    }
    first.bias(i) = static_cast<double>(static_cast<long double>(first.bias(i)) - shift);
  }
}

void fold_output_scaling(DenseLayer& last, const std::vector<long double>& scale,
                         const std::vector<long double>& offset) {
  if (static_cast<int64_t>(scale.size()) != last.outputs() || static_cast<int64_t>(offset.size()) != last.outputs())
    throw std::invalid_argument("output scaling: " + std::to_string(scale.size()) + " scales for " +
                                std::to_string(last.outputs()) + " outputs");
  if (last.activation != Activation::kLinear)
    throw std::invalid_argument("output scaling can only be folded into a linear last layer, not " +
                                to_string(last.activation));
  for (int64_t i = 0; i < last.outputs(); ++i) {
    const long double s = scale[static_cast<size_t>(i)];
    for (int64_t j = 0; j < last.inputs(); ++j) last.weight(i, j) = static_cast<double>(last.weight(i, j) * s);
    last.bias(i) = static_cast<double>(last.bias(i) * s + offset[static_cast<size_t>(i)]);
  }
}

std::vector<long double> FloatNetwork::evaluate(const std::vector<long double>& x) const {
  if (static_cast<int64_t>(x.size()) != inputs())
    throw std::invalid_argument(source + ": evaluate: " + std::to_string(x.size()) + " inputs, the network takes " +
                                std::to_string(inputs()));
  std::vector<long double> current = x, next;
  for (const DenseLayer& layer : layers) {
    next.assign(static_cast<size_t>(layer.outputs()), 0.0L);
    for (int64_t i = 0; i < layer.outputs(); ++i) {
      long double z = layer.bias(i);
      for (int64_t j = 0; j < layer.inputs(); ++j)
        z += static_cast<long double>(layer.weight(i, j)) * current[static_cast<size_t>(j)];
      next[static_cast<size_t>(i)] = activate(layer.activation, layer.clip, z);
    }
    current.swap(next);
  }
  return current;
}

std::vector<double> FloatNetwork::evaluate(const std::vector<double>& x) const {
  const std::vector<long double> y = evaluate(std::vector<long double>(x.begin(), x.end()));
  return std::vector<double>(y.begin(), y.end());
}

} // namespace fxnn::floatnet
