#!/bin/sh
# `fxnn export-onnx` as a user runs it, on the folders of write_onnx_fixtures: a network the qdq flavor
# cannot reproduce is refused with one line naming the node, exit 1 and no file; --accept-inexact
# writes it and says so; the command's export of an exact network is the fixture's byte for byte.
#   check_export_onnx_cli.sh FXNN FIXTURES
set -u
fxnn=$1
fixtures=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "check_export_onnx_cli: $*"; exit 1; }

"$fxnn" export-onnx --model "$fixtures/wide/net" --out "$out/wide.onnx" --flavor qdq >"$out/stdout" 2>"$out/stderr"
status=$?
[ "$status" -eq 1 ] || fail "exit status $status for an inexact network, expected 1"
[ "$(wc -l <"$out/stderr")" -eq 1 ] || fail "the refusal is not one line: $(cat "$out/stderr")"
grep -q "^fxnn: error: node 'fc_wide': the worst-case |acc| 68719476736 exceeds 2^24" "$out/stderr" ||
  fail "the refusal does not name the node and the reason: $(cat "$out/stderr")"
[ -z "$(ls -A "$out" | grep -v '^stdout$' | grep -v '^stderr$')" ] || fail "files left behind: $(ls "$out")"

"$fxnn" export-onnx --model "$fixtures/wide/net" --out "$out/wide.onnx" --flavor qdq --accept-inexact >"$out/stdout" ||
  fail "--accept-inexact did not write"
[ -s "$out/wide.onnx" ] || fail "--accept-inexact wrote no model"
grep -q "inexact (written with --accept-inexact): node 'fc_wide'" "$out/stdout" || fail "not reported: $(cat "$out/stdout")"

for flavor in qdq qonnx; do
  "$fxnn" export-onnx --model "$fixtures/cnn8/net" --out "$out/cnn8.onnx" --flavor $flavor >/dev/null ||
    fail "the $flavor export of cnn8 failed"
  cmp -s "$out/cnn8.onnx" "$fixtures/cnn8/$flavor.onnx" || fail "the command's $flavor export differs from the library's"
done
echo "check_export_onnx_cli: refusal, --accept-inexact and both flavors as expected"
