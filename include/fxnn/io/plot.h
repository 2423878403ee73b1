#pragma once
// Figures through scripts/plot_curves.py (Debian's python3-matplotlib).

#include <string>
#include <utility>
#include <vector>

namespace fxnn {

/// Plots training loss and test error per epoch of each (name, metrics.jsonl) into a PNG.
/// Returns false (and logs why) when python3 or matplotlib is not available: reports then go
/// without figures rather than fail.
bool plot_curves(const std::string& png, const std::string& title,
                 const std::vector<std::pair<std::string, std::string>>& series);

} // namespace fxnn
