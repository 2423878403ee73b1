// C and HLS code of fixed-point networks (codegen/network_codegen.h): for networks with every op,
// per-channel and per-tensor requantization, nearest and floor, positive, zero and negative shifts,
// clamps narrower than the format, weights of every integer type and 32- and 64-bit accumulators,
// the compiled C (with UBSan) and the compiled HLS code (with the ap_fixed emulation) give exactly
// the output codes of the runtime's reference kernels; the C has no floating-point instruction.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <random>
#include <regex>
#include <sstream>

#include "../support/float_free.h"
#include "../support/run_command.h"
#include "../support/temp_dir.h"
#include "fxnn/codegen/network_codegen.h"
#include "fxnn/io/atomic_file.h"
#include "fxnn/ir/worst_case.h"
#include "fxnn/runtime/codes.h"
#include "fxnn/runtime/engine.h"

namespace fxnn::codegen {
namespace {

using testing_support::run_command;
using testing_support::TempDir;

/// How a node requantizes (eq. (3)); the shift is calibrated on sample inputs so that the outputs
/// fill the output format and saturate at times.
struct Rq {
  bool per_channel_multiplier = true;
  bool per_channel_offset = true;
  int multiplier_bits = 14; // 0: multiplier 1 (a layer without batch norm)
  Rounding rounding = Rounding::kNearest;
  enum Clamp { kFormat, kRelu, kClip } clamp = kFormat;
  int shift_bias = 0;
};

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

int bit_length(unsigned __int128 v) {
  int b = 0;
  for (; v > 0; v >>= 1) ++b;
  return b;
}

class Builder {
 public:
  Builder(uint64_t seed, std::vector<int64_t> shape, Format format) : rng_(seed) {
    net_.name = "test";
    net_.source = "tests/codegen/test_network_codegen.cpp";
    net_.input_shape = std::move(shape);
    net_.input_format = format;
    probe_ = inputs(24);
  }

  std::string rescale(const std::string& in, const Format& out, Rq rq) {
    ir::Node n = base(ir::OpKind::kRescale, in, out, net_.shape_of(in));
    return finish(n, rq);
  }
  std::string conv(const std::string& in, int64_t co, int64_t k, int64_t s, int64_t p, const Format& w,
                   const Format& out, Rq rq) {
    const auto sh = net_.shape_of(in);
    ir::Node n = base(ir::OpKind::kConv2d, in, out, {co, (sh[1] + 2 * p - k) / s + 1, (sh[2] + 2 * p - k) / s + 1});
    n.kernel = k;
    n.stride = s;
    n.padding = p;
    n.weight = weights({co, sh[0], k, k}, w);
    return finish(n, rq);
  }
  std::string dense(const std::string& in, int64_t outputs, const Format& w, const Format& out, Rq rq) {
    ir::Node n = base(ir::OpKind::kDense, in, out, {outputs});
    n.weight = weights({outputs, net_.shape_of(in)[0]}, w);
    return finish(n, rq);
  }
  std::string maxpool(const std::string& in, int64_t k, int64_t s) {
    const auto sh = net_.shape_of(in);
    ir::Node n = base(ir::OpKind::kMaxPool, in, net_.format_of(in), {sh[0], (sh[1] - k) / s + 1, (sh[2] - k) / s + 1});
    n.kernel = k;
    n.stride = s;
    net_.nodes.push_back(n);
    return n.name;
  }
  std::string avgpool(const std::string& in, int64_t k, int64_t s, const Format& out, Rq rq) {
    const auto sh = net_.shape_of(in);
    ir::Node n = base(ir::OpKind::kAvgPool, in, out, {sh[0], (sh[1] - k) / s + 1, (sh[2] - k) / s + 1});
    n.kernel = k;
    n.stride = s;
    return finish(n, rq);
  }
  std::string add(const std::string& a, const std::string& b, const Format& out, Rq rq) {
    ir::Node n = base(ir::OpKind::kAdd, a, out, net_.shape_of(a));
    n.inputs = {a, b};
    return finish(n, rq);
  }
  std::string flatten(const std::string& in) {
    ir::Node n = base(ir::OpKind::kFlatten, in, net_.format_of(in), {count(net_.shape_of(in))});
    net_.nodes.push_back(n);
    return n.name;
  }

  ir::Network build(const std::string& output) {
    net_.output = output;
    net_.validate();
    return net_;
  }

  /// Random codes of the input format, the first three samples all minimum, all maximum, alternating.
  std::vector<std::vector<int64_t>> inputs(int count_samples) {
    const Format& f = net_.input_format;
    const int64_t n = count(net_.input_shape);
    std::vector<std::vector<int64_t>> xs;
    for (int k = 0; k < count_samples; ++k) {
      std::vector<int64_t> x(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        if (k == 0)
          x[static_cast<size_t>(i)] = f.code_min();
        else if (k == 1)
          x[static_cast<size_t>(i)] = f.code_max();
        else if (k == 2)
          x[static_cast<size_t>(i)] = i % 2 ? f.code_max() : f.code_min();
        else
          x[static_cast<size_t>(i)] = std::uniform_int_distribution<int64_t>(f.code_min(), f.code_max())(rng_);
      }
      xs.push_back(x);
    }
    return xs;
  }

  static int64_t count(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }

 private:
  ir::Node base(ir::OpKind op, const std::string& in, const Format& out, std::vector<int64_t> shape) {
    ir::Node n;
    n.name = ir::to_string(op) + std::to_string(net_.nodes.size());
    n.op = op;
    n.inputs = {in};
    n.output_format = out;
    n.output_shape = std::move(shape);
    return n;
  }

  ir::IntTensor weights(std::vector<int64_t> shape, const Format& f) {
    ir::IntTensor t;
    t.shape = std::move(shape);
    t.format = f;
    for (int64_t i = 0; i < t.numel(); ++i) {
      const int pick = std::uniform_int_distribution<int>(0, 9)(rng_);
      t.data.push_back(pick == 0   ? f.code_min()
                       : pick == 1 ? f.code_max()
                                   : std::uniform_int_distribution<int64_t>(f.code_min(), f.code_max())(rng_));
    }
    return t;
  }

  std::vector<Format> input_formats(const ir::Node& n) const {
    std::vector<Format> f;
    for (const auto& in : n.inputs) f.push_back(net_.format_of(in));
    return f;
  }

  /// max |acc| of the node on the probe inputs: the node with multiplier 1, offset 0, shift 0 and a
  /// 62-bit output, evaluated by the reference kernels.
  uint64_t measured_acc(ir::Node n) {
    ir::Requantize r;
    r.multiplier = {1};
    r.offset = {0};
    r.clamp_min = -(int64_t{1} << 61);
    r.clamp_max = (int64_t{1} << 61) - 1;
    n.requantize = r;
    n.output_format = Format(62, 0, true);
    ir::Network probe = net_;
    probe.nodes.push_back(n);
    probe.output = n.name;
    runtime::Engine engine(probe, runtime::EngineOptions().with_reference(true));
    std::vector<int64_t> flat;
    for (const auto& x : probe_) flat.insert(flat.end(), x.begin(), x.end());
    std::vector<int64_t> shape{static_cast<int64_t>(probe_.size())};
    shape.insert(shape.end(), net_.input_shape.begin(), net_.input_shape.end());
    uint64_t m = 1;
    for (int64_t v : engine.run(runtime::Codes::from_values(net_.input_format, shape, flat.data())).to_int64())
      m = std::max<uint64_t>(m, v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v));
    return m;
  }

  std::string finish(ir::Node n, const Rq& rq) {
    n.requantize = ir::Requantize{{1}, 0, {0}, 0, rq.rounding, 0, 0};
    const ir::WorstCase worst = ir::worst_case_accumulator(n, input_formats(n));
    n.accumulator_bits = worst.fits(32) ? 32 : 64;
    const uint64_t acc = measured_acc(n);
    const int64_t channels = n.output_shape[0];
    ir::Requantize r;
    r.rounding = rq.rounding;
    const int mb = std::min(rq.multiplier_bits, 61 - bit_length(worst.max()));
    r.multiplier_frac = std::max(0, mb);
    for (int64_t c = 0; c < (rq.per_channel_multiplier ? channels : 1); ++c)
      r.multiplier.push_back(
          mb <= 1 ? 1
                  : std::uniform_int_distribution<int64_t>(int64_t{1} << (mb - 1), (int64_t{1} << mb) - 1)(rng_) *
                        (c % 4 == 3 ? -1 : 1));
    const unsigned __int128 typical = static_cast<unsigned __int128>(acc) << std::max(mb, 0);
    const int out_bits = n.output_format.bits - (n.output_format.is_signed ? 1 : 0);
    r.shift = std::clamp(bit_length(typical) - out_bits + rq.shift_bias, -ir::kMaxShift, ir::kMaxShift);
    const int64_t spread = static_cast<int64_t>(std::min<unsigned __int128>(typical / 4, int64_t{1} << 40));
    for (int64_t c = 0; c < (rq.per_channel_offset ? channels : 1); ++c)
      r.offset.push_back(std::uniform_int_distribution<int64_t>(-spread, spread)(rng_));
    const Format& f = n.output_format;
    r.clamp_min = rq.clamp == Rq::kFormat ? f.code_min() : 0;
    r.clamp_max = rq.clamp == Rq::kClip ? f.code_max() / 3 : f.code_max();
    // A left shift must not overflow at the worst case (validate() checks it): shift less.
    const auto overflows = [&] {
      for (int64_t c = 0; c < channels; ++c)
        if (!ir::requantize_overflow(r, c, worst.channel(c)).empty()) return true;
      return false;
    };
    while (overflows() && r.shift < ir::kMaxShift) ++r.shift;
    n.requantize = r;
    net_.nodes.push_back(n);
    return n.name;
  }

  std::mt19937_64 rng_;
  ir::Network net_;
  std::vector<std::vector<int64_t>> probe_;
};

/// The networks: every op, requantization variant and integer type.
struct Case {
  std::string name;
  ir::Network network;
  std::vector<std::vector<int64_t>> inputs;
};

Case cnn() {
  Builder b(1, {2, 9, 8}, Format(8, 0, false));
  const std::string scale = b.rescale("input", Format(12, 9, true), Rq{});
  Rq floor_relu;
  floor_relu.rounding = Rounding::kFloor;
  floor_relu.multiplier_bits = 12;
  floor_relu.clamp = Rq::kRelu;
  const std::string conv1 = b.conv(scale, 5, 3, 1, 1, Format(8, 7, true), Format(8, 6, false), floor_relu);
  const std::string pool1 = b.maxpool(conv1, 2, 2);
  Rq unit;
  unit.per_channel_multiplier = unit.per_channel_offset = false;
  unit.multiplier_bits = 0;
  const std::string conv2 = b.conv(pool1, 4, 2, 2, 1, Format(24, 20, true), Format(16, 10, true), unit);
  Rq avg_rq;
  avg_rq.rounding = Rounding::kFloor;
  avg_rq.multiplier_bits = 10;
  avg_rq.per_channel_offset = false;
  const std::string avg = b.avgpool(conv2, 2, 1, Format(10, 6, true), avg_rq);
  Rq wide;
  wide.per_channel_multiplier = false;
  wide.multiplier_bits = 3;
  const std::string side = b.rescale(avg, Format(40, 2, true), wide); // a negative shift
  Rq clip;
  clip.multiplier_bits = 8;
  clip.clamp = Rq::kClip;
  const std::string sum = b.add(avg, side, Format(8, 4, false), clip);
  const std::string flat = b.flatten(sum);
  Rq fc_rq;
  fc_rq.per_channel_multiplier = fc_rq.per_channel_offset = false;
  fc_rq.multiplier_bits = 6;
  const std::string fc = b.dense(flat, 7, Format(3, 2, true), Format(32, 8, true), fc_rq);
  b.rescale(flat, Format(8, 0, true), Rq{}); // evaluated by the runtime, not needed by the output
  Case c{"cnn", b.build(fc), {}};
  c.inputs = b.inputs(40);
  return c;
}

Case wide() {
  Builder b(2, {6}, Format(40, 20, true));
  Rq unit_floor;
  unit_floor.multiplier_bits = 0;
  unit_floor.rounding = Rounding::kFloor;
  const std::string d1 = b.dense("input", 5, Format(20, 18, true), Format(24, 10, true), unit_floor);
  Rq small;
  small.per_channel_multiplier = false;
  small.multiplier_bits = 2;
  const std::string d2 = b.dense(d1, 4, Format(8, 0, false), Format(48, 20, true), small);
  Case c{"wide", b.build(d2), {}};
  c.inputs = b.inputs(40);
  return c;
}

Case narrow() {
  Builder b(3, {4}, Format(3, 1, true));
  Rq rq;
  rq.per_channel_multiplier = rq.per_channel_offset = false;
  rq.multiplier_bits = 0;
  rq.rounding = Rounding::kFloor;
  const std::string d = b.dense("input", 3, Format(2, 0, true), Format(2, 0, true), rq);
  Case c{"narrow", b.build(d), {}};
  c.inputs = b.inputs(60);
  return c;
}

Case weight_types() {
  Builder b(4, {5}, Format(16, 0, false));
  Rq rq;
  rq.multiplier_bits = 4;
  const std::string w8 = b.dense("input", 6, Format(8, 7, true), Format(16, 8, true), rq);
  const std::string w16 = b.dense(w8, 6, Format(16, 10, true), Format(16, 4, true), rq);
  const std::string w32 = b.dense(w16, 5, Format(30, 20, true), Format(20, 2, true), rq);
  const std::string w64 = b.dense(w32, 4, Format(36, 30, true), Format(12, 0, true), rq);
  const std::string wu8 = b.dense(w64, 4, Format(8, 3, false), Format(16, 0, true), rq);
  const std::string wu16 = b.dense(wu8, 3, Format(16, 0, false), Format(8, 0, true), rq);
  Case c{"weights", b.build(wu16), {}};
  c.inputs = b.inputs(40);
  return c;
}

Case residual() {
  Builder b(5, {3, 5, 5}, Format(8, 3, true));
  Rq rq;
  rq.per_channel_offset = false;
  const std::string conv = b.conv("input", 3, 1, 1, 0, Format(6, 5, true), Format(8, 3, true), rq);
  Rq relu;
  relu.per_channel_multiplier = false;
  relu.multiplier_bits = 0;
  relu.clamp = Rq::kRelu;
  relu.shift_bias = 2; // a shift of 2, rounding to nearest: a quarter of the outputs are ties
  const std::string sum = b.add(conv, "input", Format(9, 3, true), relu);
  const std::string pool = b.maxpool(sum, 3, 2);
  Case c{"residual", b.build(pool), {}};
  c.inputs = b.inputs(40);
  return c;
}

/// Weights of 60 bits (int64_t; HLS constants beyond a double's 53 bits) on a 1-bit unsigned input.
Case huge() {
  Builder b(7, {2}, Format(1, 0, false));
  Rq rq;
  rq.per_channel_offset = false;
  const std::string d = b.dense("input", 3, Format(60, 50, true), Format(40, 10, true), rq);
  Case c{"huge", b.build(d), {}};
  c.inputs = b.inputs(8);
  return c;
}

Case pool_flatten() {
  Builder b(6, {2, 4, 4}, Format(8, 0, false));
  const std::string pool = b.maxpool("input", 2, 2);
  const std::string flat = b.flatten(pool);
  Case c{"pool_flatten", b.build(flat), {}};
  c.inputs = b.inputs(20);
  return c;
}

std::vector<std::vector<int64_t>> reference_outputs(const ir::Network& net,
                                                    const std::vector<std::vector<int64_t>>& xs) {
  runtime::Engine engine(net, runtime::EngineOptions().with_reference(true));
  std::vector<int64_t> flat;
  for (const auto& x : xs) flat.insert(flat.end(), x.begin(), x.end());
  std::vector<int64_t> shape{static_cast<int64_t>(xs.size())};
  shape.insert(shape.end(), net.input_shape.begin(), net.input_shape.end());
  const auto y = engine.run(runtime::Codes::from_values(net.input_format, shape, flat.data())).to_int64();
  const size_t m = y.size() / xs.size();
  std::vector<std::vector<int64_t>> out;
  for (size_t k = 0; k < xs.size(); ++k)
    out.emplace_back(y.begin() + static_cast<long>(k * m), y.begin() + static_cast<long>((k + 1) * m));
  return out;
}

std::string text_of(const std::vector<std::vector<int64_t>>& xs) {
  std::ostringstream s;
  for (const auto& x : xs) {
    for (int64_t v : x) s << v << ' ';
    s << '\n';
  }
  return s.str();
}

std::vector<int64_t> numbers(const std::string& text) {
  std::istringstream in(text);
  std::vector<int64_t> v;
  long long x;
  while (in >> x) v.push_back(x);
  return v;
}

/// Every output code of `got` (one sample after another) equals the reference's.
void expect_codes(const std::vector<std::vector<int64_t>>& want, const std::vector<int64_t>& got,
                  const std::string& what) {
  size_t total = 0;
  for (const auto& w : want) total += w.size();
  ASSERT_EQ(got.size(), total) << what;
  int64_t mismatches = 0;
  size_t at = 0;
  std::string first;
  for (size_t k = 0; k < want.size(); ++k)
    for (size_t i = 0; i < want[k].size(); ++i, ++at)
      if (got[at] != want[k][i] && mismatches++ == 0)
        first = "sample " + std::to_string(k) + " output " + std::to_string(i) + ": " + std::to_string(got[at]) +
                " vs " + std::to_string(want[k][i]);
  EXPECT_EQ(mismatches, 0) << what << ": first mismatch " << first;
}

struct Maker {
  const char* name;
  Case (*make)();
};

class NetworkCodegen : public ::testing::TestWithParam<Maker> {};

TEST_P(NetworkCodegen, CompiledCEqualsTheReferenceKernels) {
  const Case c = GetParam().make();
  const std::string n = "net_" + c.name;
  const GeneratedCode code =
      generate_network_c(c.network, NetworkCodegenOptions().with_name(n).with_provenance({"a test"}));
  TempDir dir;
  write_code_folder(dir / "c", {{n + ".h", code.header}, {n + ".c", code.source}}, ExistingOutput::kRefuse);

  // Nothing but <stdint.h>; no floating point in the text, nor in the assembly, nor with general registers only.
  for (const std::string& text : {code.header, code.source}) {
    EXPECT_TRUE(testing_support::float_words(text).empty()) << c.name;
    static const std::regex kInclude("#include ([<\"][^>\"]*[>\"])");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), kInclude); it != std::sregex_iterator(); ++it)
      EXPECT_TRUE((*it)[1] == "<stdint.h>" || (*it)[1] == "\"" + n + ".h\"") << (*it)[1];
  }
  for (const auto& line : testing_support::float_instructions(dir / ("c/" + n + ".c"), dir / "c", {}, dir.str()))
    ADD_FAILURE() << c.name << ": floating-point instruction " << line;
#if defined(__x86_64__)
  const auto general =
      run_command("cc -std=c99 -O2 -mgeneral-regs-only -c -o " + dir / "g.o " + dir / ("c/" + n + ".c"), dir.str());
  EXPECT_EQ(general.exit_code, 0) << general.err;
#endif

  // Even samples through NAME (static work area), odd ones through NAME_with_work.
  std::ostringstream main;
  main << "#include <stdio.h>\n#include \"" << n << ".h\"\n"
       << "typedef char work_size_stated[sizeof(" << n << "_work_t) - " << upper(n) << "_WORK_BYTES <= 7 ? 1 : -1];\n"
       << "int main(void) {\n"
       << "  static " << n << "_input_t x[" << upper(n) << "_INPUT_SIZE];\n"
       << "  static " << n << "_output_t y[" << upper(n) << "_OUTPUT_SIZE];\n"
       << "  static " << n << "_work_t work;\n"
       << "  long k, i;\n"
       << "  for (k = 0;; ++k) {\n"
       << "    for (i = 0; i < " << upper(n) << "_INPUT_SIZE; ++i) {\n"
       << "      long long v;\n"
       << "      if (scanf(\"%lld\", &v) != 1) return 0;\n"
       << "      x[i] = (" << n << "_input_t)v;\n"
       << "    }\n"
       << "    if (k % 2) " << n << "_with_work(x, y, &work); else " << n << "(x, y);\n"
       << "    for (i = 0; i < " << upper(n) << "_OUTPUT_SIZE; ++i) printf(\"%lld\\n\", (long long)y[i]);\n"
       << "  }\n}\n";
  write_file_atomic(dir / "main.c", main.str());
  write_file_atomic(dir / "x.txt", text_of(c.inputs));
  const auto build =
      run_command("cc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -fsanitize=undefined -fno-sanitize-recover=all -I" +
                      dir / "c -o " + dir / "main " + dir / "main.c " + dir / ("c/" + n + ".c"),
                  dir.str());
  ASSERT_EQ(build.exit_code, 0) << build.err;
  const auto r = run_command(dir / "main < " + dir / "x.txt", dir.str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err; // no sanitizer report
  const auto want = reference_outputs(c.network, c.inputs);
  expect_codes(want, numbers(r.out), c.name + " C");

  // The outputs are not all at the clamps: the test exercises the requantization.
  const ir::Node& out = c.network.node(c.network.output);
  if (out.requantize) {
    int64_t inside = 0;
    for (const auto& y : want)
      for (int64_t v : y) inside += v > out.requantize->clamp_min && v < out.requantize->clamp_max;
    EXPECT_GT(inside, 0) << c.name << ": " << r.out;
  }
}

TEST_P(NetworkCodegen, HlsCodeEqualsTheReferenceKernelsWithTheApFixedEmulation) {
  const Case c = GetParam().make();
  const std::string n = "net_" + c.name;
  const GeneratedHls code = generate_network_hls(c.network, NetworkCodegenOptions().with_name(n));
  EXPECT_EQ(code.origin, "fixed-point network");
  TempDir dir;
  write_file_atomic(dir / (n + "_hls.h"), code.header);
  write_file_atomic(dir / (n + "_hls.cpp"), code.source);
  EXPECT_TRUE(testing_support::float_words(code.source).empty());
  const Format in = c.network.input_format, out = c.network.format_of(c.network.output);
  const int64_t n_in = Builder::count(c.network.input_shape),
                n_out = Builder::count(c.network.shape_of(c.network.output));
  std::ostringstream main;
  main << "#include <cmath>\n#include <cstdio>\n#include \"" << n << "_hls.h\"\n"
       << "int main() {\n"
       << "  static " << n << "_in_t x[" << n_in << "];\n  static " << n << "_out_t y[" << n_out << "];\n"
       << "  for (;;) {\n"
       << "    for (long i = 0; i < " << n_in << "; ++i) {\n"
       << "      long long v;\n"
       << "      if (std::scanf(\"%lld\", &v) != 1) return 0;\n"
       << "      x[i] = " << n << "_in_t(std::ldexp(static_cast<double>(v), " << -in.frac << "));\n"
       << "    }\n"
       << "    " << n << "_hls(x, y);\n"
       << "    for (long i = 0; i < " << n_out
       << "; ++i) std::printf(\"%lld\\n\", static_cast<long long>(std::ldexp(y[i].to_double(), " << out.frac << ")));\n"
       << "  }\n}\n";
  write_file_atomic(dir / "main.cpp", main.str());
  write_file_atomic(dir / "x.txt", text_of(c.inputs));
  const auto build = run_command("c++ -std=c++17 -O1 -Wall -I" + std::string(FXNN_HLS_EMULATION_DIR) + " -I" +
                                     dir.str() + " -o " + dir / "main " + dir / "main.cpp " + dir / (n + "_hls.cpp"),
                                 dir.str());
  ASSERT_EQ(build.exit_code, 0) << build.err;
  const auto r = run_command(dir / "main < " + dir / "x.txt", dir.str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_codes(reference_outputs(c.network, c.inputs), numbers(r.out), c.name + " HLS");
}

INSTANTIATE_TEST_SUITE_P(Networks, NetworkCodegen,
                         ::testing::Values(Maker{"cnn", &cnn}, Maker{"wide", &wide}, Maker{"narrow", &narrow},
                                           Maker{"weights", &weight_types}, Maker{"residual", &residual},
                                           Maker{"huge", &huge}, Maker{"pool_flatten", &pool_flatten}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(NetworkCodegen, ConstantsAreOfTheNarrowestTypeAndTheWorkAreaIsShared) {
  const Case c = weight_types();
  const GeneratedCode code = generate_network_c(c.network, NetworkCodegenOptions().with_name("w"));
  for (const char* type : {"static const int8_t w_dense0_weight[6][5]", "static const int16_t w_dense1_weight[6][6]",
                           "static const int32_t w_dense2_weight[5][6]", "static const int64_t w_dense3_weight[4][5]",
                           "static const uint8_t w_dense4_weight[4][4]", "static const uint16_t w_dense5_weight[3][4]"})
    EXPECT_NE(code.source.find(type), std::string::npos) << type;
  EXPECT_NE(code.header.find("typedef int32_t w_input_t;"), std::string::npos)
      << code.header; // u16.0: the runtime's int32
  EXPECT_NE(code.header.find("typedef int8_t w_output_t;"), std::string::npos) << code.header;
  // A chain: two tensors live at a time, so the work area holds the two largest int16 tensors at most.
  const Case k = cnn();
  const GeneratedCode cc = generate_network_c(k.network, NetworkCodegenOptions().with_name("k"));
  int64_t all = 0;
  for (const ir::Node& node : k.network.nodes)
    if (node.name != k.network.output && node.op != ir::OpKind::kFlatten)
      all += Builder::count(node.output_shape) * runtime::element_size(runtime::storage_type(node.output_format));
  EXPECT_GT(cc.work_bytes, 0);
  EXPECT_LT(cc.work_bytes, all);
  EXPECT_NE(cc.header.find("#define K_WORK_BYTES " + std::to_string(cc.work_bytes)), std::string::npos);
  EXPECT_EQ(cc.source.find("k_rescale9"), std::string::npos); // the dead node
}

TEST(NetworkCodegen, StorageTypesAreTheRuntimes) {
  for (const Format& f :
       {Format(8, 0, false), Format(1, 0, false), Format(8, 3, true), Format(9, 0, false), Format(16, 2, true),
        Format(16, 0, false), Format(32, 0, true), Format(33, 0, true), Format(32, 0, false), Format(62, 4, true)})
    EXPECT_EQ(
        storage_ctype(f), "" +
                              [&] {
                                switch (runtime::storage_type(f)) {
                                  case runtime::DType::kU8: return std::string("uint8_t");
                                  case runtime::DType::kI8: return std::string("int8_t");
                                  case runtime::DType::kI16: return std::string("int16_t");
                                  case runtime::DType::kI32: return std::string("int32_t");
                                  case runtime::DType::kI64: return std::string("int64_t");
                                }
                                return std::string();
                              }())
        << f.str();
  EXPECT_EQ(narrowest_ctype(-1, 127), "int8_t");
  EXPECT_EQ(narrowest_ctype(0, 200), "uint8_t");
  EXPECT_EQ(narrowest_ctype(-1, 200), "int16_t");
  EXPECT_EQ(narrowest_ctype(0, 65535), "uint16_t");
  EXPECT_EQ(narrowest_ctype(0, int64_t{1} << 32), "int64_t");
}

TEST(NetworkCodegen, BadInputIsRefusedWithItsName) {
  const Case c = narrow();
  EXPECT_THROW(generate_network_c(c.network, NetworkCodegenOptions().with_name("int")), std::invalid_argument);
  EXPECT_THROW(generate_network_c(c.network, NetworkCodegenOptions().with_name("a-b")), std::invalid_argument);
  const Case p = pool_flatten(); // u8.0 codes do not fit int8_t
  EXPECT_THROW(generate_network_c(p.network, NetworkCodegenOptions().with_name("p").with_io_type("int8_t")),
               std::invalid_argument);
  EXPECT_THROW(generate_network_c(p.network, NetworkCodegenOptions().with_name("p").with_io_type("float")),
               std::invalid_argument);
  ir::Network bad = c.network;
  bad.nodes[0].requantize->shift = 63;
  try {
    generate_network_c(bad, NetworkCodegenOptions().with_name("bad"));
    ADD_FAILURE() << "an invalid network was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(bad.nodes[0].name), std::string::npos) << e.what();
  }
}

TEST(NetworkCodegen, TheFloatCheckFindsFloatingPoint) {
  // A check that cannot fail is a defect: a core that multiplies doubles is caught.
  TempDir dir;
  write_file_atomic(dir / "f.c",
                    "double net_f(double a, double b) { return a * b + 0.5; }\nint other(int a) { return a + 1; }\n");
  EXPECT_FALSE(testing_support::float_instructions(dir / "f.c", dir.str(), {"net_f"}, dir.str()).empty());
  EXPECT_TRUE(testing_support::float_instructions(dir / "f.c", dir.str(), {"other"}, dir.str()).empty());
  EXPECT_FALSE(testing_support::float_words("double v;").empty());
}

TEST(NetworkCodegen, CodeFoldersReplaceOnlyGeneratedCode) {
  TempDir dir;
  const Case c = narrow();
  const GeneratedCode code = generate_network_c(c.network, NetworkCodegenOptions().with_name("n"));
  const std::vector<std::pair<std::string, std::string>> files = {{"n.h", code.header}, {"n.c", code.source}};
  write_code_folder(dir / "out", files, ExistingOutput::kRefuse);
  EXPECT_THROW(write_code_folder(dir / "out", files, ExistingOutput::kRefuse), std::runtime_error); // needs --force
  EXPECT_NO_THROW(write_code_folder(dir / "out", files, ExistingOutput::kReplace));
  std::filesystem::create_directories(dir / "mine");
  std::filesystem::create_directories(dir / "mine2");
  write_file_atomic(dir / "mine/n.c", "int main(void) { return 0; }\n");
  try {
    write_code_folder(dir / "mine", files, ExistingOutput::kReplace);
    ADD_FAILURE() << "a user's folder was replaced";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("it holds n.c"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(dir / "mine/n.c"), "int main(void) { return 0; }\n");
  // write_files (fxnn synth --emit-c) keeps the other files of its folder but replaces no user file.
  EXPECT_THROW(write_files(dir / "mine", files), std::runtime_error);
  write_file_atomic(dir / "mine2/notes.txt", "keep");
  EXPECT_NO_THROW(write_files(dir / "mine2", files));
  EXPECT_NO_THROW(write_files(dir / "mine2", files));
  EXPECT_EQ(read_file(dir / "mine2/notes.txt"), "keep");
}

} // namespace
} // namespace fxnn::codegen
