"""Quantization points for a PyTorch model of your own (docs/python.md).

Weights: every nn.Linear and nn.Conv2d gets the points <name>.W, <name>.GW and <name>.acc, named after
the module's qualified name in the model (model.named_modules()); FixedPointSGD applies them.
Activations: place QActivation(name) where a layer's output is (its clipped ReLU, then <name>.A and
<name>.GA), and GradientPoint(name) on the logits (<name>.GA alone), as fxnn's own layers do."""
import torch
from torch import nn

from .plan import PlanError
from .quantize import QuantPoint


class QActivation(nn.Module):
    """Clipped ReLU min(max(x, 0), clip), then A = Q_A (straight-through inside its range), then the
    G^(A) point on the way back (docs/fixed-point-training.md)."""

    def __init__(self, layer, clip=2.0):
        super().__init__()
        self.layer = layer
        self.clip = clip
        self.activation_point = QuantPoint(f"{layer}.A")
        self.gradient_point = QuantPoint(f"{layer}.GA")

    def forward(self, x):
        y = torch.nn.functional.hardtanh(x, 0.0, self.clip)
        return self.gradient_point.quantize_gradient(self.activation_point.quantize(y))


class GradientPoint(nn.Module):
    """A G^(A) point alone: the layer's output gradient is quantized, its output is not (the logits)."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer
        self.gradient_point = QuantPoint(f"{layer}.GA")

    def forward(self, x):
        return self.gradient_point.quantize_gradient(x)


class WeightPoints:
    """A weight tensor and its W, GW and acc points."""

    def __init__(self, layer, module):
        self.layer = layer
        self.module = module
        self.weight = module.weight
        self.W, self.GW, self.acc = (QuantPoint(f"{layer}.{c}") for c in ("W", "GW", "acc"))


def attach(model, plan, seed=0):
    """Sets every point of the model from the plan and returns the weights' points (for FixedPointSGD).
    Raises PlanError when a layer override matches no layer (a typo would leave a layer in the default)."""
    weights, activations = [], []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            weights.append(WeightPoints(name, module))
        elif isinstance(module, (QActivation, GradientPoint)):
            activations.append(module)
    layers = {w.layer for w in weights} | {a.layer for a in activations}
    for pattern, _ in plan.layers:
        if not any(plan.layer_matches(pattern, layer) for layer in layers):
            raise PlanError(f"{plan.source}: layers.{pattern}: matches no layer of the model "
                            f"(layers: {', '.join(sorted(layers))})")
    points = []
    for w in weights:
        for tensor_class, point in (("W", w.W), ("GW", w.GW), ("acc", w.acc)):
            point.spec = plan.resolve(w.layer, tensor_class)
            points.append(point)
    for a in activations:
        if isinstance(a, QActivation):
            a.activation_point.spec = plan.resolve(a.layer, "A")
            points.append(a.activation_point)
        a.gradient_point.spec = plan.resolve(a.layer, "GA")
        points.append(a.gradient_point)
    for i, point in enumerate(points):  # distinct stochastic-rounding streams per point
        point.seed = seed * 7919 + i + 1
    return weights
