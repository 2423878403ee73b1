#pragma once
// Writing files so that a reader never sees half of one: write a temporary file, then rename.

#include <functional>
#include <ostream>
#include <string>

namespace fxnn {

/// Writes `content` to `path` through `path.tmp.<pid>` and an atomic rename. Throws std::runtime_error
/// naming the path when writing fails (the temporary file is removed).
void write_file_atomic(const std::string& path, const std::string& content);

/// Same, with a callback that streams the content.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);

/// The whole file as a string; throws std::runtime_error naming the path when it cannot be read.
std::string read_file(const std::string& path);

} // namespace fxnn
