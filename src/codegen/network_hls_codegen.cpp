// HLS C++ of a fixed-point network (docs/codegen.md, section 5): every tensor an array of
// ap_fixed<W, I> holding the real values code * 2^-F of its format; products and sums exact; eq. (3)
// as one multiply-add by constants whose fractional bits place the rounding point at the output
// format, then one conversion to an AP_RND (round half up) or AP_TRN (floor) type, then the clamp.

#include <algorithm>
#include <limits>
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
using detail::signed_width;

/// ap_fixed<width, width - frac>: value = raw * 2^-frac.
struct Fx {
  int width = 2;
  int frac = 0;
  std::string str(const std::string& mode = "") const {
    return "ap_fixed<" + std::to_string(width) + ", " + std::to_string(width - frac) +
           (mode.empty() ? "" : ", " + mode) + ">";
  }
};

unsigned __int128 magnitude(int64_t v) {
  return v < 0 ? static_cast<unsigned __int128>(-(static_cast<__int128>(v))) : static_cast<unsigned __int128>(v);
}

/// The exact value code * 2^-frac as a C++ expression of type `type`: one double literal when the code
/// has at most 53 significant bits (doubles hold it exactly), else the sum of two such literals.
std::string value(int64_t code, int frac, const std::string& type) {
  const auto decimal = [frac](__int128 c) {
    std::string d = exact_decimal(c, frac);
    if (d.find('.') == std::string::npos) d += ".0";
    return d;
  };
  if (magnitude(code) < (static_cast<unsigned __int128>(1) << 53)) return decimal(code);
  const __int128 low = static_cast<__int128>(code) & ((static_cast<__int128>(1) << 31) - 1); // 0 <= low < 2^31
  return type + "(" + type + "(" + decimal(static_cast<__int128>(code) - low) + ") + " + type + "(" + decimal(low) +
         "))";
}

/// The text without its trailing blank line.
std::string trimmed(std::string s) {
  while (s.size() >= 2 && s[s.size() - 1] == '\n' && s[s.size() - 2] == '\n') s.pop_back();
  return s;
}

class HlsGenerator {
 public:
  HlsGenerator(const ir::Network& net, const NetworkCodegenOptions& options) : net_(net), o_(options) {}

  GeneratedHls run() {
    check_c_identifier(o_.name);
    function_ = o_.function.empty() ? o_.name + "_hls" : o_.function;
    check_c_identifier(function_);
    net_.validate();
    ids_ = detail::node_identifiers(net_);
    needed_ = detail::needed_nodes(net_);
    int64_t largest = detail::numel(net_.input_shape);
    for (const ir::Node& node : net_.nodes) {
      largest = std::max(largest, detail::numel(node.output_shape));
      if (node.weight) largest = std::max(largest, node.weight->numel());
    }
    index_ = largest < std::numeric_limits<int32_t>::max() / 2 ? "int" : "long long";

    const std::string n = o_.name;
    type_of_[net_.input_name] = n + "_in_t";
    pointer_of_[net_.input_name] = "x";
    typedefs_ << "// " << net_.input_name << " " << shape_str(net_.input_shape) << ": " << net_.input_format.str()
              << "\n";
    for (size_t k = 0; k < net_.nodes.size(); ++k)
      if (needed_[k]) emit_node(net_.nodes[k]);

    GeneratedHls code;
    code.origin = "fixed-point network";
    const Format& out_format = net_.format_of(net_.output);
    const int64_t n_in = detail::numel(net_.input_shape), n_out = detail::numel(net_.shape_of(net_.output));
    std::ostringstream h;
    leading_comment(h, n + "_hls.h");
    h << "// HLS C++: ap_fixed<W, I> values (code * 2^-F of each format), exactly the integer runtime's codes.\n"
      << "#pragma once\n\n#include <ap_fixed.h>\n\n"
      << "// input \"" << net_.input_name << "\" " << shape_str(net_.input_shape) << " (" << net_.input_format.str()
      << "), output \"" << net_.output << "\" " << shape_str(net_.shape_of(net_.output)) << " (" << out_format.str()
      << "), row-major, channels first\n"
      << "typedef " << of_format(net_.input_format).str() << " " << n << "_in_t;\n"
      << "typedef " << of_format(out_format).str() << " " << n << "_out_t;\n\n"
      << "void " << function_ << "(const " << n << "_in_t x[" << n_in << "], " << n << "_out_t y[" << n_out << "]);\n";
    code.header = h.str();

    std::ostringstream c;
    leading_comment(c, n + "_hls.cpp");
    c << "// eq. (1)-(3) of docs/fixed-point-network.md: products and sums exact in ap_fixed; eq. (3) is one\n"
      << "// multiply-add by constants scaled so that its rounding point is the output format's, a conversion\n"
      << "// to an AP_RND (round half up, fxnn's tie rule) or AP_TRN (floor) type, and the clamp. AP_WRAP never\n"
      << "// wraps: every width holds the node's worst case.\n"
      << "#include \"" << n << "_hls.h\"\n\n"
      << typedefs_.str() << "\n"
      << consts_.str() << "void " << function_ << "(const " << n << "_in_t x[" << n_in << "], " << n << "_out_t y["
      << n_out << "]) {\n"
      << arrays_.str() << (arrays_.str().empty() ? "" : "\n") << trimmed(body_.str()) << "}\n";
    code.source = c.str();
    return code;
  }

 private:
  static Fx of_format(const Format& f) { return Fx{f.bits + (f.is_signed ? 0 : 1), f.frac}; }

  void check_width(const ir::Node& node, int width, const std::string& what) const {
    if (width > kMaxHlsWidth)
      throw std::invalid_argument("HLS: node " + node.name + ": " + what + " needs " + std::to_string(width) +
                                  " bits, more than the " + std::to_string(kMaxHlsWidth) +
                                  " of the ap_fixed types emitted");
  }

  void leading_comment(std::ostringstream& s, const std::string& file) const {
    s << "// " << file << ": generated by " << o_.generator << " from the fixed-point network \""
      << comment_text(net_.name) << "\" (docs/codegen.md)\n";
    if (!net_.source.empty()) s << "// source: " << comment_text(net_.source) << "\n";
    for (const std::string& line : o_.provenance) s << "// " << comment_text(line) << "\n";
  }

  std::string array_literal(const std::string& type, const std::vector<int64_t>& dims,
                            const std::vector<int64_t>& codes, int frac) const {
    std::ostringstream a;
    size_t at = 0;
    level(a, type, dims, 0, codes, frac, at);
    return a.str();
  }

  static void level(std::ostringstream& a, const std::string& type, const std::vector<int64_t>& dims, size_t l,
                    const std::vector<int64_t>& codes, int frac, size_t& at) {
    a << "{";
    for (int64_t k = 0; k < dims[l]; ++k) {
      if (k) a << (l + 1 == dims.size() && k % 8 ? ", " : ",\n  ");
      if (l + 1 == dims.size())
        a << value(codes[at++], frac, type);
      else
        level(a, type, dims, l + 1, codes, frac, at);
    }
    a << "}";
  }

  /// eq. (3) of a node whose accumulator (type `acc`, fractional bits fa, |acc| <= worst) is `acc_expr`.
  struct Requant {
    std::string m, o; // expressions of multiplier and offset at channel `c` ("" when not needed)
    std::string r_type, lo, hi;
  };

  Requant requant(const ir::Node& node, const std::string& id, int fa, uint64_t worst, int acc_width) {
    const ir::Requantize& r = *node.requantize;
    const std::string p = o_.name + "_" + id;
    const int f_out = node.output_format.frac;
    const int f_sum = r.shift + f_out; // fractional bits of acc * M + O: the code of v
    Requant q;
    unsigned __int128 m_max = 0, o_max = 0;
    for (int64_t m : r.multiplier) m_max = std::max(m_max, magnitude(m));
    for (int64_t o : r.offset) o_max = std::max(o_max, magnitude(o));
    // M = multiplier * 2^(fa - shift - f_out): acc * M has f_sum fractional bits and the code acc * multiplier.
    const Fx mt{signed_width(m_max), f_sum - fa};
    const Fx ot{signed_width(o_max), f_sum};
    const bool unit = r.multiplier.size() == 1 && r.multiplier[0] == 1 && mt.frac == 0;
    const bool no_offset = r.offset.size() == 1 && r.offset[0] == 0;
    if (!unit) {
      check_width(node, acc_width + mt.width + 1, "acc * multiplier");
      typedefs_ << "typedef " << mt.str() << " " << p << "_m_t; // multiplier * 2^" << -mt.frac << "\n";
      if (r.multiplier.size() == 1) {
        consts_ << "static const " << p << "_m_t " << p << "_m = " << value(r.multiplier[0], mt.frac, p + "_m_t")
                << ";\n";
        q.m = p + "_m";
      } else {
        consts_ << "static const " << p << "_m_t " << p << "_m[" << r.multiplier.size() << "] = "
                << array_literal(p + "_m_t", {static_cast<int64_t>(r.multiplier.size())}, r.multiplier, mt.frac)
                << ";\n";
        q.m = p + "_m[c]";
      }
    }
    if (!no_offset) {
      check_width(node, std::max(acc_width + mt.width, ot.width) + 1, "acc * multiplier + offset");
      typedefs_ << "typedef " << ot.str() << " " << p << "_o_t; // offset * 2^" << -ot.frac << "\n";
      if (r.offset.size() == 1) {
        consts_ << "static const " << p << "_o_t " << p << "_o = " << value(r.offset[0], ot.frac, p + "_o_t") << ";\n";
        q.o = p + "_o";
      } else {
        consts_ << "static const " << p << "_o_t " << p << "_o[" << r.offset.size()
                << "] = " << array_literal(p + "_o_t", {static_cast<int64_t>(r.offset.size())}, r.offset, ot.frac)
                << ";\n";
        q.o = p + "_o[c]";
      }
    }
    // The rounded value before the clamp: |v| <= worst |m| + |o|, then shifted.
    unsigned __int128 v = static_cast<unsigned __int128>(worst) * m_max + o_max;
    if (r.shift > 0)
      v = (v >> r.shift) + 1;
    else
      v <<= -r.shift;
    v = std::max({v, magnitude(r.clamp_min), magnitude(r.clamp_max)});
    const Fx rt{signed_width(v), f_out};
    check_width(node, rt.width, "the rounded value");
    const std::string mode = r.rounding == Rounding::kNearest ? "AP_RND" : "AP_TRN";
    q.r_type = p + "_r_t";
    typedefs_ << "typedef " << rt.str(mode) << " " << q.r_type << "; // eq. (3): round to the output format ("
              << (r.rounding == Rounding::kNearest ? "half up" : "floor") << ")\n";
    consts_ << "static const " << q.r_type << " " << p << "_lo = " << value(r.clamp_min, f_out, q.r_type) << ", " << p
            << "_hi = " << value(r.clamp_max, f_out, q.r_type) << ";\n";
    q.lo = p + "_lo";
    q.hi = p + "_hi";
    return q;
  }

  static std::string requant_code(const Requant& q, const std::string& acc, const std::string& out,
                                  const std::string& ind) {
    std::string t = acc;
    if (!q.m.empty()) t += " * " + q.m;
    if (!q.o.empty()) t += " + " + q.o;
    return ind + q.r_type + " r = " + t + ";\n" + ind + "if (r < " + q.lo + ") r = " + q.lo + "; else if (r > " + q.hi +
           ") r = " + q.hi + ";\n" + ind + out + " = r;\n";
  }

  std::string acc_typedef(const ir::Node& node, const std::string& id, int frac, uint64_t worst, int* width) {
    const Fx at{signed_width(worst), frac};
    *width = at.width;
    check_width(node, at.width + 1, "the accumulator");
    std::string name = o_.name + "_" + id + "_acc_t";
    typedefs_ << "typedef " << at.str() << " " << name << "; // |acc| <= " << static_cast<unsigned long long>(worst)
              << "\n";
    return name;
  }

  uint64_t worst_of(const ir::Node& node) const {
    std::vector<Format> in;
    for (const auto& i : node.inputs) in.push_back(net_.format_of(i));
    return ir::worst_case_accumulator(node, in).max();
  }

  void emit_node(const ir::Node& node) {
    const std::string& id = ids_.at(node.name);
    const std::string n = o_.name;
    const bool is_output = node.name == net_.output;
    if (node.op == ir::OpKind::kFlatten && !is_output) {
      const std::string base = detail::storage_base(net_, node.inputs[0]);
      type_of_[node.name] = type_of_.at(base);
      pointer_of_[node.name] = pointer_of_.at(base);
      body_ << "  // " << describe(net_, node) << ": the values stay where they are\n\n";
      return;
    }
    typedefs_ << "// " << describe(net_, node) << "\n";
    if (is_output) {
      type_of_[node.name] = n + "_out_t";
      pointer_of_[node.name] = "y";
    } else {
      type_of_[node.name] = n + "_" + id + "_t";
      pointer_of_[node.name] = n + "_" + id + "_v";
      typedefs_ << "typedef " << of_format(node.output_format).str() << " " << type_of_[node.name] << ";\n";
      arrays_ << "  static " << type_of_[node.name] << " " << pointer_of_[node.name] << "["
              << detail::numel(node.output_shape) << "];\n";
    }
    body_ << "  { // " << describe(net_, node) << "\n";
    for (size_t i = 0; i < node.inputs.size(); ++i)
      body_ << "    const " << type_of_.at(node.inputs[i]) << " *in"
            << (node.inputs.size() == 1 ? "" : std::to_string(i)) << " = " << pointer_of_.at(node.inputs[i]) << ";\n";
    body_ << "    " << type_of_.at(node.name) << " *out = " << pointer_of_.at(node.name) << ";\n";
    const std::string ix = index_;
    const int64_t total = detail::numel(node.output_shape), channels = node.output_shape[0];
    switch (node.op) {
      case ir::OpKind::kRescale:
      case ir::OpKind::kAdd: {
        const Format fa = net_.format_of(node.inputs[0]);
        int width = of_format(fa).width;
        std::string acc = "in[e]";
        int frac = fa.frac;
        if (node.op == ir::OpKind::kAdd) {
          const Format fb = net_.format_of(node.inputs[1]);
          frac = std::max(fa.frac, fb.frac);
          const std::string at = acc_typedef(node, id, frac, worst_of(node), &width);
          body_ << "    // add: acc = a + b, exact (F = max(F_a, F_b) = " << frac << ")\n";
          acc = "acc";
          check_width(node, std::max(of_format(fa).width, of_format(fb).width) + std::abs(fa.frac - fb.frac) + 1,
                      "a + b");
          const Requant q = requant(node, id, frac, worst_of(node), width);
          body_ << "    for (" << ix << " e = 0; e < " << total << "; ++e) {\n"
                << "      const " << ix << " c = e / " << total / channels << ";\n"
                << "      (void)c;\n"
                << "      " << at << " acc = in0[e];\n      acc += in1[e];\n"
                << requant_code(q, acc, "out[e]", "      ") << "    }\n";
        } else {
          const Requant q = requant(node, id, frac, worst_of(node), width);
          body_ << "    // rescale: acc = in, then eq. (3) per channel\n"
                << "    for (" << ix << " e = 0; e < " << total << "; ++e) {\n"
                << "      const " << ix << " c = e / " << total / channels << ";\n"
                << "      (void)c;\n"
                << requant_code(q, acc, "out[e]", "      ") << "    }\n";
        }
        break;
      }
      case ir::OpKind::kConv2d:
      case ir::OpKind::kDense: {
        const ir::IntTensor& w = *node.weight;
        const Format fin = net_.format_of(node.inputs[0]);
        const Fx wt = of_format(w.format);
        const Fx wt_narrow{[&] {
                             unsigned __int128 m = 0;
                             for (int64_t v : w.data) m = std::max(m, magnitude(v));
                             return signed_width(m);
                           }(),
                           w.format.frac};
        const std::string wtype = n + "_" + id + "_w_t", wname = n + "_" + id + "_w";
        (void)wt;
        typedefs_ << "typedef " << wt_narrow.str() << " " << wtype << "; // weights " << w.format.str() << "\n";
        consts_ << "static const " << wtype << " " << wname;
        for (int64_t d : w.shape) consts_ << "[" << d << "]";
        consts_ << " = " << array_literal(wtype, w.shape, w.data, w.format.frac) << ";\n";
        int width = 0;
        const uint64_t worst = worst_of(node);
        const std::string at = acc_typedef(node, id, w.format.frac + fin.frac, worst, &width);
        check_width(node, std::max(width, wt_narrow.width + of_format(fin).width) + 1, "a product and its sum");
        const Requant q = requant(node, id, w.format.frac + fin.frac, worst, width);
        if (node.op == ir::OpKind::kDense) {
          body_ << "    // eq. (2): acc = sum_i W[o][i] in[i], exact\n"
                << "    for (" << ix << " o = 0; o < " << w.shape[0] << "; ++o) {\n"
                << "      const " << ix << " c = o;\n"
                << "      (void)c;\n"
                << "      " << at << " acc = 0;\n"
                << "      for (" << ix << " i = 0; i < " << w.shape[1] << "; ++i) acc += " << wname
                << "[o][i] * in[i];\n"
                << requant_code(q, "acc", "out[o]", "      ") << "    }\n";
        } else {
          const auto in = net_.shape_of(node.inputs[0]);
          const int64_t k = node.kernel, s = node.stride, p = node.padding;
          body_ << "    // eq. (1): acc = sum W[o][i][ky][kx] in[i][oy*" << s << "+ky-" << p << "][ox*" << s << "+kx-"
                << p << "] (zero outside), exact\n"
                << "    " << ix << " at = 0;\n"
                << "    for (" << ix << " o = 0; o < " << node.output_shape[0] << "; ++o)\n"
                << "      for (" << ix << " oy = 0; oy < " << node.output_shape[1] << "; ++oy)\n"
                << "        for (" << ix << " ox = 0; ox < " << node.output_shape[2] << "; ++ox) {\n"
                << "          const " << ix << " c = o;\n"
                << "          (void)c;\n"
                << "          " << at << " acc = 0;\n"
                << "          for (" << ix << " i = 0; i < " << in[0] << "; ++i)\n"
                << "            for (" << ix << " ky = 0; ky < " << k << "; ++ky)\n"
                << "              for (" << ix << " kx = 0; kx < " << k << "; ++kx) {\n"
                << "                const " << ix << " iy = oy * " << s << " + ky - " << p << ", jx = ox * " << s
                << " + kx - " << p << ";\n"
                << "                if (iy < 0 || iy >= " << in[1] << " || jx < 0 || jx >= " << in[2] << ") continue;\n"
                << "                acc += " << wname << "[o][i][ky][kx] * in[(i * " << in[1] << " + iy) * " << in[2]
                << " + jx];\n"
                << "              }\n"
                << requant_code(q, "acc", "out[at++]", "          ") << "        }\n";
        }
        break;
      }
      case ir::OpKind::kMaxPool:
      case ir::OpKind::kAvgPool: {
        const auto in = net_.shape_of(node.inputs[0]);
        const int64_t k = node.kernel, s = node.stride;
        const bool max = node.op == ir::OpKind::kMaxPool;
        std::string at_type;
        Requant q;
        if (!max) {
          int width = 0;
          const uint64_t worst = worst_of(node);
          const Format fin = net_.format_of(node.inputs[0]);
          at_type = acc_typedef(node, id, fin.frac, worst, &width);
          q = requant(node, id, fin.frac, worst, width);
        }
        body_ << "    // "
              << (max ? "maxpool: the largest value of each window" : "avgpool: acc = the window's sum, then eq. (3)")
              << "\n    " << ix << " at = 0;\n"
              << "    for (" << ix << " c = 0; c < " << in[0] << "; ++c)\n"
              << "      for (" << ix << " oy = 0; oy < " << node.output_shape[1] << "; ++oy)\n"
              << "        for (" << ix << " ox = 0; ox < " << node.output_shape[2] << "; ++ox) {\n"
              << "          const " << ix << " corner = (c * " << in[1] << " + oy * " << s << ") * " << in[2]
              << " + ox * " << s << ";\n";
        if (max)
          body_ << "          " << type_of_.at(node.inputs[0]) << " m = in[corner];\n";
        else
          body_ << "          " << at_type << " acc = 0;\n";
        body_ << "          for (" << ix << " ky = 0; ky < " << k << "; ++ky)\n"
              << "            for (" << ix << " kx = 0; kx < " << k << "; ++kx) {\n"
              << "              const " << type_of_.at(node.inputs[0]) << " v = in[corner + ky * " << in[2]
              << " + kx];\n"
              << (max ? "              if (v > m) m = v;\n" : "              acc += v;\n") << "            }\n"
              << (max ? "          out[at++] = m;\n" : requant_code(q, "acc", "out[at++]", "          "))
              << "        }\n";
        break;
      }
      case ir::OpKind::kFlatten:
        body_ << "    for (" << ix << " i = 0; i < " << total << "; ++i) out[i] = in[i];\n";
        break;
    }
    body_ << "  }\n\n";
  }

  const ir::Network& net_;
  const NetworkCodegenOptions& o_;
  std::string function_, index_;
  std::map<std::string, std::string> ids_, type_of_, pointer_of_;
  std::vector<bool> needed_;
  std::ostringstream typedefs_, consts_, arrays_, body_;
};

} // namespace

GeneratedHls generate_network_hls(const ir::Network& network, const NetworkCodegenOptions& options) {
  return HlsGenerator(network, options).run();
}

} // namespace fxnn::codegen
