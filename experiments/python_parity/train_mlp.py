#!/usr/bin/python3
"""Trains fxnn's Fashion-MNIST MLP (the model zoo's `mlp`: 784 - H - H - 10, batch norm, clipped ReLU)
written in PyTorch, in fixed point with a precision plan, through the Python package (torch.ops.fxnn),
then exports the fixed-point network folder for the integer runtime.

    train_mlp.py --plan PLAN.yaml --out DIR [--epochs 3] [--lr 0.1] [--milestones 2] [--seed 1]
                 [--hidden 512] [--train-limit N] [--test-limit N] [--batch 128] [--threads 1]

Writes DIR/metrics.json (test accuracy per epoch) and DIR/network (the folder). Data: Fashion-MNIST
from the Debian package, normalized as configs/fashion_mnist_mlp.yaml says (mean 0.2860, std 0.3530)."""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import fxnn  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530


def read_idx(name):
    with gzip.open(os.path.join(DATA, name)) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(split, limit, seed):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(f"{prefix}-labels-idx1-ubyte.gz")
    if limit and split == "train":  # a seeded random subset
        idx = np.random.default_rng(seed).permutation(len(labels))[:limit]
        images, labels = images[idx], labels[idx]
    elif limit:  # the first samples, as `fxnn infer --limit` takes them
        images, labels = images[:limit], labels[:limit]
    x = (torch.from_numpy(images.astype(np.float32)) / 255.0 - MEAN) / STD
    return x.unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def make_mlp(hidden):
    m = torch.nn.Sequential()
    m.add_module("flatten", torch.nn.Flatten())
    features = 784
    for i, units in enumerate(hidden, start=1):
        m.add_module(f"fc{i}", torch.nn.Linear(features, units, bias=False))
        m.add_module(f"bn{i}", torch.nn.BatchNorm1d(units))
        m.add_module(f"act{i}", fxnn.QActivation(f"fc{i}"))
        features = units
    last = f"fc{len(hidden) + 1}"
    m.add_module(last, torch.nn.Linear(features, 10))
    m.add_module("logits", fxnn.GradientPoint(last))
    return m


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum()) for i in range(0, len(y), 1000))
    model.train()
    return correct / len(y)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--plan", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--milestones", type=int, nargs="*", default=[], help="epochs from which the lr is a tenth")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--hidden", type=int, nargs="+", default=[512, 512])
    p.add_argument("--train-limit", type=int, default=0)
    p.add_argument("--test-limit", type=int, default=0)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x_train, y_train = load("train", a.train_limit, a.seed)
    x_test, y_test = load("test", a.test_limit, a.seed)
    model = make_mlp(a.hidden)
    weights = fxnn.attach(model, fxnn.PrecisionPlan.load(a.plan), seed=a.seed)
    sgd = fxnn.FixedPointSGD(model, weights, lr=a.lr, weight_clip=1.0)
    os.makedirs(a.out, exist_ok=True)
    history = []
    generator = torch.Generator().manual_seed(a.seed)
    for epoch in range(1, a.epochs + 1):
        sgd.lr = a.lr * 0.1 ** sum(epoch >= m for m in a.milestones)  # as fxnn: from epoch m on
        start = time.time()
        order = torch.randperm(len(y_train), generator=generator)
        for i in range(0, len(order), a.batch):
            b = order[i:i + a.batch]
            sgd.zero_grad()
            torch.nn.functional.cross_entropy(model(x_train[b]), y_train[b]).backward()
            sgd.step()
        acc = accuracy(model, x_test, y_test)
        history.append({"epoch": epoch, "lr": sgd.lr, "test_acc": acc, "seconds": time.time() - start})
        print(f"epoch {epoch}: lr {sgd.lr:g}, test accuracy {100 * acc:.2f}% ({time.time() - start:.0f} s)", flush=True)
    model.eval()
    folder = os.path.join(a.out, "network")
    fxnn.export_folder(model, weights, folder, [1, 28, 28], [MEAN], [STD], name="python_mlp")
    with open(os.path.join(a.out, "metrics.json"), "w") as f:
        json.dump({"args": vars(a), "epochs": history}, f, indent=2)
    print(f"wrote {folder}")


if __name__ == "__main__":
    main()
