#!/usr/bin/env python3
"""Checks the layering of fxnn's areas against docs/architecture.md.

The table between the `layers: begin` and `layers: end` marks of docs/architecture.md gives, for every
area (a folder of src/ and include/fxnn/), its library and the areas it may include directly; an area
may include what those may include, and so on down. This script derives the area graph from the
`#include "fxnn/<area>/..."` lines of src/ and include/fxnn/ and fails, one line per finding, on:

  - an include of an area the table does not allow (which is also how a cycle shows: no order of the
    table allows both directions);
  - a cycle in the table itself;
  - a source file listed in cmake/fxnn_sources.cmake under another library than its area's, or an
    area whose files are split across libraries.

  scripts/check_layers.py [SOURCE_DIR]      exit 0: the layering holds; 1: findings (printed)
"""

import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"fxnn/([a-z_]+)/')
ROW = re.compile(r"^\|\s*`?([a-z_]+)`?\s*\|\s*`?([a-z_]+)`?\s*\|(.*)\|\s*$")
LIST_START = re.compile(r"^set\((FXNN_[A-Z_]+_SOURCES)\s*$")
# Source lists of cmake/fxnn_sources.cmake and the library each belongs to (test lists are left out).
LIBRARY_OF_LIST = {
    "FXNN_BASE_SOURCES": "fxnn_base",
    "FXNN_RUNTIME_SOURCES": "fxnn_runtime",
    "FXNN_SYNTH_SOURCES": "fxnn_synth",
    "FXNN_DATA_SOURCES": "fxnn_data",
    "FXNN_TORCH_SOURCES": "fxnn_torch",
    "FXNN_CLI_SOURCES": "fxnn",
}


def read_layers(path):
    """{area: (library, [areas it may include directly])} from the marked table."""
    layers, inside = {}, False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if "layers: begin" in line:
                inside = True
            elif "layers: end" in line:
                inside = False
            elif inside:
                m = ROW.match(line.strip())
                if m and m.group(1) != "area":
                    allowed = [a for a in re.split(r"[,\s`]+", m.group(3)) if a and a != "-"]
                    layers[m.group(1)] = (m.group(2), allowed)
    return layers


def closure(layers, area, seen=None):
    seen = set() if seen is None else seen
    for below in layers[area][1]:
        if below not in seen:
            seen.add(below)
            if below in layers:
                closure(layers, below, seen)
    return seen


def table_cycles(layers):
    return sorted(a for a in layers if a in closure(layers, a))


def area_of(rel):
    parts = rel.split("/")
    if parts[0] == "src" and len(parts) > 2:
        return parts[1]
    if parts[:2] == ["include", "fxnn"] and len(parts) > 3:
        return parts[2]
    return None


def source_files(root):
    for top in ("src", os.path.join("include", "fxnn")):
        for folder, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if name.endswith((".h", ".cpp")):
                    yield os.path.relpath(os.path.join(folder, name), root)


def cmake_libraries(path):
    """{source path: library} from the source lists."""
    library_of, current = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            start = LIST_START.match(line.strip())
            if start:
                current = LIBRARY_OF_LIST.get(start.group(1))
            elif line.strip() == ")":
                current = None
            elif current and line.strip().startswith("src/"):
                library_of[line.strip()] = current
    return library_of


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    layers = read_layers(os.path.join(root, "docs", "architecture.md"))
    findings = []
    if not layers:
        findings.append("docs/architecture.md: no layers table between the 'layers: begin' and 'layers: end' marks")
    for area in table_cycles(layers):
        findings.append(f"docs/architecture.md: area {area} may include itself through the table (a cycle)")
    areas = set()
    for rel in source_files(root):
        area = area_of(rel)
        if area is None:
            continue
        areas.add(area)
        if area not in layers:
            findings.append(f"{rel}: area {area} is not in the layers table of docs/architecture.md")
            continue
        allowed = closure(layers, area) | {area}
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if m and m.group(1) not in allowed:
                    findings.append(f"{rel}:{number}: area {area} includes {m.group(1)} "
                                    f"(allowed: {', '.join(sorted(allowed - {area})) or 'nothing'})")
    for area in sorted(set(layers) - areas):
        findings.append(f"docs/architecture.md: area {area} has no files")
    for source, library in sorted(cmake_libraries(os.path.join(root, "cmake", "fxnn_sources.cmake")).items()):
        area = area_of(source)
        if area in layers and layers[area][0] != library:
            findings.append(f"cmake/fxnn_sources.cmake: {source} is in {library}, its area {area} in {layers[area][0]}")
    for finding in findings:
        print(finding)
    if findings:
        print(f"check_layers: {len(findings)} finding(s)", file=sys.stderr)
        return 1
    print(f"check_layers: {len(areas)} areas, layering holds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
