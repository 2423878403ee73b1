#!/usr/bin/env bash
# Sound fixed-point synthesis on every network of the benchmark suite (docs/synthesis.md):
#   lp, milp            certified, the generated C compiled (also with UBSan) and validated on
#                       VALIDATE random inputs plus the corners and the centre of the box;
#   lp-out, milp-out    the same with --out: the fixed-point network is written too (its formats:
#                       one per tensor, accumulators bounded over the full input formats);
#   aster               Aster's unsound formulation: its claimed bound, the sound bound of its
#                       formats, and a search for an input that breaks the claim.
# Writes one JSON report and one log per run to REPORTS (not kept in git) and the table to
# experiments/synthesis/README.md (experiments/synthesis/table.py).
#
# Usage: scripts/synth_benchmarks.sh [FXNN_BINARY]        (default: build/fxnn)
# Every run is then attacked (fxnn synth --attack, docs/synthesis.md section 16): a local search for
# an input whose error breaks the bound (the certified one; aster: its claim). Then lp and milp once
# more per analysis (interval, symbolic, symbolic over the partition), certified only, for the table
# of where each analysis wins; experiments/synthesis/baseline.csv holds the figures before the
# partitioned analysis, for the comparison table.
# Environment: SUITE (default ../shared/data/controllers/benchmarks.yaml), VALIDATE (default 100000),
# ATTACK (evaluations of the attack's local search, default 20000), EPS (default: each benchmark's
# error_bound, 1e-3 for the whole suite), REPORTS (folder of the reports, default runs/synthesis),
# MACHINE (what else ran on the machine, for the README; default: "shared with other jobs").
set -euo pipefail
cd "$(dirname "$0")/.."
FXNN=${1:-build/fxnn}
SUITE=${SUITE:-../shared/data/controllers/benchmarks.yaml}
VALIDATE=${VALIDATE:-100000}
ATTACK=${ATTACK:-20000}
OUT=experiments/synthesis
REPORTS=${REPORTS:-runs/synthesis}
[ -x "$FXNN" ] || { echo "synth_benchmarks: no fxnn binary at $FXNN (build it, or pass its path)" >&2; exit 1; }
[ -f "$SUITE" ] || { echo "synth_benchmarks: no benchmark suite at $SUITE" >&2; exit 1; }

mkdir -p "$REPORTS/analyses"
rm -f "$REPORTS"/*.json "$REPORTS"/*.log "$REPORTS"/analyses/*.json "$REPORTS"/analyses/*.log
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

names=$(sed -n 's/^  - name: *//p' "$SUITE")
for name in $names; do
  for variant in lp milp lp-out milp-out aster; do
    args=(--benchmarks "$SUITE" --benchmark "$name" --validate "$VALIDATE" --attack "$ATTACK"
          --json "$REPORTS/$name.$variant.json")
    [ -n "${EPS:-}" ] && args+=(--error "$EPS")
    case $variant in
      lp | milp | aster) args+=(--method "$variant") ;;
      lp-out | milp-out) args+=(--method "${variant%-out}" --out "$WORK/$name.$variant") ;;
    esac
    # A run that fails (infeasible, not certified, validation) still writes its report; the table
    # says what happened, so the loop goes on.
    if nice "$FXNN" synth "${args[@]}" > "$REPORTS/$name.$variant.log" 2>&1; then status=ok; else status=failed; fi
    echo "$name $variant: $status ($(tail -n 1 "$REPORTS/$name.$variant.log"))"
  done
done

# Where each analysis wins (docs/synthesis.md sections 5 and 5.1): lp and milp with interval ranges over
# the box whole, symbolic ranges over the box whole, and symbolic ranges over the default partition;
# certified, not validated (the runs above validate the default).
for name in $names; do
  for method in lp milp; do
    for analysis in interval symbolic partitioned; do
      case $analysis in
        interval) options=(--ranges interval --partition 1) ;;
        symbolic) options=(--ranges symbolic --partition 1) ;;
        partitioned) options=(--ranges symbolic --partition 0) ;;
      esac
      report=$REPORTS/analyses/$name.$method.$analysis
      nice "$FXNN" synth --benchmarks "$SUITE" --benchmark "$name" --method "$method" "${options[@]}" \
        --json "$report.json" > "$report.log" 2>&1 || true
    done
  done
  echo "$name: analyses done"
done

command="scripts/synth_benchmarks.sh $*"
[ "$REPORTS" = runs/synthesis ] || command="REPORTS=$REPORTS $command"
machine=()
[ -n "${MACHINE:-}" ] && machine=(--machine "$MACHINE")
python3 "$OUT/table.py" --suite "$SUITE" --reports "$REPORTS" --validate "$VALIDATE" --attack "$ATTACK" \
  --command "${command% }" "${machine[@]}" > "$OUT/README.md"
echo "wrote $OUT/README.md"
