#include "fxnn/nn/precision_plan.h"

#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "fxnn/io/atomic_file.h"
#include "fxnn/io/yaml_map.h"

namespace fxnn {

using io::parse_yaml;
using io::YamlMap;

namespace {

/// One entry: "s8.7", "float", or {format: s8.7, rounding: stochastic, scale: 0.0371, learn: true}.
std::optional<QuantizerSpec> parse_entry(const YamlMap& parent, const std::string& key, TensorClass tensor_class,
                                         Rounding default_rounding) {
  const YAML::Node node = parent.node(key);
  std::string format_text;
  Rounding rounding = default_rounding;
  double scale = 1.0;
  bool learned = false;
  if (node.IsScalar()) {
    format_text = node.Scalar();
  } else if (node.IsMap()) {
    const YamlMap entry = parent.map(key);
    format_text = entry.required<std::string>("format");
    if (entry.has("rounding")) {
      try {
        rounding = parse_rounding(entry.get<std::string>("rounding", ""));
      } catch (const std::invalid_argument& e) { entry.fail("rounding", e.what()); }
    }
    if (entry.has("scale")) {
      scale = entry.get<double>("scale", 1.0);
      if (!(std::isfinite(scale) && scale > 0)) entry.fail("scale", "must be a positive finite number");
      // Only the points whose quantizer the engine applies as a whole tensor op take a scale: the
      // gradient and accumulator points feed the fused update kernels and per-tensor auto ranges.
      if (scale != 1.0 && tensor_class != TensorClass::kWeight && tensor_class != TensorClass::kActivation)
        entry.fail("scale", "only W and A take a scale");
    }
    learned = entry.get<bool>("learn", false);
    if (learned && tensor_class != TensorClass::kWeight && tensor_class != TensorClass::kActivation)
      entry.fail("learn", "only W and A take a learned scale");
    entry.reject_unknown_keys();
  } else {
    parent.fail(key, "expected a format such as s8.7, float, or {format: ..., rounding: ..., scale: ...}");
  }
  if (format_text == "float") {
    if (scale != 1.0 || learned) parent.fail(key, "a float entry takes no scale");
    return std::nullopt;
  }
  QuantizerSpec spec;
  try {
    spec = QuantizerSpec{Format::parse(format_text), rounding, scale, learned};
  } catch (const std::invalid_argument& e) { parent.fail(key, e.what()); }
  if (spec.scaled() && spec.format.auto_range) parent.fail(key, "an auto range takes no scale");
  return spec;
}

ClassSpecs parse_class_specs(const YamlMap& map, Rounding default_rounding) {
  ClassSpecs specs;
  for (const auto& key : map.keys()) {
    TensorClass tensor_class;
    try {
      tensor_class = parse_tensor_class(key);
    } catch (const std::invalid_argument& e) { map.fail(key, e.what()); }
    specs[tensor_class] = parse_entry(map, key, tensor_class, default_rounding);
  }
  return specs;
}

std::string entry_text(const std::optional<QuantizerSpec>& spec, Rounding default_rounding) {
  if (!spec) return "float";
  if (spec->rounding == default_rounding && !spec->scaled()) return spec->format.str();
  std::string text = "{format: " + spec->format.str();
  if (spec->rounding != default_rounding) text += ", rounding: " + to_string(spec->rounding);
  // 17 significant digits: the scale reads back as the same double (a resumed run compares plans).
  if (spec->scaled()) {
    std::ostringstream scale;
    scale << std::setprecision(17) << spec->scale;
    text += ", scale: " + scale.str();
  }
  if (spec->learned) text += ", learn: true";
  return text + "}";
}

/// A YAML double-quoted scalar: `"` and `\` escaped (patterns are printable ASCII, see parse()).
std::string double_quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string comment_for(const std::optional<QuantizerSpec>& spec) {
  if (!spec) return "";
  const Format& f = spec->format;
  if (f.auto_range) return "range: per tensor, from max|x|";
  std::ostringstream text;
  const double s = spec->scale;
  text << "values [" << (f.is_signed ? -s * f.range() : 0.0) << ", " << s * f.range() << "), step ";
  if (spec->scaled()) text << s << " * ";
  text << "2^" << -f.frac;
  if (spec->learned) text << ", learned from there";
  return text.str();
}

} // namespace

PrecisionPlan PrecisionPlan::parse(const std::string& yaml_text, const std::string& source) {
  const YamlMap root(parse_yaml(yaml_text, source), source);
  PrecisionPlan plan;
  plan.source = source;
  if (root.has("version") && root.get<int64_t>("version", 1) != 1)
    root.fail("version", "unsupported plan version (this fxnn reads version 1)");
  Rounding rounding = Rounding::kNearest;
  if (root.has("rounding")) {
    try {
      rounding = parse_rounding(root.get<std::string>("rounding", "nearest"));
    } catch (const std::invalid_argument& e) { root.fail("rounding", e.what()); }
  }
  plan.defaults = parse_class_specs(root.map("defaults"), rounding);
  const YamlMap layers = root.map("layers");
  for (const auto& pattern : layers.keys()) {
    // Layer names are ASCII identifiers; a pattern with control or non-ASCII bytes matches none and
    // could not be written back as the same YAML key.
    const bool printable = !pattern.empty() && std::all_of(pattern.begin(), pattern.end(), [](char c) {
      return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7F;
    });
    if (!printable) layers.fail(pattern, "a layer pattern must be non-empty printable ASCII");
    plan.layers.push_back({pattern, parse_class_specs(layers.map(pattern), rounding)});
  }
  root.reject_unknown_keys();
  return plan;
}

bool PrecisionPlan::layer_matches(const std::string& pattern, const std::string& layer) {
  return pattern == layer || ::fnmatch(pattern.c_str(), layer.c_str(), 0) == 0;
}

PrecisionPlan PrecisionPlan::load(const std::string& path) {
  return parse(read_file(path, kMaxTextInputBytes, "a precision plan"), path);
}

std::optional<QuantizerSpec> PrecisionPlan::resolve(const std::string& layer, TensorClass tensor_class) const {
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    if (!layer_matches(it->pattern, layer)) continue;
    const auto found = it->specs.find(tensor_class);
    if (found != it->specs.end()) return found->second;
  }
  const auto found = defaults.find(tensor_class);
  return found == defaults.end() ? std::nullopt : found->second;
}

PrecisionPlan PrecisionPlan::with_fewer_bits(const std::vector<TensorClass>& classes, int fewer) const {
  auto narrow = [&](ClassSpecs& specs) {
    for (auto& [tensor_class, spec] : specs) {
      if (!spec || std::find(classes.begin(), classes.end(), tensor_class) == classes.end()) continue;
      Format& f = spec->format;
      const int bits = std::max(f.bits - fewer, f.is_signed ? 2 : 1);
      const int removed = f.bits - bits;
      f = f.auto_range ? Format::automatic(bits, f.is_signed) : Format(bits, f.frac - removed, f.is_signed);
    }
  };
  PrecisionPlan result = *this;
  narrow(result.defaults);
  for (auto& entry : result.layers) narrow(entry.specs);
  return result;
}

std::string PrecisionPlan::to_yaml() const {
  std::ostringstream out;
  out << "# fxnn precision plan (docs/precision-plan.md). Formats: s<B>.<frac> signed, u<B>.<frac> unsigned,\n"
         "# B bits including the sign, step 2^-frac; s<B>.auto picks frac per tensor from max|x|; float = not "
         "quantized.\n";
  out << "version: 1\nrounding: nearest\n";
  auto write_specs = [&](const ClassSpecs& specs, const std::string& indent, const std::string& layer) {
    for (const auto& [tensor_class, spec] : specs) {
      out << indent << to_string(tensor_class) << ": " << entry_text(spec, Rounding::kNearest);
      std::string comment = comment_for(spec);
      const auto note = notes.find(layer + "." + to_string(tensor_class));
      if (note != notes.end()) comment += (comment.empty() ? "" : "; ") + note->second;
      if (!comment.empty()) out << "  # " << comment;
      out << "\n";
    }
  };
  out << "defaults:\n";
  write_specs(defaults, "  ", "defaults");
  if (!layers.empty()) out << "layers:\n";
  for (const auto& entry : layers) {
    out << "  " << double_quoted(entry.pattern) << ":\n";
    write_specs(entry.specs, "    ", entry.pattern);
  }
  return out.str();
}

void PrecisionPlan::save(const std::string& path) const { write_file_atomic(path, to_yaml()); }

} // namespace fxnn
