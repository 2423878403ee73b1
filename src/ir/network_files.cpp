#include "fxnn/ir/network_files.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <stdexcept>

#include <unistd.h>

#include "fxnn/io/atomic_file.h"
#include "fxnn/io/npy.h"
#include "fxnn/ir/model_header.h"
#include "node_tensors.h"

namespace fxnn::ir {

namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

/// multiplier_frac, shift and accumulator_bits are read as ints within +-2^30 (validate() then
/// applies their real ranges), so that no arithmetic on them can overflow.
constexpr int64_t kSmallIntegerLimit = int64_t{1} << 30;

/// The deepest nesting of '[' and '{' outside strings in `text` (a close below level 0 stays at 0),
/// counted up to kMaxManifestDepth + 1.
int manifest_depth(const std::string& text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > kMaxManifestDepth) break;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

bool has_window(OpKind op) { return op == OpKind::kConv2d || op == OpKind::kMaxPool || op == OpKind::kAvgPool; }

OrderedJson node_json(const Node& node) {
  OrderedJson j;
  j["name"] = node.name;
  j["op"] = to_string(node.op);
  j["inputs"] = node.inputs;
  j["output_format"] = node.output_format.str();
  j["output_shape"] = node.output_shape;
  const auto tensors = node_tensors(node);
  const auto file_of = [&](const std::string& key) {
    for (const auto& t : tensors)
      if (t.key == key) return t.file_name(node);
    throw std::logic_error("no tensor " + key);
  };
  if (node.weight)
    j["weight"] = {{"file", file_of("weight")}, {"format", node.weight->format.str()}, {"shape", node.weight->shape}};
  if (has_window(node.op)) {
    j["kernel"] = node.kernel;
    j["stride"] = node.stride;
    if (node.op == OpKind::kConv2d) j["padding"] = node.padding;
  }
  if (node.requantize) {
    const Requantize& r = *node.requantize;
    j["accumulator_bits"] = node.accumulator_bits;
    OrderedJson rq;
    rq["multiplier"] = {{"file", file_of("multiplier")}};
    rq["multiplier_frac"] = r.multiplier_frac;
    rq["offset"] = {{"file", file_of("offset")}};
    rq["shift"] = r.shift;
    rq["rounding"] = to_string(r.rounding);
    rq["clamp"] = {r.clamp_min, r.clamp_max};
    j["requantize"] = rq;
  }
  return j;
}

/// Reads model.json: every access checks presence and type, and every error names the file and the
/// key ("OUT/model.json: nodes[2] (conv1).requantize.shift: expected an integer").
class ManifestReader {
 public:
  ManifestReader(std::string dir)
      : dir_(std::move(dir)), file_((std::filesystem::path(dir_) / kManifestFile).string()) {}

  Network read() {
    std::string text = read_file(file_);
    if (manifest_depth(text) > kMaxManifestDepth)
      throw std::runtime_error(file_ + ": nested deeper than " + std::to_string(kMaxManifestDepth) +
                               " levels (a manifest has 5)");
    Json root;
    // A key given twice in one object would keep its last value in nlohmann (and the first in other
    // parsers): refused. One set of keys per open object.
    std::vector<std::set<std::string>> open_objects;
    std::string duplicate;
    const Json::parser_callback_t no_duplicates = [&](int, Json::parse_event_t event, Json& parsed) {
      if (event == Json::parse_event_t::object_start) open_objects.emplace_back();
      if (event == Json::parse_event_t::object_end && !open_objects.empty()) open_objects.pop_back();
      if (event == Json::parse_event_t::key && !open_objects.empty() &&
          !open_objects.back().insert(parsed.get<std::string>()).second && duplicate.empty())
        duplicate = parsed.get<std::string>();
      return true;
    };
    try {
      root = Json::parse(text, no_duplicates);
    } catch (const Json::exception& e) { // parse_error, and out_of_range for a number beyond double
      throw std::runtime_error(file_ + ": not valid JSON (" + e.what() + ")");
    }
    if (!duplicate.empty())
      throw std::runtime_error(file_ + ": the key \"" + duplicate + "\" appears twice in an object");
    if (!root.is_object()) fail("(top level)", "expected a JSON object");
    keys(root, "(top level)", {"format", "version", "name", "input", "nodes", "output"}, {"source"});
    if (string(root, "format", "format") != kManifestFormat)
      fail("format",
           "expected \"" + std::string(kManifestFormat) + "\", got \"" + root["format"].get<std::string>() + "\"");
    Network net;
    // Compared as read: 2^32 + 1 is not version 1 (a cast to int first would make it so).
    const int64_t version = integer(root, "version", "version");
    if (version != kFormatVersion)
      fail("version",
           std::to_string(version) + " is not a version this fxnn reads (" + std::to_string(kFormatVersion) + ")");
    net.version = kFormatVersion;
    net.name = string(root, "name", "name");
    if (root.contains("source")) net.source = string(root, "source", "source");
    const Json& input = object(root, "input", "input");
    keys(input, "input", {"name", "shape", "format"}, {});
    net.input_name = string(input, "name", "input.name");
    net.input_shape = integers(input, "shape", "input.shape");
    net.input_format = format(input, "format", "input.format");
    const Json& nodes = member(root, "nodes", "nodes");
    if (!nodes.is_array()) fail("nodes", "expected an array");
    for (size_t i = 0; i < nodes.size(); ++i)
      net.nodes.push_back(read_node(nodes[i], "nodes[" + std::to_string(i) + "]"));
    net.output = string(root, "output", "output");
    try {
      net.validate();
    } catch (const std::runtime_error& e) { throw std::runtime_error(file_ + ": invalid network: " + e.what()); }
    return net;
  }

 private:
  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw std::runtime_error(file_ + ": " + key + ": " + why);
  }

  void keys(const Json& obj, const std::string& where, std::initializer_list<const char*> required,
            std::initializer_list<const char*> optional) const {
    std::set<std::string> known;
    for (const char* k : required) {
      known.insert(k);
      if (!obj.contains(k)) fail(where, std::string("missing key \"") + k + "\"");
    }
    for (const char* k : optional) known.insert(k);
    for (const auto& item : obj.items())
      if (!known.count(item.key())) fail(where, "unknown key \"" + item.key() + "\"");
  }

  const Json& member(const Json& obj, const char* key, const std::string& where) const {
    if (!obj.is_object() || !obj.contains(key)) fail(where, "missing");
    return obj.at(key);
  }
  const Json& object(const Json& obj, const char* key, const std::string& where) const {
    const Json& v = member(obj, key, where);
    if (!v.is_object()) fail(where, "expected an object");
    return v;
  }
  int64_t integer(const Json& obj, const char* key, const std::string& where) const {
    const Json& v = member(obj, key, where);
    if (!v.is_number_integer()) fail(where, "expected an integer, got " + v.dump());
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) fail(where, "out of range");
    return v.get<int64_t>();
  }
  int small_integer(const Json& obj, const char* key, const std::string& where) const {
    const int64_t v = integer(obj, key, where);
    if (v < -kSmallIntegerLimit || v > kSmallIntegerLimit) fail(where, "out of range: " + std::to_string(v));
    return static_cast<int>(v);
  }
  std::string string(const Json& obj, const char* key, const std::string& where) const {
    const Json& v = member(obj, key, where);
    if (!v.is_string()) fail(where, "expected a string, got " + v.dump());
    return v.get<std::string>();
  }
  std::vector<int64_t> integers(const Json& obj, const char* key, const std::string& where) const {
    const Json& v = member(obj, key, where);
    if (!v.is_array()) fail(where, "expected an array of integers, got " + v.dump());
    std::vector<int64_t> out;
    for (const auto& e : v) {
      if (!e.is_number_integer() || (e.is_number_unsigned() && e.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)))
        fail(where, "expected an array of integers, got " + v.dump());
      out.push_back(e.get<int64_t>());
    }
    return out;
  }
  Format format(const Json& obj, const char* key, const std::string& where) const {
    const std::string text = string(obj, key, where);
    try {
      const Format f = Format::parse(text);
      if (f.auto_range) fail(where, "format " + text + " must be fixed, not auto");
      // One spelling per format: Format::parse also takes " 8", "+8" and "08" (std::stoi).
      if (f.str() != text) fail(where, "format \"" + text + "\" must be written " + f.str());
      return f;
    } catch (const std::invalid_argument& e) { fail(where, e.what()); }
  }

  /// The .npy file named by obj["file"] (a plain name inside the folder).
  io::NpyArray tensor_file(const Json& obj, const std::string& where) const {
    const std::string name = string(obj, "file", where + ".file");
    if (name.empty() || name[0] == '.' || name.find('/') != std::string::npos || name.find('\\') != std::string::npos ||
        name.find('\0') != std::string::npos) // the file system would read the name up to the NUL
      fail(where + ".file", Json(name).dump() + " must be a file name inside the folder");
    const std::string path = (std::filesystem::path(dir_) / name).string();
    try {
      return io::load_npy(path);
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(std::string(e.what()) + " (" + file_ + ": " + where + ".file)");
    }
  }

  std::string path_of(const Json& obj) const {
    return (std::filesystem::path(dir_) / obj.at("file").get<std::string>()).string();
  }

  std::string shape_str(const std::vector<int64_t>& shape) const { return Json(shape).dump(); }

  IntTensor read_weight(const Json& node, const std::string& where) {
    const Json& w = object(node, "weight", where);
    keys(w, where, {"file", "format", "shape"}, {});
    IntTensor t;
    t.format = format(w, "format", where + ".format");
    t.shape = integers(w, "shape", where + ".shape");
    auto array = tensor_file(w, where);
    if (array.shape != t.shape)
      throw std::runtime_error(path_of(w) + ": shape " + shape_str(array.shape) + " disagrees with " + file_ + ": " +
                               where + ".shape " + shape_str(t.shape));
    for (size_t i = 0; i < array.data.size(); ++i)
      if (array.data[i] < t.format.code_min() || array.data[i] > t.format.code_max())
        throw std::runtime_error(path_of(w) + ": value " + std::to_string(array.data[i]) + " at index " +
                                 std::to_string(i) + " is outside the format " + t.format.str() + " (" + file_ + ": " +
                                 where + ".format)");
    t.data = std::move(array.data);
    return t;
  }

  /// multiplier and offset: 1-D with one entry per channel, or one entry.
  std::vector<int64_t> read_channel_values(const Json& rq, const char* key, const std::string& where,
                                           int64_t channels) {
    const Json& obj = object(rq, key, where);
    keys(obj, where, {"file"}, {});
    auto array = tensor_file(obj, where);
    if (array.shape.size() != 1 || (array.shape[0] != 1 && array.shape[0] != channels))
      throw std::runtime_error(path_of(obj) + ": shape " + shape_str(array.shape) + "; " + file_ + ": " + where +
                               " needs [" + std::to_string(channels) + "] (the channels) or [1]");
    return std::move(array.data);
  }

  Requantize read_requantize(const Json& node, const std::string& where, int64_t channels) {
    const Json& rq = object(node, "requantize", where);
    keys(rq, where, {"multiplier", "multiplier_frac", "offset", "shift", "rounding", "clamp"}, {});
    Requantize r;
    r.multiplier = read_channel_values(rq, "multiplier", where + ".multiplier", channels);
    r.multiplier_frac = small_integer(rq, "multiplier_frac", where + ".multiplier_frac");
    r.offset = read_channel_values(rq, "offset", where + ".offset", channels);
    r.shift = small_integer(rq, "shift", where + ".shift");
    const std::string rounding = string(rq, "rounding", where + ".rounding");
    try {
      r.rounding = parse_rounding(rounding);
    } catch (const std::invalid_argument& e) { fail(where + ".rounding", e.what()); }
    const auto clamp = integers(rq, "clamp", where + ".clamp");
    if (clamp.size() != 2) fail(where + ".clamp", "expected [min, max]");
    r.clamp_min = clamp[0];
    r.clamp_max = clamp[1];
    return r;
  }

  Node read_node(const Json& j, const std::string& at) {
    if (!j.is_object()) fail(at, "expected an object");
    const std::string name = string(j, "name", at + ".name");
    const std::string where = at + " (" + name + ")";
    Node node;
    node.name = name;
    try {
      node.op = parse_op_kind(string(j, "op", where + ".op"));
    } catch (const std::invalid_argument& e) { fail(where + ".op", e.what()); }
    switch (node.op) {
      case OpKind::kConv2d:
        keys(j, where,
             {"name", "op", "inputs", "output_format", "output_shape", "weight", "kernel", "stride", "padding",
              "accumulator_bits", "requantize"},
             {});
        break;
      case OpKind::kDense:
        keys(j, where,
             {"name", "op", "inputs", "output_format", "output_shape", "weight", "accumulator_bits", "requantize"}, {});
        break;
      case OpKind::kMaxPool:
        keys(j, where, {"name", "op", "inputs", "output_format", "output_shape", "kernel", "stride"}, {"padding"});
        break;
      case OpKind::kAvgPool:
        keys(j, where, {"name", "op", "inputs", "output_format", "output_shape", "kernel", "stride", "requantize"},
             {"padding", "accumulator_bits"});
        break;
      case OpKind::kRescale:
      case OpKind::kAdd:
        keys(j, where, {"name", "op", "inputs", "output_format", "output_shape", "requantize"}, {"accumulator_bits"});
        break;
      case OpKind::kFlatten: keys(j, where, {"name", "op", "inputs", "output_format", "output_shape"}, {}); break;
    }
    const Json& inputs = member(j, "inputs", where + ".inputs");
    if (!inputs.is_array()) fail(where + ".inputs", "expected an array of names");
    for (const auto& in : inputs) {
      if (!in.is_string()) fail(where + ".inputs", "expected an array of names");
      node.inputs.push_back(in.get<std::string>());
    }
    node.output_format = format(j, "output_format", where + ".output_format");
    node.output_shape = integers(j, "output_shape", where + ".output_shape");
    if (j.contains("kernel")) node.kernel = integer(j, "kernel", where + ".kernel");
    if (j.contains("stride")) node.stride = integer(j, "stride", where + ".stride");
    if (j.contains("padding")) node.padding = integer(j, "padding", where + ".padding");
    if (j.contains("accumulator_bits"))
      node.accumulator_bits = small_integer(j, "accumulator_bits", where + ".accumulator_bits");
    if (j.contains("weight")) node.weight = read_weight(j, where + ".weight");
    if (j.contains("requantize")) {
      if (node.output_shape.empty()) fail(where + ".output_shape", "must not be empty");
      node.requantize = read_requantize(j, where + ".requantize", node.output_shape[0]);
    }
    return node;
  }

  std::string dir_;
  std::string file_;
};

} // namespace

namespace {

/// dump(2) puts every array element on its own line; arrays of numbers and strings (shapes, inputs,
/// clamps) read better on one line: "shape": [1, 28, 28].
std::string inline_short_arrays(const std::string& text) {
  static const std::regex kFlatArray(R"(\[\s*((?:"[^"\n]*"|-?\d+)(?:,\s*(?:"[^"\n]*"|-?\d+))*)\s*\])");
  static const std::regex kSpace(R"(,\s+)");
  std::string out;
  auto begin = std::sregex_iterator(text.begin(), text.end(), kFlatArray);
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    out.append(text, last, static_cast<size_t>(it->position()) - last);
    out += "[" + std::regex_replace((*it)[1].str(), kSpace, ", ") + "]";
    last = static_cast<size_t>(it->position() + it->length());
  }
  out.append(text, last, std::string::npos);
  return out;
}

} // namespace

std::string manifest_json(const Network& network) {
  OrderedJson root;
  root["format"] = kManifestFormat;
  root["version"] = network.version;
  root["name"] = network.name;
  root["source"] = network.source;
  root["input"] = {
      {"name", network.input_name}, {"shape", network.input_shape}, {"format", network.input_format.str()}};
  root["nodes"] = OrderedJson::array();
  for (const auto& node : network.nodes) root["nodes"].push_back(node_json(node));
  root["output"] = network.output;
  return inline_short_arrays(root.dump(2)) + "\n";
}

FolderKind network_folder_kind() {
  namespace fs = std::filesystem;
  FolderKind kind;
  kind.name = "a fixed-point network folder";
  kind.foreign = [](const fs::path& dir) -> std::string {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      const bool own = name == kManifestFile || name == kHeaderFile || it->path().extension() == ".npy";
      if (!own || !it->is_regular_file()) return "it holds " + name;
    }
    if (ec) return "it cannot be listed: " + ec.message();
    try {
      const auto manifest = nlohmann::json::parse(read_file((dir / kManifestFile).string()));
      if (manifest.value("format", std::string()) != kManifestFormat)
        return std::string(kManifestFile) + " is not fxnn's";
    } catch (const std::exception&) { return "no readable " + std::string(kManifestFile); }
    return "";
  };
  return kind;
}

void save_network(const Network& network, const std::string& dir, ExistingOutput existing) {
  network.validate();
  write_folder_atomic(dir, network_folder_kind(), existing, [&](const std::filesystem::path& staging) {
    for (const auto& node : network.nodes)
      for (const auto& t : node_tensors(node))
        io::save_npy((staging / t.file_name(node)).string(), io::NpyArray{t.shape, t.dtype, *t.data});
    write_file_atomic((staging / kHeaderFile).string(), model_header(network));
    write_file_atomic((staging / kManifestFile).string(), manifest_json(network));
  });
}

namespace {

/// The message with its control characters written \xNN: names and strings from the files (a node
/// named "a\nb") must not break the one line an error is.
std::string one_line(const std::string& text) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      out += c;
      continue;
    }
    char escaped[8];
    std::snprintf(escaped, sizeof escaped, "\\x%02x", u);
    out += escaped;
  }
  return out;
}

} // namespace

Network load_network(const std::string& dir) {
  try {
    return ManifestReader(dir).read();
  } catch (const std::runtime_error& e) { throw std::runtime_error(one_line(e.what())); }
}

} // namespace fxnn::ir
