#include "fxnn/codegen/c_codegen.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "fxnn/codegen/network_codegen.h"
#include "fxnn/io/atomic_file.h"
#include "fxnn/synth/network_artifact.h"

namespace fxnn::codegen {

namespace {

const std::set<std::string> kCKeywords = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern",
    "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return", "short", "signed",
    "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while",
    "_Bool", "_Complex", "_Imaginary", "main"};

std::string int128_str(__int128 v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  unsigned __int128 u = negative ? static_cast<unsigned __int128>(-(v + 1)) + 1 : static_cast<unsigned __int128>(v);
  std::string digits;
  while (u > 0) {
    digits.push_back(static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  }
  if (negative) digits.push_back('-');
  std::reverse(digits.begin(), digits.end());
  return digits;
}

/// Rows of integers, `per_line` to a line, in braces.
template <typename Get>
void emit_array_body(std::ostringstream& out, int64_t count, Get get, const std::string& indent) {
  constexpr int64_t kPerLine = 12;
  for (int64_t k = 0; k < count; ++k) {
    if (k % kPerLine == 0) out << (k ? "\n" : "") << indent;
    out << c_int_literal(get(k)) << (k + 1 < count ? ", " : "");
  }
}

void comment_lines(std::ostringstream& out, const Provenance& provenance) {
  for (const std::string& line : provenance) {
    std::string safe = line;
    for (size_t p = safe.find("*/"); p != std::string::npos; p = safe.find("*/")) safe.replace(p, 2, "* /");
    out << " * " << safe << "\n";
  }
}

} // namespace

void check_c_identifier(const std::string& name) {
  bool ok = !name.empty() && (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_');
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (!ok || kCKeywords.count(name))
    throw std::invalid_argument("--name: '" + name + "' is not a valid C identifier");
}

std::string c_int_type(__int128 lo, __int128 hi) {
  const int bits = synth::signed_bits(lo, hi);
  if (bits <= 8) return "int8_t";
  if (bits <= 16) return "int16_t";
  if (bits <= 32) return "int32_t";
  if (bits <= 64) return "int64_t";
  throw std::invalid_argument("an integer constant needs " + std::to_string(bits) + " bits (more than int64_t)");
}

std::string c_int_literal(__int128 v) {
  if (v == std::numeric_limits<int64_t>::min()) return "(-INT64_C(9223372036854775807) - 1)";
  if (v >= -2147483647 && v <= 2147483647) return int128_str(v);
  return "INT64_C(" + int128_str(v) + ")";
}

namespace {

/// The declarations of the boundary wrapper of a synthesized network (docs/synthesis.md section 10).
std::string wrapper_declarations(const synth::QuantizedNetwork& q, const std::string& name) {
  std::string guard = name;
  std::transform(guard.begin(), guard.end(), guard.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::ostringstream h;
  h << "#define " << guard << "_INPUTS " << q.inputs() << "\n#define " << guard << "_OUTPUTS " << q.outputs() << "\n\n"
    << "/* Fractional bits: input j is x[j] * 2^-" << name << "_input_frac[j], output i y[i] * 2^-" << name
    << "_output_frac[i]. */\n"
    << "extern const int " << name << "_input_frac[" << q.inputs() << "];\n"
    << "extern const int " << name << "_output_frac[" << q.outputs() << "];\n\n"
    << "/* Real inputs (clamped to the certified box) to real outputs. */\n"
    << "void " << name << "(const double *x, double *y);\n";
  return h.str();
}

/// The boundary wrapper: NAME(const double *x, double *y) around NAME_fixed (floating point only here).
std::string wrapper_definitions(const synth::QuantizedNetwork& q, const std::string& name) {
  const bool nearest = q.rounding == Rounding::kNearest;
  const int64_t n_in = q.inputs();
  std::ostringstream c;
  c << "const int " << name << "_input_frac[" << n_in << "] = {";
  for (int64_t j = 0; j < n_in; ++j) c << (j ? ", " : "") << q.input_frac[static_cast<size_t>(j)];
  c << "};\nconst int " << name << "_output_frac[" << q.outputs() << "] = {";
  const std::vector<int> out_frac = q.output_frac();
  for (size_t i = 0; i < out_frac.size(); ++i) c << (i ? ", " : "") << out_frac[i];
  c << "};\n\n";
  c << "static const int32_t " << name << "_input_lo[" << n_in << "] = {";
  for (int64_t j = 0; j < n_in; ++j) c << (j ? ", " : "") << c_int_literal(q.input_code_lo[static_cast<size_t>(j)]);
  c << "};\nstatic const int32_t " << name << "_input_hi[" << n_in << "] = {";
  for (int64_t j = 0; j < n_in; ++j) c << (j ? ", " : "") << c_int_literal(q.input_code_hi[static_cast<size_t>(j)]);
  c << "};\n\n"
    << "void " << name << "(const double *x, double *y) {\n"
    << "  int32_t xq[" << n_in << "], yq[" << q.outputs() << "];\n"
    << "  for (int j = 0; j < " << n_in << "; ++j) {\n"
    << "    const double v = ldexp(x[j], " << name << "_input_frac[j]); /* exact: a power-of-two scaling */\n"
    << "    double f = floor(v);\n";
  if (nearest) c << "    if (v - f >= 0.5) f += 1.0; /* round half up: v - f is exact */\n";
  c << "    if (!(f >= " << name << "_input_lo[j])) f = " << name << "_input_lo[j]; /* also NaN */\n"
    << "    if (f > " << name << "_input_hi[j]) f = " << name << "_input_hi[j];\n"
    << "    xq[j] = (int32_t)f;\n  }\n"
    << "  " << name << "_fixed(xq, yq);\n"
    << "  for (int i = 0; i < " << q.outputs() << "; ++i) y[i] = ldexp((double)yq[i], -" << name << "_output_frac[i]);\n"
    << "}\n";
  return c.str();
}

/// The generator of docs/synthesis.md section 10 on the synthesized network itself: per-neuron formats.
GeneratedCode generate_per_neuron_c(const synth::QuantizedNetwork& q, const synth::Certificate& cert, const std::string& name,
                                    const Provenance& provenance) {
  const bool nearest = q.rounding == Rounding::kNearest;
  std::string guard = name;
  std::transform(guard.begin(), guard.end(), guard.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });

  GeneratedCode code;
  std::ostringstream h;
  h << "/* " << name << ".h: generated by fxnn synth. Integer-only fixed-point network.\n";
  comment_lines(h, provenance);
  h << " */\n#ifndef " << guard << "_H\n#define " << guard << "_H\n\n#include <stdint.h>\n\n"
    << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
    << "/* The integer core: input codes in, output codes out (no floating point). */\n"
    << "void " << name << "_fixed(const int32_t *x, int32_t *y);\n\n"
    << wrapper_declarations(q, name)
    << "\n#ifdef __cplusplus\n}\n#endif\n\n#endif /* " << guard << "_H */\n";
  code.header = h.str();

  std::ostringstream c;
  c << "/* " << name << ".c: generated by fxnn synth (docs/synthesis.md section 10).\n";
  comment_lines(c, provenance);
  c << " * Rounding: " << (nearest ? "round half up, (v + 2^(s-1)) >> s" : "floor, v >> s")
    << "; arithmetic right shifts of negative values are required (checked below).\n */\n"
    << "#include <math.h>\n#include <stdint.h>\n\n#include \"" << name << ".h\"\n\n"
    << "#if (-1 >> 1) != -1\n#error \"" << name << ".c needs an arithmetic right shift of negative integers\"\n#endif\n\n";


  std::vector<std::string> acc_types;
  for (size_t l = 0; l < q.layers.size(); ++l) {
    const synth::QuantizedLayer& ql = q.layers[l];
    const synth::LayerCertificate& lc = cert.layers[l];
    const std::string tag = name + "_";
    const std::string idx = std::to_string(l + 1);
    __int128 w_lo = 0, w_hi = 0, b_lo = 0, b_hi = 0;
    for (int64_t i = 0; i < ql.outputs; ++i) {
      for (int64_t j = 0; j < ql.inputs; ++j) {
        w_lo = std::min(w_lo, ql.folded_weight(i, j));
        w_hi = std::max(w_hi, ql.folded_weight(i, j));
      }
      b_lo = std::min<__int128>(b_lo, ql.bias[static_cast<size_t>(i)]);
      b_hi = std::max<__int128>(b_hi, ql.bias[static_cast<size_t>(i)]);
    }
    const bool narrow = lc.acc_bits <= 32 && synth::signed_bits(w_lo, w_hi) <= 32 && synth::signed_bits(b_lo, b_hi) <= 32;
    const std::string acc_type = narrow ? "int32_t" : "int64_t";
    acc_types.push_back(acc_type);
    c << "/* layer " << idx << ": " << ql.outputs << " x " << ql.inputs << ", " << io::to_string(ql.activation)
      << ". Weights W_ij 2^(Fa_i - Fw_i - F_j) (alignment folded in), biases at Fa_i, shifts Fa_i - F_i;\n"
      << " * partial sums fit " << lc.acc_bits << " bits, stored outputs " << lc.storage_bits << " bits. */\n";
    c << "static const " << c_int_type(w_lo, w_hi) << " " << tag << "w" << idx << "[" << ql.outputs << "][" << ql.inputs
      << "] = {\n";
    for (int64_t i = 0; i < ql.outputs; ++i) {
      c << "  {";
      emit_array_body(c, ql.inputs, [&](int64_t j) { return ql.folded_weight(i, j); }, "");
      c << "}" << (i + 1 < ql.outputs ? "," : "") << "\n";
    }
    c << "};\n";
    c << "static const " << (synth::signed_bits(b_lo, b_hi) <= 32 ? "int32_t" : "int64_t") << " " << tag << "b" << idx
      << "[" << ql.outputs << "] = {\n";
    emit_array_body(c, ql.outputs, [&](int64_t i) { return static_cast<__int128>(ql.bias[static_cast<size_t>(i)]); }, "  ");
    c << "\n};\nstatic const uint8_t " << tag << "s" << idx << "[" << ql.outputs << "] = {\n";
    emit_array_body(c, ql.outputs, [&](int64_t i) { return static_cast<__int128>(ql.shift(i)); }, "  ");
    c << "\n};\n";
    if (nearest) {
      c << "static const " << acc_type << " " << tag << "r" << idx << "[" << ql.outputs << "] = { /* 2^(s-1), 0 for s = 0 */\n";
      emit_array_body(c, ql.outputs, [&](int64_t i) {
        const int s = ql.shift(i);
        return s > 0 ? static_cast<__int128>(1) << (s - 1) : static_cast<__int128>(0);
      }, "  ");
      c << "\n};\n";
    }
    if (ql.activation == io::Activation::kClippedRelu) {
      c << "static const int32_t " << tag << "c" << idx << "[" << ql.outputs << "] = { /* clip codes */\n";
      emit_array_body(c, ql.outputs, [&](int64_t i) { return static_cast<__int128>(ql.clip[static_cast<size_t>(i)]); }, "  ");
      c << "\n};\n";
    }
    c << "\n";
  }

  c << "void " << name << "_fixed(const int32_t *x, int32_t *y) {\n";
  for (size_t l = 0; l + 1 < q.layers.size(); ++l)
    c << "  int32_t h" << l + 1 << "[" << q.layers[l].outputs << "];\n";
  for (size_t l = 0; l < q.layers.size(); ++l) {
    const synth::QuantizedLayer& ql = q.layers[l];
    const std::string idx = std::to_string(l + 1), tag = name + "_";
    const std::string in = l == 0 ? "x" : "h" + std::to_string(l);
    const std::string out = l + 1 == q.layers.size() ? "y" : "h" + idx;
    const std::string& acc = acc_types[l];
    c << "  for (int i = 0; i < " << ql.outputs << "; ++i) { /* layer " << idx << " */\n"
      << "    " << acc << " acc = " << tag << "b" << idx << "[i];\n"
      << "    for (int j = 0; j < " << ql.inputs << "; ++j) acc += (" << acc << ")" << tag << "w" << idx << "[i][j] * " << in
      << "[j];\n";
    if (nearest) c << "    acc = (acc + " << tag << "r" << idx << "[i]) >> " << tag << "s" << idx << "[i];\n";
    else c << "    acc >>= " << tag << "s" << idx << "[i];\n";
    if (ql.activation != io::Activation::kLinear) c << "    if (acc < 0) acc = 0;\n";
    if (ql.activation == io::Activation::kClippedRelu)
      c << "    if (acc > " << tag << "c" << idx << "[i]) acc = " << tag << "c" << idx << "[i];\n";
    c << "    " << out << "[i] = (int32_t)acc;\n  }\n";
  }
  c << "}\n\n";

  c << "\n" << wrapper_definitions(q, name);
  code.source = c.str();
  code.origin = "per-neuron formats";
  return code;
}

} // namespace

std::optional<ir::Network> synthesized_network(const synth::QuantizedNetwork& q, const synth::Certificate& cert,
                                               const std::string& name, std::string* reason) {
  try {
    return synth::to_fixed_point_network(q, cert, name, "");
  } catch (const std::exception& e) { // no exact encoding (docs/synthesis.md section 13): say why
    if (reason) *reason = e.what();
    return std::nullopt;
  }
}

GeneratedCode generate_c(const synth::QuantizedNetwork& q, const synth::Certificate& cert, const std::string& name,
                         const Provenance& provenance) {
  check_c_identifier(name);
  if (!cert.overflow_free)
    throw std::invalid_argument("cannot generate code for formats that may overflow: " + cert.failure);
  if (cert.layers.size() != q.layers.size()) throw std::invalid_argument("the certificate is not of this network");
  std::string reason;
  if (const std::optional<ir::Network> net = synthesized_network(q, cert, name, &reason)) {
    // One generator for every fixed-point network (docs/codegen.md); the synthesized network keeps its
    // interface: NAME_fixed on int32_t codes and the double wrapper NAME.
    Provenance lines = provenance;
    lines.push_back("generated from the synthesized network as a fixed-point network (docs/synthesis.md sections 10, 13)");
    NetworkCodegenOptions o;
    o.with_name(name).with_function(name + "_fixed").with_io_type("int32_t").with_provenance(lines).with_generator("fxnn synth");
    o.header_extra = wrapper_declarations(q, name);
    o.source_extra = wrapper_definitions(q, name);
    o.source_includes = {"math.h"};
    return generate_network_c(*net, o);
  }
  GeneratedCode code = generate_per_neuron_c(q, cert, name, provenance);
  code.origin_reason = reason;
  return code;
}

void check_code_files(const std::string& dir, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    const std::filesystem::path path = std::filesystem::path(dir) / name;
    std::error_code ec;
    const auto status = std::filesystem::symlink_status(path, ec);
    if (ec || status.type() == std::filesystem::file_type::not_found) continue;
    if (status.type() != std::filesystem::file_type::regular || !file_generated_by_fxnn(path.string()))
      throw std::runtime_error(path.string() + ": exists and was not generated by fxnn; refusing to replace it "
                                               "(choose another folder or --name)");
  }
}

std::vector<std::string> write_files(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<std::string> names;
  for (const auto& file : files) names.push_back(file.first);
  check_code_files(dir, names);
  std::filesystem::create_directories(dir);
  std::vector<std::string> paths;
  for (const auto& [name, content] : files) {
    paths.push_back((std::filesystem::path(dir) / name).string());
    write_file_atomic(paths.back(), content);
  }
  return paths;
}

std::vector<std::string> write_c(const std::string& dir, const std::string& name, const GeneratedCode& code) {
  return write_files(dir, {{name + ".h", code.header}, {name + ".c", code.source}});
}

} // namespace fxnn::codegen
