// Generated C and HLS code: compiled and run, they must compute exactly what the C++ integer
// reference (evaluate_fixed) computes.

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <sstream>

#include "../support/float_free.h"
#include "../support/run_command.h"
#include "../support/temp_dir.h"
#include "../synth/synth_test_util.h"
#include "fxnn/codegen/generated_code.h"
#include "fxnn/io/atomic_file.h"
#include "fxnn/synth/synth_codegen.h"
#include "fxnn/synth/synthesize.h"

namespace fxnn::codegen {
namespace {

using testing_support::run_command;
using testing_support::TempDir;

std::string hex(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%a", v);
  return buffer;
}

/// Random real inputs of the box (and its corners) with their reference codes and outputs.
struct Vectors {
  std::vector<std::vector<double>> x;
  std::vector<std::vector<int64_t>> x_codes, y_codes;
  std::vector<std::vector<double>> y;
};

Vectors vectors(const synth::QuantizedNetwork& q, const synth::InputBox& box, int count) {
  Vectors v;
  std::mt19937_64 rng(9);
  for (int k = 0; k < count; ++k) {
    std::vector<double> x;
    for (size_t d = 0; d < box.size(); ++d)
      x.push_back(k < (1 << box.size()) ? ((k >> d) & 1 ? box.dims[d].hi : box.dims[d].lo)
                                        : std::uniform_real_distribution<double>(box.dims[d].lo, box.dims[d].hi)(rng));
    v.x.push_back(x);
    v.x_codes.push_back(synth::quantize_inputs(q, x));
    v.y_codes.push_back(synth::evaluate_fixed(q, v.x_codes.back()));
    v.y.push_back(synth::evaluate_fixed_real(q, x));
  }
  return v;
}

synth::SynthesisReport synthesize_small(floatnet::Activation act, Rounding rounding, synth::Method method,
                                        uint64_t seed) {
  const floatnet::FloatNetwork net = synth_testing::random_network({3, 7, 5, 2}, seed, 1.0, act);
  synth::SynthesisOptions o;
  o.eps = 1e-3;
  o.method = method;
  o.rounding = rounding;
  const synth::SynthesisReport r = synthesize(net, synth_testing::uniform_box(3, -1.0, 2.0), o);
  EXPECT_EQ(r.status, synth::SynthesisStatus::kCertified) << r.message;
  return r;
}

class CodegenCases : public ::testing::TestWithParam<std::tuple<floatnet::Activation, Rounding, synth::Method>> {};

TEST_P(CodegenCases, CompiledCEqualsTheIntegerReference) {
  const auto [act, rounding, method] = GetParam();
  const synth::SynthesisReport r = synthesize_small(act, rounding, method, 4);
  const synth::QuantizedNetwork& q = *r.quantized;
  TempDir dir;
  const GeneratedCode code = synth::generate_c(q, *r.certificate, "tiny", {"a test"});
  write_c(dir.str(), "tiny", code);

  // Generated from the fixed-point network whenever the formats have one (docs/synthesis.md section 10).
  std::string reason;
  const bool expressible = synth::synthesized_network(q, *r.certificate, "tiny", &reason).has_value();
  EXPECT_EQ(code.origin, expressible ? "fixed-point network" : "per-neuron formats");
  EXPECT_EQ(code.origin_reason, reason);
  if (method == synth::Method::kMilp) EXPECT_TRUE(expressible) << reason; // per-layer formats

  // The core has no floating point at all: not in its text, not in its instructions.
  const size_t begin = code.source.find(expressible ? "void tiny_fixed_with_work(" : "void tiny_fixed(");
  const std::string core = code.source.substr(begin, code.source.find("\n}\n", begin) - begin);
  EXPECT_TRUE(testing_support::float_words(core).empty()) << core;
  for (const auto& line : testing_support::float_instructions(dir / "tiny.c", dir.str(), {"tiny_fixed"}, dir.str()))
    ADD_FAILURE() << "floating-point instruction in the core: " << line;

  const Vectors v = vectors(q, r.box, 300);
  std::ostringstream main;
  main << "#include <stdio.h>\n#include \"tiny.h\"\n"
       << "static const int32_t X[" << v.x.size() << "][3] = {";
  for (const auto& x : v.x_codes) main << "{" << x[0] << ", " << x[1] << ", " << x[2] << "},";
  main << "};\nstatic const int32_t Y[" << v.x.size() << "][2] = {";
  for (const auto& y : v.y_codes) main << "{" << y[0] << ", " << y[1] << "},";
  main << "};\nstatic const double XR[" << v.x.size() << "][3] = {";
  for (const auto& x : v.x) main << "{" << hex(x[0]) << ", " << hex(x[1]) << ", " << hex(x[2]) << "},";
  main << "};\nstatic const double YR[" << v.x.size() << "][2] = {";
  for (const auto& y : v.y) main << "{" << hex(y[0]) << ", " << hex(y[1]) << "},";
  main << "};\nint main(void) {\n  int bad = 0;\n  for (int k = 0; k < " << v.x.size() << "; ++k) {\n"
       << "    int32_t y[2];\n    double yr[2];\n    tiny_fixed(X[k], y);\n    tiny(XR[k], yr);\n"
       << "    for (int o = 0; o < 2; ++o) if (y[o] != Y[k][o] || yr[o] != YR[k][o]) { printf(\"%d %d\\n\", k, o); bad "
          "= 1; }\n"
       << "  }\n  return bad;\n}\n";
  write_file_atomic(dir / "main.c", main.str());
  const auto build = run_command(
      "cc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -fsanitize=undefined "
      "-fno-sanitize-recover=all -o " +
          dir / "main " + dir / "main.c " + dir / "tiny.c -lm",
      dir.str());
  ASSERT_EQ(build.exit_code, 0) << build.err;
  const auto runs = run_command(dir / "main", dir.str());
  EXPECT_EQ(runs.exit_code, 0) << runs.out << runs.err;
  EXPECT_TRUE(runs.err.empty()) << runs.err;
}

TEST_P(CodegenCases, HlsCodeComputesTheSameWithTheApFixedEmulation) {
  const auto [act, rounding, method] = GetParam();
  const synth::SynthesisReport r = synthesize_small(act, rounding, method, 6);
  const synth::QuantizedNetwork& q = *r.quantized;
  TempDir dir;
  const GeneratedHls code = synth::generate_hls(q, *r.certificate, "tiny", {});
  write_hls(dir.str(), "tiny", code);
  EXPECT_NE(code.source.find(rounding == Rounding::kNearest ? "AP_RND" : "AP_TRN"), std::string::npos);
  EXPECT_NE(code.header.find("void tiny_hls(const tiny_in_t x[3], tiny_out_t y[2]);"), std::string::npos);
  EXPECT_NE(code.header.find("typedef ap_fixed<"), std::string::npos);
  EXPECT_EQ(code.source.find("double"), std::string::npos);

  const Vectors v = vectors(q, r.box, 200);
  std::ostringstream main;
  main << "#include <cstdio>\n#include \"tiny_hls.h\"\nint main() {\n  int bad = 0;\n"
       << "  const double X[" << v.x.size() << "][3] = {";
  for (size_t k = 0; k < v.x.size(); ++k) {
    main << "{";
    for (size_t j = 0; j < 3; ++j)
      main << hex(std::ldexp(static_cast<double>(v.x_codes[k][j]), -q.input_frac[j])) << ",";
    main << "},";
  }
  main << "};\n  const double Y[" << v.x.size() << "][2] = {";
  for (const auto& y : v.y) main << "{" << hex(y[0]) << ", " << hex(y[1]) << "},";
  main << "};\n  for (int k = 0; k < " << v.x.size() << "; ++k) {\n"
       << "    tiny_in_t x[3] = {X[k][0], X[k][1], X[k][2]};\n    tiny_out_t y[2];\n    tiny_hls(x, y);\n"
       << "    for (int o = 0; o < 2; ++o) if (y[o].to_double() != Y[k][o]) { std::printf(\"%d %d %a %a\\n\", k, o, "
          "y[o].to_double(), Y[k][o]); bad = 1; }\n"
       << "  }\n  return bad;\n}\n";
  write_file_atomic(dir / "main.cpp", main.str());
  const auto build = run_command("c++ -std=c++17 -O1 -I" + std::string(FXNN_HLS_EMULATION_DIR) + " -o " +
                                     dir / "main " + dir / "main.cpp " + dir / "tiny_hls.cpp",
                                 dir.str());
  ASSERT_EQ(build.exit_code, 0) << build.err;
  const auto runs = run_command(dir / "main", dir.str());
  EXPECT_EQ(runs.exit_code, 0) << runs.out;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CodegenCases,
    ::testing::Values(std::make_tuple(floatnet::Activation::kRelu, Rounding::kNearest, synth::Method::kLp),
                      std::make_tuple(floatnet::Activation::kRelu, Rounding::kFloor, synth::Method::kMilp),
                      std::make_tuple(floatnet::Activation::kClippedRelu, Rounding::kNearest, synth::Method::kMilp),
                      std::make_tuple(floatnet::Activation::kClippedRelu, Rounding::kFloor, synth::Method::kLp)));

TEST(Codegen, NamesMustBeCIdentifiersAndLiteralsExact) {
  EXPECT_NO_THROW(check_c_identifier("acc_controller5"));
  EXPECT_THROW(check_c_identifier("5acc"), std::invalid_argument);
  EXPECT_THROW(check_c_identifier("int"), std::invalid_argument);
  EXPECT_THROW(check_c_identifier("a-b"), std::invalid_argument);
  EXPECT_EQ(exact_decimal(3, 3), "0.375");
  EXPECT_EQ(exact_decimal(-3, 3), "-0.375");
  EXPECT_EQ(exact_decimal(1, 12), "0.000244140625");
  EXPECT_EQ(exact_decimal(5, -2), "20");
  EXPECT_EQ(exact_decimal(0, 7), "0");
  EXPECT_EQ(c_int_literal(std::numeric_limits<int64_t>::min()), "(-INT64_C(9223372036854775807) - 1)");
  EXPECT_EQ(c_int_literal(int64_t{1} << 40), "INT64_C(1099511627776)");
  EXPECT_EQ(c_int_type(-128, 127), "int8_t");
  EXPECT_EQ(c_int_type(-129, 0), "int16_t");
  EXPECT_EQ(c_int_type(0, int64_t{1} << 31), "int64_t");
}

} // namespace
} // namespace fxnn::codegen
