#include "fxnn/synth/certificate.h"

#include <boost/multiprecision/cpp_int.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "fxnn/synth/error_model.h"
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

} // namespace

Certificate certify(const floatnet::FloatNetwork& net, const NetworkRanges& ranges, const QuantizedNetwork& q,
                    const CertifyOptions& options) {
  Certificate cert;
  const Rounding rounding = q.rounding;
  const int r = rounding_exponent(rounding);
  const auto counts = [&](size_t source) { return options.sources.empty() || options.sources[source]; };
  std::vector<std::string> failures;
  const auto fail = [&](const std::string& message) { failures.push_back(message); };

  // Inputs: eq. (13). The affine analysis gives each input's error its own symbol.
  std::vector<Value> values;
  __int128 in_lo = 0, in_hi = 0;
  std::vector<double> err_lo, err_hi;
  for (int64_t j = 0; j < q.inputs(); ++j) {
    const size_t uj = static_cast<size_t>(j);
    const int frac = q.input_frac[uj];
    Value v;
    v.error = counts(0) ? pow2(-frac - r) : Rational(0);
    v.code_max = std::max(abs128(q.input_code_lo[uj]), abs128(q.input_code_hi[uj]));
    v.computed_magnitude = Rational(big(v.code_max)) * pow2(-frac);
    v.real_magnitude = Rational(std::max(std::fabs(ranges.input_lo[uj]), std::fabs(ranges.input_hi[uj])));
    in_lo = std::min<__int128>(in_lo, q.input_code_lo[uj]);
    in_hi = std::max<__int128>(in_hi, q.input_code_hi[uj]);
    const double e = round_up(v.error);
    err_lo.push_back(-e); // floor: x^ - x in (-2^-F, 0]; nearest: (-2^-F-1, 2^-F-1]
    err_hi.push_back(rounding == Rounding::kFloor ? 0.0 : e);
    values.push_back(std::move(v));
  }
  cert.input_bits = signed_bits(in_lo, in_hi);
  if (cert.input_bits > options.word)
    fail("the input codes need " + std::to_string(cert.input_bits) + " bits > W = " + std::to_string(options.word));
  detail::Zonotope errors = detail::input_zonotope(err_lo, err_hi);

  std::vector<Rational> output_errors;
  for (size_t l = 0; l < q.layers.size(); ++l) {
    const QuantizedLayer& ql = q.layers[l];
    const floatnet::DenseLayer& layer = net.layers[l];
    const LayerRanges& lr = ranges.layers[l];
    const bool source = counts(l + 1);
    const size_t n = static_cast<size_t>(ql.outputs);

    // The affine analysis of the layer's pre-activation errors (eq. (20a)-(20b)): the propagated
    // symbols through w^, then per neuron the bias rounding, sum_j (w^ - w) y_j and the shift.
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
      double lo = 0, hi = 0, mag = 0;
      for (int64_t j = 0; j < ql.inputs; ++j) {
        const double dw = w_hat(i, j) - layer.weight(i, j);
        const double a = dw * (l == 0 ? ranges.input_lo[static_cast<size_t>(j)]
                                      : ranges.layers[l - 1].post_lo[static_cast<size_t>(j)]);
        const double b = dw * (l == 0 ? ranges.input_hi[static_cast<size_t>(j)]
                                      : ranges.layers[l - 1].post_hi[static_cast<size_t>(j)]);
        lo += std::min(a, b);
        hi += std::max(a, b);
        mag += std::max(std::fabs(a), std::fabs(b)) + std::fabs(dw);
      }
      const double p = detail::pad(2 * ql.inputs + 2, mag);
      detail::add_interval(errors, i, lo - p, hi + p);
      const int s = ql.shift(i);
      if (s > 0) {
        const double unit = std::ldexp(1.0, s - f.frac_acc); // 2^-F: encloses (2^s - 1) 2^-Fa
        if (rounding == Rounding::kFloor)
          detail::add_interval(errors, i, -unit, 0.0);
        else
          detail::add_interval(errors, i, -unit / 2, unit / 2);
      }
    }
    std::vector<double> pre_lo, pre_hi; // bounds of z^ - z (the shift included)
    errors.bounds(pre_lo, pre_hi);

    LayerCertificate lc;
    __int128 w_lo = 0, w_hi = 0, f_lo = 0, f_hi = 0;
    Rational layer_max = 0;
    std::vector<Value> next(n);
    for (int64_t i = 0; i < ql.outputs; ++i) {
      const size_t ui = static_cast<size_t>(i);
      const NeuronFormat& f = ql.formats[ui];
      // eq. (14): |a^ - z| <= delta_b + sum_j min(|w| e_j + delta_w X_j, |w^| e_j + delta_w Y_j).
      Rational bias_hat = Rational(BigInt(ql.bias[ui])) * pow2(-f.frac_acc);
      Rational err = source ? abs(bias_hat - Rational(layer.bias(i))) : Rational(0);
      __int128 partial = abs128(ql.bias[ui]);
      for (int64_t j = 0; j < ql.inputs; ++j) {
        const size_t k = static_cast<size_t>(i * ql.inputs + j);
        const Value& in = values[static_cast<size_t>(j)];
        const Rational w(layer.weight(i, j));
        const Rational w_hat_r = source ? Rational(BigInt(ql.weight[k])) * pow2(-f.frac_weight) : w;
        const Rational dw = abs(w_hat_r - w);
        if (dw == 0) {
          err += abs(w) * in.error;
        } else {
          const Rational a = abs(w) * in.error + dw * in.computed_magnitude;
          const Rational b = abs(w_hat_r) * in.error + dw * in.real_magnitude;
          err += a < b ? a : b;
        }
        w_lo = std::min<__int128>(w_lo, ql.weight[k]);
        w_hi = std::max<__int128>(w_hi, ql.weight[k]);
        const __int128 folded = ql.folded_weight(i, j);
        f_lo = std::min(f_lo, folded);
        f_hi = std::max(f_hi, folded);
        const __int128 magnitude = abs128(folded);
        if (magnitude != 0 && in.code_max > kHuge / magnitude)
          partial = kHuge; // eq. (21)
        else if (partial < kHuge)
          partial = std::min(kHuge, partial + magnitude * in.code_max);
      }
      // eq. (7), (11)-(12): the shift to F fractional bits.
      const int s = ql.shift(i);
      Rational shift_error = 0;
      if (source && s > 0)
        shift_error =
            rounding == Rounding::kFloor ? Rational(pow2(s) - 1) * pow2(-f.frac_acc) : pow2(s - 1 - f.frac_acc);
      const __int128 round_add = rounding == Rounding::kNearest && s > 0 ? static_cast<__int128>(1) << (s - 1) : 0;
      lc.neuron_acc_bits.push_back(signed_bits(-(partial + round_add), partial + round_add));
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
        if (source) clip_error = abs(Rational(BigInt(ql.clip[ui])) * pow2(-f.frac_out) - Rational(layer.clip));
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
      lc.code_lo.push_back(static_cast<int64_t>(
          std::clamp<__int128>(c_lo, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max())));
      lc.code_hi.push_back(static_cast<int64_t>(
          std::clamp<__int128>(c_hi, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max())));
      lc.storage_bits = std::max(lc.storage_bits, signed_bits(c_lo, c_hi));
      if (e > layer_max) layer_max = e;
      if (l + 1 == q.layers.size()) output_errors.push_back(e);
    }
    lc.max_error = round_up(layer_max);
    lc.weight_bits = signed_bits(w_lo, w_hi);
    lc.folded_weight_bits = signed_bits(f_lo, f_hi);
    const std::string name = "layer " + std::to_string(l + 1);
    if (lc.weight_bits > std::min(options.word, 53))
      fail(name + ": the weight codes need " + std::to_string(lc.weight_bits) +
           " bits > W = " + std::to_string(options.word));
    if (lc.folded_weight_bits > 64)
      fail(name + ": the aligned weight constants need " + std::to_string(lc.folded_weight_bits) + " bits > 64");
    if (lc.acc_bits > std::min(options.acc, 64))
      fail(name + ": the accumulator needs " + std::to_string(lc.acc_bits) +
           " bits > A = " + std::to_string(options.acc));
    if (lc.storage_bits > options.word)
      fail(name + ": the stored outputs need " + std::to_string(lc.storage_bits) +
           " bits > W = " + std::to_string(options.word));
    cert.layers.push_back(std::move(lc));
    values = std::move(next);
  }
  cert.overflow_free = failures.empty();
  Rational bound = 0;
  for (const Rational& e : output_errors) {
    cert.output_bounds.push_back(round_up(e));
    if (e > bound) bound = e;
  }
  cert.bound = round_up(bound);
  std::ostringstream exact;
  exact << bound;
  cert.bound_exact = exact.str();
  if (bound > Rational(options.eps)) {
    std::ostringstream message;
    message.precision(6);
    message << "the certified error bound " << cert.bound << " exceeds eps = " << options.eps;
    fail(message.str());
  }
  cert.certified = failures.empty();
  cert.failure = failures.empty() ? "" : failures.front();
  return cert;
}

} // namespace fxnn::synth
