#!/usr/bin/env python3
"""Writes a random 64-128-128-10 fixed-point MLP as a network folder, in the layout `fxnn export`
gives a trained run: u8.0 input features, the per-feature input normalization as a `rescale` to s12.9,
8-bit weights (s8.7), batch norm folded into 16-bit multipliers and offsets, clipped-ReLU activations
u8.7, and logits keeping every bit of the accumulator (shift 0). It is the small network of the
batch-1 latency benchmark (experiments/deployment/README.md): its speed does not depend on the
values of its weights, and a network folder is all `fxnn bench infer` needs.

Usage: /usr/bin/python3 experiments/deployment/make_mlp.py OUT [--seed S]
"""
import argparse
import json
import os

import numpy as np


def narrowest(a):
    for t in (np.int8, np.int16, np.int32, np.int64):
        if a.min() >= np.iinfo(t).min and a.max() <= np.iinfo(t).max:
            return a.astype(t)
    raise ValueError("values beyond int64")


def requantize(folder, name, multiplier, frac, offset, shift, clamp):
    np.save(os.path.join(folder, f"{name}.multiplier.npy"), narrowest(np.asarray(multiplier, dtype=np.int64)))
    np.save(os.path.join(folder, f"{name}.offset.npy"), narrowest(np.asarray(offset, dtype=np.int64)))
    return {"multiplier": {"file": f"{name}.multiplier.npy"}, "multiplier_frac": frac,
            "offset": {"file": f"{name}.offset.npy"}, "shift": shift, "rounding": "nearest",
            "clamp": [int(clamp[0]), int(clamp[1])]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=False)
    sizes = [64, 128, 128, 10]

    # Input normalization (p / 255 - mean) / std per feature, to s12.9 (multiplier_frac 21, shift 12).
    mean = rng.uniform(0.2, 0.6, sizes[0])
    std = rng.uniform(0.2, 0.4, sizes[0])
    nodes = [{
        "name": "input_scale", "op": "rescale", "inputs": ["input"], "output_format": "s12.9",
        "output_shape": [sizes[0]], "accumulator_bits": 32,
        "requantize": requantize(args.out, "input_scale", np.round(2.0**21 / (255 * std)), 21,
                                 np.round(-mean / std * 2.0**21), 12, (-2048, 2047))}]
    previous, f_in = "input_scale", 9
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        name = f"fc{i}"
        last = i == len(sizes) - 1
        w = np.clip(np.round(rng.normal(0, 128 / np.sqrt(fan_in), (fan_out, fan_in))), -128, 127).astype(np.int64)
        np.save(os.path.join(args.out, f"{name}.weight.npy"), w.astype(np.int8))
        f_acc = 7 + f_in
        if last:
            # Logits: acc + offset with every bit kept (multiplier 1, shift 0): a signed format of
            # the accumulator's frac; the offset is the bias in accumulator units.
            bias = np.round(rng.normal(0, 0.1, fan_out) * 2.0**f_acc)
            fmt, rq = f"s33.{f_acc}", requantize(args.out, name, np.ones(fan_out), 0, bias, 0, (-2**32, 2**32 - 1))
        else:
            # Batch norm folded: a 16-bit multiplier (frac 14) and an offset in units of acc * multiplier;
            # clipped ReLU to u8.7 (clamp at 0 and at the largest code, 2 - 2^-7).
            scale = rng.uniform(0.5, 1.5, fan_out) * 8 / np.sqrt(fan_in)
            bias = rng.normal(0.5, 0.3, fan_out)
            shift = f_acc + 14 - 7
            fmt, rq = "u8.7", requantize(args.out, name, np.round(scale * 2.0**14), 14,
                                         np.round(bias * 2.0**(f_acc + 14)), shift, (0, 255))
        nodes.append({"name": name, "op": "dense", "inputs": [previous], "output_format": fmt,
                      "output_shape": [fan_out],
                      "weight": {"file": f"{name}.weight.npy", "format": "s8.7", "shape": [fan_out, fan_in]},
                      "accumulator_bits": 32, "requantize": rq})
        previous, f_in = name, 7
    manifest = {"format": "fxnn-fixed-point-network", "version": 1, "name": "mlp_64_128_128_10",
                "source": f"experiments/deployment/make_mlp.py --seed {args.seed}",
                "input": {"name": "input", "shape": [sizes[0]], "format": "u8.0"},
                "nodes": nodes, "output": previous}
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"{args.out}: {' - '.join(map(str, sizes))} MLP, {sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))} weights")


if __name__ == "__main__":
    main()
