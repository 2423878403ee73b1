"""Prints the sanity table (markdown) from the metrics.jsonl of each run under the given folder."""
import json
import sys
from pathlib import Path

# (run, baseline run, description)
RUNS = [("fl", "fl", "float"), ("fx_uniform8", "fl", "uniform8"), ("fx_ga2", "fl", "uniform8, GA s2.auto"),
        ("fx_swamp", "fl", "uniform8, acc s8.7"), ("fl_nobn", "fl_nobn", "float, no batch norm"),
        ("fx_swamp_nobn", "fl_nobn", "uniform8, acc s8.7, no batch norm")]


def last_epoch(run: Path) -> dict:
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line]
    return lines[-1]


def main(root: Path) -> None:
    print("| run | plan | epochs | train loss | test acc | gap to its FL run (points) |")
    print("|---|---|---|---|---|---|")
    for name, baseline, plan in RUNS:
        if not (root / name / "metrics.jsonl").exists():
            continue
        m = last_epoch(root / name)
        fl = last_epoch(root / baseline)
        loss = "nan" if m["train_loss"] is None else f"{m['train_loss']:.4f}"
        gap = 100 * (fl["test_acc"] - m["test_acc"])
        print(f"| {name} | {plan} | {m['epoch']} | {loss} | {100 * m['test_acc']:.2f}% | {gap:+.2f} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
