#pragma once
// Writing files so that a reader never sees half of one: write a temporary file, then rename.

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace fxnn {

/// Writes `content` to `path` through `path.tmp.<pid>` and an atomic rename. Throws std::runtime_error
/// naming the path when writing fails (the temporary file is removed). The temporary file is flushed
/// to the disk before the rename, so that `path` is the old file or the whole new one even after a
/// crash of the machine. A process killed mid-write leaves only `path.tmp.<pid>` behind, never a
/// partial `path`: see remove_stale_temporaries.
void write_file_atomic(const std::string& path, const std::string& content);

/// Same, with a callback that streams the content.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);

/// Removes the temporary files `NAME.tmp.<pid>` of `dir` whose writer is no longer running (a
/// process killed while it wrote them) and returns their names. Files of running processes stay.
std::vector<std::string> remove_stale_temporaries(const std::string& dir);

/// The whole file as a string; throws std::runtime_error naming the path when it cannot be read.
std::string read_file(const std::string& path);

/// The same, refusing a file (or a device such as /dev/zero) longer than `max_bytes` with one line
/// naming the path, the limit and `what` the file was meant to be, before reading more than the limit.
std::string read_file(const std::string& path, size_t max_bytes, const std::string& what);

/// The size limit of the text files a person writes: experiment configs, precision plans, benchmark
/// suites (a few kilobytes each; docs/crash-safety.md, "Limits").
inline constexpr size_t kMaxTextInputBytes = size_t{1} << 20;

} // namespace fxnn
