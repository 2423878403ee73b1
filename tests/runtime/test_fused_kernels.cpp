// The fused steps of the optimized runtime (src/runtime/optimized_kernels.h) equal the reference
// kernels bit for bit: the direct convolution (every kernel family and ISA, odd sizes, strides,
// paddings, channel counts around the 16-lane blocks), its fused max-pool (negative multipliers
// included: the pooling in the accumulator domain), the input rescale folded into a table, the
// flatten read in place by a dense layer, per-tensor requantization and negative shifts, both
// roundings; on one thread and on several (chunks of samples, or a small batch split over rows and
// columns); for both input layouts. And run(input, output) allocates nothing once warm.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <tuple>

#include "fxnn/runtime/engine.h"
#include "random_network.h"

// Counts the allocations of operator new, to check that a warm engine allocates nothing.
namespace {
std::atomic<int64_t> g_allocations{0};
}
void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace {

using fxnn::Format;
using fxnn::Rounding;
using fxnn::ir::Network;
using fxnn::ir::OpKind;
using fxnn::runtime::Codes;
using fxnn::runtime::Engine;
using fxnn::runtime::EngineOptions;
using fxnn::runtime::Isa;
using fxnn::runtime::isa_supported;
using fxnn::runtime::Layout;
using fxnn::runtime_testing::NetworkBuilder;
using fxnn::runtime_testing::Widths;

/// Output codes of the optimized engine that differ from the reference engine's (-1: other shape).
int64_t mismatches(const Network& net, const Codes& input, Isa isa, int threads, std::string* where = nullptr) {
  Engine reference(net, EngineOptions().with_reference(true));
  Engine optimized(net, EngineOptions().with_isa(isa).with_threads(threads).with_parallel_min_macs(0));
  const Codes want = reference.run(input), got = optimized.run(input);
  if (got.shape() != want.shape() || got.format() != want.format()) return -1;
  const auto a = got.to_int64(), b = want.to_int64();
  int64_t count = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i] && count++ == 0 && where)
      *where = "index " + std::to_string(i) + ": " + std::to_string(a[i]) + " vs " + std::to_string(b[i]);
  return count;
}

/// How many output codes lie strictly inside the output range (the test exercises eq. (3), not
/// only the clamp).
int64_t inside(const Network& net, const Codes& input) {
  const Codes out = Engine(net, EngineOptions().with_reference(true)).run(input);
  const auto v = out.to_int64();
  const int64_t lo = out.format().code_min(), hi = out.format().code_max();
  return std::count_if(v.begin(), v.end(), [&](int64_t x) { return x > lo && x < hi; });
}

struct Geometry {
  int64_t c, h, w, out, kernel, stride, padding, pool;
};

std::string str(const Geometry& g) {
  return "C" + std::to_string(g.c) + " " + std::to_string(g.h) + "x" + std::to_string(g.w) + " -> " +
         std::to_string(g.out) + " k" + std::to_string(g.kernel) + " s" + std::to_string(g.stride) + " p" +
         std::to_string(g.padding) + " pool" + std::to_string(g.pool);
}

// Channels around the 16-lane blocks and the 4-code groups, kernels 1 to 5, strides 1 to 3, pools
// that the VNNI tiles hold (2, 3, 4) and one they do not (5), sizes the pool does not divide.
const Geometry kGeometries[] = {
    {1, 28, 28, 32, 3, 1, 1, 2}, // the first layer of the Fashion-MNIST CNN
    {3, 13, 11, 17, 3, 1, 1, 2}, // odd sizes: the pool drops the last row
    {2, 9, 10, 33, 5, 1, 2, 3},  // 5 x 5 kernel, 3 x 3 pool
    {5, 12, 12, 16, 3, 2, 1, 1}, // stride 2, no pool
    {8, 8, 8, 65, 1, 1, 0, 4},   // 1 x 1 kernel, 4 x 4 pool, 5 column blocks
    {17, 7, 9, 15, 2, 1, 0, 2},  // even kernel, 17 channels
    {32, 6, 6, 130, 3, 1, 1, 2}, // 9 column blocks: passes of 4, 4 and 1
    {4, 10, 10, 24, 3, 3, 2, 1}, // stride 3, padding 2
    {3, 11, 11, 20, 3, 1, 1, 5}, // a 5 x 5 pool (fused on the portable path only)
};

struct Case {
  const char* name;
  Widths widths;
};

class FusedKernels : public ::testing::TestWithParam<std::tuple<Case, Isa>> {
 protected:
  void SetUp() override {
    if (!isa_supported(isa())) GTEST_SKIP() << "this CPU lacks " << fxnn::runtime::to_string(isa());
  }
  const Widths& widths() const { return std::get<0>(GetParam()).widths; }
  Isa isa() const { return std::get<1>(GetParam()); }

  /// [rescale from u8 pixels] -> conv -> [maxpool] -> flatten -> dense -> dense (with 64-bit
  /// accumulators when the flattened tensor is too long for 32).
  Network network(const Geometry& g, bool rescale, uint64_t seed) const {
    for (int dense_bits : {widths().accumulator_bits, 64}) {
      NetworkBuilder b(seed, {g.c, g.h, g.w}, rescale ? Format(8, 0, false) : widths().activation);
      if (rescale) b.rescale(widths().activation);
      b.conv(g.out, g.kernel, g.stride, g.padding, widths(), true);
      if (g.pool > 1) b.pool(OpKind::kMaxPool, g.pool, g.pool);
      Widths dense = widths();
      dense.accumulator_bits = dense_bits;
      try {
        b.flatten().dense(19, dense, true).dense(5, dense, false);
        return b.build();
      } catch (const std::runtime_error&) {
        if (dense_bits == 64) throw;
      }
    }
    return {};
  }
};

TEST_P(FusedKernels, ConvolutionGeometriesEqualReference) {
  uint64_t seed = 1;
  for (const Geometry& g : kGeometries)
    for (bool rescale : {false, true}) {
      const Network net = network(g, rescale, seed++);
      NetworkBuilder inputs(seed, net.input_shape, net.input_format);
      for (int64_t batch : {1, 3, 17})
        for (int threads : {1, 2}) {
          std::string where;
          EXPECT_EQ(mismatches(net, inputs.input(batch), isa(), threads, &where), 0)
              << str(g) << (rescale ? " after a rescale" : "") << ", batch " << batch << ", threads " << threads << ": "
              << where;
        }
    }
}

TEST_P(FusedKernels, ConvolutionOutputsBeforeTheClamp) {
  // The first geometry's conv + pool, its own output: codes strictly inside the range, both
  // rounding modes (the builder alternates them by node name).
  for (bool rescale : {false, true}) {
    NetworkBuilder b(5, {3, 13, 11}, rescale ? Format(8, 0, false) : widths().activation);
    if (rescale) b.rescale(widths().activation);
    b.conv(17, 3, 1, 1, widths(), true)
        .pool(OpKind::kMaxPool, 2, 2)
        .conv(21, 3, 1, 0, widths(), false)
        .pool(OpKind::kMaxPool, 2, 2);
    const Network net = b.build();
    const Codes input = b.input(6);
    EXPECT_GT(inside(net, input), 0);
    for (int threads : {1, 2, 3}) EXPECT_EQ(mismatches(net, input, isa(), threads), 0) << "threads " << threads;
  }
}

TEST_P(FusedKernels, ConvolutionsWriteTheNextOnesPadding) {
  // conv -> conv -> pool -> conv -> pool: each convolution writes its output with the zero border
  // the next one reads (paddings 1 and 2); the buffers are reused between runs and batch sizes.
  NetworkBuilder b(12, {3, 12, 10}, Format(8, 0, false));
  b.rescale(widths().activation)
      .conv(20, 3, 1, 1, widths(), true)
      .conv(17, 3, 1, 1, widths(), true)
      .pool(OpKind::kMaxPool, 2, 2)
      .conv(33, 5, 1, 2, widths(), true)
      .pool(OpKind::kMaxPool, 2, 2);
  const Network net = b.build();
  for (int threads : {1, 2, 3}) {
    Engine reference(net, EngineOptions().with_reference(true));
    Engine optimized(net, EngineOptions().with_isa(isa()).with_threads(threads).with_parallel_min_macs(0));
    Codes out;
    for (int64_t batch : {9, 1, 2, 9}) {
      const Codes input = b.input(batch);
      optimized.run(input, out);
      EXPECT_EQ(out.to_int64(), reference.run(input).to_int64()) << "threads " << threads << " batch " << batch;
    }
  }
}

TEST_P(FusedKernels, OverlappingPoolsAndSharedTensorsAreNotFused) {
  // A max-pool with kernel 3, stride 2 (not fusable); a convolution read by two nodes; a flatten
  // that is the network output; a rescale read twice.
  NetworkBuilder b(9, {4, 12, 12}, Format(8, 0, false));
  b.rescale(widths().activation).conv(16, 3, 1, 1, widths(), true).pool(OpKind::kMaxPool, 3, 2);
  const std::string pooled = b.current();
  b.conv(16, 1, 1, 0, widths(), true)
      .add(pooled, Format(widths().activation.bits, widths().activation.frac, false), true);
  b.flatten();
  const Network net = b.build();
  for (int64_t batch : {1, 5})
    for (int threads : {1, 2}) EXPECT_EQ(mismatches(net, b.input(batch), isa(), threads), 0);
}

TEST_P(FusedKernels, DenseNetworkWithTheRescaleFolded) {
  // The 64-128-128-10 MLP of the latency benchmark: u8 features, a rescale table, three layers.
  NetworkBuilder b(3, {64}, Format(8, 0, false));
  b.rescale(widths().activation).dense(128, widths(), true).dense(128, widths(), true).dense(10, widths(), false);
  const Network net = b.build();
  for (int64_t batch : {1, 2, 7, 100})
    for (int threads : {1, 2}) EXPECT_EQ(mismatches(net, b.input(batch), isa(), threads), 0) << batch;
}

INSTANTIATE_TEST_SUITE_P(Kinds, FusedKernels,
                         ::testing::Combine(::testing::Values(Case{"u8s8", fxnn::runtime_testing::narrow()},
                                                              Case{"s16s16", fxnn::runtime_testing::medium()},
                                                              Case{"wide", fxnn::runtime_testing::wide()}),
                                            ::testing::Values(Isa::kPortable, Isa::kAvx512Vnni, Isa::kAvx512Amx)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  fxnn::runtime::to_string(std::get<1>(info.param));
                         });

// The shapes the AMX tiles take (u8s8, conv2d_amx_supported): pixel tiles of 16, 14, 12, 10, 8, 6
// and 5 rows, K steps of 16, 32 and 64 bytes, one, two and three column blocks (the single-block
// step), strides 1 and 2, with and without the fused 2 x 2 pool; the profile names the AMX kernel.
TEST(FusedKernels, AmxTileShapesEqualReference) {
  if (!isa_supported(Isa::kAvx512Amx)) GTEST_SKIP() << "this CPU lacks AMX";
  const Geometry shapes[] = {
      {16, 16, 16, 16, 3, 1, 1, 1}, {32, 12, 12, 48, 3, 1, 1, 2}, {64, 8, 8, 32, 3, 1, 1, 1},
      {32, 14, 14, 32, 3, 1, 1, 2}, {16, 20, 20, 16, 1, 1, 0, 1}, {48, 10, 10, 20, 3, 2, 1, 1},
      {32, 6, 6, 40, 3, 1, 1, 2},
  };
  // u8 codes x 8-bit weights (u8s8), and x 12-bit weights: the split form (two byte products).
  const Widths split{Format(8, 5, false), Format(12, 10, true), 32};
  uint64_t seed = 40;
  for (const Widths& widths : {fxnn::runtime_testing::narrow(), split})
    for (const Geometry& g : shapes) {
      const bool is_split = widths.weight.bits > 8;
      if (is_split && g.w / g.stride % 2 != 0) continue; // the split form wants even pixel tiles
      NetworkBuilder b(seed++, {g.c, g.h, g.w}, widths.activation);
      b.conv(g.out, g.kernel, g.stride, g.padding, widths, true);
      if (g.pool > 1) b.pool(OpKind::kMaxPool, g.pool, g.pool);
      const Network net = b.build();
      Engine e(net, EngineOptions().with_isa(Isa::kAvx512Amx));
      const std::string kernel = is_split ? "conv2d u8s16 (split in bytes) avx512amx" : "conv2d u8s8 avx512amx";
      EXPECT_EQ(e.profile()[0].kernel.find(kernel), 0u) << str(g) << ": " << e.profile()[0].kernel;
      for (int64_t batch : {1, 3})
        for (int threads : {1, 2}) {
          const Codes input = b.input(batch);
          std::string where;
          EXPECT_EQ(mismatches(net, input, Isa::kAvx512Amx, threads, &where), 0)
              << str(g) << " " << kernel << " batch " << batch << " threads " << threads << " " << where;
          EXPECT_GT(inside(net, input), 0) << str(g);
        }
    }
}

/// Rewrites node i's requantization: one multiplier and offset for the whole tensor, and `shift`.
void per_tensor(Network& net, size_t i, int shift) {
  auto& r = *net.nodes[i].requantize;
  r.multiplier = {r.multiplier[0] == 0 ? 1 : r.multiplier[0]};
  r.offset = {r.offset[0]};
  r.shift = shift;
  net.validate();
}

TEST(FusedKernels, PerTensorRequantizationAndNegativeShifts) {
  for (Isa isa : {Isa::kPortable, Isa::kAvx512Vnni, Isa::kAvx512Amx}) {
    if (!isa_supported(isa)) continue;
    for (int shift : {-3, 0, 1, 7}) {
      for (Rounding rounding : {Rounding::kNearest, Rounding::kFloor}) {
        NetworkBuilder b(static_cast<uint64_t>(shift + 10), {2, 9, 9}, Format(8, 0, false));
        b.rescale(Format(10, 4, true))
            .conv(18, 3, 1, 1, fxnn::runtime_testing::medium(), true)
            .pool(OpKind::kMaxPool, 2, 2)
            .flatten()
            .dense(12, fxnn::runtime_testing::medium(), false);
        Network net = b.build();
        // The rescale and the convolution per tensor: the rescale table then has one channel.
        for (size_t i : {size_t{0}, size_t{1}}) {
          net.nodes[i].requantize->rounding = rounding;
          per_tensor(net, i, i == 0 ? std::max(shift, 0) : shift);
        }
        for (int threads : {1, 2})
          EXPECT_EQ(mismatches(net, b.input(5), isa, threads), 0)
              << fxnn::runtime::to_string(isa) << " shift " << shift << " threads " << threads;
      }
    }
  }
}

TEST(FusedKernels, ChannelsLastInputGivesTheSameCodes) {
  NetworkBuilder b(4, {3, 10, 9}, Format(8, 0, false));
  b.rescale(Format(12, 8, true)).conv(16, 3, 1, 1, fxnn::runtime_testing::medium(), true).pool(OpKind::kMaxPool, 2, 2);
  const Network net = b.build();
  const Codes nchw = b.input(4), nhwc = nchw.with_layout(Layout::kChannelsLast);
  for (Isa isa : {Isa::kPortable, Isa::kAvx512Vnni, Isa::kAvx512Amx}) {
    if (!isa_supported(isa)) continue;
    Engine e(net, EngineOptions().with_isa(isa));
    EXPECT_EQ(e.run(nchw).to_int64(), e.run(nhwc).to_int64());
    EXPECT_EQ(mismatches(net, nhwc, isa, 2), 0);
  }
}

TEST(FusedKernels, FusedNodesAreNamedInTheProfile) {
  if (!isa_supported(Isa::kAvx512Vnni)) GTEST_SKIP();
  NetworkBuilder b(2, {1, 12, 12}, Format(8, 0, false));
  b.rescale(Format(12, 9, true)).conv(32, 3, 1, 1, fxnn::runtime_testing::narrow(), true).pool(OpKind::kMaxPool, 2, 2);
  b.flatten().dense(10, fxnn::runtime_testing::narrow(), false);
  Engine e(b.build(), EngineOptions().with_isa(Isa::kAvx512Vnni));
  const auto& p = e.profile();
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0].kernel, "fused into " + p[1].node);
  EXPECT_EQ(p[1].kernel, "conv2d s16s16 avx512vnni + maxpool + rescale table");
  EXPECT_EQ(p[2].kernel, "fused into " + p[1].node);
  EXPECT_EQ(p[3].kernel.rfind("view", 0), 0u) << p[3].kernel;
  EXPECT_EQ(p[4].kernel, "dense u8s8 avx512vnni");
}

TEST(FusedKernels, WarmRunsAllocateNothing) {
  NetworkBuilder b(6, {1, 14, 14}, Format(8, 0, false));
  b.rescale(Format(12, 9, true)).conv(16, 3, 1, 1, fxnn::runtime_testing::narrow(), true).pool(OpKind::kMaxPool, 2, 2);
  b.flatten().dense(32, fxnn::runtime_testing::narrow(), true).dense(10, fxnn::runtime_testing::narrow(), false);
  const Network net = b.build();
  for (Isa isa : {Isa::kPortable, Isa::kAvx512Vnni, Isa::kAvx512Amx}) {
    if (!isa_supported(isa)) continue;
    for (int threads : {1, 2})
      for (int64_t batch : {1, 9}) {
        const Codes input = b.input(batch);
        Engine e(net, EngineOptions().with_isa(isa).with_threads(threads).with_parallel_min_macs(0));
        Codes out;
        e.run(input, out); // sizes the buffers
        const Codes first = out;
        const int64_t before = g_allocations.load();
        for (int i = 0; i < 5; ++i) e.run(input, out);
        EXPECT_EQ(g_allocations.load() - before, 0)
            << fxnn::runtime::to_string(isa) << " threads " << threads << " batch " << batch;
        EXPECT_EQ(out.to_int64(), first.to_int64());
      }
  }
}

TEST(FusedKernels, IsaFromTheEnvironment) {
  const char* saved = std::getenv(fxnn::runtime::kIsaVariable);
  const std::string keep = saved ? saved : "";
  setenv(fxnn::runtime::kIsaVariable, "portable", 1);
  EXPECT_EQ(fxnn::runtime::resolve_isa(Isa::kAuto), Isa::kPortable);
  if (isa_supported(Isa::kAvx512Vnni)) EXPECT_EQ(fxnn::runtime::resolve_isa(Isa::kAvx512Vnni), Isa::kAvx512Vnni);
  setenv(fxnn::runtime::kIsaVariable, "auto", 1);
  EXPECT_EQ(fxnn::runtime::resolve_isa(Isa::kAuto), fxnn::runtime::detect_isa());
  setenv(fxnn::runtime::kIsaVariable, "sse9", 1);
  EXPECT_THROW(fxnn::runtime::resolve_isa(Isa::kAuto), std::invalid_argument);
  if (saved)
    setenv(fxnn::runtime::kIsaVariable, keep.c_str(), 1);
  else
    unsetenv(fxnn::runtime::kIsaVariable);
}

} // namespace
