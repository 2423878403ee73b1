#include "fxnn/io/npy.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <map>
#include <stdexcept>

#include "fxnn/io/atomic_file.h"

namespace fxnn::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// numpy pads the header so that the data starts at a multiple of 64 bytes (aligned loads).
constexpr size_t kHeaderAlignment = 64;

// int64 separately: -(1 << 63) overflows (INT64_MIN has no positive counterpart).
int64_t dtype_min(NpyDType t) {
  return t == NpyDType::kInt64 ? std::numeric_limits<int64_t>::min() : -(int64_t{1} << (8 * npy_itemsize(t) - 1));
}
int64_t dtype_max(NpyDType t) {
  return t == NpyDType::kInt64 ? std::numeric_limits<int64_t>::max() : (int64_t{1} << (8 * npy_itemsize(t) - 1)) - 1;
}

std::string shape_literal(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

/// The header dict is a Python literal: {'descr': '<i2', 'fortran_order': False, 'shape': (3, 4), }.
/// This parser accepts exactly the value kinds such a header holds: strings, booleans, int tuples.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& what) : text_(text), what_(what) {}

  struct Value {
    enum Kind { kString, kBool, kTuple } kind;
    std::string string;
    bool boolean = false;
    std::vector<int64_t> tuple;
  };

  std::map<std::string, Value> parse_dict() {
    std::map<std::string, Value> dict;
    expect('{');
    while (true) {
      skip_spaces();
      if (peek() == '}') break;
      const std::string key = parse_string();
      expect(':');
      if (dict.count(key)) fail("key '" + key + "' appears twice");
      dict[key] = parse_value();
      skip_spaces();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') fail("expected ',' or '}'");
    }
    ++pos_;
    skip_spaces();
    if (pos_ != text_.size()) fail("text after the header dict");
    return dict;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error(what_ + ": bad .npy header (" + why + " at character " + std::to_string(pos_) + " of \"" +
                             text_ + "\")");
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_spaces() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  void expect(char c) {
    skip_spaces();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string parse_string() {
    skip_spaces();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string s = text_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return s;
  }
  Value parse_value() {
    skip_spaces();
    Value v{};
    if (peek() == '\'' || peek() == '"') {
      v.kind = Value::kString;
      v.string = parse_string();
    } else if (text_.compare(pos_, 4, "True") == 0 || text_.compare(pos_, 5, "False") == 0) {
      v.kind = Value::kBool;
      v.boolean = text_[pos_] == 'T';
      pos_ += v.boolean ? 4 : 5;
    } else if (peek() == '(') {
      v.kind = Value::kTuple;
      ++pos_;
      while (true) {
        skip_spaces();
        if (peek() == ')') break;
        v.tuple.push_back(parse_dimension());
        skip_spaces();
        if (peek() == ',')
          ++pos_;
        else if (peek() != ')')
          fail("expected ',' or ')' in the shape");
      }
      ++pos_;
    } else {
      fail("expected a string, True, False or a tuple");
    }
    return v;
  }
  int64_t parse_dimension() {
    if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a non-negative integer");
    int64_t d = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      if (d > (std::numeric_limits<int64_t>::max() - 9) / 10) fail("dimension too large");
      d = d * 10 + (text_[pos_++] - '0');
    }
    return d;
  }

  const std::string& text_;
  const std::string& what_;
  size_t pos_ = 0;
};

NpyDType parse_descr(const std::string& descr, const std::string& what) {
  if (descr == "|i1" || descr == "<i1") return NpyDType::kInt8;
  if (descr == "<i2") return NpyDType::kInt16;
  if (descr == "<i4") return NpyDType::kInt32;
  if (descr == "<i8") return NpyDType::kInt64;
  throw std::runtime_error(what + ": dtype '" + descr +
                           "' is not a little-endian signed integer ('|i1', '<i2', '<i4' or '<i8')");
}

} // namespace

std::string npy_descr(NpyDType dtype) {
  switch (dtype) {
    case NpyDType::kInt8: return "|i1";
    case NpyDType::kInt16: return "<i2";
    case NpyDType::kInt32: return "<i4";
    case NpyDType::kInt64: return "<i8";
  }
  return "?";
}

int npy_itemsize(NpyDType dtype) {
  switch (dtype) {
    case NpyDType::kInt8: return 1;
    case NpyDType::kInt16: return 2;
    case NpyDType::kInt32: return 4;
    case NpyDType::kInt64: return 8;
  }
  return 8;
}

NpyDType narrowest_npy_dtype(int64_t lo, int64_t hi) {
  for (NpyDType t : {NpyDType::kInt8, NpyDType::kInt16, NpyDType::kInt32})
    if (lo >= dtype_min(t) && hi <= dtype_max(t)) return t;
  return NpyDType::kInt64;
}

std::string encode_npy(const NpyArray& array) {
  // The product is formed only as far as it can match the data: a shape such as (8e11, 2e7, 0) is
  // empty and valid (numpy writes it), though its leading dimensions overflow int64 when multiplied.
  const bool empty = std::find(array.shape.begin(), array.shape.end(), 0) != array.shape.end();
  int64_t numel = empty ? 0 : 1;
  for (int64_t d : array.shape) {
    if (d < 0) throw std::invalid_argument("encode_npy: negative dimension " + std::to_string(d));
    if (!empty && __builtin_mul_overflow(numel, d, &numel))
      throw std::invalid_argument("encode_npy: the shape " + shape_literal(array.shape) +
                                  " has more elements than int64 counts");
  }
  if (numel != static_cast<int64_t>(array.data.size()))
    throw std::invalid_argument("encode_npy: " + std::to_string(array.data.size()) + " values for the shape " +
                                shape_literal(array.shape));
  std::string header = "{'descr': '" + npy_descr(array.dtype) +
                       "', 'fortran_order': False, 'shape': " + shape_literal(array.shape) + ", }";
  const size_t unpadded = kMagicSize + 2 + 2 + header.size() + 1; // + the final newline
  header.append((kHeaderAlignment - unpadded % kHeaderAlignment) % kHeaderAlignment, ' ');
  header += '\n';
  std::string out(kMagic, kMagicSize);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  const int size = npy_itemsize(array.dtype);
  const int64_t lo = dtype_min(array.dtype), hi = dtype_max(array.dtype);
  out.reserve(out.size() + array.data.size() * static_cast<size_t>(size));
  for (size_t i = 0; i < array.data.size(); ++i) {
    const int64_t v = array.data[i];
    if (v < lo || v > hi)
      throw std::invalid_argument("encode_npy: value " + std::to_string(v) + " at index " + std::to_string(i) +
                                  " does not fit " + npy_descr(array.dtype));
    const auto u = static_cast<uint64_t>(v);
    for (int b = 0; b < size; ++b) out += static_cast<char>((u >> (8 * b)) & 0xff); // little-endian
  }
  return out;
}

NpyArray decode_npy(const std::string& bytes, const std::string& what) {
  if (bytes.size() < kMagicSize + 4 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0)
    throw std::runtime_error(what + ": not a .npy file (no \\x93NUMPY magic)");
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
  const int major = byte(6), minor = byte(7);
  size_t header_len = 0, header_start = 0;
  if (major == 1 && minor == 0) {
    header_len = byte(8) | (size_t{byte(9)} << 8);
    header_start = 10;
  } else if (major == 2 && minor == 0) {
    if (bytes.size() < 12) throw std::runtime_error(what + ": truncated .npy header");
    header_len = byte(8) | (size_t{byte(9)} << 8) | (size_t{byte(10)} << 16) | (size_t{byte(11)} << 24);
    header_start = 12;
  } else {
    throw std::runtime_error(what + ": .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                             " (expected 1.0 or 2.0)");
  }
  if (bytes.size() < header_start + header_len)
    throw std::runtime_error(what + ": truncated .npy header (" + std::to_string(bytes.size()) + " bytes)");
  const std::string header = bytes.substr(header_start, header_len);
  const auto dict = HeaderParser(header, what).parse_dict();
  for (const auto& [key, value] : dict)
    if (key != "descr" && key != "fortran_order" && key != "shape")
      throw std::runtime_error(what + ": unexpected key '" + key + "' in the .npy header");
  const auto get = [&](const char* key, HeaderParser::Value::Kind kind) -> const HeaderParser::Value& {
    const auto it = dict.find(key);
    if (it == dict.end()) throw std::runtime_error(what + ": the .npy header has no '" + key + "'");
    if (it->second.kind != kind)
      throw std::runtime_error(what + ": the .npy header's '" + key + "' has the wrong type");
    return it->second;
  };
  NpyArray array;
  array.dtype = parse_descr(get("descr", HeaderParser::Value::kString).string, what);
  if (get("fortran_order", HeaderParser::Value::kBool).boolean)
    throw std::runtime_error(what + ": fortran_order True is not supported (write C order)");
  array.shape = get("shape", HeaderParser::Value::kTuple).tuple;
  const size_t itemsize = static_cast<size_t>(npy_itemsize(array.dtype));
  const size_t available = bytes.size() - header_start - header_len;
  bool empty = false;
  for (int64_t d : array.shape) empty = empty || d == 0;
  // The product of the dimensions is bounded by the elements the data can hold before it is formed,
  // so that it can neither overflow nor announce an allocation the file does not back.
  const size_t capacity = available / itemsize;
  size_t numel = empty ? 0 : 1;
  for (int64_t d : array.shape) {
    if (empty) break;
    if (numel > capacity / static_cast<size_t>(d))
      throw std::runtime_error(what + ": shape " + shape_literal(array.shape) +
                               " needs more data than the file holds (" + std::to_string(available) + " bytes)");
    numel *= static_cast<size_t>(d);
  }
  if (numel * itemsize != available)
    throw std::runtime_error(what + ": " + std::to_string(available) + " bytes of data, the shape " +
                             shape_literal(array.shape) + " of " + npy_descr(array.dtype) + " needs " +
                             std::to_string(numel * itemsize) + (numel * itemsize > available ? " (truncated?)" : ""));
  array.data.resize(numel);
  const char* p = bytes.data() + header_start + header_len;
  for (size_t i = 0; i < numel; ++i, p += itemsize) {
    uint64_t u = 0;
    for (size_t b = 0; b < itemsize; ++b) u |= uint64_t{static_cast<uint8_t>(p[b])} << (8 * b);
    // Sign-extend from the item width (two's complement).
    const int unused = static_cast<int>(64 - 8 * itemsize);
    array.data[i] = unused ? static_cast<int64_t>(u << unused) >> unused : static_cast<int64_t>(u);
  }
  return array;
}

void save_npy(const std::string& path, const NpyArray& array) { write_file_atomic(path, encode_npy(array)); }

NpyArray load_npy(const std::string& path) { return decode_npy(read_file(path), path); }

} // namespace fxnn::io
