#!/usr/bin/python3
"""Prints the table of experiments/lowbit/README.md's section "Fine-tuned on the grids" from the JSON
files of experiments/lowbit/finetune.sh (RESULTS/<net>_<mode>_b<B>[_ft<E>].json)."""
import glob
import json
import os
import re
import sys

NAMES = {"mlp": "Fashion-MNIST MLP", "cnn": "Fashion-MNIST CNN", "convnet": "CIFAR-10 ConvNet"}


def main(results):
    rows = {}
    for path in sorted(glob.glob(os.path.join(results, "*.json"))):
        m = re.match(r"(\w+?)_(shift-clip|float-scale)_b(\d)(?:_ft(\d+))?\.json$", os.path.basename(path))
        if not m:
            continue
        net, mode, bits, epochs = m.groups()
        with open(path) as f:
            rows.setdefault((net, mode, int(bits)), {})["ft" if epochs else "conv"] = json.load(f)
    print("| network | mode | B | float | conversion alone | fine-tuned | epochs | simulated at the last epoch | "
          "fine-tuned - float | mismatches |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    order = list(NAMES)
    for (net, mode, bits), r in sorted(rows.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1] != "shift-clip")):
        conv, ft = r.get("conv"), r.get("ft")
        base = (ft or conv)["float_accuracy"]
        cells = [NAMES[net], mode, str(bits), f"{100 * base:.2f}",
                 f"{100 * conv['accuracy']:.2f} ({100 * (conv['accuracy'] - base):+.2f})" if conv else "",
                 f"{100 * ft['accuracy']:.2f}" if ft else "",
                 str(ft["finetune"]["epochs"]) if ft else "",
                 f"{100 * ft['finetune']['metrics'][-1]['test_acc']:.2f}" if ft else "",
                 f"{100 * (ft['accuracy'] - base):+.2f}" if ft else "",
                 ", ".join(f"{x['code_mismatches']} codes" for x in (conv, ft) if x)]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "experiments/lowbit/results_finetune")
