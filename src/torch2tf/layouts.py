"""Move tensors between torch's layout and the channels-last Keras twin's (see tensor_facts).

A channels-last map is torch's (N, C, *S) as (N, *S, C); a flattened map is torch's (N, C*S)
in (C, S) order as (N, S*C) in (S, C) order. Anything else is the same in both frameworks.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from torch2tf.tensor_facts import FLAT, MAP, MAPS, TUPLE, Fact


def _array(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def to_keras(value: Any, fact: Fact | None) -> Any:
    """A torch-layout tensor (torch or numpy) as the Keras model holds it (numpy)."""
    if fact is not None and fact.kind == MAPS and isinstance(value, (list, tuple)):
        return type(value)(to_keras(v, replace(fact, kind=MAP)) for v in value)
    if fact is not None and fact.kind == TUPLE and isinstance(value, (list, tuple)):
        return type(value)(to_keras(v, f) for v, f in zip(value, fact.elements, strict=True))
    if fact is None or fact.kind not in (MAP, FLAT):
        return value
    array = _array(value)
    if fact.kind == MAP:
        return np.ascontiguousarray(np.moveaxis(array, 1, -1))
    batch, features = array.shape
    channels = _channels(fact, features)
    return np.ascontiguousarray(
        array.reshape(batch, channels, features // channels).transpose(0, 2, 1).reshape(batch, -1)
    )


def to_torch(value: Any, fact: Fact | None) -> Any:
    """A Keras-layout tensor (TensorFlow or numpy) in torch's layout (numpy)."""
    if fact is not None and fact.kind == MAPS and isinstance(value, (list, tuple)):
        return type(value)(to_torch(v, replace(fact, kind=MAP)) for v in value)
    if fact is not None and fact.kind == TUPLE and isinstance(value, (list, tuple)):
        return type(value)(to_torch(v, f) for v, f in zip(value, fact.elements, strict=True))
    if fact is None or fact.kind not in (MAP, FLAT):
        return value
    array = _array(value)
    if fact.kind == MAP:
        return np.ascontiguousarray(np.moveaxis(array, -1, 1))
    batch, features = array.shape
    channels = _channels(fact, features)
    return np.ascontiguousarray(
        array.reshape(batch, features // channels, channels).transpose(0, 2, 1).reshape(batch, -1)
    )


def _channels(fact: Fact, features: int) -> int:
    """A flattened map's channel count: known, or its width over its known spatial sizes."""
    if fact.channels is None and fact.spatial is not None:
        return features // math.prod(fact.spatial)
    return fact.channels


def keras_kernel_rows(kernel: np.ndarray, channels: int) -> np.ndarray:
    """A Dense kernel (in, out) whose rows are in torch's (C, S) order, in Keras's (S, C)."""
    features, out = kernel.shape
    if channels <= 0 or features % channels:
        raise ValueError(f"{features} input features are not a multiple of {channels} channels")
    return kernel.reshape(channels, features // channels, out).transpose(1, 0, 2).reshape(-1, out)


def live_channels(
    model: torch.nn.Module, inputs: tuple[torch.Tensor, ...], paths: set[str]
) -> dict[str, int]:
    """The channel count (dim 1) of the map each submodule at ``paths`` outputs, read off one
    run of ``model`` on ``inputs`` in eval mode (where no layer inside the module fixes it)."""
    found: dict[str, int] = {}
    if not paths:
        return found

    def hook(path: str):
        def record(module, args, output) -> None:
            if isinstance(output, torch.Tensor) and output.dim() >= 3:
                found.setdefault(path, int(output.shape[1]))

        return record

    handles = []
    for path in sorted(paths):
        try:
            module = model.get_submodule(path)
        except AttributeError:  # None in this model (an optional head left out)
            continue
        handles.append(module.register_forward_hook(hook(path)))
    _run_hooked(model, inputs, handles)
    return found


def live_input_shapes(
    model: torch.nn.Module, inputs: tuple[torch.Tensor, ...], paths: set[str]
) -> dict[str, tuple[int, ...]]:
    """The shape (without the batch) of the first input each submodule at ``paths`` takes,
    read off one run of ``model`` on ``inputs`` in eval mode."""
    found: dict[str, tuple[int, ...]] = {}

    def hook(path: str):
        def record(module, args) -> None:
            if args and isinstance(args[0], torch.Tensor):
                found.setdefault(path, tuple(int(n) for n in args[0].shape[1:]))

        return record

    handles = []
    for path in sorted(paths):
        try:
            handles.append(model.get_submodule(path).register_forward_pre_hook(hook(path)))
        except AttributeError:  # None in this model
            continue
    _run_hooked(model, inputs, handles)
    return found


def _run_hooked(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...], handles: list) -> None:
    """One eval-mode run of ``model`` for its hooks, which are removed after; its mode kept."""
    training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(*inputs)
    finally:
        model.train(training)
        for handle in handles:
            handle.remove()


def flattened_as_ran(
    facts: Any, model: torch.nn.Module, inputs: tuple[torch.Tensor, ...], paths: list[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Where a module flattens a map of sizes it was given (timm's SelectAdaptivePool2d of
    an output size passed in), the channel counts the facts leave open, read off one run:
    of each module at ``facts.layers`` turning a map into a flat tensor (the channel count of
    the map it took), and of each Linear at ``paths`` fed such a tensor (when the modules
    flattening a map of its width all took maps of one channel count)."""
    flattening = {
        p
        for p, (a, b) in facts.layers.items()
        if a.kind == MAP and b.kind == FLAT and b.channels is None and "*" not in p
    }
    if not flattening:
        return {}, {}
    shapes = live_input_shapes(model, inputs, flattening)
    modules = {p: s[0] for p, s in shapes.items() if len(s) >= 2}
    rows = {}
    for path in paths:
        width = getattr(model.get_submodule(path), "in_features", None)
        counts = {s[0] for s in shapes.values() if len(s) >= 2 and math.prod(s) == width}
        if len(counts) == 1:
            rows[path] = counts.pop()
    return modules, rows
