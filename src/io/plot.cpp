#include "fxnn/io/plot.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>

namespace fxnn {

namespace {

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// The plotting script: next to the sources this binary was built from.
std::string plot_script() { return std::string(FXNN_SOURCE_DIR) + "/scripts/plot_curves.py"; }

} // namespace

bool plot_curves(const std::string& png, const std::string& title,
                 const std::vector<std::pair<std::string, std::string>>& series) {
  const std::string script = plot_script();
  if (!std::filesystem::exists(script)) {
    spdlog::warn("no figure {}: {} is missing", png, script);
    return false;
  }
  // Debian's interpreter, which has python3-matplotlib (another python3 on PATH may not).
  const std::string python = std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  std::string command = python + " " + quoted(script) + " --out " + quoted(png) + " --title " + quoted(title);
  for (const auto& [name, path] : series) command += " " + quoted(name + "=" + path);
  if (std::system((command + " 2>&1").c_str()) != 0) {
    spdlog::warn("no figure {}: the plotting script failed (is python3-matplotlib installed?)", png);
    return false;
  }
  return true;
}

} // namespace fxnn
