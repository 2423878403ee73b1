#include "fxnn/io/text_table.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <sstream>

namespace fxnn {

std::string TextTable::aligned() const {
  std::vector<size_t> widths(header_.size(), 0);
  auto widen = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  };
  widen(header_);
  for (const auto& row : rows_) widen(row);
  std::ostringstream out;
  auto line = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      out << cell << std::string(widths[i] - cell.size() + (i + 1 < widths.size() ? 2 : 0), ' ');
    }
    out << "\n";
  };
  line(header_);
  std::vector<std::string> rule;
  rule.reserve(widths.size());
  for (size_t w : widths) rule.push_back(std::string(w, '-'));
  line(rule);
  for (const auto& row : rows_) line(row);
  return out.str();
}

std::string TextTable::markdown() const {
  std::ostringstream out;
  auto line = [&](const std::vector<std::string>& row) {
    out << "|";
    for (size_t i = 0; i < header_.size(); ++i) out << " " << (i < row.size() ? row[i] : "") << " |";
    out << "\n";
  };
  line(header_);
  out << "|";
  for (size_t i = 0; i < header_.size(); ++i) out << "---|";
  out << "\n";
  for (const auto& row : rows_) line(row);
  return out.str();
}

std::string format_general(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*g", digits, value);
  return text;
}

std::string format_percent(double fraction, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f%%", decimals, 100.0 * fraction);
  return text;
}

std::string format_printf(const char* format, ...) {
  va_list args, again;
  va_start(args, format);
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, format, args);
  va_end(args);
  std::string text(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(text.data(), text.size() + 1, format, again);
  va_end(again);
  return text;
}

} // namespace fxnn
