#include "conv_direct.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "fxnn/core/cpu_features.h"

namespace fxnn::runtime {

namespace {

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

template <typename T>
void pack(const ir::IntTensor& w, int64_t segment, int64_t n_padded, int group, bool vnni, T* dst) {
  const int64_t n = w.shape[0], c = w.shape[1], k = w.shape[2], depth = k * segment;
  (void)n_padded;
  for (int64_t o = 0; o < n; ++o) {
    const int64_t block = o / 16, lane = o % 16;
    for (int64_t ky = 0; ky < k; ++ky)
      for (int64_t t = 0; t < k * c; ++t) {
        const int64_t kx = t / c, ch = t % c, row = ky * segment + t;
        const auto value = static_cast<T>(w.data[static_cast<size_t>(((o * c + ch) * k + ky) * k + kx)]);
        if (vnni)
          dst[block * depth * 16 + (row / group) * 16 * group + lane * group + row % group] = value;
        else
          dst[(block * depth + row) * 16 + lane] = value;
      }
  }
}

} // namespace

ConvWeights::ConvWeights(const ir::IntTensor& w, GemmKind kind, Isa isa, bool pairs)
    : kind_(kind),
      // AMX tiles multiply bytes only: the 16-bit convolutions stay on the VNNI tiles.
      isa_(kind == GemmKind::kWide   ? Isa::kPortable
           : kind == GemmKind::kU8S8 ? isa
                                     : vector_isa(isa)),
      pairs_(pairs && kind == GemmKind::kS16S16 && isa_ == Isa::kPortable),
      n_(w.shape.at(0)),
      k_(w.shape.at(2)),
      c_(w.shape.at(1)) {
  if (w.shape.size() != 4 || w.shape[2] != w.shape[3])
    throw std::logic_error("ConvWeights: weights are not [out, in, k, k]");
  const int group = gemm_group(kind);
  segment_ = round_up(k_ * c_, group);
  n_padded_ = round_up(std::max<int64_t>(n_, 1), 16);
  const bool vnni = vector_isa(isa_) == Isa::kAvx512Vnni || pairs_; // AMX reads the VNNI packing
  const size_t count = static_cast<size_t>(n_padded_ * depth());
  switch (kind) {
    case GemmKind::kU8S8:
      data_.resize(count);
      pack(w, segment_, n_padded_, group, vnni, data_.as<int8_t>());
      break;
    case GemmKind::kS16S16:
      data_.resize(count * sizeof(int16_t));
      pack(w, segment_, n_padded_, group, vnni, data_.as<int16_t>());
      break;
    case GemmKind::kWide:
      data_.resize(count * sizeof(int64_t));
      pack(w, segment_, n_padded_, group, false, data_.as<int64_t>());
      break;
  }
}

ConvWeights ConvWeights::split_bytes(const ir::IntTensor& w) {
  ir::IntTensor lo = w, hi = w;
  for (size_t i = 0; i < w.data.size(); ++i) {
    const int64_t low = ((w.data[i] + 128) & 255) - 128; // W mod 256, in [-128, 127]
    lo.data[i] = low;
    hi.data[i] = (w.data[i] - low) / 256;
  }
  ConvWeights both(lo, GemmKind::kU8S8, Isa::kAvx512Amx);
  const ConvWeights high(hi, GemmKind::kU8S8, Isa::kAvx512Amx);
  const size_t plane = static_cast<size_t>(both.n_padded_ * both.depth());
  AlignedBuffer data;
  data.resize(2 * plane);
  std::memcpy(data.as<uint8_t>(), both.data(), plane);
  std::memcpy(data.as<uint8_t>() + plane, high.data(), plane);
  both.data_ = std::move(data);
  both.kind_ = GemmKind::kS16S16;
  both.split_ = true;
  return both;
}

int64_t amx_tile_pixels(int64_t width, bool even) {
  constexpr int64_t kMaxTileRows = 16;
  for (int64_t m = std::min(width, kMaxTileRows); m >= 4; --m)
    if (width % m == 0 && (!even || m % 2 == 0)) return m;
  return 0;
}

int64_t amx_tile_depth(int64_t segment) {
  int64_t chunk = 64; // bytes of a tile row
  while (segment % chunk != 0) chunk /= 2;
  return chunk;
}

bool conv_amx_split(const ir::Node& conv, const Format& in_format, Isa isa) {
  if (isa != Isa::kAvx512Amx || !conv.weight || conv.accumulator_bits > 32) return false;
  const Format& w = conv.weight->format;
  if (in_format.is_signed || in_format.bits > 8 || !w.is_signed || w.bits <= 8 || w.bits > 15) return false;
  const int64_t segment = round_up(conv.kernel * conv.weight->shape.at(1), gemm_group(GemmKind::kU8S8));
  return amx_tile_depth(segment) >= 16 && amx_tile_pixels(conv.output_shape.at(2), true) > 0;
}

DType conv_input_type(const ir::Node& conv, const Format& in_format, Isa isa) {
  if (conv_amx_split(conv, in_format, isa)) return DType::kU8;
  const GemmKind kind = choose_gemm_kind(storage_type(in_format), conv.weight->format, conv.accumulator_bits);
  return gemm_a_type(choose_conv(kind, vector_isa(isa), 1).kind);
}

ConvChoice choose_conv(GemmKind kind, Isa isa, int64_t pool) {
  ConvChoice c{kind, false};
  if (isa == Isa::kPortable && kind != GemmKind::kWide && cpu_has_avx2_fma()) {
    c.kind = GemmKind::kS16S16;
    c.pairs = conv_avx2_supported(pool);
  }
  return c;
}

bool conv_pool_supported(Isa isa, int64_t pool) {
  if (pool < 1) return false;
  return vector_isa(isa) == Isa::kAvx512Vnni ? pool <= 4 : true;
}

std::string conv_name(const ConvWeights& w) {
  const char* kinds[] = {"u8s8", "s16s16", "wide"};
  if (w.split()) return "u8s16 (split in bytes) " + to_string(w.isa());
  return std::string(kinds[static_cast<int>(w.kind())]) + " " + to_string(w.isa()) + (w.pairs() ? " avx2" : "");
}

void conv_rows(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0, int64_t row1,
               int64_t first_block, int64_t last_block, const ChannelRequant& rq, const GemmOutput& out) {
  const int64_t blocks = w.n_padded() / 16;
  if (last_block < 0 || last_block > blocks) last_block = blocks;
  if (row0 >= row1 || first_block >= last_block) return;
  if (static_cast<int64_t>(rq.multiplier.size()) < w.n_padded())
    throw std::logic_error("conv_rows: requantization prepared for fewer channels than the packed weights");
  if (w.isa() == Isa::kAvx512Amx)
    conv_rows_amx(w, g, in, row0, row1, first_block, last_block, rq, out);
  else if (w.isa() == Isa::kAvx512Vnni)
    conv_rows_vnni(w, g, in, row0, row1, first_block, last_block, rq, out);
  else
    conv_rows_portable(w, g, in, row0, row1, first_block, last_block, rq, out);
}

} // namespace fxnn::runtime
