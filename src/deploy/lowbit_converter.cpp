#include "fxnn/deploy/lowbit_converter.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

#include "fxnn/deploy/calibration.h"
#include "fxnn/deploy/calibration_stream.h"
#include "fxnn/deploy/float_layers.h"
#include "fxnn/io/text_table.h"
#include "fxnn/ir/worst_case.h"
#include "fxnn/lowbit/requantize_builder.h"

namespace fxnn::lowbit {

namespace {

/// Fractional bits of pixels of the mean that the shift-clip input node subtracts: 2^-8 pixel.
constexpr int kMeanFractionBits = 8;

int64_t round_half_up(double x) { return static_cast<int64_t>(std::floor(x + 0.5)); }

/// Steps of the groups of a tensor (one per channel, or one for all), and their exponents when
/// they are powers of two.
struct GroupSteps {
  std::vector<double> step;
  std::vector<int> exponent;

  /// The format's fractional bits: -e when every group has the power-of-two step 2^e, else 0 (the
  /// codes then stand for themselves and the steps live in the multipliers; docs/lowbit.md section 5).
  int common_frac(bool power_of_two) const {
    if (!power_of_two || exponent.empty()) return 0;
    const bool same = std::all_of(exponent.begin(), exponent.end(), [&](int e) { return e == exponent[0]; });
    return same ? -exponent[0] : 0;
  }
  void expand_to(int64_t channels) {
    if (step.size() == 1 && channels > 1) {
      step.assign(static_cast<size_t>(channels), step[0]);
      exponent.assign(static_cast<size_t>(channels), exponent[0]);
    }
  }
};

/// Which step a group of zeros (a dead unit, a row of zero weights) takes: any step quantizes it
/// exactly, so it takes the finest (weights: the bias keeps the finest grid) or the coarsest
/// (activations: the widest range) of the other groups.
enum class ZeroGroup { kFinest, kCoarsest };

GroupSteps choose_group_steps(const std::vector<std::vector<double>>& groups, CodeRange codes, const StepSearch& search,
                              ZeroGroup zero) {
  GroupSteps s;
  std::vector<bool> empty;
  for (const auto& values : groups) {
    const ErrorProfile profile(values);
    const bool zeros = values.empty() || max_abs_step(profile, codes) == 0;
    const StepChoice c = zeros ? StepChoice{} : choose_step(profile, codes, search);
    s.step.push_back(c.step);
    s.exponent.push_back(c.exponent);
    empty.push_back(zeros);
  }
  int pick = -1;
  for (size_t g = 0; g < groups.size(); ++g) {
    if (empty[g]) continue;
    const bool better = zero == ZeroGroup::kFinest ? s.step[g] < s.step[static_cast<size_t>(pick)]
                                                   : s.step[g] > s.step[static_cast<size_t>(pick)];
    if (pick < 0 || better) pick = static_cast<int>(g);
  }
  for (size_t g = 0; g < groups.size(); ++g)
    if (empty[g] && pick >= 0)
      s.step[g] = s.step[static_cast<size_t>(pick)], s.exponent[g] = s.exponent[static_cast<size_t>(pick)];
  return s;
}

/// The code of the clip value under the shift's rounding: the clipped ReLU's top in codes.
int64_t clip_code(double clip, double step, Rounding rounding) {
  const double y = clip / step;
  return static_cast<int64_t>(rounding == Rounding::kFloor ? std::floor(y) : std::floor(y + 0.5));
}

class Converter {
 public:
  Converter(const LowbitOptions& options, const ExperimentConfig& config, const CalibrationSamples& samples,
            const data::ImageDataset& calibration_images)
      : options_(options), config_(config), samples_(samples) {
    const InputShape input = config.input_shape();
    result_.network.name = config.name;
    result_.network.input_shape = {input.channels, input.height, input.width};
    result_.network.input_format = Format(8, 0, false); // raw pixels
    current_ = {result_.network.input_name, result_.network.input_format, result_.network.input_shape, {}, 1};
    if (options.correction != Correction::kNone) stream_.emplace(calibration_images, config.transform, result_.network);
  }

  void input_node() {
    const int64_t channels = current_.shape[0];
    const CodeRange codes = twos_complement_codes(options_.input_bits);
    GroupSteps u = choose_group_steps(samples_.input, codes, search(0), ZeroGroup::kCoarsest);
    u.expand_to(channels);
    ir::Node node = base("input_scale", ir::OpKind::kRescale, current_.shape);
    node.output_format = Format(options_.input_bits, u.common_frac(power_of_two()), true);
    const ir::WorstCase worst = ir::worst_case_accumulator(node, {current_.format});
    const RequantizeTarget target{options_.rounding, codes.lo, codes.hi, false};
    std::vector<double> mean(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c)
      mean[static_cast<size_t>(c)] = 255.0 * normalization_mean(config_.transform, c);
    if (power_of_two()) {
      // eq. (7): code = round((p - 255 mean_c) 2^-e_c) as (p 2^(S - e_c) - round(255 mean_c 2^(S - e_c))) >> S.
      ir::Requantize r;
      const int s = *std::max_element(u.exponent.begin(), u.exponent.end()) + kMeanFractionBits;
      r.shift = r.multiplier_frac = s;
      r.rounding = target.rounding;
      r.clamp_min = target.clamp_min;
      r.clamp_max = target.clamp_max;
      for (int64_t c = 0; c < channels; ++c) {
        const int left = s - u.exponent[static_cast<size_t>(c)];
        r.multiplier.push_back(int64_t{1} << left);
        r.offset.push_back(-round_half_up(std::ldexp(mean[static_cast<size_t>(c)], left)));
      }
      node.requantize = r;
    } else {
      // eq. (6) with alpha_c = 1 / Delta_c, beta_c = -255 mean_c / Delta_c.
      std::vector<double> alpha, beta;
      for (int64_t c = 0; c < channels; ++c) {
        alpha.push_back(1.0 / u.step[static_cast<size_t>(c)]);
        beta.push_back(-mean[static_cast<size_t>(c)] / u.step[static_cast<size_t>(c)]);
      }
      node.requantize = float_scale_requantize(alpha, beta, worst, target).requantize;
    }
    result_.input_step_min = *std::min_element(u.step.begin(), u.step.end());
    result_.input_step_max = *std::max_element(u.step.begin(), u.step.end());
    // The first layer sees x_c = u_c / (255 std_c): its input step in the units of x.
    std::vector<double> step;
    for (int64_t c = 0; c < channels; ++c)
      step.push_back(u.step[static_cast<size_t>(c)] / (255.0 * normalization_std(config_.transform, c)));
    advance(nullptr, node);
    push(std::move(node), step, 1);
  }

  void layer(const FloatLayer& l) {
    switch (l.kind) {
      case FloatLayer::Kind::kConv2d:
      case FloatLayer::Kind::kDense: weighted(l); break;
      case FloatLayer::Kind::kMaxPool: {
        const auto& in = current_.shape;
        ir::Node node = base(l.name, ir::OpKind::kMaxPool,
                             {in[0], (in[1] - l.kernel) / l.stride + 1, (in[2] - l.kernel) / l.stride + 1});
        node.kernel = l.kernel;
        node.stride = l.stride;
        node.output_format = current_.format;
        advance(&l, node);
        push(std::move(node), current_.step, 1);
        break;
      }
      case FloatLayer::Kind::kAvgPool: average_pool(l); break;
      case FloatLayer::Kind::kFlatten: {
        int64_t size = 1;
        for (int64_t d : current_.shape) size *= d;
        ir::Node node = base(l.name, ir::OpKind::kFlatten, {size});
        node.output_format = current_.format;
        advance(&l, node);
        push(std::move(node), current_.step, size / current_.shape[0]);
        break;
      }
    }
  }

  /// The sum of the codes over each window, exact and unscaled: the division by k^2 goes into the
  /// step, and from there into the next layer's weights (eq. (5)), so it costs neither a multiplier
  /// nor a rounding (docs/lowbit.md section 3).
  void average_pool(const FloatLayer& l) {
    const auto& in = current_.shape;
    ir::Node node = base(l.name, ir::OpKind::kAvgPool,
                         {in[0], (in[1] - l.kernel) / l.stride + 1, (in[2] - l.kernel) / l.stride + 1});
    node.kernel = l.kernel;
    node.stride = l.stride;
    const int64_t window = l.kernel * l.kernel;
    const int extra = bit_length(static_cast<uint64_t>(window - 1));
    const Format& f = current_.format;
    node.output_format = Format(f.bits + extra, f.frac + extra, f.is_signed);
    ir::Requantize r;
    r.multiplier = {1};
    r.offset = {0};
    r.clamp_min = node.output_format.code_min();
    r.clamp_max = node.output_format.code_max();
    node.requantize = r;
    std::vector<double> step = current_.step;
    for (double& s : step) s /= static_cast<double>(window);
    advance(&l, node);
    push(std::move(node), std::move(step), 1);
  }

  LowbitConversion take() {
    result_.network.output = current_.name;
    result_.network.validate();
    return std::move(result_);
  }

 private:
  /// The codes flowing between nodes: element of channel c stands for code * step[c] (real units of
  /// the float network); a 1-D tensor after flatten has `inner` elements per channel.
  struct Tensor {
    std::string name;
    Format format;
    std::vector<int64_t> shape;
    std::vector<double> step;
    int64_t inner = 1;
  };

  bool power_of_two() const { return options_.mode == LowbitMode::kShiftClip; }

  /// The grid the layer was trained on, or none (search the steps).
  const TrainedGrid* trained_grid(const FloatLayer& l) const {
    if (options_.trained_grids.empty()) return nullptr;
    const auto it = options_.trained_grids.find(l.name);
    if (it == options_.trained_grids.end()) throw std::runtime_error("lowbit: no trained grid for layer " + l.name);
    return &it->second;
  }

  /// The one step of a layer's input codes (a trained grid needs the same step on every channel).
  double input_step() const {
    const auto [lo, hi] = std::minmax_element(current_.step.begin(), current_.step.end());
    if (*lo != *hi)
      throw std::runtime_error("lowbit: trained grids need one input step per layer (--granularity layer)");
    return *lo;
  }

  /// A step given, not searched; its exponent when it is a power of two (shift-clip needs one).
  GroupSteps fixed_step(double step) const {
    const std::optional<int> e = exact_log2(step);
    if (!e && power_of_two())
      throw std::runtime_error("lowbit: shift-clip needs power-of-two steps; a trained grid gives " +
                               format_general(step));
    return GroupSteps{{step}, {e.value_or(0)}};
  }
  StepSearch search(double max_step) const { return {options_.steps, power_of_two(), max_step}; }
  bool per_channel() const { return options_.granularity == Granularity::kChannel; }

  ir::Node base(const std::string& name, ir::OpKind op, std::vector<int64_t> shape) const {
    ir::Node node;
    node.name = name;
    node.op = op;
    node.inputs = {current_.name};
    node.output_shape = std::move(shape);
    return node;
  }

  /// The calibration stream follows the network as it is built (with a correction only).
  void advance(const FloatLayer* l, const ir::Node& node) {
    if (stream_) stream_->advance(l, node, result_.network);
  }

  void push(ir::Node node, std::vector<double> step, int64_t inner) {
    current_ = {node.name, node.output_format, node.output_shape, std::move(step), inner};
    result_.network.nodes.push_back(std::move(node));
  }

  /// eq. (5): the input steps folded into the weights, W'[o, i] = W[o, i] * step_in(i).
  torch::Tensor folded_weight(const FloatLayer& l) const {
    const int64_t inputs = l.weight.size(1);
    std::vector<double> s(static_cast<size_t>(inputs));
    for (int64_t i = 0; i < inputs; ++i)
      s[static_cast<size_t>(i)] = current_.step.at(static_cast<size_t>(i / current_.inner));
    auto steps = torch::tensor(s, torch::kDouble);
    return (l.kind == FloatLayer::Kind::kConv2d ? l.weight * steps.view({1, -1, 1, 1}) : l.weight * steps.view({1, -1}))
        .contiguous();
  }

  /// The first or the last weighted layer (`--edge-bits`).
  bool edge(const FloatLayer& l) const { return l.name == first_weighted_ || !l.clip; }

  void weighted(const FloatLayer& l) {
    if (first_weighted_.empty()) first_weighted_ = l.name;
    const bool conv = l.kind == FloatLayer::Kind::kConv2d;
    const auto w = folded_weight(l);
    const int64_t channels = w.size(0), per = w.numel() / channels;
    const double* wd = w.data_ptr<double>();
    const int weight_bits = edge(l) && options_.edge_bits ? options_.edge_bits : options_.bits;
    const TrainedGrid* grid = trained_grid(l);
    // A trained grid keeps the two's-complement codes the training's sB.F format had.
    const CodeRange wcodes = grid ? twos_complement_codes(weight_bits) : symmetric_codes(weight_bits);
    GroupSteps ws;
    if (grid) {
      ws = fixed_step(input_step() * grid->weight_step); // W'' = W' s_in, eq. (5)
    } else {
      std::vector<std::vector<double>> rows;
      if (per_channel())
        for (int64_t o = 0; o < channels; ++o) rows.emplace_back(wd + o * per, wd + (o + 1) * per);
      else
        rows.emplace_back(wd, wd + w.numel());
      ws = choose_group_steps(rows, wcodes, search(0), ZeroGroup::kFinest);
    }
    ws.expand_to(channels);

    std::vector<int64_t> shape{channels};
    if (conv) {
      const auto& in = current_.shape;
      shape = {channels, (in[1] + 2 * l.padding - l.kernel) / l.stride + 1,
               (in[2] + 2 * l.padding - l.kernel) / l.stride + 1};
    }
    ir::Node node = base(l.name, conv ? ir::OpKind::kConv2d : ir::OpKind::kDense, shape);
    node.kernel = l.kernel;
    node.stride = l.stride;
    node.padding = l.padding;
    ir::IntTensor weight;
    weight.shape = l.weight.sizes().vec();
    weight.format = Format(weight_bits, ws.common_frac(power_of_two()), true);
    weight.data.resize(static_cast<size_t>(w.numel()));
    for (int64_t o = 0; o < channels; ++o)
      for (int64_t k = 0; k < per; ++k)
        weight.data[static_cast<size_t>(o * per + k)] =
            quantize_code(wd[o * per + k], ws.step[static_cast<size_t>(o)], wcodes);
    node.weight = std::move(weight);
    const ir::WorstCase worst = ir::worst_case_accumulator(node, {current_.format});
    node.accumulator_bits = worst.fits(32) ? 32 : 64;

    LayerReport report;
    const Corrected corrected = correct(l, node, ws, report);
    const auto& bias = corrected.bias;
    // The bias in accumulator units (eq. (8)); reported for float-scale too (eq. (9)).
    std::vector<int64_t> bias_int;
    for (int64_t o = 0; o < channels; ++o)
      bias_int.push_back(round_half_up(bias[static_cast<size_t>(o)] / ws.step[static_cast<size_t>(o)]));

    report.name = l.name;
    report.fan_in = per;
    report.input_step = *std::min_element(current_.step.begin(), current_.step.end());
    report.weight_step_min = *std::min_element(ws.step.begin(), ws.step.end());
    report.weight_step_max = *std::max_element(ws.step.begin(), ws.step.end());
    report.weight_code_max = wcodes.hi;
    report.input_code_max = static_cast<int64_t>(ir::max_abs_code(current_.format));
    for (int64_t b : bias_int) report.bias_max = std::max(report.bias_max, std::abs(b));
    report.spec_bound =
        static_cast<uint64_t>(per) * static_cast<uint64_t>(wcodes.hi) * static_cast<uint64_t>(report.input_code_max) +
        static_cast<uint64_t>(report.bias_max);
    report.worst_case = worst.max();
    report.accumulator_bits = node.accumulator_bits;

    std::vector<double> next_step;
    if (l.clip) {
      next_step = hidden_requantize(l, node, ws, corrected, bias_int, worst, report);
      advance(&l, node);
    } else {
      logits_requantize(node, ws, corrected, bias_int, worst, report);
    }
    result_.layers.push_back(report);
    push(std::move(node), std::move(next_step), 1);
  }

  /// The bias (and, for float-scale, the accumulator's scale g Delta_w) that the layer uses: the folded
  /// ones, or those eq. (10) fits on the calibration images.
  struct Corrected {
    std::vector<double> bias;
    std::vector<double> unit; // the real value of one accumulator unit: g_o Delta_w[o]
  };

  Corrected correct(const FloatLayer& l, const ir::Node& node, const GroupSteps& ws, LayerReport& report) const {
    const int64_t channels = l.bias.size(0);
    Corrected c;
    const auto folded = l.bias.contiguous();
    for (int64_t o = 0; o < channels; ++o) c.bias.push_back(folded[o].item<double>());
    c.unit = ws.step;
    if (!stream_) return c;
    const auto fits = stream_->fit(l, node);
    report.scale_min = report.scale_max = 1;
    for (int64_t o = 0; o < channels; ++o) {
      const ChannelFit& f = fits[static_cast<size_t>(o)];
      const auto i = static_cast<size_t>(o);
      double g = 1;
      if (options_.correction == Correction::kAffine && f.variance_acc > 0 && f.covariance > 0)
        g = f.covariance / (ws.step[i] * f.variance_acc);
      c.unit[i] = g * ws.step[i];
      const double b = f.mean_z - c.unit[i] * f.mean_acc;
      report.bias_shift_max = std::max(report.bias_shift_max, std::abs(b - c.bias[i]));
      report.scale_min = std::min(report.scale_min, g);
      report.scale_max = std::max(report.scale_max, g);
      c.bias[i] = b;
    }
    return c;
  }

  /// A hidden layer: B-bit unsigned output codes, the clipped ReLU in the clamp (eq. (6) or (8)).
  std::vector<double> hidden_requantize(const FloatLayer& l, ir::Node& node, const GroupSteps& ws,
                                        const Corrected& corrected, const std::vector<int64_t>& bias_int,
                                        const ir::WorstCase& worst, LayerReport& report) {
    const int64_t channels = node.output_shape[0];
    const CodeRange acodes = unsigned_codes(options_.bits);
    // One clamp per node: per-channel steps must all reach the clip at the top code (docs/lowbit.md section 3).
    // A plain ReLU (clip +infinity) bounds nothing: the step search alone sets the top code.
    const bool clipped = std::isfinite(*l.clip);
    const double max_step = per_channel() && clipped ? *l.clip / static_cast<double>(acodes.hi) : 0.0;
    const TrainedGrid* grid = trained_grid(l);
    GroupSteps as = grid && grid->activation_step ? fixed_step(*grid->activation_step)
                                                  : choose_group_steps(samples_.activations.at(l.name), acodes,
                                                                       search(max_step), ZeroGroup::kCoarsest);
    as.expand_to(channels);
    const int64_t top =
        per_channel() || !clipped ? acodes.hi : std::min(acodes.hi, clip_code(*l.clip, as.step[0], options_.rounding));
    const RequantizeTarget target{options_.rounding, 0, top, false};
    BuiltRequantize built;
    if (power_of_two()) {
      std::vector<int> shift;
      for (int64_t o = 0; o < channels; ++o)
        shift.push_back(as.exponent[static_cast<size_t>(o)] - ws.exponent[static_cast<size_t>(o)]);
      built = shift_clip_requantize(shift, bias_int, worst, target);
    } else {
      std::vector<double> alpha, beta;
      for (int64_t o = 0; o < channels; ++o) {
        alpha.push_back(corrected.unit[static_cast<size_t>(o)] / as.step[static_cast<size_t>(o)]);
        beta.push_back(corrected.bias[static_cast<size_t>(o)] / as.step[static_cast<size_t>(o)]);
      }
      built = float_scale_requantize(alpha, beta, worst, target);
    }
    node.requantize = built.requantize;
    node.output_format = Format(options_.bits, as.common_frac(power_of_two()), false);
    report.activation_step_min = *std::min_element(as.step.begin(), as.step.end());
    report.activation_step_max = *std::max_element(as.step.begin(), as.step.end());
    report.significant_bits = built.significant_bits;
    return as.step;
  }

  /// The output layer: logits acc + b (shift-clip, in the units of the finest channel) or
  /// alpha acc + beta (float-scale), every bit kept (shift 0); the prediction is their argmax.
  void logits_requantize(ir::Node& node, const GroupSteps& ws, const Corrected& corrected,
                         const std::vector<int64_t>& bias_int, const ir::WorstCase& worst, LayerReport& report) {
    const int64_t channels = node.output_shape[0];
    const RequantizeTarget target{Rounding::kNearest, 0, 0, true};
    const double finest = *std::min_element(corrected.unit.begin(), corrected.unit.end());
    BuiltRequantize built;
    int frac = 0;
    if (power_of_two()) {
      const int e_min = *std::min_element(ws.exponent.begin(), ws.exponent.end());
      std::vector<int> shift;
      for (int64_t o = 0; o < channels; ++o) shift.push_back(e_min - ws.exponent[static_cast<size_t>(o)]);
      built = shift_clip_requantize(shift, bias_int, worst, target);
      frac = -e_min;
    } else {
      std::vector<double> alpha, beta;
      for (int64_t o = 0; o < channels; ++o) {
        alpha.push_back(corrected.unit[static_cast<size_t>(o)] / finest);
        beta.push_back(corrected.bias[static_cast<size_t>(o)] / finest);
      }
      built = float_scale_requantize(alpha, beta, worst, target);
    }
    // The output format holds every v = acc * multiplier + offset.
    uint64_t v_max = 0;
    for (int64_t o = 0; o < channels; ++o) {
      const auto m = static_cast<unsigned __int128>(std::abs(built.requantize.multiplier[static_cast<size_t>(o)]));
      const auto v = static_cast<unsigned __int128>(worst.channel(o)) * m +
                     static_cast<uint64_t>(std::abs(built.requantize.offset[static_cast<size_t>(o)]));
      v_max = std::max<uint64_t>(v_max, v > std::numeric_limits<uint64_t>::max() ? std::numeric_limits<uint64_t>::max()
                                                                                 : static_cast<uint64_t>(v));
    }
    const int bits = signed_bits_for(v_max);
    if (bits > Format::kMaxBits)
      throw std::runtime_error("lowbit: the logits of " + node.name + " need " + std::to_string(bits) + " bits");
    node.output_format = Format(bits, frac, true);
    built.requantize.clamp_min = node.output_format.code_min();
    built.requantize.clamp_max = node.output_format.code_max();
    node.requantize = built.requantize;
    report.significant_bits = built.significant_bits;
  }

  LowbitOptions options_;
  const ExperimentConfig& config_;
  const CalibrationSamples& samples_;
  LowbitConversion result_;
  Tensor current_;
  std::optional<CalibrationStream> stream_;
  std::string first_weighted_;
};

} // namespace

LowbitMode parse_lowbit_mode(const std::string& text) {
  if (text == "float-scale") return LowbitMode::kFloatScale;
  if (text == "shift-clip") return LowbitMode::kShiftClip;
  throw std::invalid_argument("unknown mode '" + text + "' (float-scale | shift-clip)");
}

std::string to_string(LowbitMode mode) { return mode == LowbitMode::kFloatScale ? "float-scale" : "shift-clip"; }

Granularity parse_granularity(const std::string& text) {
  if (text == "layer") return Granularity::kLayer;
  if (text == "channel") return Granularity::kChannel;
  throw std::invalid_argument("unknown granularity '" + text + "' (layer | channel)");
}

Correction parse_correction(const std::string& text) {
  if (text == "none") return Correction::kNone;
  if (text == "bias") return Correction::kBias;
  if (text == "affine") return Correction::kAffine;
  throw std::invalid_argument("unknown correction '" + text + "' (none | bias | affine)");
}

std::string to_string(Correction correction) {
  switch (correction) {
    case Correction::kNone: return "none";
    case Correction::kBias: return "bias";
    case Correction::kAffine: return "affine";
  }
  return "?";
}

std::string to_string(Granularity granularity) { return granularity == Granularity::kLayer ? "layer" : "channel"; }

void LowbitOptions::validate() const {
  const auto in_range = [](int b) { return b >= kMinBits && b <= kMaxBits; };
  if (!in_range(bits))
    throw std::invalid_argument("--bits " + std::to_string(bits) + " is outside " + std::to_string(kMinBits) + ".." +
                                std::to_string(kMaxBits));
  if (!in_range(input_bits))
    throw std::invalid_argument("--input-bits " + std::to_string(input_bits) + " is outside " +
                                std::to_string(kMinBits) + ".." + std::to_string(kMaxBits));
  if (edge_bits != 0 && !in_range(edge_bits))
    throw std::invalid_argument("--edge-bits " + std::to_string(edge_bits) + " is outside " + std::to_string(kMinBits) +
                                ".." + std::to_string(kMaxBits));
  if (calibration_images < 1)
    throw std::invalid_argument("--calib " + std::to_string(calibration_images) + " must be at least 1");
  if (correction == Correction::kAffine && mode == LowbitMode::kShiftClip)
    throw std::invalid_argument("--correction affine needs mode float-scale (shift-clip scales are powers of two)");
  if (rounding != Rounding::kNearest && rounding != Rounding::kFloor)
    throw std::invalid_argument("the shifts round to nearest or floor, not " + fxnn::to_string(rounding));
}

int signed_bits_for(uint64_t bound) { return bit_length(bound) + 1; }

LowbitConversion convert_to_lowbit(const NetworkImpl& network, const ExperimentConfig& config,
                                   const data::ImageDataset& train, const LowbitOptions& options) {
  options.validate(); // bad options fail before the network is read
  return convert_to_lowbit(float_layers(network), config, train, options);
}

LowbitConversion convert_to_lowbit(const std::vector<FloatLayer>& layers, const ExperimentConfig& config,
                                   const data::ImageDataset& train, const LowbitOptions& options) {
  options.validate();
  const auto images = data::random_subset(train, options.calibration_images, options.seed);
  CalibrationOptions calibration;
  calibration.per_channel = options.granularity == Granularity::kChannel;
  calibration.seed = options.seed;
  const CalibrationSamples samples = calibrate(layers, images, config.transform, calibration);
  Converter converter(options, config, samples, images);
  converter.input_node();
  for (const auto& l : layers) converter.layer(l);
  auto result = converter.take();
  result.network.source = "lowbit " + to_string(options.mode) + " " + std::to_string(options.bits) + " bits";
  return result;
}

} // namespace fxnn::lowbit
