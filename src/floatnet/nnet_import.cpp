#include "fxnn/floatnet/nnet_import.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "fxnn/io/atomic_file.h"

namespace fxnn::floatnet {

namespace {

/// One non-comment line of the file: its 1-based number and its values.
struct NumberLine {
  int number = 0;
  std::vector<double> values;
};

class NNetReader {
 public:
  NNetReader(const std::string& text, std::string source) : source_(std::move(source)) {
    std::istringstream in(text);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      const size_t first = line.find_first_not_of(" \t\r");
      if (first == std::string::npos) continue;
      if (line.compare(first, 2, "//") == 0) continue;
      lines_.push_back(NumberLine{number, parse_values(line, number)});
    }
    last_line_ = number;
  }

  /// The next line; `what` says what was expected when the file ends.
  const NumberLine& next(const std::string& what) {
    if (position_ >= lines_.size()) fail(last_line_, "the file ends where " + what + " was expected");
    return lines_[position_++];
  }

  bool at_end() const { return position_ >= lines_.size(); }
  const NumberLine& peek() const { return lines_[position_]; }

  [[noreturn]] void fail(int line, const std::string& message) const {
    throw std::runtime_error(source_ + ":" + std::to_string(line) + ": " + message);
  }

  const std::string& source() const { return source_; }

 private:
  std::vector<double> parse_values(const std::string& line, int number) const {
    std::vector<double> values;
    size_t i = 0;
    while (i < line.size()) {
      const size_t start = line.find_first_not_of(", \t\r", i);
      if (start == std::string::npos) break;
      size_t end = line.find_first_of(", \t\r", start);
      if (end == std::string::npos) end = line.size();
      const std::string token = line.substr(start, end - start);
      errno = 0;
      char* stop = nullptr;
      const double v = std::strtod(token.c_str(), &stop);
      // ERANGE alone also flags an underflow to a subnormal number or zero, a fine weight: only an
      // overflow (infinite v) is refused.
      if (stop != token.c_str() + token.size() || !std::isfinite(v))
        fail(number, "'" + token + "' is not a finite number");
      values.push_back(v);
      i = end;
    }
    return values;
  }

  std::string source_;
  std::vector<NumberLine> lines_;
  size_t position_ = 0;
  int last_line_ = 0;
};

/// Layer sizes beyond this are not a network of the formats NNet tools exchange; the header's
/// per-input lines are broadcast to this many values before any weight is read.
constexpr double kMaxCount = 1e6;

int64_t as_count(const NNetReader& reader, const NumberLine& line, size_t index, const std::string& what) {
  const double v = line.values[index];
  if (v != std::floor(v) || v < 1 || v > kMaxCount)
    reader.fail(line.number, what + " must be a positive integer, got " + std::to_string(v));
  return static_cast<int64_t>(v);
}

/// A header line with one value per input (or `count + extra` values); a single value is broadcast.
std::vector<long double> per_input(const NNetReader& reader, const NumberLine& line, size_t count,
                                   const std::string& what, bool* broadcast) {
  *broadcast = false;
  if (line.values.size() == 1 && count > 1) {
    *broadcast = true;
    return std::vector<long double>(count, line.values[0]);
  }
  if (line.values.size() < count)
    reader.fail(line.number,
                what + ": expected " + std::to_string(count) + " values, found " + std::to_string(line.values.size()));
  return std::vector<long double>(line.values.begin(), line.values.begin() + static_cast<long>(count));
}

} // namespace

FloatNetwork parse_nnet(const std::string& text, const std::string& source, NNetHeader* header) {
  NNetReader reader(text, source);
  const NumberLine& sizes_line = reader.next("the header (numLayers, numInputs, numOutputs, maxLayerSize)");
  if (sizes_line.values.size() < 3)
    reader.fail(sizes_line.number, "expected numLayers, numInputs, numOutputs[, maxLayerSize], found " +
                                       std::to_string(sizes_line.values.size()) + " values");
  const int64_t num_layers = as_count(reader, sizes_line, 0, "numLayers");
  const int64_t num_inputs = as_count(reader, sizes_line, 1, "numInputs");
  const int64_t num_outputs = as_count(reader, sizes_line, 2, "numOutputs");

  const NumberLine& layer_line = reader.next("the layer sizes");
  if (static_cast<int64_t>(layer_line.values.size()) < num_layers + 1)
    reader.fail(layer_line.number, "expected " + std::to_string(num_layers + 1) + " layer sizes, found " +
                                       std::to_string(layer_line.values.size()));
  if (static_cast<int64_t>(layer_line.values.size()) > num_layers + 1)
    spdlog::debug("{}:{}: ignoring {} extra layer size value(s)", source, layer_line.number,
                  layer_line.values.size() - static_cast<size_t>(num_layers + 1));
  std::vector<int64_t> sizes;
  for (int64_t k = 0; k <= num_layers; ++k)
    sizes.push_back(as_count(reader, layer_line, static_cast<size_t>(k), "layer size " + std::to_string(k)));
  if (sizes.front() != num_inputs)
    reader.fail(layer_line.number, "the first layer size " + std::to_string(sizes.front()) +
                                       " differs from numInputs " + std::to_string(num_inputs));
  if (sizes.back() != num_outputs)
    reader.fail(layer_line.number, "the last layer size " + std::to_string(sizes.back()) + " differs from numOutputs " +
                                       std::to_string(num_outputs));

  reader.next("the flag line");
  const size_t n_in = static_cast<size_t>(num_inputs), n_out = static_cast<size_t>(num_outputs);
  bool min_broadcast = false, max_broadcast = false, mean_broadcast = false, range_broadcast = false;
  const std::vector<long double> mins =
      per_input(reader, reader.next("the input minimums"), n_in, "input minimums", &min_broadcast);
  const std::vector<long double> maxs =
      per_input(reader, reader.next("the input maximums"), n_in, "input maximums", &max_broadcast);
  const NumberLine& mean_line = reader.next("the means");
  const NumberLine& range_line = reader.next("the ranges");
  const std::vector<long double> means = per_input(reader, mean_line, n_in + 1, "means", &mean_broadcast);
  const std::vector<long double> ranges = per_input(reader, range_line, n_in + 1, "ranges", &range_broadcast);

  FloatNetwork net;
  net.source = source;
  for (int64_t k = 0; k < num_layers; ++k) {
    const int64_t in = sizes[static_cast<size_t>(k)], out = sizes[static_cast<size_t>(k + 1)];
    DenseLayer layer;
    layer.name = "layer" + std::to_string(k + 1);
    layer.activation = k + 1 < num_layers ? Activation::kRelu : Activation::kLinear;
    const std::string prefix = "layer " + std::to_string(k + 1);
    // The rows are read before the matrix is allocated: its size is then what the file holds, not
    // what the header announces.
    std::vector<const NumberLine*> rows;
    for (int64_t i = 0; i < out; ++i) {
      const NumberLine& row = reader.next(prefix + " weight row " + std::to_string(i + 1));
      if (static_cast<int64_t>(row.values.size()) != in)
        reader.fail(row.number, prefix + " weight row " + std::to_string(i + 1) + ": expected " + std::to_string(in) +
                                    " values, found " + std::to_string(row.values.size()));
      rows.push_back(&row);
    }
    layer.weight.resize(out, in);
    for (int64_t i = 0; i < out; ++i)
      for (int64_t j = 0; j < in; ++j)
        layer.weight(i, j) = rows[static_cast<size_t>(i)]->values[static_cast<size_t>(j)];
    layer.bias.resize(out);
    for (int64_t i = 0; i < out; ++i) {
      const NumberLine& b = reader.next(prefix + " bias " + std::to_string(i + 1));
      if (b.values.size() != 1)
        reader.fail(b.number, prefix + " bias " + std::to_string(i + 1) + ": expected 1 value, found " +
                                  std::to_string(b.values.size()));
      layer.bias(i) = b.values[0];
    }
    net.layers.push_back(std::move(layer));
  }
  if (!reader.at_end()) reader.fail(reader.peek().number, "unexpected values after the last layer's biases");

  // Normalization: all zeros is the placeholder header of some exporters; a zero range otherwise is
  // an error (division by zero); identity (0 / 1) needs no folding.
  bool all_zero = true, identity = true;
  for (size_t j = 0; j <= n_in; ++j) {
    all_zero = all_zero && means[j] == 0 && ranges[j] == 0;
    identity = identity && means[j] == 0 && ranges[j] == 1;
  }
  // Output normalization of multi-output networks: the file has one mean/range for all outputs.
  const long double out_mean = means[n_in], out_range = ranges[n_in];
  bool normalized = false;
  if (all_zero) {
    spdlog::info("{}: means and ranges are all 0 (a placeholder header): no normalization applied", source);
  } else if (!identity) {
    for (size_t j = 0; j <= n_in; ++j)
      if (ranges[j] == 0)
        reader.fail(range_line.number, "range " + std::to_string(j + 1) + " is 0: the normalization divides by it");
    fold_input_normalization(net.layers.front(),
                             std::vector<long double>(means.begin(), means.begin() + static_cast<long>(n_in)),
                             std::vector<long double>(ranges.begin(), ranges.begin() + static_cast<long>(n_in)));
    if (out_mean != 0 || out_range != 1)
      fold_output_scaling(net.layers.back(), std::vector<long double>(n_out, out_range),
                          std::vector<long double>(n_out, out_mean));
    normalized = true;
  }
  if (header) {
    header->normalized = normalized;
    header->input_min.clear();
    header->input_max.clear();
    const bool placeholder = (min_broadcast || max_broadcast) && n_in > 1;
    if (!placeholder) {
      header->input_min.assign(mins.begin(), mins.end());
      header->input_max.assign(maxs.begin(), maxs.end());
    }
  }
  net.validate();
  return net;
}

FloatNetwork read_nnet(const std::string& path, NNetHeader* header) {
  return parse_nnet(read_file(path), path, header);
}

} // namespace fxnn::floatnet
