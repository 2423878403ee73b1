// Synthesis, code generation and validation end to end on two small networks, as `fxnn synth`
// runs them (run_synthesis), and the one-line errors of bad input.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <random>
#include <sstream>

#include "../support/temp_dir.h"
#include "fxnn/floatnet/network_file.h"
#include "fxnn/io/atomic_file.h"
#include "fxnn/synth/synth_run.h"
#include "synth_test_util.h"

namespace fxnn::synth {
namespace {

using testing_support::TempDir;
namespace fs = std::filesystem;

/// A small real controller when the shared data is here, else a random network of its shape.
floatnet::FloatNetwork first_network(std::string* box) {
  const std::string dir = synth_testing::controllers_dir();
  *box = "-0.7:0.7,-1:1,-0.5236:0.5236,0:3.14";
  if (!dir.empty()) return floatnet::read_network_file(dir + "/InvPendulumNN.nnet");
  return synth_testing::random_network({4, 10, 1}, 21);
}

void run_case(const floatnet::FloatNetwork& net, const std::string& box, Method method, const TempDir& dir) {
  SynthRunOptions o;
  o.model = "in-memory";
  o.input_box = box;
  o.eps = 1e-3;
  o.synthesis.method = method;
  o.emit_c_dir = dir / "c";
  o.emit_hls_dir = dir / "hls";
  o.name = "controller";
  o.validate = 3000;
  o.out_dir = dir / "network";
  o.json = dir / "report.json";
  const ResolvedProblem p = resolve_problem(o);
  std::ostringstream out;
  run_synthesis(net, p, o, out);
  EXPECT_NE(out.str().find("certified"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("sanitizer clean"), std::string::npos) << out.str();
  EXPECT_TRUE(fs::exists(dir / "c/controller.c"));
  EXPECT_TRUE(fs::exists(dir / "c/controller.h"));
  EXPECT_TRUE(fs::exists(dir / "hls/controller_hls.cpp"));
  EXPECT_TRUE(fs::exists(dir / "network/model.json"));
  const auto j = nlohmann::json::parse(read_file(dir / "report.json"));
  EXPECT_TRUE(j["artifact_formats"].get<bool>()); // --out alone asks for formats the network can hold
  EXPECT_EQ(j["fixed_point_network"], dir / "network");
  EXPECT_EQ(j["status"], "certified");
  EXPECT_EQ(j["method"], to_string(method));
  EXPECT_TRUE(j["sound"].get<bool>());
  const double bound = j["certified_bound"].get<double>();
  EXPECT_LE(bound, 1e-3);
  const auto& v = j["validation"];
  EXPECT_EQ(v["inputs"].get<int64_t>(), 3000 + (1 << net.inputs()) + 1);
  EXPECT_TRUE(v["sanitizer_clean"].get<bool>());
  EXPECT_TRUE(v["outputs_match_integer_reference"].get<bool>());
  EXPECT_LE(v["max_error_all"].get<double>(), bound);
  EXPECT_GT(v["max_error_all"].get<double>(), 0.0);
  EXPECT_GT(j["total_bits"].get<int64_t>(), 0);
  EXPECT_GE(j["solve_seconds"].get<double>(), 0.0);
}

TEST(EndToEnd, ControllerNetworkWithLp) {
  TempDir dir;
  std::string box;
  const floatnet::FloatNetwork net = first_network(&box);
  run_case(net, box, Method::kLp, dir);
}

TEST(EndToEnd, ClippedReluNetworkWithMilp) {
  TempDir dir;
  const floatnet::FloatNetwork net =
      synth_testing::random_network({3, 12, 12, 2}, 8, 1.0, floatnet::Activation::kClippedRelu);
  run_case(net, "-1:1,0:2,-0.5:0.5", Method::kMilp, dir);
}

/// Runs resolve_problem + run_synthesis and returns the error message (one line), or "".
std::string error_of(SynthRunOptions o, const floatnet::FloatNetwork& net) {
  try {
    const ResolvedProblem p = resolve_problem(o);
    std::ostringstream out;
    run_synthesis(net, p, o, out);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    return what;
  }
  return "";
}

TEST(EndToEnd, BadInputGetsOneLineAndWritesNothing) {
  TempDir dir;
  const floatnet::FloatNetwork net = synth_testing::random_network({2, 4, 1}, 3);
  SynthRunOptions o;
  o.model = "m.nnet";
  o.input_box = "0:1,0:1";
  o.eps = 1e-3;
  o.emit_c_dir = dir / "out";
  o.json = dir / "r.json";
  auto with = [&](auto change) {
    SynthRunOptions c = o;
    change(c);
    return error_of(c, net);
  };
  EXPECT_NE(with([](auto& c) { c.input_box.reset(); }).find("either --input-box"), std::string::npos);
  EXPECT_NE(with([](auto& c) { c.input_box = ""; }).find("the box is empty"), std::string::npos);
  EXPECT_NE(with([](auto& c) { c.input_box = " "; }).find("the box is empty"), std::string::npos);
  EXPECT_NE(with([](auto& c) { c.input_box = "0:1,1:0"; }).find("interval 2 '1:0' is inverted"), std::string::npos);
  EXPECT_NE(with([](auto& c) { c.input_box = "0:1,a:2"; }).find("'a' is not a finite number"), std::string::npos);
  EXPECT_NE(with([](auto& c) { c.eps = 0.0; }).find("eps must be a positive number"), std::string::npos);
  EXPECT_NE(with([](auto& c) { c.eps = -1.0; }).find("eps must be a positive number"), std::string::npos);
  EXPECT_NE(
      with([](auto& c) { c.input_box = "0:1,0:1,0:1"; }).find("the input box has 3 intervals, the network takes 2"),
      std::string::npos);
  EXPECT_NE(with([](auto& c) { c.name = "9lives"; }).find("not a valid C identifier"), std::string::npos);
  EXPECT_NE(with([](auto& c) {
              c.eps = 1e-12;
              c.synthesis.word = 8;
              c.synthesis.acc = 16;
            }).find("infeasible"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "out")); // no code for any of them
}

TEST(EndToEnd, BenchmarkSuiteGivesBoxEpsAndModel) {
  const std::string dir = synth_testing::controllers_dir();
  if (dir.empty()) GTEST_SKIP() << "no shared controllers in this checkout";
  SynthRunOptions o;
  o.benchmarks = dir + "/benchmarks.yaml";
  o.benchmark = "MountainCarNN";
  const ResolvedProblem p = resolve_problem(o);
  EXPECT_EQ(p.box.size(), 2u);
  EXPECT_EQ(p.eps, 1e-3);
  EXPECT_EQ(fs::path(p.model).filename(), "MountainCarNN.nnet");
  o.benchmark = "NoSuchNN";
  EXPECT_THROW(resolve_problem(o), std::runtime_error);
}

// Every ONNX network of the suite (Sub + Gemm, MatMul + Add, Sub + Conv + Flatten) is synthesized by
// both sound methods, certified within eps, and the integer semantics stays within the certified
// bound of the network on random inputs of the box.
TEST(EndToEnd, RealOnnxControllersAreCertifiedByLpAndMilp) {
  const std::string dir = synth_testing::controllers_dir();
  if (dir.empty()) GTEST_SKIP() << "no shared controllers in this checkout";
  int onnx_networks = 0;
  for (const Benchmark& b : load_benchmarks(dir + "/benchmarks.yaml")) {
    if (fs::path(b.model).extension() != ".onnx") continue;
    ++onnx_networks;
    const floatnet::FloatNetwork net = floatnet::read_network_file(b.model);
    for (const Method method : {Method::kLp, Method::kMilp}) {
      SCOPED_TRACE(b.name + " " + to_string(method));
      SynthesisOptions o;
      o.eps = b.error_bound;
      o.method = method;
      const SynthesisReport r = synthesize(net, b.box, o);
      ASSERT_EQ(r.status, SynthesisStatus::kCertified) << r.message;
      const double bound = r.certificate->bound;
      EXPECT_LE(bound, b.error_bound);
      std::mt19937_64 rng(11);
      double worst = 0.0;
      for (int k = 0; k < 2000; ++k) {
        std::vector<double> x;
        for (const Interval& iv : b.box.dims) x.push_back(std::uniform_real_distribution<double>(iv.lo, iv.hi)(rng));
        const std::vector<double> fixed = evaluate_fixed_real(*r.quantized, x);
        const std::vector<long double> exact = net.evaluate(std::vector<long double>(x.begin(), x.end()));
        for (size_t out = 0; out < fixed.size(); ++out)
          worst = std::max(worst, static_cast<double>(std::fabs(fixed[out] - exact[out])));
      }
      EXPECT_LE(worst, bound);
      EXPECT_GT(worst, 0.0); // the inputs are quantized: an error of exactly 0 means nothing was compared
    }
  }
  EXPECT_EQ(onnx_networks, 4);
}

} // namespace
} // namespace fxnn::synth
