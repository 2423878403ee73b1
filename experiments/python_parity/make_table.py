#!/usr/bin/python3
"""The table of experiments/python_parity/README.md from runs/python_parity (run.sh).

    make_table.py OUT [README]    print the table, or replace it in README between its markers"""
import json
import os
import statistics
import sys

BEGIN, END = "<!-- table: make_table.py -->", "<!-- /table -->"


def rows(out):
    fxnn, python, runtime = {}, {}, {}
    for name in sorted(os.listdir(out)):
        path = os.path.join(out, name)
        if name.startswith("fxnn_s") and os.path.isfile(os.path.join(path, "metrics.jsonl")):
            with open(os.path.join(path, "metrics.jsonl")) as f:
                fxnn[int(name[6:])] = json.loads(f.read().splitlines()[-1])["test_acc"]
        if name.startswith("python_s") and os.path.isfile(os.path.join(path, "metrics.json")):
            with open(os.path.join(path, "metrics.json")) as f:
                python[int(name[8:])] = json.load(f)["epochs"][-1]["test_acc"]
            infer = os.path.join(path, "infer.json")
            if os.path.isfile(infer):
                with open(infer) as f:
                    runtime[int(name[8:])] = json.load(f)["accuracy"]
    return fxnn, python, runtime


def table(out):
    fxnn, python, runtime = rows(out)
    lines = ["| seed | `fxnn train` | PyTorch + fxnn package | its folder in the integer runtime |", "|---:|---:|---:|---:|"]
    pct = lambda v: f"{100 * v:.2f}" if v is not None else ""
    for seed in sorted(set(fxnn) | set(python)):
        lines.append(f"| {seed} | {pct(fxnn.get(seed))} | {pct(python.get(seed))} | {pct(runtime.get(seed))} |")
    summary = []
    for what, values in (("fxnn train", fxnn), ("PyTorch", python)):
        v = list(values.values())
        if v:
            spread = f", spread (max - min) {100 * (max(v) - min(v)):.2f}" if len(v) > 1 else ""
            summary.append(f"{what}: mean {100 * statistics.mean(v):.2f}%{spread} over {len(v)} seed(s)")
    if fxnn and python:
        diff = statistics.mean(python.values()) - statistics.mean(fxnn.values())
        summary.append(f"difference of the means (PyTorch - fxnn train): {100 * diff:+.2f} points")
    return lines + [""] + [f"- {s}" for s in summary]


def main():
    out = sys.argv[1]
    section = [BEGIN] + table(out) + [END]
    if len(sys.argv) < 3:
        print("\n".join(section))
        return
    readme = sys.argv[2]
    text = open(readme).read() if os.path.exists(readme) else ""
    if BEGIN in text:
        head, rest = text.split(BEGIN, 1)
        text = head + "\n".join(section) + rest.split(END, 1)[1]
    else:
        text += "\n" + "\n".join(section) + "\n"
    with open(readme, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
