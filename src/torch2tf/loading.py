"""Loading what ``torch2tf convert`` needs: the model class, a checkpoint, verification inputs.

Checkpoints are loaded safely: ``torch.load(weights_only=True)`` or safetensors; a file that
would need arbitrary unpickling is refused, and none of its code runs.
"""

from __future__ import annotations

import importlib.util
import pickle
import sys
from pathlib import Path
from typing import Any

import torch

from torch2tf.cli import UsageError


def load_class(path: Path, name: str) -> type:
    """Import ``path`` as a module (this runs it) and return its class ``name``."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path}: expected a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses and pickling look the module up by name
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    cls = getattr(module, name, None)
    if not isinstance(cls, type) or not issubclass(cls, torch.nn.Module):
        found = sorted(
            n
            for n, v in vars(module).items()
            if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == path.stem
        )
        raise UsageError(
            f"--class {name}: expected an nn.Module class defined in {path}, "
            f"received {'nothing by that name' if cls is None else type(cls).__name__}; "
            f"classes found: {', '.join(found) or 'none'}"
        )
    return cls


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint, loaded without arbitrary unpickling."""
    if not path.is_file():
        raise UsageError(f"--state-dict: cannot read {path}: no such file")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise UsageError("--state-dict: reading .safetensors needs `pip install safetensors`")
        return load_file(str(path))
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0]
        raise UsageError(
            f"--state-dict: refused {path}: it needs arbitrary unpickling, which could run code "
            f"({first}); save model.state_dict() instead, or use safetensors"
        ) from None
    except (RuntimeError, EOFError, ValueError) as err:
        raise UsageError(f"--state-dict: cannot load {path}: {err}") from None
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise UsageError(
            f"--state-dict: expected a mapping of names to tensors, received {type(loaded).__name__}"
        )
    return loaded


def load_state_dict(model: torch.nn.Module, path: Path) -> None:
    """Load a checkpoint into ``model``, reporting every key problem at once."""
    state = read_state_dict(path)
    expected = model.state_dict()
    problems = [f"missing key {k}" for k in expected if k not in state]
    problems += [f"unexpected key {k}" for k in state if k not in expected]
    problems += [
        f"{k}: checkpoint shape {tuple(v.shape)}, model shape {tuple(expected[k].shape)}"
        for k, v in state.items()
        if k in expected and v.shape != expected[k].shape
    ]
    if problems:
        raise UsageError(f"--state-dict {path} does not fit the model: " + "; ".join(problems))
    model.load_state_dict(state)


def random_inputs(model: torch.nn.Module, shape: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
    """Seeded random input of ``shape`` in the model's floating dtype."""
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    return (torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=dtype),)


def conversion_errors() -> tuple[type[Exception], ...]:
    """Exceptions that mean 'this model cannot be converted', reported without a traceback."""
    from torch2tf.conversion import ConversionError
    from torch2tf.weights import WeightTransferError

    return (ConversionError, WeightTransferError)


