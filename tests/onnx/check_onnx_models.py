#!/usr/bin/env python3
"""Checks the exports written by write_onnx_fixtures: onnx.checker accepts both flavors, and the QONNX
graph, evaluated in float64 by the numpy semantics below (the reference implementations of the QONNX
operators, docs/qonnx-custom-ops of fastmachinelearning/qonnx, and the ONNX operators it uses), gives the
integer runtime's codes exactly.

  check_onnx_models.py FIXTURES      exit 0: all equal; 1: a mismatch or an error; 77: no onnx module
"""

import os
import sys

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as e:
    print(f"check_onnx_models: {e} (Debian: python3-onnx python3-numpy): skipped")
    sys.exit(77)


def attributes(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def rounding(mode):
    # QONNX: ROUND is half to even (np.round), FLOOR and CEIL as named.
    return {"ROUND": np.round, "FLOOR": np.floor, "CEIL": np.ceil}[mode.upper() if isinstance(mode, str) else mode.decode().upper()]


def int_range(signed, narrow, bits):
    if signed:
        return -(2 ** (bits - 1)) + (1 if narrow else 0), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1 - (1 if narrow else 0)


def quant(x, scale, zeropt, bitwidth, signed=1, narrow=0, rounding_mode="ROUND"):
    y = x / scale + zeropt
    lo, hi = int_range(signed, narrow, int(bitwidth))
    y = rounding(rounding_mode)(np.clip(y, lo, hi))
    return (y - zeropt) * scale


def trunc(x, scale, zeropt, in_bitwidth, out_scale, out_bitwidth, signed=1, narrow=0, rounding_mode="FLOOR"):
    y = np.round(x / scale + zeropt)
    y = y / 2 ** np.round(np.log2(out_scale / scale))
    lo, hi = int_range(signed, narrow, int(out_bitwidth))
    y = rounding(rounding_mode)(np.clip(y, lo, hi))
    return (y - zeropt / 2 ** np.round(np.log2(out_scale / scale))) * out_scale


def windows(x, kernel, strides, reduce):
    n, c, h, w = x.shape
    (kh, kw), (sh, sw) = kernel, strides
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    parts = [x[:, :, ky : ky + sh * (oh - 1) + 1 : sh, kx : kx + sw * (ow - 1) + 1 : sw] for ky in range(kh) for kx in range(kw)]
    return reduce(np.stack(parts), axis=0)


def conv(x, w, kernel_shape, strides=(1, 1), pads=(0, 0, 0, 0), group=1):
    assert group == 1, "grouped convolutions are not part of the QONNX export"
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    sh, sw = strides
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    y = np.zeros((n, o, oh, ow))
    for ky in range(kh):
        for kx in range(kw):
            patch = x[:, :, ky : ky + sh * (oh - 1) + 1 : sh, kx : kx + sw * (ow - 1) + 1 : sw]
            y += np.einsum("nchw,oc->nohw", patch, w[:, :, ky, kx])
    return y


def run(node, a, inputs):
    op = node.op_type
    if op == "Quant":
        return quant(*inputs, **a)
    if op == "Trunc":
        return trunc(*inputs, **a)
    if op == "Conv":
        return conv(inputs[0], inputs[1], a["kernel_shape"], a.get("strides", (1, 1)), a.get("pads", (0, 0, 0, 0)), a.get("group", 1))
    if op == "Gemm":
        b = inputs[1].T if a.get("transB", 0) else inputs[1]
        return inputs[0] @ b + (inputs[2] if len(inputs) > 2 else 0)
    if op == "MaxPool":
        return windows(inputs[0], a["kernel_shape"], a.get("strides", (1, 1)), np.max)
    if op == "AveragePool":
        return windows(inputs[0], a["kernel_shape"], a.get("strides", (1, 1)), np.mean)
    if op == "Add":
        return inputs[0] + inputs[1]
    if op == "Mul":
        return inputs[0] * inputs[1]
    if op == "Relu":
        return np.maximum(inputs[0], 0)
    if op == "Clip":
        return np.clip(inputs[0], inputs[1], inputs[2])
    if op == "Flatten":
        return inputs[0].reshape(inputs[0].shape[0], -1)
    raise ValueError(f"node {node.name}: no numpy semantics for {op}")


def evaluate(model, x):
    values = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    values[model.graph.input[0].name] = x
    for node in model.graph.node:
        values[node.output[0]] = run(node, attributes(node), [values[i] for i in node.input])
    return values[model.graph.output[0].name]


def frac(text):
    return int(text.split(".")[1])


def main(fixtures):
    mismatches, checked = 0, 0
    for name in sorted(os.listdir(fixtures)):
        folder = os.path.join(fixtures, name)
        if not os.path.exists(os.path.join(folder, "qonnx.onnx")):
            continue
        for flavor in ("qdq", "qonnx"):
            onnx.checker.check_model(onnx.load(os.path.join(folder, flavor + ".onnx")), full_check=True)
        model = onnx.load(os.path.join(folder, "qonnx.onnx"))
        meta = {p.key: p.value for p in model.metadata_props}
        codes = np.load(os.path.join(folder, "input.npy")).astype(np.float64)
        expected = np.load(os.path.join(folder, "codes.npy"))
        got = evaluate(model, codes * 2.0 ** -frac(meta["fxnn.input_format"])) * 2.0 ** frac(meta["fxnn.output_format"])
        if not np.array_equal(got, np.round(got)):
            print(f"{name}: the QONNX output holds values off the output grid")
            mismatches += 1
            continue
        bad = int(np.count_nonzero(got.astype(np.int64) != expected))
        print(f"{name}: onnx.checker passes qdq and qonnx; QONNX numpy semantics: {expected.size} codes, {bad} mismatches")
        mismatches += bad
        checked += 1
    if not checked:
        print(f"check_onnx_models: {fixtures}: no exported networks")
        return 1
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
