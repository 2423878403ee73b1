#!/usr/bin/env bash
# The plan that eq. (18) (docs/precision-assignment.md: identity paths count the noise that crosses the
# blocks in between) assigns from the kept statistics of the 2026-12-02 float run, and the FX run with it,
# without repeating the float probe: the probe's own injection check (16 draws, on the final network)
# gives each identity path's crossing factor, injected total / closed-form total, which a probe of
# the current binary measures after every epoch instead. Writes runs/resnet_eq18/ (stats.json,
# plan.yaml, fx/). FL of the same seed and schedule: results_2026-12-02/fl_metrics.jsonl (42.09%).
# Environment: FXNN (default build/fxnn), THREADS (default 0 = all hardware threads).
set -euo pipefail
cd "$(dirname "$0")/../.."
FXNN=${FXNN:-build/fxnn}
KEPT=experiments/cifar10_resnet20/results_2026-12-02
OUT=runs/resnet_eq18
mkdir -p "$OUT"
python3 - "$KEPT/fl_stats.json" "$OUT/stats.json" <<'PY'
import json, sys
stats = json.load(open(sys.argv[1]))
for layer in stats["layers"]:
    checks = {(c["to"], c["kind"]): c for c in layer.get("GA_checks", [])}
    for path in layer.get("GA_paths", []):
        if path["kind"] == "identity":
            check = checks[(path["to"], "identity")]
            path["crossing"] = [check["injected_total"] / check["closed_total"]]
json.dump(stats, open(sys.argv[2] + ".partial", "w"), indent=1)
PY
mv "$OUT/stats.json.partial" "$OUT/stats.json"
$FXNN assign --stats "$OUT/stats.json" --out "$OUT/plan.yaml"
$FXNN train --config configs/cifar10_resnet20.yaml --set model.width=0.25 --set data.train_limit=10000 \
  --set train.epochs=8 --set optim.lr=0.05 --set "optim.lr_milestones=[6]" --precision "$OUT/plan.yaml" \
  --threads "${THREADS:-0}" --quiet --resume --out "$OUT/fx"
