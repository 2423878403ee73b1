#pragma once
// Strict reading of YAML maps: typed values, and an error for every key nobody asked for.

#include <yaml-cpp/yaml.h>

#include <set>
#include <string>
#include <vector>

namespace fxnn::io {

/// The most entries a list setting may have (a layer list, a schedule, a normalization): far above any
/// real config, far below what would exhaust memory (docs/crash-safety.md, "Limits").
inline constexpr size_t kMaxListLength = 4096;

/// A view of one YAML map. Every error names the source file and the dotted key path, e.g.
///   configs/a.yaml: train.epochs: expected an integer, got 'ten'
class YamlMap {
 public:
  /// `path` is the dotted key of this map ("" for the document root).
  YamlMap(const YAML::Node& node, std::string source, std::string path = "");

  bool has(const std::string& key) const;
  /// The value converted to T (bool, int64_t, uint64_t, double, std::string, std::vector of those),
  /// or `fallback` when the key is absent.
  template <typename T>
  T get(const std::string& key, const T& fallback) const;
  template <typename T>
  T required(const std::string& key) const;
  /// A sub-map (empty when absent); must be a map when present.
  YamlMap map(const std::string& key) const;
  /// The raw node of a key (marks it as read).
  YAML::Node node(const std::string& key) const;
  /// The keys of this map in file order.
  std::vector<std::string> keys() const;

  /// Throws naming the first key that no get/required/map/node call has read.
  void reject_unknown_keys() const;

  /// "source: path.key: message" as a std::runtime_error.
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  std::string key_path(const std::string& key) const;
  const std::string& source() const { return source_; }

 private:
  bool is_map() const;

  YAML::Node node_;
  std::string source_;
  std::string path_;
  mutable std::set<std::string> read_;
};

/// Parses YAML text; syntax errors become "source:line:column: message".
YAML::Node parse_yaml(const std::string& text, const std::string& source);

} // namespace fxnn::io
