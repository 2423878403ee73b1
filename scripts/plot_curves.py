#!/usr/bin/env python3
"""Plots training curves from fxnn metrics.jsonl files: training loss and test error per epoch.

usage: plot_curves.py --out FIGURE.png --title TITLE NAME=RUN_DIR/metrics.jsonl [NAME=...]
"""
import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402


def read(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    nan = float("nan")
    epochs = [r["epoch"] for r in rows]
    loss = [nan if r["train_loss"] is None else r["train_loss"] for r in rows]
    error = [nan if r["test_acc"] is None else 100.0 * (1.0 - r["test_acc"]) for r in rows]
    return epochs, loss, error


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--title", default="")
    parser.add_argument("series", nargs="+", help="NAME=path/to/metrics.jsonl")
    args = parser.parse_args()
    fig, (ax_loss, ax_error) = plt.subplots(1, 2, figsize=(11, 4))
    for item in args.series:
        name, _, path = item.partition("=")
        epochs, loss, error = read(path)
        ax_loss.plot(epochs, loss, marker=".", label=name)
        ax_error.plot(epochs, error, marker=".", label=name)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_loss.set_yscale("log")
    ax_error.set_xlabel("epoch")
    ax_error.set_ylabel("test error (%)")
    for ax in (ax_loss, ax_error):
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(args.title)
    fig.tight_layout()
    fig.savefig(args.out + ".tmp.png", dpi=110)
    import os

    os.replace(args.out + ".tmp.png", args.out)  # never leave a half-written figure


if __name__ == "__main__":
    sys.exit(main())
