#!/usr/bin/env bash
# Fails, naming each file, when a C++ file of include/, src/, tests/, fuzz/, examples/ or python/ differs from what
# clang-format makes of it with the repository's .clang-format. Run by the test suite (CTest `format`).
# Fix a finding with: clang-format-14 -i FILE
# Usage: scripts/check_format.sh [ROOT]
set -euo pipefail
ROOT=${1:-$(dirname "$0")/..}
cd "$ROOT"
FORMAT=$(command -v clang-format-14 || command -v clang-format || true)
[[ -n $FORMAT ]] || { echo "check_format: clang-format-14 not found (scripts/setup.sh installs it)" >&2; exit 1; }
bad=0
while IFS= read -r -d '' file; do
  if ! "$FORMAT" --dry-run -Werror "$file" > /dev/null 2>&1; then
    echo "$file: not formatted (clang-format-14 -i $file)"
    bad=$((bad + 1))
  fi
done < <(find include src tests fuzz examples python -type f \( -name '*.cpp' -o -name '*.h' \) -print0 | sort -z)
if [[ $bad -gt 0 ]]; then
  echo "check_format: $bad file(s) not formatted"
  exit 1
fi
echo "check_format: every file formatted"
