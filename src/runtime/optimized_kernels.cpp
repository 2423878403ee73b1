#include "optimized_kernels.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "aligned_buffer.h"
#include "channel_requant.h"
#include "dtype_dispatch.h"
#include "fxnn/ir/worst_case.h"
#include "gemm.h"
#include "gemm_narrow.h"

namespace fxnn::runtime {

namespace {

std::vector<int64_t> batch_shape(int64_t batch, const std::vector<int64_t>& sample) {
  std::vector<int64_t> shape{batch};
  shape.insert(shape.end(), sample.begin(), sample.end());
  return shape;
}

/// `in` in the layout a kernel needs: the tensor itself, or a converted copy kept in `copy`.
const Codes& in_layout(const Codes& in, Layout layout, Codes& copy) {
  if (in.shape().size() != 4 || in.layout() == layout) return in;
  copy = in.with_layout(layout);
  return copy;
}

/// Rows of work per task: enough to amortize a task, few enough to balance threads at batch 1.
constexpr int64_t kRowsPerTask = 256;

/// Per-thread scratch buffers, grown on demand and kept between calls.
class Scratch {
 public:
  AlignedBuffer& get() {
    const auto t = static_cast<size_t>(omp_get_thread_num());
    return buffers_[t];
  }
  void reserve(int threads) {
    if (buffers_.size() < static_cast<size_t>(threads)) buffers_.resize(static_cast<size_t>(threads));
  }

 private:
  std::vector<AlignedBuffer> buffers_;
};

// ---------------------------------------------------------------- conv2d and dense (GEMM)

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

class ConvKernel final : public PreparedNode {
 public:
  ConvKernel(const ir::Node& node, const Format& in_format, const std::vector<int64_t>& in_shape, Isa isa)
      : node_(node), in_c_(in_shape[0]), in_h_(in_shape[1]), in_w_(in_shape[2]) {
    const auto& w = *node.weight;
    kind_ = choose_gemm_kind(storage_type(in_format), w.format, node.accumulator_bits);
    const ir::WorstCase worst = ir::worst_case_accumulator(node, {in_format});
    const NarrowChoice narrow = choose_narrow(kind_, worst, accumulator_bound(node, in_format), isa);
    weights_ = GemmWeights(ohwi(w), w.shape[0], w.numel() / w.shape[0], kind_, narrow.packing, narrow.narrow);
    requant_ = prepare_requant(*node.requantize, w.shape[0], weights_.n_padded(), worst);
  }

  std::string kernel() const override { return "conv2d " + gemm_name(weights_); }

  void run(const std::vector<const Codes*>& inputs, Codes& out, int threads) override {
    Codes copy;
    const Codes& in = in_layout(*inputs[0], Layout::kChannelsLast, copy);
    const int64_t batch = in.batch(), co = node_.output_shape[0];
    const int64_t oh = node_.output_shape[1], ow = node_.output_shape[2], rows = oh * ow;
    out.reset(node_.output_format, batch_shape(batch, node_.output_shape), Layout::kChannelsLast);
    const int64_t tasks_per_sample = (rows + kRowsPerTask - 1) / kRowsPerTask, tasks = batch * tasks_per_sample;
    const DType a_type = gemm_a_type(kind_);
    const int64_t lda = weights_.k_padded(), a_size = element_size(a_type);
    const int64_t out_size = element_size(out.dtype());
    scratch_.reserve(threads);
#pragma omp parallel for num_threads(threads) schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n = task / tasks_per_sample, row0 = (task % tasks_per_sample) * kRowsPerTask;
      const int64_t count = std::min(kRowsPerTask, rows - row0);
      AlignedBuffer& buffer = scratch_.get();
      buffer.resize(static_cast<size_t>(count * lda * a_size));
      visit(in.dtype(), [&](auto in_tag) {
        visit(a_type, [&](auto a_tag) {
          im2col(in.data<decltype(in_tag)>() + n * in_c_ * in_h_ * in_w_, row0, count, ow,
                 buffer.as<decltype(a_tag)>(), lda);
        });
      });
      auto* dst = static_cast<uint8_t*>(out.raw()) + (n * rows + row0) * co * out_size;
      gemm_requantize(weights_, buffer.as<uint8_t>(), count, lda, requant_, GemmOutput{out.dtype(), dst, co});
    }
  }

 private:
  /// Rows [row0, row0 + count) of the NHWC patch matrix of one sample: row (oy, ox) holds, for each
  /// (ky, kx), the C input channels at (oy s + ky - p, ox s + kx - p), zeros outside; then zeros up to lda.
  template <typename In, typename A>
  void im2col(const In* x, int64_t row0, int64_t count, int64_t ow, A* a, int64_t lda) const {
    const int64_t k = node_.kernel, s = node_.stride, p = node_.padding, c = in_c_;
    const int64_t segment = k * c; // one kernel row: k pixels of c channels, contiguous in NHWC
    for (int64_t r = 0; r < count; ++r) {
      const int64_t oy = (row0 + r) / ow, ox = (row0 + r) % ow;
      const int64_t ix0 = ox * s - p;
      const bool inside_x = ix0 >= 0 && ix0 + k <= in_w_;
      A* row = a + r * lda;
      for (int64_t ky = 0; ky < k; ++ky, row += segment) {
        const int64_t iy = oy * s + ky - p;
        if (iy < 0 || iy >= in_h_) {
          std::fill(row, row + segment, A{0});
          continue;
        }
        const In* src = x + (iy * in_w_ + ix0) * c;
        if (inside_x) {
          copy(src, row, segment);
          continue;
        }
        for (int64_t kx = 0; kx < k; ++kx) {
          const int64_t ix = ix0 + kx;
          if (ix < 0 || ix >= in_w_) std::fill(row + kx * c, row + (kx + 1) * c, A{0});
          else copy(src + kx * c, row + kx * c, c);
        }
      }
      std::fill(row, a + r * lda + lda, A{0});
    }
  }

  /// An inline loop rather than memcpy: segments are often a few elements (a 3x3 kernel on one channel).
  template <typename In, typename A>
  static void copy(const In* src, A* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<A>(src[i]);
  }

  ir::Node node_;
  int64_t in_c_, in_h_, in_w_;
  GemmKind kind_;
  GemmWeights weights_;
  ChannelRequant requant_;
  Scratch scratch_;
};

class DenseKernel final : public PreparedNode {
 public:
  DenseKernel(const ir::Node& node, const Format& in_format, Isa isa) : node_(node) {
    const auto& w = *node.weight;
    kind_ = choose_gemm_kind(storage_type(in_format), w.format, node.accumulator_bits);
    const ir::WorstCase worst = ir::worst_case_accumulator(node, {in_format});
    const NarrowChoice narrow = choose_narrow(kind_, worst, accumulator_bound(node, in_format), isa);
    weights_ = GemmWeights(w.data, w.shape[0], w.shape[1], kind_, narrow.packing, narrow.narrow);
    requant_ = prepare_requant(*node.requantize, w.shape[0], weights_.n_padded(), worst);
  }

  std::string kernel() const override { return "dense " + gemm_name(weights_); }

  void run(const std::vector<const Codes*>& inputs, Codes& out, int threads) override {
    const Codes& in = *inputs[0];
    const int64_t batch = in.batch(), k = weights_.k(), lda = weights_.k_padded(), co = node_.output_shape[0];
    out.reset(node_.output_format, batch_shape(batch, node_.output_shape));
    const DType a_type = gemm_a_type(kind_);
    const bool direct = in.dtype() == a_type && lda == k; // A is the input itself
    const int64_t block = std::max<int64_t>(16, (batch + 2 * threads - 1) / (2 * threads));
    const int64_t tasks = (batch + block - 1) / block;
    const int64_t a_size = element_size(a_type), out_size = element_size(out.dtype());
    scratch_.reserve(threads);
#pragma omp parallel for num_threads(threads) schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t row0 = task * block, count = std::min(block, batch - row0);
      const void* a = static_cast<const uint8_t*>(in.raw()) + row0 * k * element_size(in.dtype());
      if (!direct) {
        AlignedBuffer& buffer = scratch_.get();
        buffer.resize(static_cast<size_t>(count * lda * a_size));
        visit(in.dtype(), [&](auto in_tag) {
          visit(a_type, [&](auto a_tag) {
            using In = decltype(in_tag);
            using A = decltype(a_tag);
            const In* x = in.data<In>() + row0 * k;
            A* dst = buffer.as<A>();
            for (int64_t r = 0; r < count; ++r) {
              for (int64_t i = 0; i < k; ++i) dst[r * lda + i] = static_cast<A>(x[r * k + i]);
              std::fill(dst + r * lda + k, dst + (r + 1) * lda, A{0});
            }
          });
        });
        a = buffer.as<uint8_t>();
      }
      auto* dst = static_cast<uint8_t*>(out.raw()) + row0 * co * out_size;
      gemm_requantize(weights_, a, count, lda, requant_, GemmOutput{out.dtype(), dst, co});
    }
  }

 private:
  ir::Node node_;
  GemmKind kind_;
  GemmWeights weights_;
  ChannelRequant requant_;
  Scratch scratch_;
};

// ---------------------------------------------------------------- element-wise and pooling

/// Requantization of element-wise ops, with the channel of each element.
ChannelRequant prepare_elementwise(const ir::Node& node, const std::vector<Format>& inputs) {
  const int64_t channels = node.output_shape[0];
  return prepare_requant(*node.requantize, channels, channels, ir::worst_case_accumulator(node, inputs));
}

/// Channel of element i of a [N, C, ...] tensor with `inner` elements per channel and sample.
int64_t channel_of(int64_t i, int64_t channels, int64_t inner, bool channels_last) {
  return channels_last ? i % channels : (i / inner) % channels;
}

class PoolKernel final : public PreparedNode {
 public:
  PoolKernel(const ir::Node& node, const std::vector<Format>& inputs) : node_(node) {
    if (node.op == ir::OpKind::kAvgPool) requant_ = prepare_elementwise(node, inputs);
  }
  std::string kernel() const override {
    return std::string(node_.op == ir::OpKind::kMaxPool ? "maxpool" : "avgpool") + " nhwc";
  }

  void run(const std::vector<const Codes*>& inputs, Codes& out, int threads) override {
    Codes copy;
    const Codes& in = in_layout(*inputs[0], Layout::kChannelsLast, copy);
    const int64_t batch = in.batch();
    out.reset(node_.output_format, batch_shape(batch, node_.output_shape), Layout::kChannelsLast);
    visit(in.dtype(), [&](auto in_tag) {
      visit(out.dtype(), [&](auto out_tag) {
        using In = decltype(in_tag);
        using Out = decltype(out_tag);
        const In* x = in.data<In>();
        Out* y = out.data<Out>();
        const int64_t c = in.shape()[1], h = in.shape()[2], w = in.shape()[3];
        const int64_t oh = node_.output_shape[1], ow = node_.output_shape[2], k = node_.kernel, s = node_.stride;
        const bool is_max = node_.op == ir::OpKind::kMaxPool;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t n = 0; n < batch; ++n) {
          std::vector<int64_t> acc(static_cast<size_t>(c));
          for (int64_t oy = 0; oy < oh; ++oy)
            for (int64_t ox = 0; ox < ow; ++ox) {
              Out* dst = y + ((n * oh + oy) * ow + ox) * c;
              if (is_max) {
                const In* first = x + ((n * h + oy * s) * w + ox * s) * c;
                for (int64_t ch = 0; ch < c; ++ch) dst[ch] = static_cast<Out>(first[ch]);
                for (int64_t ky = 0; ky < k; ++ky)
                  for (int64_t kx = 0; kx < k; ++kx) {
                    const In* src = x + ((n * h + oy * s + ky) * w + ox * s + kx) * c;
                    for (int64_t ch = 0; ch < c; ++ch) dst[ch] = std::max(dst[ch], static_cast<Out>(src[ch]));
                  }
              } else {
                std::fill(acc.begin(), acc.end(), 0);
                for (int64_t ky = 0; ky < k; ++ky)
                  for (int64_t kx = 0; kx < k; ++kx) {
                    const In* src = x + ((n * h + oy * s + ky) * w + ox * s + kx) * c;
                    for (int64_t ch = 0; ch < c; ++ch) acc[static_cast<size_t>(ch)] += src[ch];
                  }
                for (int64_t ch = 0; ch < c; ++ch)
                  dst[ch] = static_cast<Out>(requantize_folded(acc[static_cast<size_t>(ch)], requant_.multiplier[ch],
                                                               requant_.offset[ch], requant_.shift, requant_.lo,
                                                               requant_.hi));
              }
            }
        }
      });
    });
  }

 private:
  ir::Node node_;
  ChannelRequant requant_;
};

/// rescale (one input) and add (two inputs): eq. (3) per element, in the layout of the first input
/// (4-D outputs of rescale are written channels-last, the layout the next convolution reads).
class ElementwiseKernel final : public PreparedNode {
 public:
  ElementwiseKernel(const ir::Node& node, const std::vector<Format>& inputs) : node_(node) {
    requant_ = prepare_elementwise(node, inputs);
    if (node.op == ir::OpKind::kAdd) {
      const int frac = std::max(inputs[0].frac, inputs[1].frac);
      scale_a_ = int64_t{1} << (frac - inputs[0].frac);
      scale_b_ = int64_t{1} << (frac - inputs[1].frac);
    }
  }
  std::string kernel() const override { return node_.op == ir::OpKind::kAdd ? "add" : "rescale"; }

  void run(const std::vector<const Codes*>& inputs, Codes& out, int threads) override {
    Codes copy_a, copy_b;
    const Codes& a = in_layout(*inputs[0], Layout::kChannelsLast, copy_a);
    const Codes* b = nullptr;
    if (node_.op == ir::OpKind::kAdd) b = &in_layout(*inputs[1], a.layout(), copy_b);
    const bool last = a.channels_last();
    out.reset(node_.output_format, batch_shape(a.batch(), node_.output_shape),
              last ? Layout::kChannelsLast : Layout::kChannelsFirst);
    const int64_t channels = node_.output_shape[0];
    const int64_t inner = a.numel() / std::max<int64_t>(1, a.batch()) / channels;
    const int64_t total = a.numel();
    visit(a.dtype(), [&](auto a_tag) {
      visit(out.dtype(), [&](auto out_tag) {
        using A = decltype(a_tag);
        using Out = decltype(out_tag);
        const A* xa = a.data<A>();
        Out* y = out.data<Out>();
        if (!b) {
#pragma omp parallel for num_threads(threads) schedule(static)
          for (int64_t i = 0; i < total; ++i) y[i] = static_cast<Out>(requant(xa[i], channel_of(i, channels, inner, last)));
          return;
        }
        visit(b->dtype(), [&](auto b_tag) {
          using B = decltype(b_tag);
          const B* xb = b->data<B>();
#pragma omp parallel for num_threads(threads) schedule(static)
          for (int64_t i = 0; i < total; ++i)
            y[i] = static_cast<Out>(requant(xa[i] * scale_a_ + xb[i] * scale_b_, channel_of(i, channels, inner, last)));
        });
      });
    });
  }

 private:
  int64_t requant(int64_t acc, int64_t c) const {
    return requantize_folded(acc, requant_.multiplier[static_cast<size_t>(c)], requant_.offset[static_cast<size_t>(c)],
                             requant_.shift, requant_.lo, requant_.hi);
  }
  ir::Node node_;
  ChannelRequant requant_;
  int64_t scale_a_ = 1, scale_b_ = 1;
};

class FlattenKernel final : public PreparedNode {
 public:
  explicit FlattenKernel(const ir::Node& node) : node_(node) {}
  std::string kernel() const override { return "flatten"; }
  void run(const std::vector<const Codes*>& inputs, Codes& out, int) override {
    Codes copy;
    const Codes& in = in_layout(*inputs[0], Layout::kChannelsFirst, copy); // [C, H, W] row-major order
    out.reset(node_.output_format, batch_shape(in.batch(), node_.output_shape));
    std::memcpy(out.raw(), in.raw(), static_cast<size_t>(in.numel() * element_size(in.dtype())));
  }

 private:
  ir::Node node_;
};

} // namespace

std::unique_ptr<PreparedNode> prepare_node(const ir::Node& node, const std::vector<Format>& inputs,
                                           const std::vector<std::vector<int64_t>>& input_shapes, Isa isa) {
  switch (node.op) {
    case ir::OpKind::kConv2d: return std::make_unique<ConvKernel>(node, inputs[0], input_shapes[0], isa);
    case ir::OpKind::kDense: return std::make_unique<DenseKernel>(node, inputs[0], isa);
    case ir::OpKind::kMaxPool:
    case ir::OpKind::kAvgPool: return std::make_unique<PoolKernel>(node, inputs);
    case ir::OpKind::kRescale:
    case ir::OpKind::kAdd: return std::make_unique<ElementwiseKernel>(node, inputs);
    case ir::OpKind::kFlatten: return std::make_unique<FlattenKernel>(node);
  }
  throw std::runtime_error("node '" + node.name + "': no optimized kernel for op " + ir::to_string(node.op));
}

} // namespace fxnn::runtime
