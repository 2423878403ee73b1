#pragma once
// Checks that generated integer code has no floating point: in its text (no floating type or libm
// call: the check tests/codegen/test_codegen.cpp made of the synthesized core) and in what the
// compiler makes of it (no floating-point instruction in the assembly of the core's functions).

#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "run_command.h"

namespace fxnn::testing_support {

/// C or C++ source without its comments (a comment may say "floor" of a rounding mode).
inline std::string strip_comments(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 2, "/*") == 0) {
      const size_t end = text.find("*/", i + 2);
      i = end == std::string::npos ? text.size() : end + 2;
      out += ' ';
    } else if (text.compare(i, 2, "//") == 0) {
      i = text.find('\n', i);
      if (i == std::string::npos) i = text.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

/// The words of floating-point C in the code (comments aside) of `text` ("double", "float", "ldexp",
/// "floor"), as found.
inline std::vector<std::string> float_words(const std::string& text) {
  const std::string code = strip_comments(text);
  std::vector<std::string> found;
  for (const char* word : {"double", "float", "ldexp", "floor"})
    if (std::regex_search(code, std::regex(std::string("\\b") + word + "\\b"))) found.push_back(word);
  return found;
}

/// True for a floating-point arithmetic, comparison or conversion instruction (x86-64 SSE/AVX in AT&T
/// syntax, x87, AArch64). Moves and bitwise operations on vector registers are not listed: compilers
/// use them for integer vectors too.
inline bool is_float_instruction(const std::string& mnemonic) {
  static const std::regex kFloat(
      "v?(add|sub|mul|div|sqrt|min|max|round|rcp|rsqrt|hadd|hsub|addsub|dp)(ss|sd|ps|pd)"
      "|v?cmp[a-z]*(ss|sd|ps|pd)|v?u?comis[sd]|v?cvt[a-z0-9]*|vfn?m(add|sub)[a-z0-9]*"
      "|f(ld|st|add|sub|mul|div|com|ucom|ild|ist|isttp|chs|abs|sqrt|xch|rndint|scale|prem|ldz|ld1|init|ninit|free)[a-"
      "z0-9]*"
      "|fmadd|fmsub|fnmadd|fnmsub|fneg|fcmpe?|fccmpe?|fcsel|fmaxn?m?|fminn?m?|fcvt[a-z]*|scvtf|ucvtf|frint[a-z]*");
  return std::regex_match(mnemonic, kFloat);
}

/// Compiles `c_file` to assembly (`cc -std=c99 -O2 -S`, include path `include_dir`) and returns the
/// floating-point instructions ("function: line") of the functions whose names start with one of
/// `prefixes` (every function when empty); a compile failure is returned as one entry.
inline std::vector<std::string> float_instructions(const std::string& c_file, const std::string& include_dir,
                                                   const std::vector<std::string>& prefixes,
                                                   const std::string& scratch) {
  const std::string s_file = scratch + "/float_check.s";
  const auto r = run_command("cc -std=c99 -O2 -S -I" + include_dir + " -o " + s_file + " " + c_file, scratch);
  if (r.exit_code != 0) return {"compile error: " + r.err};
  std::ifstream in(s_file);
  std::vector<std::string> found;
  std::string line, function;
  bool inside = false;
  int functions_seen = 0;
  static const std::regex kLabel("^([A-Za-z_][A-Za-z0-9_.$]*):");
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, kLabel)) { // a global or function label (local ones start with '.')
      function = m[1];
      inside = prefixes.empty();
      for (const auto& p : prefixes) inside = inside || function.rfind(p, 0) == 0;
      functions_seen += inside;
      continue;
    }
    if (!inside) continue;
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '.' || line[start] == '#' || line[start] == '/') continue;
    const size_t end = line.find_first_of(" \t", start);
    const std::string mnemonic = line.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (is_float_instruction(mnemonic)) found.push_back(function + ": " + line.substr(start));
  }
  if (functions_seen == 0) found.push_back("no function of the prefixes was found in the assembly");
  return found;
}

} // namespace fxnn::testing_support
