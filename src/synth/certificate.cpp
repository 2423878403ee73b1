#include "fxnn/synth/certificate.h"

#include <boost/multiprecision/cpp_int.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>

#include "fxnn/synth/error_model.h"
#include "input_forms.h"
#include "parallel.h"
#include "zonotope.h"

namespace fxnn::synth {

namespace {

using Rational = boost::multiprecision::cpp_rational;
using BigInt = boost::multiprecision::cpp_int;

/// Integers this large cannot fit any word: codes are clamped to it for the bit counts.
const __int128 kHuge = static_cast<__int128>(1) << 120;

Rational pow2(int k) {
  if (k >= 0) return Rational(BigInt(1) << k);
  return Rational(BigInt(1), BigInt(1) << -k);
}

Rational abs(const Rational& r) { return r < 0 ? Rational(-r) : r; }

BigInt floor_of(const Rational& r) {
  const BigInt n = boost::multiprecision::numerator(r), d = boost::multiprecision::denominator(r); // d > 0
  BigInt q = n / d;
  if (n % d != 0 && n < 0) q -= 1;
  return q;
}

__int128 to_int128(const BigInt& v) {
  if (v > BigInt(1) << 120) return kHuge;
  if (v < -(BigInt(1) << 120)) return -kHuge;
  return static_cast<__int128>(v);
}

/// The code R(v * 2^frac) of eq. (3)/(7): exactly what the integer shift computes for value v.
__int128 code_of(const Rational& v, int frac, Rounding rounding) {
  Rational scaled = v * pow2(frac);
  if (rounding == Rounding::kNearest) scaled += Rational(1, 2);
  return to_int128(floor_of(scaled));
}

/// The smallest double >= r.
double round_up(const Rational& r) {
  double d = r.convert_to<double>();
  if (Rational(d) < r) d = std::nextafter(d, std::numeric_limits<double>::infinity());
  return d;
}

/// The largest double <= r.
double round_down(const Rational& r) { return -round_up(-r); }

__int128 abs128(__int128 v) { return v < 0 ? -v : v; }

BigInt big(__int128 v) {
  const __int128 high = v >> 64; // arithmetic shift: v = high * 2^64 + low, low in [0, 2^64)
  const auto low = static_cast<uint64_t>(v - high * (static_cast<__int128>(1) << 64));
  BigInt b = static_cast<int64_t>(high);
  b <<= 64;
  b += low;
  return b;
}

/// Bounds of one stored value of the previous layer: its error, the magnitudes of its computed and
/// real values, and the range of its code.
struct Value {
  Rational error;
  Rational computed_magnitude; // max |x^|
  Rational real_magnitude;     // max |y|
  __int128 code_max = 0;       // max |code|
};

/// Applies neuron i's activation to its error symbols (eq. (20c)) and returns a sound bound of
/// |y^_i - y_i|. z in [z_lo, z_hi] is the real pre-activation, z^ - z in [d_lo, d_hi].
double activate_errors(detail::Zonotope& errors, Eigen::Index i, const floatnet::DenseLayer& layer, double z_lo,
                       double z_hi, const Rational& d_lo, const Rational& d_hi, const Rational& clip_error,
                       int64_t clip_code, int frac_out) {
  std::vector<double> lo, hi;
  const auto row_bound = [&] {
    const Eigen::VectorXd g = errors.generators.row(i).transpose();
    const double rad = g.cwiseAbs().sum() + errors.radius(i);
    return std::fabs(errors.center(i)) + rad + detail::pad(g.size() + 4, std::fabs(errors.center(i)) + rad);
  };
  if (layer.activation == floatnet::Activation::kLinear) return row_bound();
  // Real and computed outputs: y = act(z), y^ = act^(z^) (clip constant c^ = clip_code 2^-F).
  const Rational c = Rational(layer.clip), c_hat = Rational(BigInt(clip_code)) * pow2(-frac_out);
  const bool clipped = layer.activation == floatnet::Activation::kClippedRelu;
  const auto act = [&](const Rational& v, const Rational& top) {
    Rational y = v < 0 ? Rational(0) : v;
    if (clipped && y > top) y = top;
    return y;
  };
  const Rational zl(z_lo), zh(z_hi);
  const bool active = zl >= 0 && zl + d_lo >= 0 && (!clipped || (zh <= c && zh + d_hi <= c_hat));
  if (active) return row_bound();  // identity on both sides: the symbols pass unchanged
  if (zh <= 0 && zh + d_hi <= 0) { // dead on both sides
    detail::set_box(errors, i, 0.0, 0.0);
    return 0.0;
  }
  // Either s D + t (c^ - c) with s, t in [0, 1] (halved symbols plus fresh ones), or the box of
  // y^ - y from the two ranges; the smaller one is kept.
  const Rational box_lo = act(zl + d_lo, c_hat) - act(zh, c), box_hi = act(zh + d_hi, c_hat) - act(zl, c);
  const double before = row_bound();
  const double split = before + round_up(abs(clip_error));
  const double box = std::max(round_up(abs(box_lo)), round_up(abs(box_hi)));
  if (box <= split) {
    detail::set_box(errors, i, round_down(box_lo), round_up(box_hi));
  } else {
    detail::relax(errors, i, 0.5, 0.0, before / 2);
    if (clip_error != 0) detail::add_interval(errors, i, -round_up(clip_error), round_up(clip_error));
  }
  return row_bound();
}

/// The smallest and largest of a set of codes, for the bits they need.
struct CodeRange {
  __int128 lo = 0, hi = 0;
  void add(__int128 v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
};

/// Eq. (13) as the affine analysis's input zonotope: each input's quantization error is its own
/// symbol, x^ - x in (-2^-F, 0] (floor) or (-2^-(F+1), 2^-(F+1)] (nearest); all 0 when not `counted`.
/// The first `reserved` columns are the symbols of the real values (eq. (20e)), 0 so far.
detail::Zonotope input_errors(const QuantizedNetwork& q, bool counted, Eigen::Index reserved) {
  const int r = rounding_exponent(q.rounding);
  std::vector<double> err_lo, err_hi;
  for (int64_t j = 0; j < q.inputs(); ++j) {
    const double e = counted ? round_up(pow2(-q.input_frac[static_cast<size_t>(j)] - r)) : 0.0;
    err_lo.push_back(-e);
    err_hi.push_back(q.rounding == Rounding::kFloor ? 0.0 : e);
  }
  detail::Zonotope z = detail::input_zonotope(err_lo, err_hi);
  Eigen::MatrixXd g = Eigen::MatrixXd::Zero(z.generators.rows(), reserved + z.generators.cols());
  g.rightCols(z.generators.cols()) = z.generators;
  z.generators = std::move(g);
  return z;
}

/// |c^ - c| of neuron i's clip constant (0 unless its activation is a clipped ReLU).
Rational clip_rounding_error(const floatnet::DenseLayer& layer, const QuantizedLayer& ql, size_t i) {
  if (ql.activation != floatnet::Activation::kClippedRelu) return 0;
  return abs(Rational(BigInt(ql.clip[i])) * pow2(-ql.formats[i].frac_out) - Rational(layer.clip));
}

/// Eq. (13): each input's error, code range and magnitudes (`values`), and the affine analysis's
/// input zonotope, in which each input's error is its own symbol. Returns the bits of the input codes.
int analyse_inputs(const NetworkRanges& ranges, const QuantizedNetwork& q, bool counted, Eigen::Index reserved,
                   std::vector<Value>& values, detail::Zonotope& errors) {
  const int r = rounding_exponent(q.rounding);
  CodeRange codes;
  for (int64_t j = 0; j < q.inputs(); ++j) {
    const size_t uj = static_cast<size_t>(j);
    const int frac = q.input_frac[uj];
    Value v;
    v.error = counted ? pow2(-frac - r) : Rational(0);
    v.code_max = std::max(abs128(q.input_code_lo[uj]), abs128(q.input_code_hi[uj]));
    v.computed_magnitude = Rational(big(v.code_max)) * pow2(-frac);
    v.real_magnitude = Rational(std::max(std::fabs(ranges.input_lo[uj]), std::fabs(ranges.input_hi[uj])));
    codes.add(q.input_code_lo[uj]);
    codes.add(q.input_code_hi[uj]);
    values.push_back(std::move(v));
  }
  errors = input_errors(q, counted, reserved);
  return signed_bits(codes.lo, codes.hi);
}

/// Relative difference below which two bounds of the same term count as equal (paddings differ).
constexpr double kTieTolerance = 1e-9;

/// Adds sum_j dw_j y_j, the rounding of neuron i's weights at the real inputs y (eq. (20e)), to its
/// error: in the symbols of y's affine form, or as the interval [lo, hi] (from the ranges) when that
/// bounds it tighter.
void add_weight_rounding(detail::Zonotope& errors, Eigen::Index i, const Eigen::RowVectorXd& dw,
                         const detail::AffineForms& y, double lo, double hi) {
  const Eigen::Index k = y.generators.cols();
  const Eigen::RowVectorXd coefficients = dw * y.generators;
  const double center = dw.dot(y.center);
  const Eigen::VectorXd y_magnitude = y.center.cwiseAbs() + y.generators.cwiseAbs().rowwise().sum();
  const double before = errors.generators.row(i).head(k).cwiseAbs().sum();
  // eq. (25): the products, their sums and the additions to the row's coefficients.
  const double p = detail::pad(dw.size() + k + 4, dw.cwiseAbs().dot(y_magnitude) + before);
  const double symbolic = std::fabs(center) + coefficients.cwiseAbs().sum() + p;
  // Both are sound. A tie (the same real bound, a different padding) goes to the symbolic form: its
  // coefficients can cancel in the next layers, a fresh symbol's radius cannot.
  if (symbolic > std::max(std::fabs(lo), std::fabs(hi)) * (1 + kTieTolerance)) {
    detail::add_interval(errors, i, lo, hi);
    return;
  }
  errors.generators.row(i).head(k) += coefficients;
  detail::add_interval(errors, i, center - p, center + p);
}

/// The affine analysis of layer l's pre-activation errors (eq. (20a)-(20b)): the propagated symbols
/// through w^, then per neuron the bias rounding, sum_j (w^ - w) y_j (eq. (20e), y = layer l's
/// input `y`) and the shift.
void propagate_pre_activation(detail::Zonotope& errors, const floatnet::DenseLayer& layer, const QuantizedLayer& ql,
                              const NetworkRanges& ranges, const detail::AffineForms& y, size_t l, bool source,
                              Rounding rounding) {
  Eigen::MatrixXd w_hat = layer.weight;
  for (int64_t i = 0; source && i < ql.outputs; ++i)
    for (int64_t j = 0; j < ql.inputs; ++j)
      w_hat(i, j) = std::ldexp(static_cast<double>(ql.weight[static_cast<size_t>(i * ql.inputs + j)]),
                               -ql.formats[static_cast<size_t>(i)].frac_weight); // exact: |code| < 2^53
  errors = detail::affine(w_hat, Eigen::VectorXd::Zero(ql.outputs), errors);
  for (int64_t i = 0; source && i < ql.outputs; ++i) {
    const size_t ui = static_cast<size_t>(i);
    const NeuronFormat& f = ql.formats[ui];
    const Rational db = Rational(BigInt(ql.bias[ui])) * pow2(-f.frac_acc) - Rational(layer.bias(i));
    detail::add_interval(errors, i, round_down(db), round_up(db));
    const Eigen::RowVectorXd dw = w_hat.row(i) - layer.weight.row(i);
    double lo = 0, hi = 0, mag = 0;
    for (int64_t j = 0; j < ql.inputs; ++j) {
      const double a = dw(j) * (l == 0 ? ranges.input_lo[static_cast<size_t>(j)]
                                       : ranges.layers[l - 1].post_lo[static_cast<size_t>(j)]);
      const double b = dw(j) * (l == 0 ? ranges.input_hi[static_cast<size_t>(j)]
                                       : ranges.layers[l - 1].post_hi[static_cast<size_t>(j)]);
      lo += std::min(a, b);
      hi += std::max(a, b);
      mag += std::max(std::fabs(a), std::fabs(b)) + std::fabs(dw(j));
    }
    const double p = detail::pad(2 * ql.inputs + 2, mag);
    add_weight_rounding(errors, i, dw, y, lo - p, hi + p);
    const int s = ql.shift(i);
    if (s > 0) {
      const double unit = std::ldexp(1.0, s - f.frac_acc); // 2^-F: encloses (2^s - 1) 2^-Fa
      if (rounding == Rounding::kFloor)
        detail::add_interval(errors, i, -unit, 0.0);
      else
        detail::add_interval(errors, i, -unit / 2, unit / 2);
    }
  }
}

/// Neuron i's accumulator: the bound of eq. (14) on |a^ - z| and the largest |accumulator| (eq. (21),
/// clamped at kHuge); the weight codes and folded constants it uses are added to `weights`, `folded`.
struct NeuronSum {
  Rational error;
  __int128 partial = 0;
};
NeuronSum neuron_sum(const floatnet::DenseLayer& layer, const QuantizedLayer& ql, int64_t i,
                     const std::vector<Value>& values, bool source, CodeRange& weights, CodeRange& folded) {
  const size_t ui = static_cast<size_t>(i);
  const NeuronFormat& f = ql.formats[ui];
  // eq. (14): |a^ - z| <= delta_b + sum_j min(|w| e_j + delta_w X_j, |w^| e_j + delta_w Y_j).
  const Rational bias_hat = Rational(BigInt(ql.bias[ui])) * pow2(-f.frac_acc);
  NeuronSum sum;
  sum.error = source ? abs(bias_hat - Rational(layer.bias(i))) : Rational(0);
  sum.partial = abs128(ql.bias[ui]);
  for (int64_t j = 0; j < ql.inputs; ++j) {
    const size_t k = static_cast<size_t>(i * ql.inputs + j);
    const Value& in = values[static_cast<size_t>(j)];
    const Rational w(layer.weight(i, j));
    const Rational w_hat_r = source ? Rational(BigInt(ql.weight[k])) * pow2(-f.frac_weight) : w;
    const Rational dw = abs(w_hat_r - w);
    if (dw == 0) {
      sum.error += abs(w) * in.error;
    } else {
      const Rational a = abs(w) * in.error + dw * in.computed_magnitude;
      const Rational b = abs(w_hat_r) * in.error + dw * in.real_magnitude;
      sum.error += a < b ? a : b;
    }
    weights.add(ql.weight[k]);
    const __int128 folded_weight = ql.folded_weight(i, j);
    folded.add(folded_weight);
    const __int128 magnitude = abs128(folded_weight);
    if (magnitude != 0 && in.code_max > kHuge / magnitude)
      sum.partial = kHuge; // eq. (21)
    else if (sum.partial < kHuge)
      sum.partial = std::min(kHuge, sum.partial + magnitude * in.code_max);
  }
  return sum;
}

int64_t clamp_to_int64(__int128 v) {
  return static_cast<int64_t>(
      std::clamp<__int128>(v, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
}

/// One layer of the analysis: its certificate (bits, codes, largest error) and the bounds of its
/// stored outputs (`next`), from the bounds of its inputs (`values`) and the affine analysis
/// (`errors`, advanced through the layer).
LayerCertificate certify_layer(const floatnet::DenseLayer& layer, const LayerRanges& lr, const QuantizedLayer& ql,
                               const NetworkRanges& ranges, const detail::AffineForms& y, size_t l, bool source,
                               Rounding rounding, const std::vector<Value>& values, detail::Zonotope& errors,
                               std::vector<Value>& next) {
  propagate_pre_activation(errors, layer, ql, ranges, y, l, source, rounding);
  std::vector<double> pre_lo, pre_hi; // bounds of z^ - z (the shift included)
  errors.bounds(pre_lo, pre_hi);

  LayerCertificate lc;
  CodeRange weights, folded;
  Rational layer_max = 0;
  next.assign(static_cast<size_t>(ql.outputs), Value{});
  for (int64_t i = 0; i < ql.outputs; ++i) {
    const size_t ui = static_cast<size_t>(i);
    const NeuronFormat& f = ql.formats[ui];
    const NeuronSum sum = neuron_sum(layer, ql, i, values, source, weights, folded);
    const Rational& err = sum.error;
    // eq. (7), (11)-(12): the shift to F fractional bits.
    const int s = ql.shift(i);
    Rational shift_error = 0;
    if (source && s > 0)
      shift_error = rounding == Rounding::kFloor ? Rational(pow2(s) - 1) * pow2(-f.frac_acc) : pow2(s - 1 - f.frac_acc);
    const __int128 round_add = rounding == Rounding::kNearest && s > 0 ? static_cast<__int128>(1) << (s - 1) : 0;
    lc.neuron_acc_bits.push_back(signed_bits(-(sum.partial + round_add), sum.partial + round_add));
    lc.acc_bits = std::max(lc.acc_bits, lc.neuron_acc_bits.back());
    // eq. (18): the stored code, from both analyses (each encloses z^ = a^ rounded).
    const Rational z_lo(lr.pre_lo[ui]), z_hi(lr.pre_hi[ui]);
    __int128 c_lo = code_of(z_lo - err, f.frac_out, rounding), c_hi = code_of(z_hi + err, f.frac_out, rounding);
    const Rational affine_lo = z_lo + Rational(pre_lo[ui]), affine_hi = z_hi + Rational(pre_hi[ui]);
    c_lo = std::max(c_lo, -to_int128(floor_of(-affine_lo * pow2(f.frac_out)))); // ceil
    c_hi = std::min(c_hi, to_int128(floor_of(affine_hi * pow2(f.frac_out))));
    // The computed value z^ lies in [z_lo + d_lo, z_hi + d_hi] with d = z^ - z from either analysis.
    Rational d_hi = err + shift_error;
    if (Rational(pre_hi[ui]) < d_hi) d_hi = Rational(pre_hi[ui]);
    Rational d_lo = -(err + shift_error);
    if (Rational(pre_lo[ui]) > d_lo) d_lo = Rational(pre_lo[ui]);
    Rational clip_error = 0;
    if (ql.activation != floatnet::Activation::kLinear) {
      c_lo = std::max<__int128>(c_lo, 0);
      c_hi = std::max<__int128>(c_hi, 0);
    }
    if (ql.activation == floatnet::Activation::kClippedRelu) {
      c_lo = std::min<__int128>(c_lo, ql.clip[ui]);
      c_hi = std::min<__int128>(c_hi, ql.clip[ui]);
      if (source) clip_error = clip_rounding_error(layer, ql, ui);
    }
    // eq. (16)-(17): Lipschitz 1, and a neuron whose computed and real values are both 0.
    Rational e = err + shift_error + clip_error;
    if (ql.activation != floatnet::Activation::kLinear) {
      Rational top = z_hi + d_hi;
      if (top < 0) top = 0;
      if (top < e) e = top;
    }
    // The affine analysis after the activation (eq. (20c)).
    const double affine_error = activate_errors(errors, i, layer, lr.pre_lo[ui], lr.pre_hi[ui], d_lo, d_hi,
                                                source ? clip_error : Rational(0), ql.clip[ui], f.frac_out);
    if (Rational(affine_error) < e) e = Rational(affine_error);
    Value& out = next[ui];
    out.error = e;
    out.code_max = std::max(abs128(c_lo), abs128(c_hi));
    out.computed_magnitude = Rational(big(out.code_max)) * pow2(-f.frac_out);
    out.real_magnitude = Rational(std::max(std::fabs(lr.post_lo[ui]), std::fabs(lr.post_hi[ui])));
    lc.code_lo.push_back(clamp_to_int64(c_lo));
    lc.code_hi.push_back(clamp_to_int64(c_hi));
    lc.storage_bits = std::max(lc.storage_bits, signed_bits(c_lo, c_hi));
    if (e > layer_max) layer_max = e;
  }
  lc.max_error = round_up(layer_max);
  lc.weight_bits = signed_bits(weights.lo, weights.hi);
  lc.folded_weight_bits = signed_bits(folded.lo, folded.hi);
  return lc;
}

/// The affine analysis alone (eq. (20a)-(20c)) over one part of a partitioned box (section 5.1):
/// per layer and neuron a sound bound of |y^_i - y_i| for the inputs of that part.
std::vector<std::vector<double>> part_errors(const floatnet::FloatNetwork& net, const NetworkRanges& part,
                                             const QuantizedNetwork& q, const std::function<bool(size_t)>& counts) {
  const std::vector<detail::AffineForms> forms = detail::layer_input_forms(net, part);
  detail::Zonotope errors = input_errors(q, counts(0), detail::symbol_count(forms));
  std::vector<std::vector<double>> bounds;
  for (size_t l = 0; l < q.layers.size(); ++l) {
    const floatnet::DenseLayer& layer = net.layers[l];
    const QuantizedLayer& ql = q.layers[l];
    const LayerRanges& lr = part.layers[l];
    const bool source = counts(l + 1);
    propagate_pre_activation(errors, layer, ql, part, forms[l], l, source, q.rounding);
    std::vector<double> pre_lo, pre_hi;
    errors.bounds(pre_lo, pre_hi);
    std::vector<double> layer_bounds;
    for (int64_t i = 0; i < ql.outputs; ++i) {
      const size_t ui = static_cast<size_t>(i);
      const Rational clip_error = source ? clip_rounding_error(layer, ql, ui) : Rational(0);
      layer_bounds.push_back(activate_errors(errors, i, layer, lr.pre_lo[ui], lr.pre_hi[ui], Rational(pre_lo[ui]),
                                             Rational(pre_hi[ui]), clip_error, ql.clip[ui], ql.formats[ui].frac_out));
    }
    bounds.push_back(std::move(layer_bounds));
  }
  return bounds;
}

/// The worst over the parts of part_errors: a bound of |y^_i - y_i| over the whole box. The parts
/// are analysed on `threads` threads.
std::vector<std::vector<double>> worst_part_errors(const floatnet::FloatNetwork& net,
                                                   const std::vector<NetworkRanges>& parts, const QuantizedNetwork& q,
                                                   const std::function<bool(size_t)>& counts, int threads) {
  std::vector<std::vector<std::vector<double>>> each(parts.size());
  detail::parallel_for(parts.size(), threads, [&](size_t p) { each[p] = part_errors(net, parts[p], q, counts); });
  std::vector<std::vector<double>> worst = std::move(each.front());
  for (size_t p = 1; p < each.size(); ++p)
    for (size_t l = 0; l < worst.size(); ++l)
      for (size_t i = 0; i < worst[l].size(); ++i) worst[l][i] = std::max(worst[l][i], each[p][l][i]);
  return worst;
}

/// The widths a layer's certificate needs against the word W and accumulator A of the options.
void check_layer_widths(const LayerCertificate& lc, size_t l, const CertifyOptions& options,
                        std::vector<std::string>& failures) {
  const std::string name = "layer " + std::to_string(l + 1);
  if (lc.weight_bits > std::min(options.word, 53))
    failures.push_back(name + ": the weight codes need " + std::to_string(lc.weight_bits) +
                       " bits > W = " + std::to_string(options.word));
  if (lc.folded_weight_bits > 64)
    failures.push_back(name + ": the aligned weight constants need " + std::to_string(lc.folded_weight_bits) +
                       " bits > 64");
  if (lc.acc_bits > std::min(options.acc, 64))
    failures.push_back(name + ": the accumulator needs " + std::to_string(lc.acc_bits) +
                       " bits > A = " + std::to_string(options.acc));
  if (lc.storage_bits > options.word)
    failures.push_back(name + ": the stored outputs need " + std::to_string(lc.storage_bits) +
                       " bits > W = " + std::to_string(options.word));
}

} // namespace

Certificate certify(const floatnet::FloatNetwork& net, const NetworkRanges& ranges, const QuantizedNetwork& q,
                    const CertifyOptions& options) {
  Certificate cert;
  const std::function<bool(size_t)> counts = [&](size_t source) {
    return options.sources.empty() || options.sources[source];
  };
  std::vector<std::string> failures;

  std::vector<Value> values;
  detail::Zonotope errors;
  const std::vector<detail::AffineForms> forms = detail::layer_input_forms(net, ranges);
  cert.input_bits = analyse_inputs(ranges, q, counts(0), detail::symbol_count(forms), values, errors);
  if (cert.input_bits > options.word)
    failures.push_back("the input codes need " + std::to_string(cert.input_bits) +
                       " bits > W = " + std::to_string(options.word));

  // Over a partitioned box each neuron's error is also bounded by the worst of the parts' analyses;
  // the smaller bound is kept and carried into the next layer's recurrence.
  const std::vector<std::vector<double>> parts = ranges.parts.empty()
                                                     ? std::vector<std::vector<double>>()
                                                     : worst_part_errors(net, ranges.parts, q, counts, options.threads);
  for (size_t l = 0; l < q.layers.size(); ++l) {
    std::vector<Value> next;
    LayerCertificate lc = certify_layer(net.layers[l], ranges.layers[l], q.layers[l], ranges, forms[l], l,
                                        counts(l + 1), q.rounding, values, errors, next);
    if (!parts.empty()) {
      Rational layer_max = 0;
      for (size_t i = 0; i < next.size(); ++i) {
        if (Rational(parts[l][i]) < next[i].error) next[i].error = Rational(parts[l][i]);
        if (next[i].error > layer_max) layer_max = next[i].error;
      }
      lc.max_error = round_up(layer_max);
    }
    check_layer_widths(lc, l, options, failures);
    cert.layers.push_back(std::move(lc));
    values = std::move(next);
  }
  cert.overflow_free = failures.empty();
  // The outputs' bounds: those of the last layer's stored values.
  Rational bound = 0;
  for (const Value& out : q.layers.empty() ? std::vector<Value>() : values) {
    cert.output_bounds.push_back(round_up(out.error));
    if (out.error > bound) bound = out.error;
  }
  cert.bound = round_up(bound);
  std::ostringstream exact;
  exact << bound;
  cert.bound_exact = exact.str();
  if (bound > Rational(options.eps)) {
    std::ostringstream message;
    message.precision(6);
    message << "the certified error bound " << cert.bound << " exceeds eps = " << options.eps;
    failures.push_back(message.str());
  }
  cert.certified = failures.empty();
  cert.failure = failures.empty() ? "" : failures.front();
  return cert;
}

} // namespace fxnn::synth
