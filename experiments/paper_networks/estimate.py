"""Estimated wall time of the full pipeline (FL probe + FX run) of each paper network on this machine,
from the step times `fxnn bench train` measured (batch 250, 2 threads)."""
import json
import sys
from pathlib import Path

# name: (training images, epochs of the config)
NETWORKS = {"cifar10_resnet20": (50000, 200), "cifar100_resnet20": (50000, 200),
            "svhn_convnet": (73257, 40), "cifar10_convnet": (50000, 200)}


def main(root: Path) -> None:
    print("| config | FL step (ms) | FX step (ms) | steps per epoch | epochs | estimated FL + FX time |")
    print("|---|---|---|---|---|---|")
    for name, (images, epochs) in NETWORKS.items():
        path = root / f"{name}.bench.json"
        if not path.exists():
            continue
        bench = json.loads(path.read_text())
        steps = -(-images // bench["batch"])  # ceil: the last, partial batch is a step too
        hours = (bench["fl_ms"] + bench["fx_ms"]) * steps * epochs / 3.6e6
        print(f"| {name} | {bench['fl_ms']:.0f} | {bench['fx_ms']:.0f} | {steps} | {epochs} | "
              f"{hours:.0f} h ({hours / 24:.1f} days) |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
