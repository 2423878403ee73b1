#pragma once
// The input box of synthesis: one closed interval per network input, from the command line or from
// a benchmark suite file (../shared/data/controllers/benchmarks.yaml).

#include <cstdint>
#include <string>
#include <vector>

namespace fxnn::synth {

struct Interval {
  double lo = 0.0;
  double hi = 0.0;
  double width() const { return hi - lo; }
  double magnitude() const; // max(|lo|, |hi|)
};

struct InputBox {
  std::vector<Interval> dims;

  size_t size() const { return dims.size(); }
  /// Throws std::invalid_argument when the box does not have `inputs` dimensions ("`what`: ...").
  void check_dimension(int64_t inputs, const std::string& what) const;
  /// "lo:hi,lo:hi,..." (round-trips through parse_input_box).
  std::string str() const;
};

/// Parses "lo:hi,lo:hi,..." (numbers in any strtod notation). Throws std::invalid_argument naming the
/// text for an empty box, a malformed or non-finite number, or an inverted interval (lo > hi). An
/// interval with lo = hi is allowed: that input is a constant (docs/synthesis.md section 17).
InputBox parse_input_box(const std::string& text);

/// One entry of a benchmark suite file.
struct Benchmark {
  std::string name;
  std::string model; // path resolved against the suite file's folder
  InputBox box;
  double error_bound = 0.0;
  std::vector<int64_t> layers; // as listed (informative)
};

/// The entry `name` of a suite file; throws std::runtime_error naming the file (and the entry) when
/// it is missing or malformed.
Benchmark load_benchmark(const std::string& suite_path, const std::string& name);

/// All entries of a suite file, in order.
std::vector<Benchmark> load_benchmarks(const std::string& suite_path);

} // namespace fxnn::synth
