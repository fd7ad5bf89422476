"""Import torchvision's pure-Python models against the CPU build of torch.

The torchvision wheel from the index is a CUDA build: its C extension cannot load against CPU
torch, and its import then fails registering fake kernels for operators that were never
defined. Declaring those operator schemas first lets the import (and every model) work; the
detection operators themselves stay unusable, which no classifier needs.
"""

import importlib
import types

import torch

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library: torch.library.Library | None = None


def import_torchvision() -> types.ModuleType:
    """torchvision, imported once with the operator schemas its import needs declared."""
    global _library
    try:
        return importlib.import_module("torchvision")
    except RuntimeError as error:  # "operator torchvision::nms does not exist"
        if "torchvision::" not in str(error) or _library is not None:
            raise
    _library = torch.library.Library("torchvision", "DEF")
    for schema in _SCHEMAS:
        _library.define(schema)
    for name in [n for n in list(importlib.sys.modules) if n.startswith("torchvision")]:
        del importlib.sys.modules[name]  # the failed import's half-initialised modules
    return importlib.import_module("torchvision")
