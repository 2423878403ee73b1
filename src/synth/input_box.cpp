#include "fxnn/synth/input_box.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "fxnn/io/atomic_file.h"
#include "fxnn/io/yaml_map.h"

namespace fxnn::synth {

using io::parse_yaml;
using io::YamlMap;

double Interval::magnitude() const { return std::max(std::fabs(lo), std::fabs(hi)); }

void InputBox::check_dimension(int64_t inputs, const std::string& what) const {
  if (static_cast<int64_t>(dims.size()) != inputs)
    throw std::invalid_argument(what + ": the input box has " + std::to_string(dims.size()) +
                                " intervals, the network takes " + std::to_string(inputs) + " inputs");
}

std::string InputBox::str() const {
  std::ostringstream out;
  out.precision(17);
  for (size_t i = 0; i < dims.size(); ++i) out << (i ? "," : "") << dims[i].lo << ":" << dims[i].hi;
  return out.str();
}

namespace {

double parse_number(const std::string& token, const std::string& text) {
  errno = 0;
  char* stop = nullptr;
  const double v = std::strtod(token.c_str(), &stop);
  // ERANGE alone also flags an underflow to a subnormal number or zero, which is a fine value: only an
  // overflow (infinite v) is refused.
  if (token.empty() || stop != token.c_str() + token.size() || !std::isfinite(v))
    throw std::invalid_argument("--input-box '" + text + "': '" + token + "' is not a finite number");
  return v;
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}

} // namespace

InputBox parse_input_box(const std::string& text) {
  InputBox box;
  if (trim(text).empty()) throw std::invalid_argument("--input-box: the box is empty (expected lo:hi,lo:hi,...)");
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    item = trim(item);
    const size_t colon = item.find(':', 1); // skip a leading sign
    if (colon == std::string::npos)
      throw std::invalid_argument("--input-box '" + text + "': interval " + std::to_string(box.size() + 1) + " '" +
                                  item + "' is not lo:hi");
    const Interval iv{parse_number(trim(item.substr(0, colon)), text),
                      parse_number(trim(item.substr(colon + 1)), text)};
    if (iv.lo > iv.hi)
      throw std::invalid_argument("--input-box '" + text + "': interval " + std::to_string(box.size() + 1) + " '" +
                                  item + "' is inverted (lo > hi)");
    box.dims.push_back(iv);
  }
  if (text.back() == ',')
    throw std::invalid_argument("--input-box '" + text + "': empty interval after the last comma");
  return box;
}

namespace {

Benchmark read_entry(const YamlMap& entry, const std::string& folder) {
  Benchmark b;
  b.name = entry.required<std::string>("name");
  const std::string model = entry.required<std::string>("model");
  b.model = std::filesystem::path(model).is_absolute() ? model : (std::filesystem::path(folder) / model).string();
  b.error_bound = entry.required<double>("error_bound");
  b.layers = entry.get<std::vector<int64_t>>("layers", {});
  const YAML::Node box = entry.node("input_box");
  if (!box.IsSequence() || box.size() == 0) entry.fail("input_box", "expected a non-empty list of [lo, hi] pairs");
  for (size_t i = 0; i < box.size(); ++i) {
    const YAML::Node pair = box[i];
    if (!pair.IsSequence() || pair.size() != 2)
      entry.fail("input_box", "entry " + std::to_string(i + 1) + " is not a [lo, hi] pair");
    Interval iv;
    try {
      iv = Interval{pair[0].as<double>(), pair[1].as<double>()};
    } catch (const YAML::Exception&) {
      entry.fail("input_box", "entry " + std::to_string(i + 1) + " holds something that is not a number");
    }
    if (!(iv.lo <= iv.hi) || !std::isfinite(iv.lo) || !std::isfinite(iv.hi))
      entry.fail("input_box", "entry " + std::to_string(i + 1) + " is empty, inverted or not finite");
    b.box.dims.push_back(iv);
  }
  return b;
}

} // namespace

std::vector<Benchmark> load_benchmarks(const std::string& suite_path) {
  const YAML::Node root = parse_yaml(read_file(suite_path, kMaxTextInputBytes, "a benchmark suite"), suite_path);
  const YamlMap doc(root, suite_path);
  const YAML::Node list = doc.node("benchmarks");
  if (!list.IsSequence()) doc.fail("benchmarks", "expected a list of benchmarks");
  const std::string folder = std::filesystem::path(suite_path).parent_path().string();
  std::vector<Benchmark> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = "benchmarks[" + std::to_string(i) + "]";
    out.push_back(read_entry(YamlMap(list[i], suite_path, where), folder));
    for (size_t j = 0; j + 1 < out.size(); ++j)
      if (out[j].name == out.back().name)
        throw std::runtime_error(suite_path + ": " + where + ".name: '" + out.back().name +
                                 "' is already the name of benchmarks[" + std::to_string(j) + "]");
  }
  return out;
}

Benchmark load_benchmark(const std::string& suite_path, const std::string& name) {
  std::string names;
  for (Benchmark& b : load_benchmarks(suite_path)) {
    if (b.name == name) return b;
    names += (names.empty() ? "" : ", ") + b.name;
  }
  throw std::runtime_error(suite_path + ": no benchmark named '" + name + "' (have: " + names + ")");
}

} // namespace fxnn::synth
