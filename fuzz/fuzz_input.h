#pragma once
// How one fuzz input becomes the files or texts a parser reads. An input may hold several parts
// (an IDX images file and its labels file, the JPEG files of a folder, model.json and its .npy
// arrays), separated by kPartSeparator; the seed corpora are written in the same layout.

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace fxnn::fuzz {

/// Chosen so that no seed file contains it by accident; mutations that insert it add a part.
inline constexpr char kPartSeparator[] = "\n--fxnn-fuzz-part--\n";

inline std::vector<std::string> split_parts(const std::string& input) {
  std::vector<std::string> parts;
  const std::string separator = kPartSeparator;
  size_t start = 0;
  for (size_t at; (at = input.find(separator, start)) != std::string::npos; start = at + separator.size())
    parts.push_back(input.substr(start, at - start));
  parts.push_back(input.substr(start));
  return parts;
}

inline std::string join_parts(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? kPartSeparator : "") + parts[i];
  return out;
}

/// Part `i`, or "" when the input has fewer parts (a missing file is then an empty one).
inline std::string part(const std::vector<std::string>& parts, size_t i) { return i < parts.size() ? parts[i] : ""; }

inline void write_file(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::logic_error("fuzz harness: cannot write " + path); // not the parser's fault
}

/// Empties `dir` (created when missing): each input starts from a clean folder.
inline void reset_dir(const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
}

} // namespace fxnn::fuzz
