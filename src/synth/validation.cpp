#include "fxnn/synth/validation.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "fxnn/codegen/generated_code.h"
#include "fxnn/io/atomic_file.h"
#include "fxnn/synth/error_attack.h"
#include "fxnn/synth/synth_codegen.h"

namespace fxnn::synth {

namespace {

namespace fs = std::filesystem;

constexpr char kName[] = "fxnn_net";
/// Inputs checked bit for bit against the C++ integer reference (it is slower than the compiled C).
constexpr int64_t kReferenceChecks = 5000;
/// The attack's searches: the 8 worst inputs of the sampled set share its budget, what they leave goes
/// to searches from the next worst (up to 1000).
constexpr int kSearchStarts = 8;
constexpr size_t kSearchCandidates = 1000;

std::string quote(const std::string& s) { return "'" + s + "'"; }

int run(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string first_lines(const std::string& text, int lines) {
  std::istringstream in(text);
  std::string line, out;
  for (int k = 0; k < lines && std::getline(in, line); ++k) out += (k ? "\n" : "") + line;
  return out;
}

void write_doubles(const std::string& path, const std::vector<double>& values) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(double)));
  if (!out) throw std::runtime_error(path + ": cannot write the validation inputs");
}

std::vector<double> read_doubles(const std::string& path) {
  const std::string bytes = read_file(path);
  std::vector<double> values(bytes.size() / sizeof(double));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(double));
  return values;
}

std::string harness_source(int64_t inputs, int64_t outputs) {
  std::ostringstream c;
  c << "/* Validation harness: reads inputs (binary doubles), writes the outputs of " << kName << "(). */\n"
    << "#include <stdio.h>\n#include \"" << kName << ".h\"\n\n"
    << "int main(int argc, char **argv) {\n"
    << "  double x[" << inputs << "], y[" << outputs << "];\n"
    << "  FILE *in, *out;\n"
    << "  if (argc != 3) return 2;\n"
    << "  in = fopen(argv[1], \"rb\");\n  out = fopen(argv[2], \"wb\");\n"
    << "  if (!in || !out) return 2;\n"
    << "  while (fread(x, sizeof(double), " << inputs << ", in) == " << inputs << ") {\n"
    << "    " << kName << "(x, y);\n"
    << "    if (fwrite(y, sizeof(double), " << outputs << ", out) != " << outputs << ") return 3;\n"
    << "  }\n  fclose(in);\n  return fclose(out) == 0 ? 0 : 3;\n}\n";
  return c.str();
}

/// max_o |y^_o - y_o| and its output.
std::pair<double, int64_t> error_of(const floatnet::FloatNetwork& net, const std::vector<double>& x,
                                    const double* computed) {
  const std::vector<long double> exact = net.evaluate(std::vector<long double>(x.begin(), x.end()));
  double worst = -1.0;
  int64_t arg = 0;
  for (size_t o = 0; o < exact.size(); ++o) {
    const double e = static_cast<double>(std::fabs(static_cast<long double>(computed[o]) - exact[o]));
    if (e > worst) {
      worst = e;
      arg = static_cast<int64_t>(o);
    }
  }
  return {worst, arg};
}

/// The compiled program on a set of inputs.
std::vector<double> run_binary(const std::string& dir, const std::string& binary, const std::vector<double>& inputs,
                               const std::string& tag, int* status, std::string* log) {
  const std::string in = (fs::path(dir) / (tag + "_in.bin")).string(),
                    out = (fs::path(dir) / (tag + "_out.bin")).string();
  const std::string err = (fs::path(dir) / (tag + "_stderr.txt")).string();
  write_doubles(in, inputs);
  *status = run(quote(binary) + " " + quote(in) + " " + quote(out) + " 2> " + quote(err));
  *log = fs::exists(err) ? read_file(err) : "";
  return fs::exists(out) ? read_doubles(out) : std::vector<double>{};
}

} // namespace

ValidationResult validate(const floatnet::FloatNetwork& net, const InputBox& box, const QuantizedNetwork& q,
                          const Certificate& cert, const ValidationOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  box.check_dimension(net.inputs(), net.source);
  if (options.samples < 0) throw std::invalid_argument("--validate: the number of inputs must be >= 0");
  std::string dir = options.work_dir;
  bool temporary = false;
  if (dir.empty()) {
    std::string pattern = (fs::temp_directory_path() / "fxnn_validate_XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("cannot create a temporary folder for validation");
    dir = pattern;
    temporary = true;
  }
  fs::create_directories(dir);
  struct Cleanup {
    std::string dir;
    bool remove;
    ~Cleanup() {
      std::error_code ec;
      if (remove) fs::remove_all(dir, ec);
    }
  } cleanup{dir, temporary && !options.keep_files};

  ValidationResult result;
  const codegen::GeneratedCode code = generate_c(q, cert, kName, {"validation build"});
  codegen::write_c(dir, kName, code);
  const std::string harness = (fs::path(dir) / "harness.c").string();
  write_file_atomic(harness, harness_source(q.inputs(), q.outputs()));
  const std::string sources = quote(harness) + " " + quote((fs::path(dir) / (std::string(kName) + ".c")).string());
  const std::string plain = (fs::path(dir) / "plain").string(), ubsan = (fs::path(dir) / "ubsan").string();
  const std::string log = (fs::path(dir) / "compile.txt").string();
  result.compile_command =
      options.compiler + " -std=c99 -O2 -Wall -Wextra -Werror -o plain harness.c " + kName + ".c -lm";
  if (run(options.compiler + " -std=c99 -O2 -Wall -Wextra -Werror -o " + quote(plain) + " " + sources + " -lm 2> " +
          quote(log)) != 0)
    throw std::runtime_error("validation: the generated C does not compile with " + options.compiler + ": " +
                             first_lines(read_file(log), 5));
  if (options.sanitize && run(options.compiler + " -std=c99 -O1 -g -fsanitize=undefined -fno-sanitize-recover=all -o " +
                              quote(ubsan) + " " + sources + " -lm 2> " + quote(log)) != 0)
    throw std::runtime_error("validation: the sanitizer build fails: " + first_lines(read_file(log), 5));

  // Inputs: random, corners, centre (flattened).
  const size_t n = box.size();
  std::vector<double> inputs;
  std::mt19937_64 rng(options.seed);
  for (int64_t k = 0; k < options.samples; ++k)
    for (size_t d = 0; d < n; ++d)
      inputs.push_back(std::uniform_real_distribution<double>(box.dims[d].lo, box.dims[d].hi)(rng));
  result.random_inputs = options.samples;
  result.corners_in_box = n < 62 ? (int64_t{1} << n) : std::numeric_limits<int64_t>::max();
  result.corners_sampled = result.corners_in_box > options.max_corners;
  const int64_t corners = std::min(result.corners_in_box, options.max_corners);
  for (int64_t c = 0; c < corners; ++c) {
    const uint64_t bits = result.corners_sampled ? rng() : static_cast<uint64_t>(c);
    for (size_t d = 0; d < n; ++d) inputs.push_back((bits >> d) & 1 ? box.dims[d].hi : box.dims[d].lo);
  }
  for (size_t d = 0; d < n; ++d) inputs.push_back(box.dims[d].lo / 2 + box.dims[d].hi / 2);
  result.corner_inputs = corners;
  result.total_inputs = static_cast<int64_t>(inputs.size() / n);

  int status = 0;
  std::string stderr_text;
  const std::vector<double> outputs = run_binary(dir, plain, inputs, "plain", &status, &stderr_text);
  const size_t m = static_cast<size_t>(q.outputs());
  if (status != 0 || outputs.size() != static_cast<size_t>(result.total_inputs) * m)
    throw std::runtime_error("validation: the compiled network failed (exit " + std::to_string(status) +
                             "): " + first_lines(stderr_text, 3));
  if (options.sanitize) {
    result.sanitizer_run = true;
    const std::vector<double> checked = run_binary(dir, ubsan, inputs, "ubsan", &status, &stderr_text);
    result.sanitizer_clean = status == 0 && stderr_text.empty() && checked == outputs;
    if (!result.sanitizer_clean)
      result.sanitizer_report =
          stderr_text.empty() ? "exit status " + std::to_string(status) : first_lines(stderr_text, 5);
  }

  // Errors against the long double network, and the C against the C++ integer semantics.
  result.max_error.assign(m, 0.0);
  result.worst_input.assign(m, {});
  std::vector<double> errors(static_cast<size_t>(result.total_inputs) * m);
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < result.total_inputs; ++k) {
    const std::vector<long double> x(inputs.begin() + k * static_cast<int64_t>(n),
                                     inputs.begin() + (k + 1) * static_cast<int64_t>(n));
    const std::vector<long double> exact = net.evaluate(x);
    for (size_t o = 0; o < m; ++o) {
      const size_t at = static_cast<size_t>(k) * m + o;
      errors[at] = static_cast<double>(std::fabs(static_cast<long double>(outputs[at]) - exact[o]));
    }
  }
  std::vector<std::pair<double, int64_t>> per_input(static_cast<size_t>(result.total_inputs)); // worst output, input
  for (int64_t k = 0; k < result.total_inputs; ++k) {
    per_input[static_cast<size_t>(k)] = {0.0, k};
    for (size_t o = 0; o < m; ++o) {
      const double e = errors[static_cast<size_t>(k) * m + o];
      per_input[static_cast<size_t>(k)].first = std::max(per_input[static_cast<size_t>(k)].first, e);
      if (e > result.max_error[o] || result.worst_input[o].empty()) {
        result.max_error[o] = std::max(result.max_error[o], e);
        result.worst_input[o].assign(inputs.begin() + k * static_cast<int64_t>(n),
                                     inputs.begin() + (k + 1) * static_cast<int64_t>(n));
      }
    }
  }
  result.max_error_all = *std::max_element(result.max_error.begin(), result.max_error.end());
  result.outputs_match_reference = true;
  const int64_t checks = std::min(result.total_inputs, kReferenceChecks);
  for (int64_t c = 0; c < checks; ++c) {
    // spread the checks over random inputs, corners and the centre
    const int64_t k =
        checks < result.total_inputs ? (c * (result.total_inputs - 1)) / std::max<int64_t>(checks - 1, 1) : c;
    const std::vector<double> x(inputs.begin() + k * static_cast<int64_t>(n),
                                inputs.begin() + (k + 1) * static_cast<int64_t>(n));
    const std::vector<double> y = evaluate_fixed_real(q, x);
    for (size_t o = 0; o < m; ++o)
      result.outputs_match_reference =
          result.outputs_match_reference && y[o] == outputs[static_cast<size_t>(k) * m + o];
  }

  // The attack (section 14): from the worst inputs above, a search for a larger error, against the
  // claimed bound (aster) or the certified one.
  if (options.search_evaluations > 0) {
    result.searched = true;
    result.attacked_bound = options.claimed_bound > 0 ? options.claimed_bound : cert.bound;
    std::vector<AttackStart> starts;
    std::sort(per_input.begin(), per_input.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t s = 0; s < per_input.size() && starts.size() < kSearchCandidates; ++s) {
      const int64_t k = per_input[s].second;
      const char* kind = k < result.random_inputs ? "random" : k + 1 < result.total_inputs ? "corner" : "centre";
      starts.push_back({std::vector<double>(inputs.begin() + k * static_cast<int64_t>(n),
                                            inputs.begin() + (k + 1) * static_cast<int64_t>(n)),
                        per_input[s].first, kind});
    }
    const AttackResult attack =
        attack_error_bound(net, box, q, starts, AttackOptions{options.search_evaluations, kSearchStarts});
    // Confirmed with the compiled C: the error reported is the program's, not the reference's.
    const std::vector<double> y = run_binary(dir, plain, attack.input, "search", &status, &stderr_text);
    if (status != 0 || y.size() != m)
      throw std::runtime_error("validation: the compiled network failed on the search input");
    result.search_error = error_of(net, attack.input, y.data()).first;
    result.search_input = attack.input;
    result.search_found_by = attack.found_by;
    result.search_evaluations = attack.evaluations;
    result.violation_found = std::max(result.search_error, result.max_error_all) > result.attacked_bound;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

} // namespace fxnn::synth
