// The ONNX graphs of both flavors (docs/onnx.md): their operators, constants, types and names on
// small networks, and the refusal of nodes that ONNX arithmetic would not reproduce exactly. The
// values the graphs compute are checked by ONNX Runtime (check_qdq_with_onnxruntime.js) and by a numpy
// evaluation of the QONNX semantics (check_onnx_models.py), both against the integer runtime.

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "../support/temp_dir.h"
#include "fxnn/io/atomic_file.h"
#include "fxnn/ir/network_files.h"
#include "fxnn/onnx_export/onnx_export.h"
#include "fxnn/onnx_export/onnx_export_run.h"
#include "sample_networks.h"

namespace fxnn::onnx_export {
namespace {

using testing_support::TempDir;
namespace fs = std::filesystem;

onnx::ModelProto parse(const OnnxModel& model) {
  onnx::ModelProto proto;
  EXPECT_TRUE(proto.ParseFromString(model.bytes));
  return proto;
}

const onnx::NodeProto& producer(const onnx::ModelProto& m, const std::string& tensor) {
  for (const auto& n : m.graph().node())
    if (n.output(0) == tensor) return n;
  throw std::runtime_error("no node writes " + tensor);
}

const onnx::TensorProto& initializer(const onnx::ModelProto& m, const std::string& name) {
  for (const auto& t : m.graph().initializer())
    if (t.name() == name) return t;
  throw std::runtime_error("no initializer " + name);
}

std::vector<double> doubles(const onnx::TensorProto& t) {
  std::vector<double> v(t.raw_data().size() / sizeof(double));
  std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
  return v;
}

std::vector<float> floats(const onnx::TensorProto& t) {
  std::vector<float> v(t.raw_data().size() / sizeof(float));
  std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
  return v;
}

std::map<std::string, int> op_counts(const onnx::ModelProto& m) {
  std::map<std::string, int> counts;
  for (const auto& n : m.graph().node()) ++counts[n.op_type()];
  return counts;
}

std::string attribute_s(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.s();
  return "";
}

int64_t attribute_i(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.i();
  return -1;
}

int elem_type(const onnx::ValueInfoProto& v) { return v.type().tensor_type().elem_type(); }

TEST(OnnxExportQdq, EightBitCnnMapsEveryNodeToStandardOperators) {
  const ir::Network net = onnx_testing::cnn_8bit();
  const OnnxModel model = export_onnx(net, OnnxFlavor::kQdq);
  EXPECT_TRUE(model.inexact.empty()) << model.inexact.front().line();
  const onnx::ModelProto m = parse(model);
  ASSERT_EQ(m.opset_import_size(), 1);
  EXPECT_EQ(m.opset_import(0).version(), 17);
  EXPECT_EQ(m.ir_version(), 8);
  auto ops = op_counts(m);
  EXPECT_EQ(ops["Conv"], 1);
  EXPECT_EQ(ops["Gemm"], 1);
  EXPECT_EQ(ops["MaxPool"], 1);
  EXPECT_EQ(ops["Flatten"], 1);
  EXPECT_EQ(ops["Floor"], 3); // rescale, conv1, fc: every shift > 0
  EXPECT_EQ(ops["Clip"], 3);
  // u8 input, u8.4 conv1, pool1 and flat pass through QuantizeLinear/DequantizeLinear (uint8, scale 1).
  EXPECT_EQ(ops["QuantizeLinear"], 4);
  EXPECT_EQ(producer(m, "conv1").op_type(), "DequantizeLinear");
  EXPECT_EQ(initializer(m, producer(m, "conv1/q").input(2)).data_type(), onnx::TensorProto_DataType_UINT8);
  // 8-bit weights: int8 initializers and DequantizeLinear.
  const onnx::TensorProto& w = initializer(m, "conv1/weight");
  EXPECT_EQ(w.data_type(), onnx::TensorProto_DataType_INT8);
  EXPECT_EQ(std::vector<int64_t>(w.dims().begin(), w.dims().end()), (std::vector<int64_t>{4, 2, 3, 3}));
  EXPECT_EQ(producer(m, "conv1/weight_float").op_type(), "DequantizeLinear");
  // The rescale's multiplier 2^-shift and (offset + 2^(shift-1)) 2^-shift, per channel, in double.
  const auto mult = doubles(initializer(m, "scale/multiplier"));
  EXPECT_EQ(mult, (std::vector<double>{517.0 / 64, -389.0 / 64}));
  EXPECT_EQ(doubles(initializer(m, "scale/offset")), (std::vector<double>{(-40000.0 + 32) / 64, (12345.0 + 32) / 64}));
  EXPECT_EQ(initializer(m, "scale/offset").dims_size(), 3); // [C, 1, 1] broadcasts over [N, C, H, W]
  // The clip of conv1 at 200, the floor of fc without a rounding constant and without a multiplier.
  EXPECT_EQ(doubles(initializer(m, producer(m, "conv1/clamped").input(2))), std::vector<double>{200});
  EXPECT_EQ(producer(m, "fc/scaled").op_type(), "Mul");
  EXPECT_THROW(initializer(m, "fc/offset"), std::runtime_error); // 0 + no rounding constant: no Add
  ASSERT_EQ(m.graph().input_size(), 1);
  EXPECT_EQ(m.graph().input(0).name(), "input");
  EXPECT_EQ(elem_type(m.graph().input(0)), onnx::TensorProto_DataType_FLOAT);
  EXPECT_EQ(m.graph().input(0).type().tensor_type().shape().dim(0).dim_param(), "N");
  ASSERT_EQ(m.graph().output_size(), 1);
  EXPECT_EQ(m.graph().output(0).name(), "fc");
  EXPECT_EQ(elem_type(m.graph().output(0)), onnx::TensorProto_DataType_FLOAT);
}

TEST(OnnxExportQdq, SixteenBitNetworkUsesCastForInt16AndDoubleForWideLogits) {
  const OnnxModel model = export_onnx(onnx_testing::residual_16bit(), OnnxFlavor::kQdq);
  EXPECT_TRUE(model.inexact.empty()) << model.inexact.front().line();
  const onnx::ModelProto m = parse(model);
  EXPECT_EQ(initializer(m, "logits/weight").data_type(), onnx::TensorProto_DataType_INT16);
  EXPECT_EQ(producer(m, "logits/weight_float").op_type(), "Cast"); // DequantizeLinear takes int16 from opset 21
  EXPECT_EQ(initializer(m, "branch_a/weight").data_type(), onnx::TensorProto_DataType_INT8);
  // The 16-bit input is float32 (its codes fit 2^24); the 40-bit logits are double.
  EXPECT_EQ(elem_type(m.graph().input(0)), onnx::TensorProto_DataType_FLOAT);
  EXPECT_EQ(elem_type(m.graph().output(0)), onnx::TensorProto_DataType_DOUBLE);
  EXPECT_EQ(producer(m, "logits").op_type(), "Clip");
  EXPECT_THROW(producer(m, "logits/rounded"), std::runtime_error); // shift 0: nothing to round
  // The average pool's window sum is a depthwise convolution of ones; the add aligns branch_a (F = 4) to F = 9.
  const onnx::NodeProto& window = producer(m, "avg/acc");
  EXPECT_EQ(window.op_type(), "Conv");
  EXPECT_EQ(attribute_i(window, "group"), 3);
  EXPECT_EQ(doubles(initializer(m, producer(m, "sum/a").input(1))), std::vector<double>{32});
}

TEST(OnnxExportQdq, TiesRoundTowardPlusInfinityThroughFloorOfHalfUp) {
  const onnx::ModelProto m = parse(export_onnx(onnx_testing::ties(), OnnxFlavor::kQdq));
  EXPECT_EQ(doubles(initializer(m, "quarter/multiplier")), std::vector<double>{0.25});
  EXPECT_EQ(doubles(initializer(m, "quarter/offset")), std::vector<double>{0.5}); // floor(x/4 + 1/2)
  EXPECT_EQ(producer(m, "quarter/rounded").op_type(), "Floor");
  EXPECT_THROW(initializer(m, "half/offset"), std::runtime_error); // floor: no half step
}

TEST(OnnxExportQdq, AccumulatorBeyondFloat32IsListedAsInexact) {
  const OnnxModel model = export_onnx(onnx_testing::wide_accumulator(), OnnxFlavor::kQdq);
  ASSERT_EQ(model.inexact.size(), 1u);
  EXPECT_EQ(model.inexact[0].node, "fc_wide");
  EXPECT_NE(model.inexact[0].reason.find("68719476736 exceeds 2^24"), std::string::npos) << model.inexact[0].reason;
  // The QONNX graph is exact in real arithmetic, and the double evaluation stays under 2^53.
  EXPECT_TRUE(export_onnx(onnx_testing::wide_accumulator(), OnnxFlavor::kQonnx).inexact.empty());
}

TEST(OnnxExportQdq, RequantizationBeyondDoubleIsListedAsInexact) {
  ir::Network net = onnx_testing::wide_accumulator();
  net.nodes[0].requantize->multiplier = {int64_t{1} << 20};
  net.nodes[0].requantize->shift = 35;
  const OnnxModel model = export_onnx(net, OnnxFlavor::kQdq);
  ASSERT_EQ(model.inexact.size(), 2u);
  EXPECT_NE(model.inexact[1].reason.find("beyond 2^53"), std::string::npos) << model.inexact[1].reason;
  EXPECT_EQ(export_onnx(net, OnnxFlavor::kQonnx).inexact.size(), 1u);
}

TEST(OnnxExportQonnx, QuantNodesCarryTheFormatsAndTruncDropsBits) {
  const OnnxModel model = export_onnx(onnx_testing::cnn_8bit(), OnnxFlavor::kQonnx);
  EXPECT_TRUE(model.inexact.empty()) << model.inexact.front().line();
  const onnx::ModelProto m = parse(model);
  ASSERT_EQ(m.opset_import_size(), 2);
  EXPECT_EQ(m.opset_import(0).version(), 13);
  EXPECT_EQ(m.opset_import(1).domain(), "qonnx.custom_op.general");
  EXPECT_EQ(m.opset_import(1).version(), 2);
  auto ops = op_counts(m);
  EXPECT_EQ(ops["Quant"], 5); // input, two weights, scale, conv1
  EXPECT_EQ(ops["Trunc"], 1); // fc: multiplier 1, offset 0, shift = F_acc - F_out
  for (const auto& n : m.graph().node())
    if (n.op_type() == "Quant" || n.op_type() == "Trunc") EXPECT_EQ(n.domain(), "qonnx.custom_op.general");
  // conv1: u8.4 (scale 2^-4, 8 bits, unsigned), FLOOR after the half step; the clip at 200 is a Clip.
  const onnx::NodeProto& q = producer(m, "conv1");
  EXPECT_EQ(q.op_type(), "Quant");
  EXPECT_EQ(floats(initializer(m, q.input(1))), std::vector<float>{0.0625f});
  EXPECT_EQ(floats(initializer(m, q.input(3))), std::vector<float>{8});
  EXPECT_EQ(attribute_i(q, "signed"), 0);
  EXPECT_EQ(attribute_s(q, "rounding_mode"), "FLOOR");
  EXPECT_EQ(producer(m, q.input(0)).op_type(), "Clip");
  EXPECT_EQ(floats(initializer(m, producer(m, q.input(0)).input(2))), std::vector<float>{12.5f});
  // Offsets of up to 29 significant bits are added as two float32 parts.
  EXPECT_EQ(producer(m, "conv1/shifted_1").op_type(), "Add");
  // Weights: real values of an s8.7 grid, Quant ROUND (the identity on them).
  const onnx::NodeProto& wq = producer(m, "conv1/weight_quant");
  EXPECT_EQ(attribute_s(wq, "rounding_mode"), "ROUND");
  EXPECT_EQ(floats(initializer(m, wq.input(1))), std::vector<float>{1.0f / 128});
  const onnx::NodeProto& trunc = producer(m, "fc");
  EXPECT_EQ(trunc.op_type(), "Trunc");
  ASSERT_EQ(trunc.input_size(), 6); // x, scale, zeropt, in_bitwidth, out_scale, out_bitwidth
  EXPECT_EQ(floats(initializer(m, trunc.input(1))), std::vector<float>{1.0f / 1024}); // acc: F = 4 + 6
  EXPECT_EQ(floats(initializer(m, trunc.input(4))), std::vector<float>{1.0f / 256});  // s20.8
  EXPECT_EQ(attribute_s(trunc, "rounding_mode"), "FLOOR");
  EXPECT_EQ(m.graph().output(0).name(), "fc");
}

TEST(OnnxExportQonnx, NearestTruncAddsHalfAStepAndAveragePoolFoldsTheWindow) {
  const OnnxModel model = export_onnx(onnx_testing::residual_16bit(), OnnxFlavor::kQonnx);
  EXPECT_TRUE(model.inexact.empty()) << model.inexact.front().line();
  const onnx::ModelProto m = parse(model);
  const onnx::NodeProto& trunc = producer(m, "branch_a");
  EXPECT_EQ(trunc.op_type(), "Trunc");
  const onnx::NodeProto& half = producer(m, trunc.input(0));
  EXPECT_EQ(half.op_type(), "Add");
  EXPECT_EQ(floats(initializer(m, half.input(1))),
            std::vector<float>{std::ldexp(1.0f, 7 - 12)}); // 2^(shift-1) 2^-F_acc
  EXPECT_EQ(producer(m, "sum").op_type(), "Trunc");
  EXPECT_EQ(producer(m, "avg/mean").op_type(), "AveragePool");
  // avg: multiplier 1 * kernel^2 * 2^(3 - 2 - 3) = 1 (no Mul), offset (0 + 2) 2^(-2 - 3).
  EXPECT_EQ(producer(m, "avg/shifted").input(0), "avg/mean");
  EXPECT_EQ(floats(initializer(m, "avg/offset")), std::vector<float>{1.0f / 16});
}

TEST(OnnxExportRun, InexactNetworkIsRefusedWithOneLineAndNothingWritten) {
  TempDir tmp;
  ir::save_network(onnx_testing::wide_accumulator(), tmp / "wide");
  OnnxExportRunOptions o;
  o.model = tmp / "wide";
  o.out = tmp / "wide.onnx";
  try {
    run_onnx_export(o);
    FAIL() << "an inexact network was written";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos);
    EXPECT_EQ(what.rfind("node 'fc_wide': the worst-case |acc| 68719476736 exceeds 2^24", 0), 0u) << what;
    EXPECT_NE(what.find("--accept-inexact"), std::string::npos) << what;
  }
  EXPECT_FALSE(fs::exists(o.out));
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.str()), fs::directory_iterator{}), 1); // only the folder
  o.accept_inexact = true;
  const OnnxExportRunReport report = run_onnx_export(o);
  EXPECT_TRUE(fs::exists(o.out));
  ASSERT_EQ(report.inexact.size(), 1u);
  EXPECT_NE(report.summary().find("inexact (written with --accept-inexact): node 'fc_wide'"), std::string::npos);
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(read_file(o.out)));
  bool listed = false;
  for (const auto& p : m.metadata_props()) listed |= p.key() == "fxnn.inexact";
  EXPECT_TRUE(listed);
}

TEST(OnnxExportRun, BadOptionsAreOneLine) {
  TempDir tmp;
  ir::save_network(onnx_testing::ties(), tmp / "net");
  OnnxExportRunOptions o;
  o.model = tmp / "net";
  o.out = tmp / "net.onnx";
  o.flavor = "tflite";
  EXPECT_THROW(
      {
        try {
          run_onnx_export(o);
        } catch (const std::invalid_argument& e) {
          EXPECT_STREQ(e.what(), "--flavor: 'tflite' is not a flavor (expected qdq or qonnx)");
          throw;
        }
      },
      std::invalid_argument);
  o.flavor = "qonnx";
  o.out = tmp.str();
  EXPECT_THROW(run_onnx_export(o), std::invalid_argument); // a folder
  o.out = tmp / "net.onnx";
  EXPECT_EQ(run_onnx_export(o).inexact.size(), 0u);
  EXPECT_TRUE(fs::exists(o.out));
}

} // namespace
} // namespace fxnn::onnx_export
