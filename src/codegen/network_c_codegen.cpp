// C99 code of a fixed-point network (docs/codegen.md): integer only, nothing beyond <stdint.h>, no
// allocation. Each node is a block of plain loops that is eq. (1)-(3) of docs/fixed-point-network.md
// as the reference kernels (src/runtime/reference_kernels.cpp) read it.

#include <algorithm>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>

#include "fxnn/codegen/network_codegen.h"
#include "fxnn/ir/worst_case.h"
#include "network_common.h"

namespace fxnn::codegen {

namespace {

using detail::comment_text;
using detail::describe;
using detail::shape_str;

std::string lit(int64_t v) { return c_int_literal(v); }

/// A literal that can follow an operator: negative ones in parentheses.
std::string operand(int64_t v) { return v < 0 ? "(" + lit(v) + ")" : lit(v); }

int ctype_bytes(const std::string& t) {
  if (t == "int8_t" || t == "uint8_t") return 1;
  if (t == "int16_t" || t == "uint16_t") return 2;
  if (t == "int32_t" || t == "uint32_t") return 4;
  if (t == "int64_t") return 8;
  throw std::invalid_argument("'" + t +
                              "' is not an integer type of <stdint.h> (int8_t ... int64_t, uint8_t ... uint32_t)");
}

bool ctype_holds(const std::string& t, int64_t lo, int64_t hi) {
  const std::map<std::string, std::pair<int64_t, int64_t>> ranges = {
      {"int8_t", {INT8_MIN, INT8_MAX}},   {"uint8_t", {0, UINT8_MAX}},         {"int16_t", {INT16_MIN, INT16_MAX}},
      {"uint16_t", {0, UINT16_MAX}},      {"int32_t", {INT32_MIN, INT32_MAX}}, {"uint32_t", {0, UINT32_MAX}},
      {"int64_t", {INT64_MIN, INT64_MAX}}};
  const auto& r = ranges.at(t);
  return lo >= r.first && hi <= r.second;
}

/// The member of the work area holding tensors of a storage type; widest first (no padding inside).
const std::vector<std::pair<std::string, std::string>> kArenas = {
    {"int64_t", "i64"}, {"int32_t", "i32"}, {"int16_t", "i16"}, {"int8_t", "i8"}, {"uint8_t", "u8"}};

std::string arena_member(const std::string& ctype) {
  for (const auto& [type, member] : kArenas)
    if (type == ctype) return member;
  throw std::logic_error("no work area for " + ctype);
}

/// Where a tensor's codes are: the caller's x or y, the work area, or (a flatten) another tensor's memory.
struct Tensor {
  enum class Place { kInput, kOutput, kWork, kAlias };
  Place place = Place::kWork;
  std::string ctype;
  int64_t numel = 0;
  int64_t offset = 0;      // kWork: elements into its arena
  std::string base;        // kAlias: the tensor whose memory it is
  int first = 0, last = 0; // kWork: the nodes that write it first and read it last
};

/// eq. (3) of one node, as constants: multiplier and offset (the rounding constant folded in) either
/// one value or an array indexed by the channel.
struct RequantC {
  std::string mult_array, off_array;
  int64_t mult = 1, off = 0;
  int shift = 0;
  int64_t lo = 0, hi = 0;
  bool per_channel() const { return !mult_array.empty() || !off_array.empty(); }
};

class CGenerator {
 public:
  CGenerator(const ir::Network& net, const NetworkCodegenOptions& options) : net_(net), o_(options) {}

  GeneratedCode run() {
    check_c_identifier(o_.name);
    function_ = o_.function.empty() ? o_.name : o_.function;
    check_c_identifier(function_);
    net_.validate();
    ids_ = detail::node_identifiers(net_);
    needed_ = detail::needed_nodes(net_);
    in_type_ = o_.io_type.empty() ? storage_ctype(net_.input_format) : o_.io_type;
    const Format& out_format = net_.format_of(net_.output);
    out_type_ = o_.io_type.empty() ? storage_ctype(out_format) : o_.io_type;
    ctype_bytes(in_type_);
    if (!ctype_holds(in_type_, net_.input_format.code_min(), net_.input_format.code_max()) ||
        !ctype_holds(out_type_, out_format.code_min(), out_format.code_max()))
      throw std::invalid_argument("the C type " + o_.io_type + " does not hold the codes of the input format " +
                                  net_.input_format.str() + " and the output format " + out_format.str());
    plan_tensors();
    choose_index_type();
    for (size_t k = 0; k < net_.nodes.size(); ++k)
      if (needed_[k]) emit_node(static_cast<int>(k));

    GeneratedCode code;
    code.header = header();
    code.source = source();
    code.origin = "fixed-point network";
    code.work_bytes = work_bytes_;
    code.constant_bytes = constant_bytes_;
    return code;
  }

 private:
  // ---- tensors and the work area ----

  void plan_tensors() {
    const std::string& input = net_.input_name;
    tensors_[input].place = Tensor::Place::kInput;
    tensors_[input].ctype = in_type_;
    tensors_[input].numel = detail::numel(net_.input_shape);
    for (size_t k = 0; k < net_.nodes.size(); ++k) {
      if (!needed_[k]) continue;
      const ir::Node& node = net_.nodes[k];
      Tensor t;
      t.numel = detail::numel(node.output_shape);
      t.first = t.last = static_cast<int>(k);
      if (node.name == net_.output) {
        t.place = Tensor::Place::kOutput;
        t.ctype = out_type_;
      } else if (node.op == ir::OpKind::kFlatten) {
        t.place = Tensor::Place::kAlias;
        t.base = detail::storage_base(net_, node.inputs[0]);
        t.ctype = tensors_.at(t.base).ctype;
      } else {
        t.place = Tensor::Place::kWork;
        t.ctype = storage_ctype(node.output_format);
      }
      for (const auto& in : node.inputs) { // a tensor lives until its last reader (through flattens)
        Tensor& read = tensors_.at(detail::storage_base(net_, in));
        read.last = std::max(read.last, static_cast<int>(k));
      }
      tensors_[node.name] = t;
    }
    // First fit per arena: a tensor takes the lowest offset free during its whole life.
    for (const auto& [type, member] : kArenas) {
      std::vector<std::string> placed;
      int64_t size = 0;
      for (const ir::Node& node : net_.nodes) {
        auto it = tensors_.find(node.name);
        if (it == tensors_.end() || it->second.place != Tensor::Place::kWork || it->second.ctype != type) continue;
        Tensor& t = it->second;
        std::vector<std::pair<int64_t, int64_t>> busy;
        for (const std::string& p : placed) {
          const Tensor& u = tensors_.at(p);
          if (u.first <= t.last && t.first <= u.last) busy.push_back({u.offset, u.offset + u.numel});
        }
        std::sort(busy.begin(), busy.end());
        int64_t at = 0;
        for (const auto& [lo, hi] : busy) {
          if (at + t.numel <= lo) break;
          at = std::max(at, hi);
        }
        t.offset = at;
        size = std::max(size, at + t.numel);
        placed.push_back(node.name);
      }
      if (size > 0) arena_sizes_.push_back({type, size});
      work_bytes_ += size * ctype_bytes(type);
    }
  }

  /// The pointer expression of a tensor's first code.
  std::string pointer(const std::string& name) const {
    const Tensor& t = tensors_.at(name);
    switch (t.place) {
      case Tensor::Place::kInput: return "x";
      case Tensor::Place::kOutput: return "y";
      case Tensor::Place::kAlias: return pointer(t.base);
      case Tensor::Place::kWork: {
        const std::string m = "work->" + arena_member(t.ctype);
        return t.offset == 0 ? m : m + " + " + lit(t.offset);
      }
    }
    return "";
  }

  void choose_index_type() {
    int64_t largest = detail::numel(net_.input_shape);
    for (size_t k = 0; k < net_.nodes.size(); ++k) {
      if (!needed_[k]) continue;
      const ir::Node& node = net_.nodes[k];
      largest = std::max(largest, detail::numel(node.output_shape));
      if (node.weight) largest = std::max(largest, node.weight->numel());
      if (node.op == ir::OpKind::kConv2d) {
        const auto in = net_.shape_of(node.inputs[0]);
        largest = std::max({largest, in[1] + 2 * node.padding + node.kernel, in[2] + 2 * node.padding + node.kernel});
      }
    }
    index_type_ = largest < std::numeric_limits<int32_t>::max() / 2 ? "int32_t" : "int64_t";
  }

  // ---- constants ----

  /// A static const array with nested braces (dims.size() levels).
  std::string array(const std::string& ctype, const std::string& name, const std::vector<int64_t>& dims,
                    const std::vector<int64_t>& values) {
    constant_bytes_ += static_cast<int64_t>(values.size()) * ctype_bytes(ctype);
    std::ostringstream a;
    a << "static const " << ctype << " " << name;
    for (int64_t d : dims) a << "[" << d << "]";
    a << " = ";
    size_t at = 0;
    emit_level(a, dims, 0, values, at, "");
    a << ";\n";
    return a.str();
  }

  static void emit_level(std::ostringstream& a, const std::vector<int64_t>& dims, size_t level,
                         const std::vector<int64_t>& values, size_t& at, const std::string& indent) {
    constexpr int64_t kPerLine = 16;
    if (level + 1 == dims.size()) {
      a << "{";
      for (int64_t k = 0; k < dims[level]; ++k) {
        if (dims[level] > kPerLine && k % kPerLine == 0) a << "\n" << indent << "  ";
        a << lit(values[at++])
          << (k + 1 < dims[level] ? (dims[level] > kPerLine && (k + 1) % kPerLine == 0 ? "," : ", ") : "");
      }
      if (dims[level] > kPerLine) a << "\n" << indent;
      a << "}";
      return;
    }
    a << "{\n";
    for (int64_t k = 0; k < dims[level]; ++k) {
      a << indent << "  ";
      emit_level(a, dims, level + 1, values, at, indent + "  ");
      a << (k + 1 < dims[level] ? ",\n" : "\n");
    }
    a << indent << "}";
  }

  std::string narrowest_of(const std::vector<int64_t>& v) const {
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    return narrowest_ctype(std::min<int64_t>(*lo, 0), std::max<int64_t>(*hi, 0));
  }

  RequantC requant(const ir::Node& node, const std::string& id) {
    const ir::Requantize& r = *node.requantize;
    RequantC q;
    q.shift = r.shift;
    q.lo = r.clamp_min;
    q.hi = r.clamp_max;
    const __int128 rounding =
        r.rounding == Rounding::kNearest && r.shift > 0 ? static_cast<__int128>(1) << (r.shift - 1) : 0;
    std::vector<int64_t> offsets;
    for (int64_t o : r.offset) {
      const __int128 folded = static_cast<__int128>(o) + rounding;
      // |offset + 2^(s-1)| < 2^63: eq. (3) at acc = 0 is within the bound validate() checks.
      if (folded > std::numeric_limits<int64_t>::max())
        throw std::logic_error(node.name + ": offset + rounding overflows");
      offsets.push_back(static_cast<int64_t>(folded));
    }
    const int64_t channels = node.output_shape[0];
    if (r.multiplier.size() == 1) {
      q.mult = r.multiplier[0];
    } else {
      q.mult_array = o_.name + "_" + id + "_multiplier";
      consts_ << array(narrowest_of(r.multiplier), q.mult_array, {channels}, r.multiplier);
    }
    if (offsets.size() == 1) {
      q.off = offsets[0];
    } else {
      q.off_array = o_.name + "_" + id + "_offset";
      consts_ << array(narrowest_of(offsets), q.off_array, {channels}, offsets);
    }
    return q;
  }

  std::string requant_comment(const ir::Node& node) const {
    const ir::Requantize& r = *node.requantize;
    std::ostringstream c;
    c << "eq. (3): v = acc * multiplier" << (r.multiplier.size() == 1 ? "" : "[c]") << " + offset"
      << (r.offset.size() == 1 ? "" : "[c]");
    if (r.shift > 0)
      c << (r.rounding == Rounding::kNearest
                ? " + 2^" + std::to_string(r.shift - 1) + " (round half up, folded into the offset)"
                : "")
        << ", >> " << r.shift << (r.rounding == Rounding::kNearest ? "" : " (floor)");
    else if (r.shift < 0)
      c << ", * 2^" << -r.shift << " (exact)";
    c << ", clamp to [" << r.clamp_min << ", " << r.clamp_max << "]";
    return c.str();
  }

  /// The statements of eq. (3) for accumulator `acc` of channel `c`, stored to `out`.
  static std::string requant_code(const RequantC& q, const std::string& acc, const std::string& c,
                                  const std::string& out, const std::string& out_type, const std::string& ind) {
    std::string v = "(int64_t)" + acc;
    if (!q.mult_array.empty())
      v += " * " + q.mult_array + "[" + c + "]";
    else if (q.mult != 1)
      v += " * " + operand(q.mult);
    if (!q.off_array.empty())
      v += " + " + q.off_array + "[" + c + "]";
    else if (q.off != 0)
      v += " + " + operand(q.off);
    std::string s = ind + "int64_t v = " + v + ";\n";
    if (q.shift > 0) s += ind + "v >>= " + std::to_string(q.shift) + ";\n";
    if (q.shift < 0) s += ind + "v *= " + lit(int64_t{1} << -q.shift) + ";\n";
    s += ind + "if (v < " + lit(q.lo) + ") v = " + lit(q.lo) + "; else if (v > " + lit(q.hi) + ") v = " + lit(q.hi) +
         ";\n";
    s += ind + out + " = (" + out_type + ")v;\n";
    return s;
  }

  std::string acc_type(const ir::Node& node) const { return node.accumulator_bits <= 32 ? "int32_t" : "int64_t"; }

  // ---- nodes ----

  void emit_node(int k) {
    const ir::Node& node = net_.nodes[static_cast<size_t>(k)];
    const std::string& id = ids_.at(node.name);
    const Tensor& out = tensors_.at(node.name);
    if (node.op == ir::OpKind::kFlatten && out.place != Tensor::Place::kOutput) {
      body_ << "  /* " << describe(net_, node) << ": the codes stay where they are (row-major) */\n\n";
      return;
    }
    consts_.str("");
    body_ << "  { /* " << describe(net_, node) << " */\n";
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const std::string& in = node.inputs[i];
      body_ << "    const " << tensors_.at(detail::storage_base(net_, in)).ctype << " *const "
            << (node.inputs.size() == 1 ? std::string("in") : std::string(i == 0 ? "a" : "b")) << " = " << pointer(in)
            << ";\n";
    }
    body_ << "    " << out.ctype << " *const out = " << pointer(node.name) << ";\n";
    switch (node.op) {
      case ir::OpKind::kRescale: emit_rescale(node, id, out.ctype); break;
      case ir::OpKind::kConv2d: emit_conv2d(node, id, out.ctype); break;
      case ir::OpKind::kDense: emit_dense(node, id, out.ctype); break;
      case ir::OpKind::kMaxPool: emit_maxpool(node, out.ctype); break;
      case ir::OpKind::kAvgPool: emit_avgpool(node, id, out.ctype); break;
      case ir::OpKind::kAdd: emit_add(node, id, out.ctype); break;
      case ir::OpKind::kFlatten:
        body_ << "    for (" << index_type_ << " i = 0; i < " << lit(out.numel) << "; ++i) out[i] = (" << out.ctype
              << ")in[i]; /* flatten: the same codes */\n";
        break;
    }
    body_ << "  }\n\n";
    if (!consts_.str().empty()) all_consts_ << "/* " << describe(net_, node) << " */\n" << consts_.str() << "\n";
  }

  /// Loops over the channels c and the positions i of a channel (eq. (3) per element), or over all
  /// elements when the requantization is per tensor. `acc_expr` reads the element at `e`.
  void elementwise(const ir::Node& node, const RequantC& q, const std::string& out_type, const std::string& acc_init) {
    const int64_t channels = node.output_shape[0];
    const int64_t total = detail::numel(node.output_shape), inner = total / channels;
    const std::string acc = acc_type(node), ix = index_type_;
    body_ << "    /* " << requant_comment(node) << " */\n";
    if (!q.per_channel()) {
      body_ << "    for (" << ix << " e = 0; e < " << lit(total) << "; ++e) {\n"
            << "      const " << acc << " acc = " << acc_init << ";\n"
            << requant_code(q, "acc", "0", "out[e]", out_type, "      ") << "    }\n";
      return;
    }
    body_ << "    for (" << ix << " c = 0; c < " << lit(channels) << "; ++c)\n"
          << "      for (" << ix << " i = 0; i < " << lit(inner) << "; ++i) {\n"
          << "        const " << ix << " e = c * " << lit(inner) << " + i;\n"
          << "        const " << acc << " acc = " << acc_init << ";\n"
          << requant_code(q, "acc", "c", "out[e]", out_type, "        ") << "      }\n";
  }

  void emit_rescale(const ir::Node& node, const std::string& id, const std::string& out_type) {
    const RequantC q = requant(node, id);
    body_ << "    /* rescale: acc = in, then eq. (3) per channel (dimension 0 of the sample) */\n";
    elementwise(node, q, out_type, "(" + acc_type(node) + ")in[e]");
  }

  void emit_add(const ir::Node& node, const std::string& id, const std::string& out_type) {
    const RequantC q = requant(node, id);
    const Format fa = net_.format_of(node.inputs[0]), fb = net_.format_of(node.inputs[1]);
    const int frac = std::max(fa.frac, fb.frac);
    const std::string acc = acc_type(node);
    const auto term = [&](const std::string& v, int scale) {
      const std::string e = "(" + acc + ")" + v + "[e]";
      return scale == 0 ? e : e + " * " + lit(int64_t{1} << scale);
    };
    body_ << "    /* add: acc = a * 2^" << frac - fa.frac << " + b * 2^" << frac - fb.frac
          << " (F = max(F_a, F_b) = " << frac << "), then eq. (3) */\n";
    elementwise(node, q, out_type, term("a", frac - fa.frac) + " + " + term("b", frac - fb.frac));
  }

  void emit_conv2d(const ir::Node& node, const std::string& id, const std::string& out_type) {
    const ir::IntTensor& w = *node.weight;
    const std::string wname = o_.name + "_" + id + "_weight";
    consts_ << "/* weights " << w.format.str() << ", OIHW */\n" << array(narrowest_of(w.data), wname, w.shape, w.data);
    const RequantC q = requant(node, id);
    const auto in = net_.shape_of(node.inputs[0]);
    const int64_t ci = in[0], h = in[1], wd = in[2];
    const int64_t co = node.output_shape[0], oh = node.output_shape[1], ow = node.output_shape[2];
    const int64_t k = node.kernel, s = node.stride, p = node.padding;
    const std::string acc = acc_type(node), ix = index_type_;
    const auto position = [&](const std::string& o, const std::string& kk) {
      std::string e = s == 1 ? o : o + " * " + lit(s);
      e += " + " + kk;
      return p == 0 ? e : e + " - " + lit(p);
    };
    body_ << "    /* eq. (1): acc = sum_{i,ky,kx} W[o][i][ky][kx] in[i][oy*" << s << "+ky-" << p << "][ox*" << s
          << "+kx-" << p << "] (zero outside), " << node.accumulator_bits
          << "-bit accumulator (the worst case fits) */\n"
          << "    " << ix << " at = 0;\n"
          << "    for (" << ix << " o = 0; o < " << lit(co) << "; ++o)\n"
          << "      for (" << ix << " oy = 0; oy < " << lit(oh) << "; ++oy)\n"
          << "        for (" << ix << " ox = 0; ox < " << lit(ow) << "; ++ox) {\n"
          << "          " << acc << " acc = 0;\n"
          << "          for (" << ix << " i = 0; i < " << lit(ci) << "; ++i)\n"
          << "            for (" << ix << " ky = 0; ky < " << lit(k) << "; ++ky) {\n"
          << "              const " << ix << " iy = " << position("oy", "ky") << ";\n";
    if (p > 0) body_ << "              if (iy < 0 || iy >= " << lit(h) << ") continue;\n";
    body_ << "              for (" << ix << " kx = 0; kx < " << lit(k) << "; ++kx) {\n"
          << "                const " << ix << " jx = " << position("ox", "kx") << ";\n";
    if (p > 0) body_ << "                if (jx < 0 || jx >= " << lit(wd) << ") continue;\n";
    body_ << "                acc += (" << acc << ")" << wname << "[o][i][ky][kx] * in[(i * " << lit(h) << " + iy) * "
          << lit(wd) << " + jx];\n"
          << "              }\n"
          << "            }\n"
          << "          { /* " << requant_comment(node) << " */\n"
          << requant_code(q, "acc", "o", "out[at++]", out_type, "            ") << "          }\n"
          << "        }\n";
  }

  void emit_dense(const ir::Node& node, const std::string& id, const std::string& out_type) {
    const ir::IntTensor& w = *node.weight;
    const std::string wname = o_.name + "_" + id + "_weight";
    consts_ << "/* weights " << w.format.str() << ", [out, in] */\n"
            << array(narrowest_of(w.data), wname, w.shape, w.data);
    const RequantC q = requant(node, id);
    const std::string acc = acc_type(node), ix = index_type_;
    body_ << "    /* eq. (2): acc = sum_i W[o][i] in[i], " << node.accumulator_bits
          << "-bit accumulator (the worst case fits) */\n"
          << "    for (" << ix << " o = 0; o < " << lit(w.shape[0]) << "; ++o) {\n"
          << "      " << acc << " acc = 0;\n"
          << "      for (" << ix << " i = 0; i < " << lit(w.shape[1]) << "; ++i) acc += (" << acc << ")" << wname
          << "[o][i] * in[i];\n"
          << "      { /* " << requant_comment(node) << " */\n"
          << requant_code(q, "acc", "o", "out[o]", out_type, "        ") << "      }\n"
          << "    }\n";
  }

  /// The loops over the windows of a pool; `inner` is the body per window element `in[...]`.
  void pool_loops(const ir::Node& node, const std::string& init, const std::string& step, const std::string& finish) {
    const auto in = net_.shape_of(node.inputs[0]);
    const int64_t c = in[0], h = in[1], wd = in[2], oh = node.output_shape[1], ow = node.output_shape[2];
    const int64_t k = node.kernel, s = node.stride;
    const std::string ix = index_type_;
    const std::string y0 = s == 1 ? "oy" : "oy * " + lit(s), x0 = s == 1 ? "ox" : "ox * " + lit(s);
    body_ << "    " << ix << " at = 0;\n"
          << "    for (" << ix << " c = 0; c < " << lit(c) << "; ++c)\n"
          << "      for (" << ix << " oy = 0; oy < " << lit(oh) << "; ++oy)\n"
          << "        for (" << ix << " ox = 0; ox < " << lit(ow) << "; ++ox) {\n"
          << "          const " << ix << " corner = (c * " << lit(h) << " + " << y0 << ") * " << lit(wd) << " + " << x0
          << ";\n"
          << init << "          for (" << ix << " ky = 0; ky < " << lit(k) << "; ++ky)\n"
          << "            for (" << ix << " kx = 0; kx < " << lit(k) << "; ++kx) {\n"
          << "              const " << tensors_.at(detail::storage_base(net_, node.inputs[0])).ctype
          << " v = in[corner + ky * " << lit(wd) << " + kx];\n"
          << step << "            }\n"
          << finish << "        }\n";
  }

  void emit_maxpool(const ir::Node& node, const std::string& out_type) {
    const std::string in_type = tensors_.at(detail::storage_base(net_, node.inputs[0])).ctype;
    body_ << "    /* maxpool: the largest code of each window (codes and format unchanged) */\n";
    pool_loops(node, "          " + in_type + " m = in[corner];\n", "              if (v > m) m = v;\n",
               "          out[at++] = (" + out_type + ")m;\n");
  }

  void emit_avgpool(const ir::Node& node, const std::string& id, const std::string& out_type) {
    const RequantC q = requant(node, id);
    const std::string acc = acc_type(node);
    body_ << "    /* avgpool: acc = the sum of each window (the division is in the multiplier), then eq. (3) */\n";
    pool_loops(node, "          " + acc + " acc = 0;\n", "              acc += v;\n",
               "          { /* " + requant_comment(node) + " */\n" +
                   requant_code(q, "acc", "c", "out[at++]", out_type, "            ") + "          }\n");
  }

  // ---- files ----

  std::string guard() const { return detail::upper(o_.name) + "_H"; }

  void leading_comment(std::ostringstream& s, const std::string& file) const {
    s << "/* " << file << ": generated by " << o_.generator << " from the fixed-point network \""
      << comment_text(net_.name) << "\"\n";
    if (!net_.source.empty()) s << " * source: " << comment_text(net_.source) << "\n";
    for (const std::string& line : o_.provenance) s << " * " << comment_text(line) << "\n";
  }

  std::string header() const {
    const std::string g = detail::upper(o_.name), n = o_.name;
    const Format& out_format = net_.format_of(net_.output);
    std::ostringstream h;
    leading_comment(h, n + ".h");
    h << " * Integer only: no floating point, nothing beyond <stdint.h>, no allocation (docs/codegen.md).\n */\n"
      << "#ifndef " << guard() << "\n#define " << guard() << "\n\n#include <stdint.h>\n\n"
      << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
      << "/* One sample: input codes in, output codes out; a code q of a format with FRAC fractional bits\n"
      << " * stands for q * 2^-FRAC. The input \"" << net_.input_name << "\" " << shape_str(net_.input_shape)
      << " has the format " << net_.input_format.str() << ",\n * the output \"" << net_.output << "\" "
      << shape_str(net_.shape_of(net_.output)) << " the format " << out_format.str()
      << " (row-major, channels first: C, H, W). */\n"
      << "#define " << g << "_INPUT_SIZE " << detail::numel(net_.input_shape) << "\n"
      << "#define " << g << "_INPUT_FRAC " << net_.input_format.frac << "\n"
      << "#define " << g << "_OUTPUT_SIZE " << detail::numel(net_.shape_of(net_.output)) << "\n"
      << "#define " << g << "_OUTPUT_FRAC " << out_format.frac << "\n"
      << "typedef " << in_type_ << " " << n << "_input_t;\n"
      << "typedef " << out_type_ << " " << n << "_output_t;\n\n"
      << "/* The work area: the intermediate tensors, " << work_bytes_ << " bytes (" << g
      << "_WORK_BYTES; sizeof adds at most 7 bytes\n"
      << " * of padding). Constants: " << constant_bytes_ << " bytes of static const arrays in " << n << ".c (" << g
      << "_CONSTANT_BYTES).\n * Stack: a few scalars per call. */\n"
      << "#define " << g << "_WORK_BYTES " << work_bytes_ << "\n"
      << "#define " << g << "_CONSTANT_BYTES " << constant_bytes_ << "\n"
      << "typedef struct {\n";
    for (const auto& [type, size] : arena_sizes_)
      h << "  " << type << " " << arena_member(type) << "[" << size << "];\n";
    if (arena_sizes_.empty()) h << "  char unused; /* no intermediate tensor */\n";
    h << "} " << n << "_work_t;\n\n"
      << "/* x: " << g << "_INPUT_SIZE codes of the format " << net_.input_format.str()
      << " (the caller keeps them in it);\n"
      << " * y: " << g << "_OUTPUT_SIZE codes. Equal to the output of the integer runtime, bit for bit.\n"
      << " * Uses a static work area: not reentrant. */\n"
      << "void " << function_ << "(const " << n << "_input_t *x, " << n << "_output_t *y);\n"
      << "/* The same with the caller's work area (one per concurrent call). */\n"
      << "void " << function_ << "_with_work(const " << n << "_input_t *x, " << n << "_output_t *y, " << n
      << "_work_t *work);\n";
    if (!o_.header_extra.empty()) h << "\n" << o_.header_extra;
    h << "\n#ifdef __cplusplus\n}\n#endif\n\n#endif /* " << guard() << " */\n";
    return h.str();
  }

  std::string source() const {
    const std::string n = o_.name;
    std::ostringstream c;
    leading_comment(c, n + ".c");
    c << " * Each node is eq. (1)-(3) of docs/fixed-point-network.md, computed as the integer runtime's\n"
      << " * reference kernels compute it: exact products and sums in the node's accumulator (its worst case\n"
      << " * fits), v in int64_t, arithmetic right shifts (checked below).\n */\n"
      << "#include <stdint.h>\n";
    for (const std::string& inc : o_.source_includes) c << "#include <" << inc << ">\n";
    c << "\n#include \"" << n << ".h\"\n\n"
      << "#if (-1 >> 1) != -1\n#error \"" << n
      << ".c needs an arithmetic right shift of negative integers\"\n#endif\n\n"
      << all_consts_.str() << "void " << function_ << "_with_work(const " << n << "_input_t *x, " << n
      << "_output_t *y, " << n << "_work_t *work) {\n";
    if (arena_sizes_.empty()) c << "  (void)work;\n";
    std::string body = body_.str();
    while (body.size() >= 2 && body[body.size() - 1] == '\n' && body[body.size() - 2] == '\n') body.pop_back();
    c << body << "}\n\n"
      << "static " << n << "_work_t " << n << "_work_area;\n\n"
      << "void " << function_ << "(const " << n << "_input_t *x, " << n << "_output_t *y) {\n"
      << "  " << function_ << "_with_work(x, y, &" << n << "_work_area);\n}\n";
    if (!o_.source_extra.empty()) c << "\n" << o_.source_extra;
    return c.str();
  }

  const ir::Network& net_;
  const NetworkCodegenOptions& o_;
  std::string function_, in_type_, out_type_, index_type_ = "int32_t";
  std::map<std::string, std::string> ids_;
  std::vector<bool> needed_;
  std::map<std::string, Tensor> tensors_;
  std::vector<std::pair<std::string, int64_t>> arena_sizes_;
  int64_t work_bytes_ = 0, constant_bytes_ = 0;
  std::ostringstream consts_, all_consts_, body_; // consts_: the node being emitted
};

} // namespace

std::string storage_ctype(const Format& format) {
  const int64_t lo = format.code_min(), hi = format.code_max();
  if (lo >= 0 && hi <= 255) return "uint8_t";
  if (lo >= INT8_MIN && hi <= INT8_MAX) return "int8_t";
  if (lo >= INT16_MIN && hi <= INT16_MAX) return "int16_t";
  if (lo >= INT32_MIN && hi <= INT32_MAX) return "int32_t";
  return "int64_t";
}

std::string narrowest_ctype(int64_t lo, int64_t hi) {
  for (const char* t : {"int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t", "uint32_t"})
    if (ctype_holds(t, lo, hi)) return t;
  return "int64_t";
}

GeneratedCode generate_network_c(const ir::Network& network, const NetworkCodegenOptions& options) {
  return CGenerator(network, options).run();
}

} // namespace fxnn::codegen
