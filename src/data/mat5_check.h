#pragma once
// A structural check of MATLAB v5 files before matio reads them (private to src/data).
//
// matio allocates what a file's headers announce (element sizes, array dimensions, name lengths)
// before it reads the data, so a damaged header of a few hundred bytes makes it allocate gigabytes.
// This check walks the file's data elements (MAT-File Format, "Data Element Format" and "miMATRIX
// Format") and refuses a file unless every element fits the element or file holding it, every
// numeric or character array's data holds all the elements its dimensions announce, and every
// compressed element inflates to no more than zlib's maximum ratio allows. What matio then
// allocates is bounded by a small multiple of the file size.

#include <cstddef>
#include <cstdint>
#include <string>

namespace fxnn::data::detail {

/// Throws std::runtime_error naming `path` and the byte offset of the first bad element. Version 7.3
/// (HDF5) and version 4 files are refused: the readers take MATLAB v5 files (what the official
/// data sets ship, and what MATLAB writes with -v7).
void check_mat5_file(const uint8_t* bytes, size_t size, const std::string& path);

} // namespace fxnn::data::detail
