"""Finds and loads libfxnn_ops.so, the library that registers the torch.ops.fxnn operators."""
import os

import torch

_HERE = os.path.dirname(os.path.abspath(__file__))

# Where the library may be, in order: the environment, the installed package, a build of the source tree.
_CANDIDATES = [
    os.path.join(_HERE, "_lib", "libfxnn_ops.so"),
    os.path.join(_HERE, "..", "..", "build", "libfxnn_ops.so"),
]


def library_path():
    """The path of libfxnn_ops.so: $FXNN_OPS_LIBRARY, else the package's _lib/, else ../../build/."""
    explicit = os.environ.get("FXNN_OPS_LIBRARY")
    if explicit:
        if not os.path.isfile(explicit):
            raise ImportError(f"fxnn: FXNN_OPS_LIBRARY={explicit}: no such file")
        return explicit
    for path in _CANDIDATES:
        if os.path.isfile(path):
            return os.path.normpath(path)
    raise ImportError("fxnn: libfxnn_ops.so not found (build it with scripts/test.sh or cmake --build build "
                      "--target fxnn_ops, install with cmake --install, or set FXNN_OPS_LIBRARY)")


def load():
    if not hasattr(torch.ops.fxnn, "_loaded"):
        torch.ops.load_library(library_path())
        torch.ops.fxnn._loaded = True
