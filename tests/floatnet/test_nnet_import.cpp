#include "fxnn/floatnet/nnet_import.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>

#include "../synth/synth_test_util.h"
#include "fxnn/floatnet/network_file.h"
#include "fxnn/synth/input_box.h"

namespace fxnn::floatnet {
namespace {

using synth_testing::kNormalizedNNet;

long double manual(double x0, double x1) {
  const long double a = (x0 - 0.5L) / 2.0L, b = (x1 - 0.25L) / 4.0L;
  const long double h0 = std::max(0.0L, 1.0L * a - 2.0L * b + 0.1L);
  const long double h1 = std::max(0.0L, 0.5L * a + 0.5L * b - 0.2L);
  const long double h2 = std::max(0.0L, -1.0L * a + 3.0L * b + 0.3L);
  return (1.0L * h0 - 1.0L * h1 + 2.0L * h2 + 0.25L) * 10.0L + 3.0L;
}

TEST(NNetImport, FoldsInputAndOutputNormalization) {
  NNetHeader header;
  const FloatNetwork net = parse_nnet(kNormalizedNNet, "mem.nnet", &header);
  ASSERT_EQ(net.layers.size(), 2u);
  EXPECT_EQ(net.inputs(), 2);
  EXPECT_EQ(net.outputs(), 1);
  EXPECT_EQ(net.layers[0].activation, Activation::kRelu);
  EXPECT_EQ(net.layers[1].activation, Activation::kLinear);
  EXPECT_TRUE(header.normalized);
  EXPECT_EQ(header.input_min, (std::vector<double>{-1.0, -1.0}));
  for (double x0 : {-1.0, -0.3, 0.0, 0.7, 1.0})
    for (double x1 : {-1.0, 0.2, 1.0})
      EXPECT_NEAR(static_cast<double>(net.evaluate(std::vector<long double>{x0, x1})[0]),
                  static_cast<double>(manual(x0, x1)), 1e-13);
}

TEST(NNetImport, PlaceholderHeaderLikeTheArchcompFileMeansNoNormalization) {
  // An extra layer size and single zeros for mins, maxes, means and ranges.
  const char* text =
      "2, 2, 1, 3 \n2, 3,1, 1 \n0\n0\n0\n0\n0\n1.0, 2.0 \n3.0, 4.0 \n5.0, 6.0 \n0.5 \n0.5 \n0.5 \n"
      "1.0, 1.0, 1.0,\n-1.0 \n";
  NNetHeader header;
  const FloatNetwork net = parse_nnet(text, "quirky.nnet", &header);
  EXPECT_FALSE(header.normalized);
  EXPECT_TRUE(header.input_min.empty());
  const long double y = net.evaluate(std::vector<long double>{1.0L, 1.0L})[0];
  EXPECT_EQ(static_cast<double>(y), (3.5 + 7.5 + 11.5) - 1.0);
}

void expect_error(const std::string& text, const std::string& fragment) {
  try {
    parse_nnet(text, "bad.nnet");
    FAIL() << "no error for: " << fragment;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line";
  }
}

TEST(NNetImport, MalformedFilesNameTheFileAndLine) {
  std::string text = kNormalizedNNet;
  expect_error(std::string(text).replace(text.find("0.5,0.5,"), 8, "0.5,"),
               "bad.nnet:11: layer 1 weight row 2: expected 2 values, found 1");
  expect_error(std::string(text).replace(text.find("-0.2,"), 5, "abc,"), "bad.nnet:14: 'abc' is not a finite number");
  expect_error(text.substr(0, text.find("0.25,\n")), "the file ends where layer 2 bias 1 was expected");
  expect_error(text + "7.0\n", "bad.nnet:18: unexpected values after the last layer's biases");
  expect_error(std::string(text).replace(text.find("2,3,1,"), 6, "3,3,1,"), "differs from numInputs");
  expect_error(std::string(text).replace(text.find("2.0,4.0,10.0"), 12, "0.0,4.0,10.0"), "range 1 is 0");
  expect_error("", "the file ends where the header");
}

TEST(NNetImport, UnknownExtensionIsAnError) { EXPECT_THROW(read_network_file("model.h5"), std::runtime_error); }

// The real files: the NNet and ONNX exports of one controller compute the same function.
TEST(NNetImport, RealControllersAgreeWithTheirOnnxExports) {
  const std::string dir = synth_testing::controllers_dir();
  if (dir.empty()) GTEST_SKIP() << "no shared controllers in this checkout";
  const FloatNetwork nnet = read_network_file(dir + "/SinglePendulumNN.nnet");
  const FloatNetwork onnx = read_network_file(dir + "/controller_single_pendulum.onnx");
  const FloatNetwork archcomp = read_network_file(dir + "/controller_single_pendulum_archcomp.nnet");
  const FloatNetwork acc = read_network_file(dir + "/ACC5NN.nnet");
  const FloatNetwork acc_onnx = read_network_file(dir + "/acc_controller_5_20.onnx");
  const FloatNetwork uni = read_network_file(dir + "/UnicycleNN.nnet");
  const FloatNetwork uni_onnx = read_network_file(dir + "/unicycle_controllerB.onnx");
  ASSERT_EQ(archcomp.layers.size(), 3u);
  ASSERT_EQ(uni_onnx.layers.size(), 2u);
  EXPECT_EQ(uni_onnx.layers[0].inputs(), 4);
  EXPECT_EQ(uni_onnx.layers[1].activation, Activation::kRelu); // the export ends with a Relu
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int k = 0; k < 200; ++k) {
    const std::vector<double> x{1.0 + 0.2 * u(rng), 0.2 * u(rng)};
    EXPECT_NEAR(nnet.evaluate(x)[0], onnx.evaluate(x)[0], 1e-6);
    EXPECT_NEAR(nnet.evaluate(x)[0], archcomp.evaluate(x)[0], 2e-3); // weights printed to 5 decimals
    const std::vector<double> a{20 + 10 * u(rng), 1.2 + 0.6 * u(rng), 30.5 * u(rng), 10 * u(rng), 30.5 * u(rng)};
    std::vector<double> a_minus_one = a;
    for (double& v : a_minus_one) v -= 1.0;
    EXPECT_NEAR(acc_onnx.evaluate(a)[0], acc.evaluate(a_minus_one)[0],
                1e-4 * (1 + std::fabs(acc.evaluate(a_minus_one)[0])));
    const std::vector<double> v{-0.6 + 10 * u(rng), -4.5 + 4.7 * u(rng), 2 * u(rng), 1.8 * u(rng) - 0.3};
    const std::vector<double> y = uni.evaluate(v), y_onnx = uni_onnx.evaluate(v);
    for (size_t o = 0; o < 2; ++o) EXPECT_NEAR(std::max(0.0, y[o]), y_onnx[o], 1e-5);
  }
}

} // namespace
} // namespace fxnn::floatnet
