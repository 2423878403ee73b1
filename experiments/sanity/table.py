"""Prints the sanity table (markdown) from the metrics.jsonl of each run under the given folder."""
import json
import sys
from pathlib import Path

RUNS = [("fl", "float"), ("fx_uniform8", "uniform8"), ("fx_ga2", "uniform8, GA s2.auto"),
        ("fx_swamp", "uniform8, acc s8.7")]


def last_epoch(run: Path) -> dict:
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line]
    return lines[-1]


def main(root: Path) -> None:
    fl = last_epoch(root / "fl")
    print("| run | plan | epochs | train loss | test acc | gap to FL (points) |")
    print("|---|---|---|---|---|---|")
    for name, plan in RUNS:
        m = last_epoch(root / name)
        loss = "nan" if m["train_loss"] is None else f"{m['train_loss']:.4f}"
        gap = 100 * (fl["test_acc"] - m["test_acc"])
        print(f"| {name} | {plan} | {m['epoch']} | {loss} | {100 * m['test_acc']:.2f}% | {gap:+.2f} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
