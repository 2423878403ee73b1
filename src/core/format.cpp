#include "fxnn/core/format.h"

#include <cmath>
#include <stdexcept>

namespace fxnn {

namespace {

[[noreturn]] void bad_format(const std::string& text, const std::string& why) {
  throw std::invalid_argument("bad fixed-point format '" + text + "': " + why +
                              " (expected e.g. s8.7, u8.7 or s16.auto)");
}

bool is_power_of_two(double x) {
  int exponent = 0;
  return x > 0 && std::frexp(x, &exponent) == 0.5;
}

} // namespace

Format::Format(int bits_, int frac_, bool is_signed_, bool auto_range_)
    : bits(bits_), frac(frac_), is_signed(is_signed_), auto_range(auto_range_) {
  const std::string text = str();
  if (bits < (is_signed ? 2 : 1) || bits > kMaxBits)
    bad_format(text,
               "word length must be in [" + std::to_string(is_signed ? 2 : 1) + ", " + std::to_string(kMaxBits) + "]");
  if (!auto_range && (frac > kMaxFrac || frac < -kMaxFrac))
    bad_format(text,
               "fractional bits must be in [-" + std::to_string(kMaxFrac) + ", " + std::to_string(kMaxFrac) + "]");
}

Format Format::with_range(int bits, double range, bool is_signed) {
  if (!is_power_of_two(range)) throw std::invalid_argument("range " + std::to_string(range) + " is not a power of two");
  const int log2_range = static_cast<int>(std::lround(std::log2(range)));
  return Format(bits, bits - (is_signed ? 1 : 0) - log2_range, is_signed);
}

Format Format::automatic(int bits, bool is_signed) { return Format(bits, 0, is_signed, true); }

Format Format::parse(const std::string& text) {
  if (text.size() < 2 || (text[0] != 's' && text[0] != 'u')) bad_format(text, "must start with s or u");
  const bool is_signed = text[0] == 's';
  const auto dot = text.find('.');
  if (dot == std::string::npos) bad_format(text, "missing '.'");
  auto parse_int = [&](const std::string& digits, const char* what) {
    size_t used = 0;
    int value = 0;
    try {
      value = std::stoi(digits, &used);
    } catch (const std::exception&) { bad_format(text, std::string("bad ") + what); }
    if (used != digits.size()) bad_format(text, std::string("bad ") + what);
    return value;
  };
  const int bits = parse_int(text.substr(1, dot - 1), "word length");
  const std::string frac_text = text.substr(dot + 1);
  if (frac_text == "auto") return Format(bits, 0, is_signed, true);
  return Format(bits, parse_int(frac_text, "fractional bits"), is_signed);
}

Format Format::resolve_auto(double max_abs) const {
  if (!auto_range) throw std::logic_error("resolve_auto on the fixed format " + str());
  // r = 2^(floor(log2 m) + 1) is the smallest power of two strictly above m (eq. (4)).
  int log2_range = 0;
  if (max_abs > 0 && std::isfinite(max_abs)) {
    int exponent = 0;
    std::frexp(max_abs, &exponent); // max_abs = mantissa * 2^exponent, mantissa in [0.5, 1)
    log2_range = exponent;
  }
  int resolved_frac = bits - (is_signed ? 1 : 0) - log2_range;
  if (resolved_frac > kMaxFrac) resolved_frac = kMaxFrac;
  if (resolved_frac < -kMaxFrac) resolved_frac = -kMaxFrac;
  return Format(bits, resolved_frac, is_signed);
}

double Format::step() const { return std::ldexp(1.0, -frac); }

double Format::range() const { return std::ldexp(1.0, bits - (is_signed ? 1 : 0) - frac); }

int64_t Format::code_min() const { return is_signed ? -(int64_t{1} << (bits - 1)) : 0; }

int64_t Format::code_max() const { return is_signed ? (int64_t{1} << (bits - 1)) - 1 : (int64_t{1} << bits) - 1; }

std::string Format::str() const {
  return std::string(is_signed ? "s" : "u") + std::to_string(bits) + "." +
         (auto_range ? std::string("auto") : std::to_string(frac));
}

bool Format::operator==(const Format& o) const {
  return bits == o.bits && is_signed == o.is_signed && auto_range == o.auto_range && (auto_range || frac == o.frac);
}

} // namespace fxnn
