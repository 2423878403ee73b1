#include "fxnn/io/yaml_map.h"

#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace fxnn::io {

namespace {

template <typename T>
const char* type_name() {
  if constexpr (std::is_same_v<T, bool>)
    return "true or false";
  else if constexpr (std::is_integral_v<T>)
    return "an integer";
  else if constexpr (std::is_floating_point_v<T>)
    return "a number";
  else if constexpr (std::is_same_v<T, std::string>)
    return "a string";
  else if constexpr (std::is_same_v<T, std::vector<int64_t>>)
    return "a list of integers";
  else if constexpr (std::is_same_v<T, std::vector<double>>)
    return "a list of numbers";
  else
    return "a list of strings";
}

template <typename T>
constexpr bool is_list() {
  return std::is_same_v<T, std::vector<int64_t>> || std::is_same_v<T, std::vector<double>> ||
         std::is_same_v<T, std::vector<std::string>>;
}

std::string describe(const YAML::Node& node) {
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  return "nothing";
}

} // namespace

YamlMap::YamlMap(const YAML::Node& node, std::string source, std::string path)
    : node_(node), source_(std::move(source)), path_(std::move(path)) {
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap())
    throw std::runtime_error(source_ + ": " + (path_.empty() ? std::string("document") : path_) +
                             ": expected a map of keys, got " + describe(node_));
}

std::string YamlMap::key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

void YamlMap::fail(const std::string& key, const std::string& message) const {
  throw std::runtime_error(source_ + ": " + key_path(key) + ": " + message);
}

// Lookups go through a const node: a non-const operator[] of yaml-cpp may add the key, and an absent
// map (an undefined node) must answer every query as empty instead of throwing InvalidNode.
bool YamlMap::is_map() const { return node_.IsDefined() && node_.IsMap(); }

bool YamlMap::has(const std::string& key) const {
  const YAML::Node& map = node_;
  return is_map() && map[key].IsDefined();
}

YAML::Node YamlMap::node(const std::string& key) const {
  read_.insert(key);
  if (!is_map()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node& map = node_;
  // A missing key of a const map is a "zombie" node: IsDefined() is false, but IsSequence() and
  // every other query throw YAML::InvalidNode. Callers get a plain undefined node instead.
  const YAML::Node value = map[key];
  return value.IsDefined() ? value : YAML::Node(YAML::NodeType::Undefined);
}

template <typename T>
T YamlMap::get(const std::string& key, const T& fallback) const {
  const YAML::Node value = node(key);
  if (!value.IsDefined() || value.IsNull()) return fallback;
  try {
    if constexpr (std::is_same_v<T, bool> || std::is_arithmetic_v<T> || std::is_same_v<T, std::string>) {
      if (!value.IsScalar()) fail(key, std::string("expected ") + type_name<T>() + ", got " + describe(value));
    }
    if constexpr (std::is_unsigned_v<T> && !std::is_same_v<T, bool>) {
      if (!value.Scalar().empty() && value.Scalar()[0] == '-') fail(key, "must be >= 0, got " + describe(value));
    }
    if constexpr (is_list<T>()) {
      if (!value.IsSequence()) fail(key, std::string("expected ") + type_name<T>() + ", got " + describe(value));
      if (value.size() > kMaxListLength)
        fail(key,
             "expected at most " + std::to_string(kMaxListLength) + " entries, got " + std::to_string(value.size()));
      for (size_t i = 0; i < value.size(); ++i)
        if (!value[i].IsScalar())
          fail(key, std::string("expected ") + type_name<T>() + ", got " + describe(value[i]) + " as entry " +
                        std::to_string(i + 1));
    }
    T result = value.as<T>();
    // yaml-cpp reads .nan and .inf as numbers; no fxnn setting means anything with them.
    if constexpr (std::is_floating_point_v<T>) {
      if (!std::isfinite(result)) fail(key, "expected a finite number, got " + describe(value));
    } else if constexpr (std::is_same_v<T, std::vector<double>>) {
      for (double v : result)
        if (!std::isfinite(v)) fail(key, "expected finite numbers, got " + YAML::Dump(value));
    }
    return result;
  } catch (const YAML::Exception&) {
    fail(key,
         std::string("expected ") + type_name<T>() + ", got " + (is_list<T>() ? YAML::Dump(value) : describe(value)));
  }
}

template <typename T>
T YamlMap::required(const std::string& key) const {
  if (!has(key)) fail(key, "missing (required)");
  return get<T>(key, T{});
}

YamlMap YamlMap::map(const std::string& key) const { return YamlMap(node(key), source_, key_path(key)); }

std::vector<std::string> YamlMap::keys() const {
  std::vector<std::string> result;
  if (!is_map()) return result;
  for (const auto& entry : node_) {
    // A complex key (`? [a, b]`) or an empty one has no name: as<std::string> would throw BadConversion.
    if (!entry.first.IsScalar())
      throw std::runtime_error(source_ + ": " + (path_.empty() ? std::string("document") : path_) + ": a key is " +
                               describe(entry.first) + ", not a name");
    result.push_back(entry.first.Scalar());
  }
  return result;
}

void YamlMap::reject_unknown_keys() const {
  for (const auto& key : keys())
    if (!read_.count(key)) fail(key, "unknown key");
}

YAML::Node parse_yaml(const std::string& text, const std::string& source) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw std::runtime_error(source + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                             ": " + e.msg);
  }
}

#define FXNN_INSTANTIATE(T)                                       \
  template T YamlMap::get<T>(const std::string&, const T&) const; \
  template T YamlMap::required<T>(const std::string&) const;
FXNN_INSTANTIATE(bool)
FXNN_INSTANTIATE(int64_t)
FXNN_INSTANTIATE(uint64_t)
FXNN_INSTANTIATE(double)
FXNN_INSTANTIATE(std::string)
FXNN_INSTANTIATE(std::vector<int64_t>)
FXNN_INSTANTIATE(std::vector<double>)
FXNN_INSTANTIATE(std::vector<std::string>)
#undef FXNN_INSTANTIATE

} // namespace fxnn::io
