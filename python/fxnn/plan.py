"""Precision plans (docs/precision-plan.md): the YAML files `fxnn assign` writes and `fxnn train` reads."""
import fnmatch
import math

import yaml

from .formats import Format
from .quantize import QuantizerSpec

TENSOR_CLASSES = ("W", "A", "GW", "GA", "acc")
ROUNDINGS = ("nearest", "stochastic", "floor")


class PlanError(ValueError):
    pass


def _entry(value, where, rounding, tensor_class):
    """One entry: "s8.7", "float", or {format: ..., rounding: ..., scale: ...}."""
    scale = 1.0
    if isinstance(value, dict):
        unknown = set(value) - {"format", "rounding", "scale", "learn"}
        if unknown:
            raise PlanError(f"{where}.{sorted(unknown)[0]}: unknown key")
        if "format" not in value:
            raise PlanError(f"{where}.format: missing")
        rounding = value.get("rounding", rounding)
        if rounding not in ROUNDINGS:
            raise PlanError(f"{where}.rounding: unknown rounding '{rounding}'")
        scale = value.get("scale", 1.0)
        if not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
            raise PlanError(f"{where}.scale: must be a positive finite number")
        if scale != 1.0 and tensor_class not in ("W", "A"):
            raise PlanError(f"{where}.scale: only W and A take a scale")
        if value.get("learn", False):
            if tensor_class not in ("W", "A"):
                raise PlanError(f"{where}.learn: only W and A take a learned scale")
            raise PlanError(f"{where}.learn: learned scales are trained by fxnn's C++ engine, not by the Python package")
        value = value["format"]
    if not isinstance(value, str):
        raise PlanError(f"{where}: expected a format such as s8.7, float, or {{format: ..., rounding: ...}}")
    if value == "float":
        return None
    try:
        fmt = Format.parse(value)
    except ValueError as e:
        raise PlanError(f"{where}: {e}") from None
    if fmt.auto_range and scale != 1.0:
        raise PlanError(f"{where}: an auto range takes no scale")
    return QuantizerSpec(fmt, rounding, float(scale))


def _class_specs(node, where, rounding):
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise PlanError(f"{where}: expected a map")
    specs = {}
    for key, value in node.items():
        if key not in TENSOR_CLASSES:
            raise PlanError(f"{where}.{key}: unknown tensor class '{key}'")
        specs[key] = _entry(value, f"{where}.{key}", rounding, key)
    return specs


class PrecisionPlan:
    """defaults: a spec per tensor class; layers: (pattern, specs) overrides, a later match wins."""

    def __init__(self, defaults=None, layers=None, source="plan"):
        self.defaults = defaults or {}
        self.layers = layers or []
        self.source = source

    @staticmethod
    def parse(text, source="plan"):
        try:
            root = yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            raise PlanError(f"{source}: {e}") from None
        if not isinstance(root, dict):
            raise PlanError(f"{source}: expected a map")
        try:
            unknown = set(root) - {"version", "rounding", "defaults", "layers"}
            if unknown:
                raise PlanError(f"{sorted(unknown)[0]}: unknown key")
            if root.get("version", 1) != 1:
                raise PlanError("version: unsupported plan version (this fxnn reads version 1)")
            rounding = root.get("rounding", "nearest")
            if rounding not in ROUNDINGS:
                raise PlanError(f"rounding: unknown rounding '{rounding}'")
            defaults = _class_specs(root.get("defaults"), "defaults", rounding)
            layers_node = root.get("layers") or {}
            if not isinstance(layers_node, dict):
                raise PlanError("layers: expected a map")
            layers = [(str(p), _class_specs(v, f"layers.{p}", rounding)) for p, v in layers_node.items()]
        except PlanError as e:
            raise PlanError(f"{source}: {e}") from None
        return PrecisionPlan(defaults, layers, source)

    @staticmethod
    def load(path):
        with open(path) as f:
            return PrecisionPlan.parse(f.read(), path)

    @staticmethod
    def layer_matches(pattern, layer):
        return pattern == layer or fnmatch.fnmatchcase(layer, pattern)

    def resolve(self, layer, tensor_class):
        """The spec of <layer>.<class>: the last matching override, else the default, else None (float)."""
        for pattern, specs in reversed(self.layers):
            if self.layer_matches(pattern, layer) and tensor_class in specs:
                return specs[tensor_class]
        return self.defaults.get(tensor_class)
