"""Move every torch parameter and buffer onto the Keras variable at the same attribute path."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import torch

from torch2tf.held_modules import all_named_modules
from torch2tf.keras_api import keras_attribute
from torch2tf.layouts import keras_kernel_rows
from torch2tf.rules import LAYERS, LayerRule
from torch2tf.rules.weight_norm import torch_class, weight_norm_rule, weight_normed

# Buffers Keras has no use for, and why.
IGNORED_BUFFERS = {
    "num_batches_tracked": "only used by torch when momentum=None, which is not translated",
}


class WeightTransferError(Exception):
    """Weights could not be moved; the message lists every problem at once."""


@dataclass(frozen=True)
class Transfer:
    """One torch tensor moved onto one Keras variable."""

    torch_name: str
    keras_name: str
    shape: tuple[int, ...]
    variable: Any = field(default=None, repr=False, compare=False)


@cache
def rules_by_type() -> dict[type, type[LayerRule]]:
    found = {}
    for name, rule in LAYERS.items():
        module_name, _, attr = name.rpartition(".")
        try:
            found[getattr(importlib.import_module(module_name), attr)] = rule
        except ImportError:  # another package's layers (einops): no model of it to meet
            continue
    return found


def rule_for(module: Any) -> type[LayerRule] | None:
    """The layer rule for a live torch module, if its exact class has one (a weight-normalised
    layer's: its class's, around TorchWeightNorm)."""
    if weight_normed(module) is not None:
        rule = rules_by_type().get(torch_class(module))
        return None if rule is None else weight_norm_rule(rule)
    return rules_by_type().get(type(module))


def tensor(module: Any, name: str) -> Any:
    """A module's tensor by its dotted name (``parametrizations.weight.original0``)."""
    for step in name.split("."):
        module = getattr(module, step)
    return module


def own_tensor_names(module: Any) -> list[str]:
    """The module's own parameters and buffers (a weight-normalised layer's g and v too)."""
    own = [n for n, _ in module.named_parameters(recurse=False)]
    own += [n for n, b in module.named_buffers(recurse=False) if b is not None]
    normed = weight_normed(module)
    if normed is not None:
        own += [n for n in normed[2:] if n not in own]
    if not type(module).__module__.startswith("torch."):
        return own  # a project subclass of a torch layer: its base keeps every buffer
    return [n for n in own if n not in IGNORED_BUFFERS]


def keras_child(parent: Any, name: str) -> Any:
    """The Keras object at one step of a torch module path (``fc1``, or ``0`` in a list)."""
    if name.isdigit() and isinstance(parent, (list, tuple)):
        return parent[int(name)]
    if hasattr(parent, "get_layer") and not hasattr(parent, keras_attribute(name)):
        # tf.keras.Sequential: by index, or by the name an OrderedDict key became
        return parent.layers[int(name)] if name.isdigit() else parent.get_layer(name)
    if isinstance(parent, dict):
        return parent[name]
    return getattr(parent, keras_attribute(name))


def keras_layer_at(model: Any, path: str) -> Any:
    """The Keras layer at a torch module path such as ``encoder.fc1``."""
    layer = model
    for step in path.split(".") if path else []:
        layer = keras_child(layer, step)
    return layer


def _own_tensors(module, keras_model, path, prefix, names, moves, problems) -> None:
    """A custom module's own nn.Parameter/buffer -> the Keras variable of the same name."""
    try:
        layer = keras_layer_at(keras_model, path)
    except (AttributeError, IndexError, KeyError):
        problems.append(f"{path}: the Keras model has no layer at this path")
        return
    for name in names:
        variable = getattr(layer, name, None)
        tensor = getattr(module, name)
        if not hasattr(variable, "assign"):
            problems.append(f"{prefix}{name}: the Keras layer has no variable of that name")
        elif tuple(tensor.shape) != tuple(variable.shape):
            problems.append(
                f"{prefix}{name}: torch shape {tuple(tensor.shape)} does not match Keras "
                f"{variable.path} shape {tuple(variable.shape)}"
            )
        else:
            array = tensor.detach().cpu().numpy()
            moves.append(
                (variable, array, Transfer(prefix + name, variable.path, array.shape, variable))
            )


def transfer_weights(
    torch_model: Any, keras_model: Any, flattened_rows: Mapping[str, int] | None = None
) -> list[Transfer]:
    """Assign every torch parameter and buffer to its Keras variable, checking shapes.

    ``flattened_rows``: module path of a Linear fed a flattened channels-last map -> its
    channel count (from the tensor facts); its kernel rows move from (C, *S) to (*S, C) order.

    Raises:
        WeightTransferError: listing every missing layer, unmapped tensor and shape mismatch.
    """
    problems: list[str] = []
    moves: list[tuple[Any, np.ndarray, Transfer]] = []
    seen: set[int] = set()
    for path, module in all_named_modules(torch_model):
        own = own_tensor_names(module)
        if own and all(id(tensor(module, n)) in seen for n in own):
            continue  # tied to tensors moved before (weight tying): Keras shares the variable
        seen.update(id(tensor(module, n)) for n in own)
        rule = rule_for(module)
        if not own and (rule is None or not rule.weights(module)):
            continue  # (a Keras twin may still own state torch does not keep: see BatchNorm)
        prefix = f"{path}." if path else ""
        if rule is None and not type(module).__module__.startswith("torch."):
            _own_tensors(module, keras_model, path, prefix, own, moves, problems)
            continue
        if rule is None:
            names = ", ".join(prefix + n for n in own)
            problems.append(f"{names}: no rule maps the tensors of {type(module).__name__}")
            continue
        try:
            layer = keras_layer_at(keras_model, path)
        except (AttributeError, IndexError, KeyError):
            problems.append(f"{path}: the Keras model has no layer at this path")
            continue
        arrays = rule.weights(module)
        if path in (flattened_rows or {}):
            try:
                arrays[0] = keras_kernel_rows(arrays[0], flattened_rows[path])
                g = arrays[-1]
                if hasattr(rule, "tensor_names") and g.ndim == 2 and g.shape[0] > 1:
                    arrays[-1] = keras_kernel_rows(g, flattened_rows[path])  # g per input row
            except ValueError as err:
                problems.append(f"{path}: {err}")
                continue
        variables = rule.keras_variables(layer)
        if len(arrays) != len(variables):
            problems.append(
                f"{path}: expected {len(arrays)} Keras variables for {type(module).__name__}, "
                f"received {len(variables)} on {type(layer).__name__}"
            )
            continue
        if hasattr(rule, "tensor_names"):
            own = rule.tensor_names(module)
        names = [prefix + n for n in own] + [prefix + "?"] * (len(arrays) - len(own))
        for name, array, variable in zip(names, arrays, variables, strict=True):
            if tuple(array.shape) != tuple(variable.shape):
                problems.append(
                    f"{name}: torch shape {tuple(array.shape)} (as Keras layout) does not match "
                    f"Keras {variable.path} shape {tuple(variable.shape)}"
                )
                continue
            moves.append((variable, array, Transfer(name, variable.path, array.shape, variable)))
    assigned = {id(v) for v, _, _ in moves}
    for variable in keras_model.weights:
        if id(variable) not in assigned and not problems:
            problems.append(f"Keras variable {variable.path} received no torch tensor")
    if problems:
        raise WeightTransferError("weight transfer failed:\n  " + "\n  ".join(problems))
    for variable, array, _ in moves:
        if not array.flags.c_contiguous:  # a transposed kernel: torch copies it ~5x faster
            array = torch.from_numpy(array).contiguous().numpy()
        variable.assign(array.astype(variable.dtype, copy=False))
    return [t for _, _, t in moves]
