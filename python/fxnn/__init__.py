"""fxnn for PyTorch (docs/python.md): fxnn's fixed-point quantizers as torch.ops.fxnn operators with
autograd (from libfxnn_ops.so, the same C++ kernels as fxnn's own training), precision plans, quantization
points for your own nn.Module, fixed-point SGD, and the fixed-point network folder.

    import fxnn
    y = fxnn.quantize(x, "s8.7")                    # straight-through gradient
    plan = fxnn.PrecisionPlan.load("plan.yaml")     # e.g. written by `fxnn assign`
    weights = fxnn.attach(model, plan)              # nn.Linear/nn.Conv2d by name, QActivation, GradientPoint
    sgd = fxnn.FixedPointSGD(model, weights, lr=0.05)
"""
from . import _library

_library.load()

import torch  # noqa: E402

from .formats import Format  # noqa: E402
from .network_folder import export_folder, read_folder  # noqa: E402
from .nn import GradientPoint, QActivation, WeightPoints, attach  # noqa: E402
from .optim import FixedPointSGD  # noqa: E402
from .plan import PlanError, PrecisionPlan  # noqa: E402
from .quantize import QuantizerSpec, QuantPoint, quantize, quantize_gradient  # noqa: E402

__version__ = torch.ops.fxnn.version()
