#pragma once
// Tables for the terminal and for markdown reports.

#include <string>
#include <vector>

namespace fxnn {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  /// Columns padded to their widest cell, for a terminal.
  std::string aligned() const;
  /// A GitHub-flavoured markdown table.
  std::string markdown() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

/// "%.*g" of a double, for table cells.
std::string format_general(double value, int digits = 3);
/// "12.34%" of a fraction.
std::string format_percent(double fraction, int decimals = 2);
/// printf's formatting into a string (the lines of the commands' reports).
std::string format_printf(const char* format, ...) __attribute__((format(printf, 1, 2)));

} // namespace fxnn
