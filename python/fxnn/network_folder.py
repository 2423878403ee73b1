"""The fixed-point network folder (docs/fixed-point-network.md) from Python: `export_folder` writes a
trained chain model (nn.Sequential of nn.Linear / nn.Conv2d, optional nn.BatchNorm1d/2d, QActivation,
nn.MaxPool2d, nn.Flatten, nn.Dropout, GradientPoint) with the rules of fxnn's own export
(src/deploy/export_network.cpp): 12-bit normalized input, batch norm and bias folded into 16-bit
per-channel multipliers and offsets, hidden outputs in their A formats, logits with every bit kept.
`read_folder` reads model.json and its arrays. `fxnn infer --model DIR` and scripts/fxnn_infer.py
run and check what is written. The C header model.h that `fxnn export` adds is not written."""
import json
import math
import os
import tempfile

import numpy as np
import torch
from torch import nn

from .formats import Format
from .nn import GradientPoint, QActivation

INPUT_BITS = 12
MULTIPLIER_BITS = 16
MAX_BITS = 62


def _auto(bits, signed, max_abs):  # eq. (4) of docs/number-system.md
    log2r = math.floor(math.log2(max_abs)) + 1 if max_abs > 0 else 0
    return Format(bits, bits - (1 if signed else 0) - log2r, signed)


def _multiplier_frac(scale, identity):
    m = max((abs(s) for s in scale), default=0.0)
    if identity or m == 0:
        return 0
    return MULTIPLIER_BITS - 1 - math.ceil(math.log2(math.nextafter(m, 2 * m)))


def _requantize(scale, shift, identity, acc_frac, out, lo, hi):
    mf = _multiplier_frac(scale, identity)
    return {
        "multiplier": np.array([round_half_away(math.ldexp(s, mf)) for s in scale], dtype=np.int64),
        "multiplier_frac": mf,
        "offset": np.array([round_half_away(math.ldexp(t, acc_frac + mf)) for t in shift], dtype=np.int64),
        "shift": acc_frac + mf - out.frac,
        "rounding": "nearest",
        "clamp": [int(lo), int(hi)],
    }


def round_half_away(x):
    """C's llround: ties away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def _codes(values, fmt, layer):
    scaled = values.detach().double() * math.ldexp(1.0, fmt.frac)
    if not torch.equal(scaled, scaled.round()):
        raise ValueError(f"export: layer {layer}: its weights are not on the grid of {fmt} (train with the plan first)")
    return scaled.round().long().numpy()


def _accumulator_bits(codes, fmt_in):
    in_max = max(abs(fmt_in.code_min), abs(fmt_in.code_max))
    worst = np.abs(codes.reshape(codes.shape[0], -1).astype(np.float64)).sum(axis=1).max() * in_max
    return 32 if worst < 2.0 ** 31 else 64


def _fold(module, bias, bn):
    channels = module.weight.shape[0]
    b = bias.detach().double() if bias is not None else torch.zeros(channels, dtype=torch.float64)
    if bn is None:
        return [1.0] * channels, b.tolist(), True
    gamma = bn.weight.detach().double() if bn.affine else torch.ones(channels, dtype=torch.float64)
    beta = bn.bias.detach().double() if bn.affine else torch.zeros(channels, dtype=torch.float64)
    scale = gamma / torch.sqrt(bn.running_var.double() + bn.eps)
    shift = (b - bn.running_mean.double()) * scale + beta
    return scale.tolist(), shift.tolist(), False


class _Exporter:
    def __init__(self, name, input_shape, mean, std):
        self.nodes, self.arrays = [], {}
        self.manifest = {"format": "fxnn-fixed-point-network", "version": 1, "name": name,
                         "source": "fxnn Python package (network_folder.export_folder)",
                         "input": {"name": "input", "shape": list(input_shape), "format": "u8.0"}}
        self.current = ("input", Format(8, 0, False), list(input_shape))
        self.pools = 0
        channels = input_shape[0]
        mean = [mean[0] if len(mean) == 1 else mean[c] for c in range(channels)] if mean else [0.0] * channels
        std = [std[0] if len(std) == 1 else std[c] for c in range(channels)] if std else [1.0] * channels
        scale = [1.0 / (255.0 * s) for s in std]
        shift = [-m / s for m, s in zip(mean, std)]
        max_abs = max(max(abs(m / s), abs((1.0 - m) / s)) for m, s in zip(mean, std))
        out = _auto(INPUT_BITS, True, max_abs)
        self._push({"name": "input_scale", "op": "rescale", "output_format": out, "output_shape": list(input_shape),
                    "accumulator_bits": 32,
                    "requantize": _requantize(scale, shift, False, 0, out, out.code_min, out.code_max)})

    def _push(self, node):
        name, fmt = node["name"], node["output_format"]
        node["inputs"] = [self.current[0]]
        self.current = (name, fmt, node["output_shape"])
        self.nodes.append(node)

    def weighted(self, module, weight_points, bn, activation):
        name = weight_points.layer
        spec = weight_points.W.spec
        if spec is None or spec.format.auto_range or spec.scale != 1.0:
            raise ValueError(f"export: layer {name}: its weights need a fixed format in the plan")
        w_codes = _codes(module.weight, spec.format, name)
        _, fmt_in, shape_in = self.current
        conv = isinstance(module, nn.Conv2d)
        node = {"name": name, "op": "conv2d" if conv else "dense", "weight_codes": w_codes, "weight_format": spec.format}
        if conv:
            k, s, p = module.kernel_size[0], module.stride[0], module.padding[0]
            node.update(kernel=k, stride=s, padding=p)
            shape = [w_codes.shape[0], (shape_in[1] + 2 * p - k) // s + 1, (shape_in[2] + 2 * p - k) // s + 1]
        else:
            shape = [w_codes.shape[0]]
        acc_bits = _accumulator_bits(w_codes, fmt_in)
        acc_frac = spec.format.frac + fmt_in.frac
        scale, shift, identity = _fold(module, module.bias, bn)
        if activation is not None:
            a = activation.activation_point.spec
            if a is None or a.format.auto_range or a.scale != 1.0:
                raise ValueError(f"export: layer {name}: its activation needs a fixed format in the plan")
            out = a.format
            lo = max(out.code_min, 0)
            hi = min(out.code_max, math.floor(math.ldexp(activation.clip, out.frac)))
        else:
            extra = 1 if identity else MULTIPLIER_BITS
            out = Format(min(acc_bits + extra, MAX_BITS), acc_frac + _multiplier_frac(scale, identity), True)
            lo, hi = out.code_min, out.code_max
        node.update(output_format=out, output_shape=shape, accumulator_bits=acc_bits,
                    requantize=_requantize(scale, shift, identity, acc_frac, out, lo, hi))
        self._push(node)

    def max_pool(self, pool):
        k = pool.kernel_size if isinstance(pool.kernel_size, int) else pool.kernel_size[0]
        s = pool.stride if isinstance(pool.stride, int) else pool.stride[0]
        _, fmt, shape = self.current
        self.pools += 1
        self._push({"name": f"pool{self.pools}", "op": "maxpool", "kernel": k, "stride": s, "output_format": fmt,
                    "output_shape": [shape[0], (shape[1] - k) // s + 1, (shape[2] - k) // s + 1]})

    def flatten(self):
        _, fmt, shape = self.current
        self._push({"name": "flatten", "op": "flatten", "output_format": fmt, "output_shape": [int(np.prod(shape))]})

    def write(self, directory):
        nodes = []
        arrays = {}
        for n in self.nodes:
            j = {k: v for k, v in n.items() if k not in ("weight_codes", "weight_format", "requantize")}
            j["output_format"] = str(n["output_format"])
            if "weight_codes" in n:
                file = f"{n['name']}.weight.npy"
                arrays[file] = n["weight_codes"]
                j["weight"] = {"file": file, "format": str(n["weight_format"]), "shape": list(n["weight_codes"].shape)}
            if "requantize" in n:
                r = dict(n["requantize"])
                for key in ("multiplier", "offset"):
                    file = f"{n['name']}.{key}.npy"
                    arrays[file] = r[key]
                    r[key] = {"file": file}
                j["requantize"] = r
            nodes.append(j)
        manifest = dict(self.manifest, nodes=nodes, output=self.current[0])
        # Written next to the folder, then renamed into place: a folder is complete or absent.
        parent = os.path.dirname(os.path.abspath(directory))
        staging = tempfile.mkdtemp(prefix=".fxnn_export_", dir=parent)
        for file, array in arrays.items():
            np.save(os.path.join(staging, file), array.astype(np.int64))
        with open(os.path.join(staging, "model.json"), "w") as f:
            json.dump(manifest, f, indent=2)
            f.write("\n")
        if os.path.exists(directory):
            raise FileExistsError(f"export: {directory} exists")
        os.rename(staging, directory)


def export_folder(model, weights, directory, input_shape, mean=None, std=None, name="python_model"):
    """Writes the fixed-point network folder of `model` (eval mode: batch norm running statistics)
    whose points `attach` set (`weights` is what it returned). input_shape is [C, H, W]; mean and std
    the input normalization (per channel or one value) of pixels / 255. Raises ValueError naming the
    layer that has no integer form."""
    by_module = {id(w.module): w for w in weights}
    ex = _Exporter(name, input_shape, mean or [], std or [])
    modules = [m for m in model.modules() if not list(m.children())]
    i = 0
    while i < len(modules):
        m = modules[i]
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            bn = activation = None
            j = i + 1
            if j < len(modules) and isinstance(modules[j], (nn.BatchNorm1d, nn.BatchNorm2d)):
                bn, j = modules[j], j + 1
            if j < len(modules) and isinstance(modules[j], QActivation):
                activation, j = modules[j], j + 1
            ex.weighted(m, by_module[id(m)], bn, activation)
            i = j
            continue
        if isinstance(m, nn.MaxPool2d):
            ex.max_pool(m)
        elif isinstance(m, nn.Flatten):
            ex.flatten()
        elif not isinstance(m, (nn.Dropout, GradientPoint)):
            raise ValueError(f"export: no integer form for module {type(m).__name__}")
        i += 1
    ex.write(directory)


def read_folder(directory):
    """model.json as a dict, with every {"file": ...} array loaded in its place (numpy int64)."""
    with open(os.path.join(directory, "model.json")) as f:
        manifest = json.load(f)

    def load(value):
        if isinstance(value, dict):
            if set(value) == {"file"} or ("file" in value and "format" in value):
                loaded = dict(value, data=np.load(os.path.join(directory, value["file"])).astype(np.int64))
                return loaded
            return {k: load(v) for k, v in value.items()}
        if isinstance(value, list):
            return [load(v) for v in value]
        return value

    return load(manifest)
