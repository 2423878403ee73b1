#include "optimized_kernels.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <stdexcept>
#include <type_traits>

#include "channel_requant.h"
#include "conv_direct.h"
#include "dtype_dispatch.h"
#include "fxnn/ir/worst_case.h"
#include "fxnn/runtime/reference_kernels.h"
#include "gemm.h"
#include "gemm_narrow.h"

namespace fxnn::runtime {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t x, int64_t m) { return ceil_div(x, m) * m; }

int64_t product(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

/// Splits `count` items into `parts` nearly equal ranges: the start of range i.
int64_t split_point(int64_t count, int64_t parts, int64_t i) { return count * i / parts; }

// ---------------------------------------------------------------- the input rescale as a table

/// eq. (3) of a rescale node for each of the <= 256 codes of its input format, per channel (one
/// table when every channel has the same multiplier and offset), in the operand type of the step
/// that applies it.
struct Lut {
  AlignedBuffer table;
  int64_t entries = 0; // codes of the input format
  int64_t code_min = 0;
  int64_t stride = 0; // entries between channels' tables (0: one table for all)
  bool active() const { return entries > 0; }
};

bool lut_possible(const Format& in) { return in.code_max() - in.code_min() < 256; }

Lut make_lut(const ir::Node& rescale, const Format& in, DType type, int64_t channels) {
  const ir::Requantize& r = *rescale.requantize;
  Lut lut;
  lut.code_min = in.code_min();
  lut.entries = in.code_max() - in.code_min() + 1;
  bool shared = true;
  for (int64_t c = 1; c < channels && shared; ++c)
    for (int64_t q = 0; q < lut.entries && shared; ++q)
      shared = requantize_reference(lut.code_min + q, r, c) == requantize_reference(lut.code_min + q, r, 0);
  const int64_t tables = shared ? 1 : channels;
  lut.stride = shared ? 0 : lut.entries;
  visit(type, [&](auto tag) {
    using T = decltype(tag);
    lut.table.resize(static_cast<size_t>(tables * lut.entries) * sizeof(T));
    T* t = lut.table.as<T>();
    for (int64_t c = 0; c < tables; ++c)
      for (int64_t q = 0; q < lut.entries; ++q)
        t[c * lut.entries + q] = static_cast<T>(requantize_reference(lut.code_min + q, r, c));
  });
  return lut;
}

// ---------------------------------------------------------------- staging of a convolution's input

/// Copies a [C, H, W] tensor into a zero-bordered NHWC buffer of the operand type, through the
/// rescale table when the rescale before the convolution was folded into it. The source is NHWC, or
/// the network input in either layout.
class StageStep final : public Step {
 public:
  StageStep(const PlanTensor& src, bool src_is_input, const PlanTensor& dst, Lut lut)
      : src_(src), dst_(dst), src_is_input_(src_is_input), lut_(std::move(lut)) {
    c_ = src.shape[0], h_ = src.shape[1], w_ = src.shape[2], p_ = dst.pad;
  }
  std::string kernel() const override { return lut_.active() ? "stage + rescale table" : "stage"; }
  int64_t units(int64_t samples, int) const override { return samples * (h_ + 2 * p_); }

  void run(const Slice& s, int64_t u0, int64_t u1, AlignedBuffer&, int) const override {
    const bool nhwc = !src_is_input_ || s.input_channels_last;
    visit(src_.dtype, [&](auto in_tag) {
      visit(dst_.dtype, [&](auto a_tag) {
        rows<decltype(in_tag), decltype(a_tag)>(s.base[inputs[0]], s.base[output], nhwc, u0, u1);
      });
    });
  }

 private:
  template <typename In, typename A>
  void rows(const uint8_t* src, uint8_t* dst, bool nhwc, int64_t u0, int64_t u1) const {
    const int64_t hp = h_ + 2 * p_, wp = w_ + 2 * p_;
    const A* table = lut_.active() ? lut_.table.as<A>() : nullptr;
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t n = u / hp, yy = u % hp;
      A* row = reinterpret_cast<A*>(dst + n * dst_.sample_bytes) + yy * wp * c_;
      if (yy < p_ || yy >= p_ + h_) {
        std::fill(row, row + wp * c_, A{0});
        continue;
      }
      const int64_t y = yy - p_;
      std::fill(row, row + p_ * c_, A{0});
      std::fill(row + (p_ + w_) * c_, row + wp * c_, A{0});
      A* d = row + p_ * c_;
      const In* x = reinterpret_cast<const In*>(src + n * src_.sample_bytes);
      if (nhwc || c_ == 1) {
        // The source row is contiguous: W pixels of C channels.
        const In* from = x + y * w_ * c_;
        const int64_t count = w_ * c_;
        if (table && lut_.stride == 0) {
          const A* t = table - lut_.code_min;
          for (int64_t i = 0; i < count; ++i) d[i] = t[static_cast<int64_t>(from[i])];
        } else if (table) {
          for (int64_t xx = 0; xx < w_; ++xx)
            for (int64_t c = 0; c < c_; ++c)
              d[xx * c_ + c] = table[c * lut_.stride - lut_.code_min + static_cast<int64_t>(from[xx * c_ + c])];
        } else if constexpr (std::is_same_v<In, A>) {
          std::memcpy(d, from, static_cast<size_t>(count) * sizeof(A));
        } else {
          for (int64_t i = 0; i < count; ++i) d[i] = static_cast<A>(from[i]);
        }
        continue;
      }
      // NCHW network input: channel c of the row is x[(c H + y) W + xx].
      for (int64_t c = 0; c < c_; ++c) {
        const In* from = x + (c * h_ + y) * w_;
        if (table) {
          const A* t = table + c * lut_.stride - lut_.code_min;
          for (int64_t xx = 0; xx < w_; ++xx) d[xx * c_ + c] = t[static_cast<int64_t>(from[xx])];
        } else {
          for (int64_t xx = 0; xx < w_; ++xx) d[xx * c_ + c] = static_cast<A>(from[xx]);
        }
      }
    }
  }

  PlanTensor src_, dst_;
  bool src_is_input_;
  Lut lut_;
  int64_t c_, h_, w_, p_;
};

// ---------------------------------------------------------------- conv2d (direct), + max-pool

/// Units of a row-and-column split: `row_blocks` blocks of `rows_per_block` rows per sample times
/// `col_groups` ranges of the 16-column blocks.
struct Split {
  int64_t rows_per_block = 1, row_blocks = 1, col_groups = 1;
  int64_t units(int64_t samples) const { return samples * row_blocks * col_groups; }
};

/// One thread: whole samples. Several: about 4 units per thread, splitting the rows of a sample
/// and then its columns when the batch is small.
Split split_rows(int64_t samples, int threads, int64_t rows, int64_t blocks, int64_t min_rows) {
  Split sp;
  sp.rows_per_block = rows;
  if (threads > 1) {
    const int64_t want = 4 * threads;
    sp.rows_per_block = std::min(round_up(ceil_div(rows * samples, want), min_rows), std::max<int64_t>(rows, 1));
  }
  sp.row_blocks = ceil_div(rows, sp.rows_per_block);
  if (threads > 1 && samples * sp.row_blocks < 2 * threads)
    sp.col_groups = std::min(blocks, ceil_div(2 * threads, samples * sp.row_blocks));
  return sp;
}

class ConvStep final : public Step {
 public:
  ConvStep(const ir::Node& conv, const ir::Node* pool, const Format& in_format, const PlanTensor& in,
           const PlanTensor& out, Isa isa) {
    const auto& w = *conv.weight;
    const ConvChoice choice = choose_conv(choose_gemm_kind(storage_type(in_format), w.format, conv.accumulator_bits),
                                          isa, pool ? pool->kernel : 1);
    kind_ = choice.kind;
    const bool split = conv_amx_split(conv, in_format, isa);
    const int64_t element = element_size(conv_input_type(conv, in_format, isa)); // as PlanBuilder::conv stores it
    geometry_.stride = conv.stride;
    geometry_.pool = pool ? pool->kernel : 1;
    geometry_.out_width = out.shape[2];
    geometry_.out_pad = out.pad;
    out_h_ = out.shape[1];
    geometry_.in_row_bytes = (in.shape[2] + 2 * in.pad) * in.shape[0] * element;
    geometry_.pixel_bytes = in.shape[0] * element;
    weights_ = split ? ConvWeights::split_bytes(w) : ConvWeights(w, kind_, isa, choice.pairs);
    // The AMX tiles take the convolutions whose shapes they suit; the others run on the VNNI tiles
    // (the same packing), so the profile names the kernel that runs.
    if (!split && weights_.isa() == Isa::kAvx512Amx && !conv_amx_supported(weights_, geometry_))
      weights_ = ConvWeights(w, kind_, vector_isa(isa), choice.pairs);
    if (split && !conv_amx_supported(weights_, geometry_))
      throw std::logic_error("ConvStep: " + conv.name + ": the split form without its AMX tiles");
    requant_ = prepare_requant(*conv.requantize, w.shape[0], weights_.n_padded(),
                               ir::worst_case_accumulator(conv, {in_format}));
    rows_ = out.shape[1] * out.shape[2];
    in_bytes_ = in.sample_bytes;
    out_bytes_ = out.sample_bytes;
    out_type_ = out.dtype;
    channels_ = w.shape[0];
    macs_ = conv.output_shape[0] * conv.output_shape[1] * conv.output_shape[2] * (w.numel() / w.shape[0]);
    pooled_ = pool != nullptr;
  }
  std::string kernel() const override { return "conv2d " + conv_name(weights_) + (pooled_ ? " + maxpool" : ""); }
  int64_t macs_per_sample() const override { return macs_; }

  Split split(int64_t samples, int threads) const {
    return split_rows(samples, threads, rows_, weights_.n_padded() / 16, 16);
  }
  int64_t units(int64_t samples, int threads) const override { return split(samples, threads).units(samples); }

  void run(const Slice& s, int64_t u0, int64_t u1, AlignedBuffer&, int threads) const override {
    const Split sp = split(s.samples, threads);
    const int64_t blocks = weights_.n_padded() / 16;
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t cg = u % sp.col_groups, rb = (u / sp.col_groups) % sp.row_blocks;
      const int64_t n = u / (sp.col_groups * sp.row_blocks);
      const int64_t r0 = rb * sp.rows_per_block, r1 = std::min(rows_, r0 + sp.rows_per_block);
      const int64_t b0 = split_point(blocks, sp.col_groups, cg), b1 = split_point(blocks, sp.col_groups, cg + 1);
      uint8_t* y = s.base[output] + n * out_bytes_;
      if (geometry_.out_pad > 0 && rb == 0 && cg == 0) zero_border(y);
      conv_rows(weights_, geometry_, s.base[inputs[0]] + n * in_bytes_, r0, r1, b0, b1, requant_,
                GemmOutput{out_type_, y, channels_});
    }
  }

 private:
  /// The border of one sample's padded output (the next convolution's zero padding): the rows above
  /// and below, and the pixels left and right of each row. conv_rows writes only the interior.
  void zero_border(uint8_t* y) const {
    const int64_t p = geometry_.out_pad, pixel = channels_ * element_size(out_type_);
    const int64_t row = (geometry_.out_width + 2 * p) * pixel;
    std::memset(y, 0, static_cast<size_t>(p * row));
    std::memset(y + (p + out_h_) * row, 0, static_cast<size_t>(p * row));
    for (int64_t r = p; r < p + out_h_; ++r) {
      std::memset(y + r * row, 0, static_cast<size_t>(p * pixel));
      std::memset(y + r * row + (p + geometry_.out_width) * pixel, 0, static_cast<size_t>(p * pixel));
    }
  }

  GemmKind kind_ = GemmKind::kWide;
  ConvWeights weights_;
  ChannelRequant requant_;
  ConvGeometry geometry_;
  int64_t rows_ = 0, in_bytes_ = 0, out_bytes_ = 0, channels_ = 0, macs_ = 0, out_h_ = 0;
  DType out_type_ = DType::kU8;
  bool pooled_ = false;
};

// ---------------------------------------------------------------- conv2d (im2col), narrow accumulators

/// Weight codes reordered for the NHWC im2col: [out, ky, kx, in] from OIHW.
std::vector<int64_t> ohwi(const ir::IntTensor& w) {
  const int64_t co = w.shape[0], ci = w.shape[1], k = w.shape[2];
  std::vector<int64_t> out(w.data.size());
  for (int64_t o = 0; o < co; ++o)
    for (int64_t i = 0; i < ci; ++i)
      for (int64_t ky = 0; ky < k; ++ky)
        for (int64_t kx = 0; kx < k; ++kx)
          out[static_cast<size_t>(((o * k + ky) * k + kx) * ci + i)] =
              w.data[static_cast<size_t>(((o * ci + i) * k + ky) * k + kx)];
  return out;
}

/// The convolutions of the low-bit networks whose sums fit 16 bits (gemm_narrow.h): im2col rows of
/// the NHWC input, 256 at a time, into the narrow GEMM.
class ConvIm2colStep final : public Step {
 public:
  static constexpr int64_t kRowsPerUnit = 256;

  ConvIm2colStep(const ir::Node& node, const PlanTensor& in, const PlanTensor& out, GemmKind kind, NarrowChoice narrow,
                 const ir::WorstCase& worst)
      : node_(node), in_c_(in.shape[0]), in_h_(in.shape[1]), in_w_(in.shape[2]) {
    const auto& w = *node.weight;
    kind_ = kind;
    weights_ = GemmWeights(ohwi(w), w.shape[0], w.numel() / w.shape[0], kind_, narrow.packing, narrow.narrow);
    requant_ = prepare_requant(*node.requantize, w.shape[0], weights_.n_padded(), worst);
    in_type_ = in.dtype;
    in_bytes_ = in.sample_bytes;
    out_bytes_ = out.sample_bytes;
    out_type_ = out.dtype;
    rows_ = node.output_shape[1] * node.output_shape[2];
    macs_ = rows_ * w.numel();
  }
  std::string kernel() const override { return "conv2d " + gemm_name(weights_); }
  int64_t macs_per_sample() const override { return macs_; }
  int64_t units(int64_t samples, int) const override { return samples * ceil_div(rows_, kRowsPerUnit); }
  size_t scratch_bytes(int64_t, int) const override {
    return static_cast<size_t>(kRowsPerUnit * weights_.k_padded() * element_size(gemm_a_type(kind_)));
  }

  void run(const Slice& s, int64_t u0, int64_t u1, AlignedBuffer& scratch, int) const override {
    const int64_t per_sample = ceil_div(rows_, kRowsPerUnit), co = node_.output_shape[0], ow = node_.output_shape[2];
    const DType a_type = gemm_a_type(kind_);
    const int64_t lda = weights_.k_padded();
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t n = u / per_sample, row0 = (u % per_sample) * kRowsPerUnit;
      const int64_t count = std::min(kRowsPerUnit, rows_ - row0);
      visit(in_type_, [&](auto in_tag) {
        visit(a_type, [&](auto a_tag) {
          using In = decltype(in_tag);
          im2col(reinterpret_cast<const In*>(s.base[inputs[0]] + n * in_bytes_), row0, count, ow,
                 scratch.as<decltype(a_tag)>(), lda);
        });
      });
      uint8_t* dst = s.base[output] + n * out_bytes_ + row0 * co * element_size(out_type_);
      gemm_requantize(weights_, scratch.as<uint8_t>(), count, lda, requant_, GemmOutput{out_type_, dst, co});
    }
  }

 private:
  template <typename In, typename A>
  void im2col(const In* x, int64_t row0, int64_t count, int64_t ow, A* a, int64_t lda) const {
    const int64_t k = node_.kernel, s = node_.stride, p = node_.padding, c = in_c_;
    const int64_t segment = k * c;
    for (int64_t r = 0; r < count; ++r) {
      const int64_t oy = (row0 + r) / ow, ox = (row0 + r) % ow;
      const int64_t ix0 = ox * s - p;
      A* row = a + r * lda;
      for (int64_t ky = 0; ky < k; ++ky, row += segment) {
        const int64_t iy = oy * s + ky - p;
        for (int64_t kx = 0; kx < k; ++kx) {
          const int64_t ix = ix0 + kx;
          const bool inside = iy >= 0 && iy < in_h_ && ix >= 0 && ix < in_w_;
          for (int64_t i = 0; i < c; ++i)
            row[kx * c + i] = inside ? static_cast<A>(x[(iy * in_w_ + ix) * c + i]) : A{0};
        }
      }
      std::fill(row, a + r * lda + lda, A{0});
    }
  }

  ir::Node node_;
  int64_t in_c_, in_h_, in_w_;
  GemmKind kind_ = GemmKind::kWide;
  GemmWeights weights_;
  ChannelRequant requant_;
  DType in_type_ = DType::kU8, out_type_ = DType::kU8;
  int64_t in_bytes_ = 0, out_bytes_ = 0, rows_ = 0, macs_ = 0;
};

// ---------------------------------------------------------------- dense

class DenseStep final : public Step {
 public:
  /// `in`: the input tensor; when it is a [C, H, W] NHWC tensor (a flatten read in place) the weight
  /// columns are permuted from (c, y, x) to (y, x, c). A folded rescale's table comes with set_lut().
  DenseStep(const ir::Node& node, const Format& in_format, const PlanTensor& in, const PlanTensor& out, Isa isa) {
    const auto& w = *node.weight;
    kind_ = choose_gemm_kind(storage_type(in_format), w.format, node.accumulator_bits);
    const ir::WorstCase worst = ir::worst_case_accumulator(node, {in_format});
    const NarrowChoice narrow = choose_narrow(kind_, worst, accumulator_bound(node, in_format), isa);
    k_ = w.shape[1];
    n_ = w.shape[0];
    std::vector<int64_t> codes = w.data;
    permuted_ = in.shape.size() == 3;
    if (permuted_) {
      const int64_t c = in.shape[0], h = in.shape[1], wd = in.shape[2];
      for (int64_t o = 0; o < n_; ++o)
        for (int64_t ch = 0; ch < c; ++ch)
          for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < wd; ++x)
              codes[static_cast<size_t>(o * k_ + (y * wd + x) * c + ch)] =
                  w.data[static_cast<size_t>(o * k_ + (ch * h + y) * wd + x)];
    }
    // The portable path of a CPU with AVX2: the AVX2 kernel of the direct convolution, the product
    // being a 1 x 1 convolution of K channels over a row of `rows` pixels (conv_direct.h).
    const ConvChoice choice = narrow.narrow ? ConvChoice{kind_, false} : choose_conv(kind_, isa, 1);
    if (choice.pairs) {
      kind_ = choice.kind;
      pairs_ = ConvWeights(ir::IntTensor{{n_, k_, 1, 1}, codes, w.format}, kind_, isa, true);
      k_padded_ = pairs_.depth();
      n_padded_ = pairs_.n_padded();
    } else {
      weights_ = GemmWeights(codes, n_, k_, kind_, narrow.packing, narrow.narrow);
      k_padded_ = weights_.k_padded();
      n_padded_ = weights_.n_padded();
    }
    requant_ = prepare_requant(*node.requantize, n_, n_padded_, worst);
    in_type_ = in.dtype;
    out_type_ = out.dtype;
    a_type_ = gemm_a_type(kind_);
    direct_ = !lut_.active() && in_type_ == a_type_ && k_padded_ == k_;
  }
  /// The operand type of A: the folded rescale's table must hold codes of it.
  DType a_type() const { return a_type_; }
  void set_lut(Lut lut) {
    lut_ = std::move(lut);
    direct_ = !lut_.active() && in_type_ == a_type_ && k_padded_ == k_;
  }

  std::string kernel() const override {
    return "dense " + (pairs_.pairs() ? conv_name(pairs_) : gemm_name(weights_)) +
           (lut_.active() ? " + rescale table" : "");
  }
  int64_t macs_per_sample() const override { return n_ * k_; }

  /// Row blocks of at most 64 rows (a chunk); with several threads, rows and then columns split.
  Split split(int64_t samples, int threads) const {
    Split sp;
    const int64_t blocks = weights_.narrow() ? 1 : n_padded_ / 16;
    sp.rows_per_block =
        threads > 1 ? std::max<int64_t>(1, ceil_div(samples, 2 * threads)) : std::min<int64_t>(samples, 64);
    sp.rows_per_block = std::max<int64_t>(sp.rows_per_block, std::min<int64_t>(samples, 6));
    sp.rows_per_block = std::max<int64_t>(sp.rows_per_block, 1);
    sp.row_blocks = ceil_div(samples, sp.rows_per_block);
    if (threads > 1 && sp.row_blocks < 2 * threads)
      sp.col_groups = std::min(blocks, ceil_div(2 * threads, sp.row_blocks));
    return sp;
  }
  int64_t units(int64_t samples, int threads) const override {
    return split(samples, threads).row_blocks * split(samples, threads).col_groups;
  }
  size_t scratch_bytes(int64_t samples, int threads) const override {
    if (direct_) return 0;
    return static_cast<size_t>(split(samples, threads).rows_per_block * k_padded_ * element_size(a_type_));
  }

  void run(const Slice& s, int64_t u0, int64_t u1, AlignedBuffer& scratch, int threads) const override {
    const Split sp = split(s.samples, threads);
    const int64_t blocks = n_padded_ / 16, lda = k_padded_;
    const int64_t in_size = element_size(in_type_), out_size = element_size(out_type_);
    int64_t staged = -1; // the row block in scratch
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t rb = u / sp.col_groups, cg = u % sp.col_groups;
      const int64_t row0 = rb * sp.rows_per_block, count = std::min(sp.rows_per_block, s.samples - row0);
      const uint8_t* x = s.base[inputs[0]] + row0 * k_ * in_size;
      const void* a = x;
      if (!direct_) {
        if (staged != rb) stage(x, count, scratch), staged = rb;
        a = scratch.as<uint8_t>();
      }
      const int64_t b0 = split_point(blocks, sp.col_groups, cg), b1 = split_point(blocks, sp.col_groups, cg + 1);
      uint8_t* dst = s.base[output] + row0 * n_ * out_size;
      if (pairs_.pairs()) {
        ConvGeometry g;
        g.out_width = count;
        g.pixel_bytes = lda * element_size(a_type_); // a "pixel" is a row of A
        conv_rows(pairs_, g, static_cast<const uint8_t*>(a), 0, count, b0, b1, requant_,
                  GemmOutput{out_type_, dst, n_});
      } else if (weights_.narrow())
        gemm_requantize(weights_, a, count, lda, requant_, GemmOutput{out_type_, dst, n_});
      else
        gemm_requantize(weights_, a, count, lda, requant_, GemmOutput{out_type_, dst, n_}, b0, b1);
    }
  }

 private:
  /// Rows of the operand type (through the rescale table), zero-padded to k_padded.
  void stage(const uint8_t* x, int64_t count, AlignedBuffer& scratch) const {
    const int64_t lda = k_padded_;
    visit(in_type_, [&](auto in_tag) {
      visit(a_type_, [&](auto a_tag) {
        using In = decltype(in_tag);
        using A = decltype(a_tag);
        const In* src = reinterpret_cast<const In*>(x);
        A* dst = scratch.as<A>();
        const A* table = lut_.active() ? lut_.table.as<A>() - lut_.code_min : nullptr;
        for (int64_t r = 0; r < count; ++r) {
          A* row = dst + r * lda;
          const In* in = src + r * k_;
          if (table && lut_.stride == 0) {
            for (int64_t i = 0; i < k_; ++i) row[i] = table[static_cast<int64_t>(in[i])];
          } else if (table) {
            for (int64_t i = 0; i < k_; ++i) row[i] = table[i * lut_.stride + static_cast<int64_t>(in[i])];
          } else {
            for (int64_t i = 0; i < k_; ++i) row[i] = static_cast<A>(in[i]);
          }
          std::fill(row + k_, row + lda, A{0});
        }
      });
    });
  }

  Lut lut_;
  GemmKind kind_ = GemmKind::kWide;
  GemmWeights weights_;
  ConvWeights pairs_; // instead of weights_ on the portable path's AVX2 kernel
  ChannelRequant requant_;
  int64_t k_ = 0, n_ = 0, k_padded_ = 0, n_padded_ = 0;
  DType in_type_ = DType::kU8, out_type_ = DType::kU8, a_type_ = DType::kU8;
  bool permuted_ = false, direct_ = false;
};

// ---------------------------------------------------------------- pooling, element-wise, flatten

/// Requantization of element-wise ops, with the channel of each element.
ChannelRequant prepare_elementwise(const ir::Node& node, const std::vector<Format>& inputs) {
  const int64_t channels = node.output_shape[0];
  return prepare_requant(*node.requantize, channels, channels, ir::worst_case_accumulator(node, inputs));
}

/// maxpool and avgpool (not fused) on NHWC tensors: units are (sample, output row).
class PoolStep final : public Step {
 public:
  PoolStep(const ir::Node& node, const std::vector<Format>& inputs, const PlanTensor& in, const PlanTensor& out)
      : node_(node), in_(in), out_(out) {
    if (node.op == ir::OpKind::kAvgPool) requant_ = prepare_elementwise(node, inputs);
  }
  std::string kernel() const override {
    return std::string(node_.op == ir::OpKind::kMaxPool ? "maxpool" : "avgpool") + " nhwc";
  }
  int64_t units(int64_t samples, int) const override { return samples * node_.output_shape[1]; }

  void run(const Slice& s, int64_t u0, int64_t u1, AlignedBuffer&, int) const override {
    visit(in_.dtype, [&](auto in_tag) {
      visit(out_.dtype, [&](auto out_tag) {
        rows<decltype(in_tag), decltype(out_tag)>(s.base[inputs[0]], s.base[output], u0, u1);
      });
    });
  }

 private:
  template <typename In, typename Out>
  void rows(const uint8_t* src, uint8_t* dst, int64_t u0, int64_t u1) const {
    const int64_t c = in_.shape[0], w = in_.shape[2];
    const int64_t oh = node_.output_shape[1], ow = node_.output_shape[2], k = node_.kernel, s = node_.stride;
    const bool is_max = node_.op == ir::OpKind::kMaxPool;
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t n = u / oh, oy = u % oh;
      const In* x = reinterpret_cast<const In*>(src + n * in_.sample_bytes);
      Out* y = reinterpret_cast<Out*>(dst + n * out_.sample_bytes);
      for (int64_t ox = 0; ox < ow; ++ox) {
        Out* d = y + (oy * ow + ox) * c;
        if (is_max) {
          const In* first = x + (oy * s * w + ox * s) * c;
          for (int64_t ch = 0; ch < c; ++ch) d[ch] = static_cast<Out>(first[ch]);
          for (int64_t ky = 0; ky < k; ++ky)
            for (int64_t kx = 0; kx < k; ++kx) {
              const In* p = x + ((oy * s + ky) * w + ox * s + kx) * c;
              for (int64_t ch = 0; ch < c; ++ch) d[ch] = std::max(d[ch], static_cast<Out>(p[ch]));
            }
        } else {
          for (int64_t ch = 0; ch < c; ++ch) {
            int64_t acc = 0;
            for (int64_t ky = 0; ky < k; ++ky)
              for (int64_t kx = 0; kx < k; ++kx) acc += x[((oy * s + ky) * w + ox * s + kx) * c + ch];
            d[ch] = static_cast<Out>(requantize_folded(acc, requant_.multiplier[static_cast<size_t>(ch)],
                                                       requant_.offset[static_cast<size_t>(ch)], requant_.shift,
                                                       requant_.lo, requant_.hi));
          }
        }
      }
    }
  }

  ir::Node node_;
  PlanTensor in_, out_;
  ChannelRequant requant_;
};

/// rescale (one input) and add (two inputs): eq. (3) per element, in the inputs' layout (NHWC for
/// [C, H, W] tensors). Units: (sample, block of kElements elements).
class ElementwiseStep final : public Step {
 public:
  static constexpr int64_t kElements = 4096;

  ElementwiseStep(const ir::Node& node, const std::vector<Format>& inputs, std::vector<PlanTensor> in,
                  const PlanTensor& out)
      : node_(node), in_(std::move(in)), out_(out) {
    requant_ = prepare_elementwise(node, inputs);
    if (node.op == ir::OpKind::kAdd) {
      const int frac = std::max(inputs[0].frac, inputs[1].frac);
      scale_a_ = int64_t{1} << (frac - inputs[0].frac);
      scale_b_ = int64_t{1} << (frac - inputs[1].frac);
    }
    elements_ = product(out.shape);
    channels_ = node.output_shape[0];
    nhwc_ = out.shape.size() == 3;
    inner_ = elements_ / channels_;
  }
  std::string kernel() const override { return node_.op == ir::OpKind::kAdd ? "add" : "rescale"; }
  int64_t units(int64_t samples, int) const override { return samples * ceil_div(elements_, kElements); }

  void run(const Slice& s, int64_t u0, int64_t u1, AlignedBuffer&, int) const override {
    const int64_t blocks = ceil_div(elements_, kElements);
    visit(in_[0].dtype, [&](auto a_tag) {
      visit(out_.dtype, [&](auto out_tag) {
        using A = decltype(a_tag);
        using Out = decltype(out_tag);
        if (in_.size() == 1) {
          for (int64_t u = u0; u < u1; ++u) {
            const int64_t n = u / blocks, i0 = (u % blocks) * kElements, i1 = std::min(elements_, i0 + kElements);
            const A* x = reinterpret_cast<const A*>(s.base[inputs[0]] + n * in_[0].sample_bytes);
            Out* y = reinterpret_cast<Out*>(s.base[output] + n * out_.sample_bytes);
            for (int64_t i = i0; i < i1; ++i) y[i] = static_cast<Out>(requant(x[i], channel(i)));
          }
          return;
        }
        visit(in_[1].dtype, [&](auto b_tag) {
          using B = decltype(b_tag);
          for (int64_t u = u0; u < u1; ++u) {
            const int64_t n = u / blocks, i0 = (u % blocks) * kElements, i1 = std::min(elements_, i0 + kElements);
            const A* xa = reinterpret_cast<const A*>(s.base[inputs[0]] + n * in_[0].sample_bytes);
            const B* xb = reinterpret_cast<const B*>(s.base[inputs[1]] + n * in_[1].sample_bytes);
            Out* y = reinterpret_cast<Out*>(s.base[output] + n * out_.sample_bytes);
            for (int64_t i = i0; i < i1; ++i)
              y[i] = static_cast<Out>(requant(xa[i] * scale_a_ + xb[i] * scale_b_, channel(i)));
          }
        });
      });
    });
  }

 private:
  int64_t channel(int64_t i) const { return nhwc_ ? i % channels_ : (i / inner_) % channels_; }
  int64_t requant(int64_t acc, int64_t c) const {
    return requantize_folded(acc, requant_.multiplier[static_cast<size_t>(c)], requant_.offset[static_cast<size_t>(c)],
                             requant_.shift, requant_.lo, requant_.hi);
  }
  ir::Node node_;
  std::vector<PlanTensor> in_;
  PlanTensor out_;
  ChannelRequant requant_;
  int64_t scale_a_ = 1, scale_b_ = 1, elements_ = 0, channels_ = 1, inner_ = 1;
  bool nhwc_ = false;
};

/// A flatten that the dense layers cannot read in place: to canonical [C*H*W] order from NHWC (or
/// from the network input in either layout). Units: samples.
class FlattenStep final : public Step {
 public:
  FlattenStep(const PlanTensor& in, bool in_is_input, const PlanTensor& out)
      : in_(in), out_(out), in_is_input_(in_is_input) {}
  std::string kernel() const override { return "flatten"; }
  int64_t units(int64_t samples, int) const override { return samples; }

  void run(const Slice& s, int64_t u0, int64_t u1, AlignedBuffer&, int) const override {
    const bool nhwc = in_.shape.size() == 3 && (!in_is_input_ || s.input_channels_last);
    visit(in_.dtype, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t n = u0; n < u1; ++n) {
        const T* x = reinterpret_cast<const T*>(s.base[inputs[0]] + n * in_.sample_bytes);
        T* y = reinterpret_cast<T*>(s.base[output] + n * out_.sample_bytes);
        if (!nhwc) {
          std::memcpy(y, x, static_cast<size_t>(product(in_.shape)) * sizeof(T));
          continue;
        }
        const int64_t c = in_.shape[0], hw = in_.shape[1] * in_.shape[2];
        for (int64_t p = 0; p < hw; ++p)
          for (int64_t ch = 0; ch < c; ++ch) y[ch * hw + p] = x[p * c + ch];
      }
    });
  }

 private:
  PlanTensor in_, out_;
  bool in_is_input_;
};

// ---------------------------------------------------------------- the plan

int64_t sample_bytes(DType dtype, const std::vector<int64_t>& shape, int64_t pad) {
  int64_t n = product(shape);
  if (shape.size() == 3) n = shape[0] * (shape[1] + 2 * pad) * (shape[2] + 2 * pad);
  return n * element_size(dtype);
}

class PlanBuilder {
 public:
  PlanBuilder(const ir::Network& net, Isa isa) : net_(net), isa_(vector_isa(isa)), conv_isa_(isa) {}

  Plan build() {
    const auto& nodes = net_.nodes;
    const int count = static_cast<int>(nodes.size());
    for (int i = 0; i < count; ++i)
      for (const auto& in : nodes[static_cast<size_t>(i)].inputs) consumers_[in].push_back(i);
    plan_.node_kernels.assign(static_cast<size_t>(count), "");
    PlanTensor input;
    input.dtype = storage_type(net_.input_format);
    input.shape = net_.input_shape;
    input.sample_bytes = sample_bytes(input.dtype, input.shape, 0);
    plan_.tensors.push_back(input);
    tensor_of_[net_.input_name] = 0;
    absorbed_.assign(static_cast<size_t>(count), 0);
    for (int i = 0; i < count; ++i) {
      if (absorbed_[static_cast<size_t>(i)]) continue;
      const ir::Node& node = nodes[static_cast<size_t>(i)];
      switch (node.op) {
        case ir::OpKind::kConv2d: conv(i); break;
        case ir::OpKind::kDense: dense(i); break;
        case ir::OpKind::kMaxPool:
        case ir::OpKind::kAvgPool: pool(i); break;
        case ir::OpKind::kRescale:
          if (!rescale_folded(i)) elementwise(i);
          break;
        case ir::OpKind::kAdd: elementwise(i); break;
        case ir::OpKind::kFlatten: flatten(i); break;
      }
    }
    plan_.output = tensor_of_.at(net_.output);
    for (const auto& s : plan_.steps) plan_.macs_per_sample += s->macs_per_sample();
    assign_slots();
    return std::move(plan_);
  }

 private:
  const ir::Node& node(int i) const { return net_.nodes[static_cast<size_t>(i)]; }
  int producer(const std::string& tensor) const {
    for (size_t i = 0; i < net_.nodes.size(); ++i)
      if (net_.nodes[i].name == tensor) return static_cast<int>(i);
    return -1;
  }
  /// True when node i is the only reader of `tensor` (once) and `tensor` is not the network output.
  bool only_reader(const std::string& tensor, int i) const {
    const auto it = consumers_.find(tensor);
    return tensor != net_.output && it != consumers_.end() && it->second.size() == 1 && it->second[0] == i;
  }

  int add_tensor(DType dtype, std::vector<int64_t> shape, int64_t pad) {
    PlanTensor t;
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.pad = pad;
    t.sample_bytes = sample_bytes(dtype, t.shape, pad);
    plan_.tensors.push_back(t);
    return static_cast<int>(plan_.tensors.size()) - 1;
  }
  int add_step(std::unique_ptr<Step> step, std::vector<int> inputs, int output, int node) {
    step->inputs = std::move(inputs);
    step->output = output;
    step->node = node;
    plan_.steps.push_back(std::move(step));
    return output;
  }
  const PlanTensor& tensor(int t) const { return plan_.tensors[static_cast<size_t>(t)]; }
  void describe(int i, const std::string& text) { plan_.node_kernels[static_cast<size_t>(i)] = text; }

  /// The network input as NHWC (a staged copy, once) when a step that reads NHWC needs it.
  int nhwc(int t, int node) {
    if (t != 0 || tensor(0).shape.size() != 3) return t;
    if (input_nhwc_ < 0) {
      input_nhwc_ = add_tensor(tensor(0).dtype, tensor(0).shape, 0);
      add_step(std::make_unique<StageStep>(tensor(0), true, tensor(input_nhwc_), Lut{}), {0}, input_nhwc_, node);
    }
    return input_nhwc_;
  }

  /// The rescale node feeding node i's input, when its table can be folded into node i's staging.
  int foldable_rescale(int i) const {
    const int r = producer(node(i).inputs[0]);
    if (r < 0 || node(r).op != ir::OpKind::kRescale || !only_reader(node(r).name, i)) return -1;
    if (!lut_possible(net_.format_of(node(r).inputs[0]))) return -1;
    return r;
  }

  bool narrow(int i) const {
    const ir::Node& n = node(i);
    const Format in_format = net_.format_of(n.inputs[0]);
    const GemmKind kind = choose_gemm_kind(storage_type(in_format), n.weight->format, n.accumulator_bits);
    return choose_narrow(kind, ir::worst_case_accumulator(n, {in_format}), accumulator_bound(n, in_format), isa_)
        .narrow;
  }

  bool rescale_folded(int i) const {
    const auto& c = consumers_.find(node(i).name);
    if (c == consumers_.end() || c->second.size() != 1) return false;
    const int x = c->second[0];
    const bool reader = node(x).op == ir::OpKind::kConv2d || node(x).op == ir::OpKind::kDense;
    return reader && foldable_rescale(x) == i && !narrow(x);
  }

  void conv(int i) {
    const ir::Node& n = node(i);
    const Format in_format = net_.format_of(n.inputs[0]);
    const GemmKind kind = choose_gemm_kind(storage_type(in_format), n.weight->format, n.accumulator_bits);
    const ir::WorstCase worst = ir::worst_case_accumulator(n, {in_format});
    const NarrowChoice nc = choose_narrow(kind, worst, accumulator_bound(n, in_format), isa_);
    if (nc.narrow) {
      const int in = nhwc(tensor_of_.at(n.inputs[0]), i);
      const int out = add_tensor(storage_type(n.output_format), n.output_shape, 0);
      auto step = std::make_unique<ConvIm2colStep>(n, tensor(in), tensor(out), kind, nc, worst);
      describe(i, step->kernel());
      tensor_of_[n.name] = add_step(std::move(step), {in}, out, i);
      return;
    }
    // The input: through the folded rescale's table, zero-padded, in the operand type.
    const int r = foldable_rescale(i);
    const bool folded = r >= 0 && rescale_folded(r);
    const int src = tensor_of_.at(folded ? node(r).inputs[0] : n.inputs[0]);
    const bool split = conv_amx_split(n, in_format, conv_isa_);
    const DType a_type = conv_input_type(n, in_format, conv_isa_);
    int in = src;
    if (folded || tensor(src).pad != n.padding || tensor(src).dtype != a_type || src == 0) {
      Lut lut = folded ? make_lut(node(r), net_.format_of(node(r).inputs[0]), a_type, n.weight->shape[1]) : Lut{};
      in = add_tensor(a_type, tensor(src).shape, n.padding);
      add_step(std::make_unique<StageStep>(tensor(src), src == 0, tensor(in), std::move(lut)), {src}, in, i);
    }
    // A max-pool with non-overlapping windows that only this convolution feeds: in the epilogue.
    const ir::Node* pool = nullptr;
    const auto readers = consumers_.find(n.name);
    if (readers != consumers_.end() && readers->second.size() == 1) {
      const int p = readers->second[0];
      const Isa packing = kind == GemmKind::kWide ? Isa::kPortable : isa_;
      const bool fusable = split ? node(p).kernel == 2 : conv_pool_supported(packing, node(p).kernel);
      if (node(p).op == ir::OpKind::kMaxPool && node(p).kernel == node(p).stride && only_reader(n.name, p) && fusable)
        pool = &node(p);
    }
    const ir::Node& last = pool ? *pool : n;
    const int out = add_tensor(storage_type(last.output_format), last.output_shape, padding_for_reader(last));
    auto step = std::make_unique<ConvStep>(n, pool, in_format, tensor(in), tensor(out), conv_isa_);
    std::string text = step->kernel();
    if (folded) text += " + rescale table";
    describe(i, text);
    if (folded) describe(r, "fused into " + n.name);
    if (pool) {
      const int p = static_cast<int>(pool - net_.nodes.data());
      absorbed_[static_cast<size_t>(p)] = 1;
      describe(p, "fused into " + n.name);
      tensor_of_[pool->name] = out;
    }
    tensor_of_[n.name] = add_step(std::move(step), {in}, out, i);
  }

  /// The zero border a convolution's output can be written with: the padding of the convolution
  /// that is its only reader, when that one will read it in place (same operand type, no table).
  int64_t padding_for_reader(const ir::Node& producer) const {
    const auto readers = consumers_.find(producer.name);
    if (readers == consumers_.end() || readers->second.size() != 1 || !only_reader(producer.name, readers->second[0]))
      return 0;
    const int y = readers->second[0];
    const ir::Node& reader = node(y);
    if (reader.op != ir::OpKind::kConv2d || reader.padding == 0 || narrow(y)) return 0;
    return conv_input_type(reader, producer.output_format, conv_isa_) == storage_type(producer.output_format)
               ? reader.padding
               : 0;
  }

  void dense(int i) {
    const ir::Node& n = node(i);
    const int r = foldable_rescale(i);
    const bool folded = r >= 0 && rescale_folded(r);
    const int src = tensor_of_.at(folded ? node(r).inputs[0] : n.inputs[0]);
    const Format in_format = net_.format_of(n.inputs[0]);
    const int out = add_tensor(storage_type(n.output_format), n.output_shape, 0);
    auto step = std::make_unique<DenseStep>(n, in_format, tensor(src), tensor(out), isa_);
    if (folded)
      step->set_lut(make_lut(node(r), net_.format_of(node(r).inputs[0]), step->a_type(), node(r).output_shape[0]));
    describe(i, step->kernel());
    if (folded) describe(r, "fused into " + n.name);
    tensor_of_[n.name] = add_step(std::move(step), {src}, out, i);
  }

  void pool(int i) {
    const ir::Node& n = node(i);
    const int in = nhwc(tensor_of_.at(n.inputs[0]), i);
    const int out = add_tensor(storage_type(n.output_format), n.output_shape, 0);
    auto step =
        std::make_unique<PoolStep>(n, std::vector<Format>{net_.format_of(n.inputs[0])}, tensor(in), tensor(out));
    describe(i, step->kernel());
    tensor_of_[n.name] = add_step(std::move(step), {in}, out, i);
  }

  void elementwise(int i) {
    const ir::Node& n = node(i);
    std::vector<int> ins;
    std::vector<PlanTensor> infos;
    std::vector<Format> formats;
    for (const auto& name : n.inputs) {
      ins.push_back(nhwc(tensor_of_.at(name), i));
      infos.push_back(tensor(ins.back()));
      formats.push_back(net_.format_of(name));
    }
    const int out = add_tensor(storage_type(n.output_format), n.output_shape, 0);
    auto step = std::make_unique<ElementwiseStep>(n, formats, infos, tensor(out));
    describe(i, step->kernel());
    tensor_of_[n.name] = add_step(std::move(step), ins, out, i);
  }

  void flatten(int i) {
    const ir::Node& n = node(i);
    const int src = tensor_of_.at(n.inputs[0]);
    const auto readers = consumers_.find(n.name);
    bool view = src != 0 && tensor(src).shape.size() == 3 && n.name != net_.output && readers != consumers_.end();
    if (view)
      for (int c : readers->second) view = view && node(c).op == ir::OpKind::kDense;
    if (view) {
      // The dense layers read the NHWC tensor itself, with their weight columns permuted.
      describe(i, "view: read in place (NHWC) by the dense layer");
      tensor_of_[n.name] = src;
      return;
    }
    const int out = add_tensor(tensor(src).dtype, n.output_shape, 0);
    auto step = std::make_unique<FlattenStep>(tensor(src), src == 0, tensor(out));
    describe(i, step->kernel());
    tensor_of_[n.name] = add_step(std::move(step), {src}, out, i);
  }

  /// Arena slots by liveness: a tensor occupies a slot from the step that writes it to the last step
  /// that reads it (the output: to the end); a free slot is reused, grown when too small.
  void assign_slots() {
    const int steps = static_cast<int>(plan_.steps.size());
    std::vector<int> last(plan_.tensors.size(), -1);
    for (int s = 0; s < steps; ++s)
      for (int t : plan_.steps[static_cast<size_t>(s)]->inputs) last[static_cast<size_t>(t)] = s;
    last[static_cast<size_t>(plan_.output)] = steps;
    std::vector<int> slot_until; // last use of the tensor in each slot
    for (int s = 0; s < steps; ++s) {
      const int t = plan_.steps[static_cast<size_t>(s)]->output;
      const int64_t bytes = round_up(std::max<int64_t>(tensor(t).sample_bytes, 1), 64);
      int best = -1;
      for (int k = 0; k < static_cast<int>(slot_until.size()); ++k) {
        if (slot_until[static_cast<size_t>(k)] >= s) continue;
        const int64_t size = plan_.slot_bytes[static_cast<size_t>(k)];
        if (best < 0) {
          best = k;
          continue;
        }
        const int64_t best_size = plan_.slot_bytes[static_cast<size_t>(best)];
        // Prefer the smallest slot that fits, else the largest one (grown).
        if ((size >= bytes && (best_size < bytes || size < best_size)) || (best_size < bytes && size > best_size))
          best = k;
      }
      if (best < 0) {
        best = static_cast<int>(slot_until.size());
        slot_until.push_back(-1);
        plan_.slot_bytes.push_back(0);
      }
      plan_.slot_bytes[static_cast<size_t>(best)] = std::max(plan_.slot_bytes[static_cast<size_t>(best)], bytes);
      slot_until[static_cast<size_t>(best)] = std::max(last[static_cast<size_t>(t)], s);
      plan_.tensors[static_cast<size_t>(t)].slot = best;
    }
  }

  const ir::Network& net_;
  Isa isa_;      // every kernel's but the direct convolution's
  Isa conv_isa_; // the direct convolution's: kAvx512Amx where the tiles apply
  Plan plan_;
  std::map<std::string, std::vector<int>> consumers_;
  std::map<std::string, int> tensor_of_;
  std::vector<char> absorbed_;
  int input_nhwc_ = -1;
};

} // namespace

int64_t Plan::arena_bytes_per_sample() const {
  int64_t total = 0;
  for (int64_t b : slot_bytes) total += b;
  return total;
}

Plan build_plan(const ir::Network& network, Isa isa) { return PlanBuilder(network, isa).build(); }

void copy_output(const Plan& plan, const uint8_t* src, int64_t n0, int64_t count, Codes& out) {
  const PlanTensor& t = plan.tensors[static_cast<size_t>(plan.output)];
  auto* dst = static_cast<uint8_t*>(out.raw()) + n0 * t.sample_bytes;
  if (t.shape.size() != 3) {
    std::memcpy(dst, src, static_cast<size_t>(count * t.sample_bytes));
    return;
  }
  visit(t.dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t c = t.shape[0], hw = t.shape[1] * t.shape[2];
    for (int64_t n = 0; n < count; ++n) {
      const T* x = reinterpret_cast<const T*>(src + n * t.sample_bytes);
      T* y = reinterpret_cast<T*>(dst + n * t.sample_bytes);
      for (int64_t p = 0; p < hw; ++p)
        for (int64_t ch = 0; ch < c; ++ch) y[ch * hw + p] = x[p * c + ch];
    }
  });
}

} // namespace fxnn::runtime
