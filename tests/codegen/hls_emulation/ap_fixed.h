#pragma once
// A small emulation of the HLS ap_fixed<W, I, Q, O> type, for testing fxnn's generated HLS code
// without the vendor's headers. It covers exactly the subset the generator emits:
//   quantization AP_TRN (floor) and AP_RND (round half toward +infinity), overflow AP_WRAP;
//   construction from int, double and other ap_fixed types (requantize, then wrap to W bits);
//   exact a * b -> ap_fixed<W1 + W2, I1 + I2> and a + b -> ap_fixed<max F + max I + 1, max I + 1>;
//   +=, comparisons, to_double(). Widths up to 120 bits (the value is a 128-bit integer).

#include <cmath>
#include <cstdint>

enum ap_q_mode { AP_RND, AP_RND_ZERO, AP_RND_MIN_INF, AP_RND_INF, AP_RND_CONV, AP_TRN, AP_TRN_ZERO };
enum ap_o_mode { AP_SAT, AP_SAT_ZERO, AP_SAT_SYM, AP_WRAP, AP_WRAP_SM };

namespace ap_emulation {

using raw_t = __int128;

/// The low w bits of v, sign-extended (two's-complement wrap-around).
inline raw_t wrap(raw_t v, int w) {
  const unsigned __int128 mask = (static_cast<unsigned __int128>(1) << w) - 1;
  unsigned __int128 u = static_cast<unsigned __int128>(v) & mask;
  if ((u >> (w - 1)) & 1) u |= ~mask;
  return static_cast<raw_t>(u);
}

/// v * 2^-from as a multiple of 2^-to, rounded by q.
inline raw_t requantize(raw_t v, int from, int to, ap_q_mode q) {
  if (to >= from) return v * (static_cast<raw_t>(1) << (to - from));
  const int s = from - to;
  if (s > 120) return q == AP_RND ? 0 : (v < 0 ? -1 : 0);
  if (q == AP_RND) v += static_cast<raw_t>(1) << (s - 1);
  return v >> s; // arithmetic shift: floor
}

constexpr int max(int a, int b) { return a > b ? a : b; }

} // namespace ap_emulation

template <int W, int I, ap_q_mode Q = AP_TRN, ap_o_mode O = AP_WRAP, int N = 0>
struct ap_fixed {
  static_assert(W >= 1 && W <= 120, "emulated widths: 1 to 120 bits");
  static_assert(Q == AP_TRN || Q == AP_RND, "emulated quantization modes: AP_TRN, AP_RND");
  static_assert(O == AP_WRAP, "emulated overflow mode: AP_WRAP");
  static constexpr int kFrac = W - I;
  ap_emulation::raw_t raw = 0; // value = raw * 2^-kFrac

  ap_fixed() = default;
  ap_fixed(int v) { set(v, 0); }
  ap_fixed(double d) {
    int e = 0;
    const double m = std::frexp(d, &e); // d = m 2^e exactly, |m| in [0.5, 1)
    set(static_cast<ap_emulation::raw_t>(std::ldexp(m, 53)), 53 - e);
  }
  template <int W2, int I2, ap_q_mode Q2, ap_o_mode O2, int N2>
  ap_fixed(const ap_fixed<W2, I2, Q2, O2, N2>& o) {
    set(o.raw, W2 - I2);
  }
  void set(ap_emulation::raw_t v, int from) {
    raw = ap_emulation::wrap(ap_emulation::requantize(v, from, kFrac, Q), W);
  }
  double to_double() const { return std::ldexp(static_cast<double>(raw), -kFrac); }

  template <typename T>
  ap_fixed& operator+=(const T& o) {
    *this = ap_fixed(*this + o);
    return *this;
  }
};

template <int W1, int I1, ap_q_mode Q1, ap_o_mode O1, int N1, int W2, int I2, ap_q_mode Q2, ap_o_mode O2, int N2>
ap_fixed<W1 + W2, I1 + I2> operator*(const ap_fixed<W1, I1, Q1, O1, N1>& a, const ap_fixed<W2, I2, Q2, O2, N2>& b) {
  ap_fixed<W1 + W2, I1 + I2> r;
  r.raw = a.raw * b.raw; // exact: W1 + W2 bits, F1 + F2 fractional bits
  return r;
}

template <int W1, int I1, ap_q_mode Q1, ap_o_mode O1, int N1, int W2, int I2, ap_q_mode Q2, ap_o_mode O2, int N2>
ap_fixed<ap_emulation::max(W1 - I1, W2 - I2) + ap_emulation::max(I1, I2) + 1, ap_emulation::max(I1, I2) + 1> operator+(
    const ap_fixed<W1, I1, Q1, O1, N1>& a, const ap_fixed<W2, I2, Q2, O2, N2>& b) {
  constexpr int F = ap_emulation::max(W1 - I1, W2 - I2);
  ap_fixed<F + ap_emulation::max(I1, I2) + 1, ap_emulation::max(I1, I2) + 1> r;
  r.raw = a.raw * (static_cast<ap_emulation::raw_t>(1) << (F - (W1 - I1))) +
          b.raw * (static_cast<ap_emulation::raw_t>(1) << (F - (W2 - I2)));
  return r;
}

/// Compares a with b's value (b an ap_fixed or an int).
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N, int W2, int I2, ap_q_mode Q2, ap_o_mode O2, int N2>
int compare(const ap_fixed<W, I, Q, O, N>& a, const ap_fixed<W2, I2, Q2, O2, N2>& b) {
  constexpr int F = ap_emulation::max(W - I, W2 - I2);
  const ap_emulation::raw_t x = a.raw * (static_cast<ap_emulation::raw_t>(1) << (F - (W - I)));
  const ap_emulation::raw_t y = b.raw * (static_cast<ap_emulation::raw_t>(1) << (F - (W2 - I2)));
  return x < y ? -1 : (x > y ? 1 : 0);
}
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N>
int compare(const ap_fixed<W, I, Q, O, N>& a, int b) {
  const ap_emulation::raw_t y = static_cast<ap_emulation::raw_t>(b) * (static_cast<ap_emulation::raw_t>(1) << (W - I));
  return a.raw < y ? -1 : (a.raw > y ? 1 : 0);
}
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N, typename T>
bool operator<(const ap_fixed<W, I, Q, O, N>& a, const T& b) {
  return compare(a, b) < 0;
}
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N, typename T>
bool operator>(const ap_fixed<W, I, Q, O, N>& a, const T& b) {
  return compare(a, b) > 0;
}
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N, typename T>
bool operator==(const ap_fixed<W, I, Q, O, N>& a, const T& b) {
  return compare(a, b) == 0;
}
