"""The quantizers: thin wrappers of torch.ops.fxnn.quantize / quantize_gradient (libfxnn_ops.so)."""
from dataclasses import dataclass

import torch

from .formats import Format


@dataclass
class QuantizerSpec:
    """A format, a rounding (nearest | floor | stochastic) and a scale (1: fixed point), as in a plan."""
    format: Format
    rounding: str = "nearest"
    scale: float = 1.0


def quantize(x, format, rounding="nearest", scale=1.0, seed=0):
    """Q_s(x) (docs/number-system.md eq. (8)-(9)), straight-through gradient inside the range."""
    return torch.ops.fxnn.quantize(x, str(format), rounding, float(scale), int(seed))


def quantize_gradient(x, format, rounding="nearest", seed=0):
    """The identity; its backward quantizes the gradient (a G^(A) point)."""
    return torch.ops.fxnn.quantize_gradient(x, str(format), rounding, int(seed))


class QuantPoint:
    """One named point (e.g. fc1.W) and its spec (None: float). Stochastic rounding draws a new seed
    per call from the point's own base seed and its call counter."""

    def __init__(self, name):
        self.name = name
        self.spec = None
        self.seed = 0
        self.calls = 0

    def _next_seed(self):
        self.calls += 1
        return (self.seed * 1000003 + self.calls) & 0x7FFFFFFFFFFFFFFF

    def quantize(self, x):
        if self.spec is None:
            return x
        return quantize(x, self.spec.format, self.spec.rounding, self.spec.scale, self._next_seed())

    def quantize_gradient(self, x):
        if self.spec is None:
            return x
        return quantize_gradient(x, self.spec.format, self.spec.rounding, self._next_seed())
