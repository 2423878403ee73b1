#!/usr/bin/python3
"""A float CNN trained with PyTorch alone (python3-torch), outside fxnn's training code, and saved
as ONNX: the input of `fxnn lowbit --onnx`.

Fashion-MNIST from Debian's dataset-fashion-mnist (IDX files), normalized with the mean and std of
configs/fashion_mnist_cnn.yaml so that fxnn feeds the ONNX network what it was trained on. The
network is what a PyTorch user writes: Conv-BN-ReLU-MaxPool twice, Conv-ReLU, global average
pooling, Linear; torch.onnx.export writes Conv, BatchNormalization (or folds it), Relu, MaxPool,
GlobalAveragePool, Flatten and Gemm.

    train_torch_cnn.py --out model.onnx [--epochs 3] [--threads 1]
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530  # configs/fashion_mnist_cnn.yaml, transform


def read_idx(name):
    with gzip.open(os.path.join(DATA, name + ".gz"), "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(split):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(prefix + "-images-idx3-ubyte").astype(np.float32) / 255.0
    labels = read_idx(prefix + "-labels-idx1-ubyte").astype(np.int64)
    x = torch.from_numpy((images - MEAN) / STD).unsqueeze(1)
    return x, torch.from_numpy(labels)


def network():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        correct = sum((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item() for i in range(0, len(y), 1000))
    return correct / len(y)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="the ONNX file to write")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x, y = load("train")
    xt, yt = load("test")
    model = network()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, a.epochs * (len(y) // 128))
    for epoch in range(a.epochs):
        model.train()
        start = time.time()
        order = torch.randperm(len(y))
        for i in range(0, len(y) - 127, 128):
            idx = order[i:i + 128]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {epoch + 1}/{a.epochs}: loss {loss.item():.4f}, test accuracy {100 * accuracy(model, xt, yt):.2f}%"
              f" ({time.time() - start:.0f} s)", flush=True)
    model.eval()
    tmp = a.out + ".tmp"
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), tmp, opset_version=13, input_names=["image"],
                      output_names=["logits"], dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    os.replace(tmp, a.out)
    with open(os.path.splitext(a.out)[0] + ".torch.json", "w") as f:
        json.dump({"epochs": a.epochs, "seed": a.seed, "test_accuracy": accuracy(model, xt, yt)}, f, indent=2)
    print(f"wrote {a.out}: PyTorch test accuracy {100 * accuracy(model, xt, yt):.2f}%")


if __name__ == "__main__":
    main()
