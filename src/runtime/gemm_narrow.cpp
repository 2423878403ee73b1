// Narrow-accumulator GEMM: the choice of the kernel, and the portable int16 loops (compiled for
// several ISA levels, so that the 16-bit sums vectorize wherever the binary runs).

#include "gemm_narrow.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "fxnn/core/cpu_features.h"
#include "multiversion.h"
#include "narrow_epilogue.h"

namespace fxnn::runtime {

namespace {

/// Columns of one pass of the portable kernel: each activation load feeds this many dot products.
constexpr int64_t kColumnsPerPass = 4;

/// Dot products of one A row with kColumnsPerPass columns (column-major B, k codes each), in int16:
/// exact because no partial sum exceeds kNarrowAccumulatorMax (gemm_narrow.h).
FXNN_ALWAYS_INLINE void dot4(const uint8_t* row, const int8_t* column, int64_t k, int32_t* sums) {
  int16_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int64_t t = 0; t < k; ++t) {
    const int16_t x = row[t];
    s0 = static_cast<int16_t>(s0 + x * column[t]);
    s1 = static_cast<int16_t>(s1 + x * column[k + t]);
    s2 = static_cast<int16_t>(s2 + x * column[2 * k + t]);
    s3 = static_cast<int16_t>(s3 + x * column[3 * k + t]);
  }
  sums[0] = s0, sums[1] = s1, sums[2] = s2, sums[3] = s3;
}

FXNN_MULTIVERSION void narrow_rows(const GemmWeights& b, const uint8_t* a, int64_t rows, int64_t lda,
                                   const ChannelRequant& rq, const GemmOutput& out) {
  const auto* w = reinterpret_cast<const int8_t*>(b.data());
  const int64_t k = b.k_padded(), n = b.n();
  // Columns n..n_padded-1 of the packing are zero weights, so a pass may run past n.
  const int64_t passes = (n + kColumnsPerPass - 1) / kColumnsPerPass;
  int32_t sums[kColumnsPerPass];
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t p = 0; p < passes; ++p) {
      const int64_t j = p * kColumnsPerPass;
      dot4(a + i * lda, w + j * k, k, sums);
      requantize_row(sums, std::min(kColumnsPerPass, n - j), rq, j, out, i);
    }
  }
}

} // namespace

uint64_t accumulator_bound(const ir::Node& node, const Format& in_format) {
  using Wide = unsigned __int128;
  const auto magnitude = [](int64_t x) {
    return x < 0 ? uint64_t{0} - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
  };
  const ir::IntTensor& w = *node.weight;
  const int64_t channels = w.shape.at(0);
  const uint64_t n = channels > 0 ? static_cast<uint64_t>(w.numel() / channels) : 0;
  uint64_t w_max = 0, b_max = 0;
  for (int64_t v : w.data) w_max = std::max(w_max, magnitude(v));
  if (node.requantize) {
    const auto& r = *node.requantize;
    const auto pick = [](const std::vector<int64_t>& v, int64_t c) {
      return v.size() == 1 ? v[0] : v[static_cast<size_t>(c)];
    };
    for (int64_t c = 0; c < channels; ++c) {
      const uint64_t m = magnitude(pick(r.multiplier, c)), o = magnitude(pick(r.offset, c));
      if (m > 0) b_max = std::max(b_max, o / m + (o % m != 0));
    }
  }
  const Wide bound = static_cast<Wide>(n) * w_max * ir::max_abs_code(in_format) + b_max;
  return bound > std::numeric_limits<uint64_t>::max() ? std::numeric_limits<uint64_t>::max()
                                                      : static_cast<uint64_t>(bound);
}

bool fits_narrow_accumulator(GemmKind kind, const ir::WorstCase& worst, uint64_t bound) {
  return kind == GemmKind::kU8S8 && worst.max() <= kNarrowAccumulatorMax && bound <= kNarrowAccumulatorMax;
}

NarrowChoice choose_narrow(GemmKind kind, const ir::WorstCase& worst, uint64_t bound, Isa isa) {
  if (isa != Isa::kPortable || !fits_narrow_accumulator(kind, worst, bound)) return {false, isa};
  // gemm_narrow_avx512 needs the AVX-512 core set only (vpmaddubsw + vpaddw, no VNNI).
  return {true, cpu_has_avx512_core() ? Isa::kAvx512Vnni : Isa::kPortable};
}

void gemm_narrow_portable(const GemmWeights& b, const uint8_t* a, int64_t rows, int64_t lda,
                          const ChannelRequant& requant, const GemmOutput& out) {
  narrow_rows(b, a, rows, lda, requant, out);
}

void gemm_narrow(const GemmWeights& b, const void* a, int64_t rows, int64_t lda, const ChannelRequant& requant,
                 const GemmOutput& out) {
  if (!b.narrow()) throw std::logic_error("gemm_narrow: the weights were not prepared for 16-bit accumulators");
  const auto* bytes = static_cast<const uint8_t*>(a);
  if (b.isa() == Isa::kAvx512Vnni)
    gemm_narrow_avx512(b, bytes, rows, lda, requant, out);
  else
    gemm_narrow_portable(b, bytes, rows, lda, requant, out);
}

} // namespace fxnn::runtime
