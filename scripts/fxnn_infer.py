#!/usr/bin/env python3
"""Evaluates an exported fxnn fixed-point network with numpy integer arithmetic only.

Reads nothing but the network folder (model.json and its .npy files, docs/fixed-point-network.md)
and an input array, and computes every node with int64 numpy operations as the equations of the
format say: (1) convolution, (2) dense, (3) requantization, then pooling, add and flatten. It is an
independent implementation of the format: fxnn's tests and `fxnn infer` compare it with the C++
integer runtime bit for bit.

  scripts/fxnn_infer.py --model OUT --input X.npy [--labels Y.npy] [--output CODES.npy]
                        [--predictions P.npy] [--batch 500]

X.npy: input codes [N, ...input shape] of the network's input format (for images: uint8 pixels).
Prints the number of samples and, with --labels, the accuracy of the predictions (argmax of the
output codes, the first index on ties).
"""

import argparse
import json
import os
import sys

import numpy as np

FORMAT = "fxnn-fixed-point-network"
VERSION = 1


def fail(message):
    print(f"fxnn_infer.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def parse_format(text):
    """'s8.7' -> (signed, bits, frac)."""
    sign, rest = text[0], text[1:]
    bits, frac = rest.split(".")
    if sign not in "su":
        raise ValueError(f"bad format {text!r}")
    return sign == "s", int(bits), int(frac)


def code_range(text):
    signed, bits, _ = parse_format(text)
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


class Network:
    def __init__(self, folder):
        path = os.path.join(folder, "model.json")
        try:
            with open(path) as f:
                self.manifest = json.load(f)
        except (OSError, ValueError) as e:
            fail(f"{path}: {e}")
        m = self.manifest
        if m.get("format") != FORMAT or m.get("version") != VERSION:
            fail(f"{path}: not an {FORMAT} version {VERSION} manifest")
        self.folder = folder
        self.formats = {m["input"]["name"]: m["input"]["format"]}
        self.arrays = {}
        for node in m["nodes"]:
            self.formats[node["name"]] = node["output_format"]
            for key, ref in self.tensor_refs(node):
                self.arrays[(node["name"], key)] = self.load(ref["file"], ref.get("shape"))

    @staticmethod
    def tensor_refs(node):
        if "weight" in node:
            yield "weight", node["weight"]
        if "requantize" in node:
            yield "multiplier", node["requantize"]["multiplier"]
            yield "offset", node["requantize"]["offset"]

    def load(self, name, shape):
        path = os.path.join(self.folder, name)
        try:
            a = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            fail(f"{path}: {e}")
        if a.dtype.kind != "i":
            fail(f"{path}: dtype {a.dtype} is not a signed integer type")
        if shape is not None and list(a.shape) != list(shape):
            fail(f"{path}: shape {list(a.shape)} disagrees with model.json {shape}")
        return a.astype(np.int64)

    def requantize(self, acc, node):
        """eq. (3): v = acc * multiplier[c] + offset[c]; out = clamp(round_shift(v, shift))."""
        r = node["requantize"]
        m = self.arrays[(node["name"], "multiplier")]
        o = self.arrays[(node["name"], "offset")]
        view = (1, -1) + (1,) * (acc.ndim - 2) if m.size > 1 else ()
        v = acc * (m.reshape(view) if view else m[0]) + (o.reshape(view) if view else o[0])
        s = r["shift"]
        if s > 0:
            if r["rounding"] == "nearest":
                v = v + (np.int64(1) << np.int64(s - 1))  # ties toward +infinity
            v = v >> np.int64(s)  # arithmetic shift: floor division by 2^s
        elif s < 0:
            v = v << np.int64(-s)
        lo, hi = r["clamp"]
        return np.clip(v, lo, hi)

    def conv2d(self, x, node):
        """eq. (1): zero padding, stride, OIHW weights."""
        w = self.arrays[(node["name"], "weight")]
        k, s, p = node["kernel"], node["stride"], node["padding"]
        x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]
        # windows: [N, C, OH, OW, k, k]; sum over C, ky, kx.
        acc = np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3]))  # [N, OH, OW, O]
        return acc.transpose(0, 3, 1, 2)

    def pool_windows(self, x, node):
        k, s = node["kernel"], node["stride"]
        return np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]

    def evaluate(self, x):
        values = {self.manifest["input"]["name"]: x.astype(np.int64)}
        for node in self.manifest["nodes"]:
            op, name = node["op"], node["name"]
            a = values[node["inputs"][0]]
            if op == "rescale":
                out = self.requantize(a, node)
            elif op == "conv2d":
                out = self.requantize(self.conv2d(a, node), node)
            elif op == "dense":
                out = self.requantize(a @ self.arrays[(name, "weight")].T, node)  # eq. (2)
            elif op == "maxpool":
                out = self.pool_windows(a, node).max(axis=(4, 5))
            elif op == "avgpool":
                out = self.requantize(self.pool_windows(a, node).sum(axis=(4, 5)), node)
            elif op == "add":
                b = values[node["inputs"][1]]
                fa = parse_format(self.formats[node["inputs"][0]])[2]
                fb = parse_format(self.formats[node["inputs"][1]])[2]
                f = max(fa, fb)
                out = self.requantize((a << np.int64(f - fa)) + (b << np.int64(f - fb)), node)
            elif op == "flatten":
                out = a.reshape(a.shape[0], -1)
            else:
                fail(f"model.json: node {name}: unknown op {op!r}")
            lo, hi = code_range(node["output_format"])
            if out.size and (out.min() < lo or out.max() > hi):
                fail(f"node {name}: codes outside its format {node['output_format']}")
            values[name] = out
        return values[self.manifest["output"]]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="exported network folder (model.json)")
    parser.add_argument("--input", required=True, help="input codes, .npy [N, ...input shape]")
    parser.add_argument("--labels", help="labels, .npy [N]: print the accuracy")
    parser.add_argument("--output", help="write the output codes here (.npy, int64)")
    parser.add_argument("--predictions", help="write the predictions here (.npy, int64)")
    parser.add_argument("--batch", type=int, default=500, help="samples per evaluation step")
    args = parser.parse_args()

    net = Network(args.model)
    try:
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as e:
        fail(f"{args.input}: {e}")
    expected = list(net.manifest["input"]["shape"])
    if list(x.shape[1:]) != expected:
        fail(f"{args.input}: shape {list(x.shape)} does not match the network input [N, {expected}]")
    outputs = np.concatenate([net.evaluate(x[i:i + args.batch]) for i in range(0, len(x), args.batch)])
    predictions = outputs.argmax(axis=1)
    if args.output:
        np.save(args.output, outputs)
    if args.predictions:
        np.save(args.predictions, predictions)
    line = f"samples {len(x)}"
    if args.labels:
        labels = np.load(args.labels, allow_pickle=False)
        line += f", accuracy {np.mean(predictions == labels):.4f}"
    print(line)


if __name__ == "__main__":
    main()
