"""Which layout a layer's input and output have in verification's per-layer checks: the
tensor facts' for the layer (under its path, its loop's, its computed names', or an outer
block's of the same class), else what the torch layer itself tells."""

from __future__ import annotations

from typing import Any

import torch

from torch2tf.tensor_facts import Fact
from torch2tf.tensor_facts.records import MAP
from torch2tf.tensor_facts.tables import _CONVS, _MAP_LAYERS


def layouts_at(layers: dict[str, Any], path: str, classes: dict[str, type]) -> Any:
    """The layouts the facts give the layer at ``path``: under its path, its loop's
    (``layer1.*.conv1``), its computed names', or, inside a module of a class nested in
    itself (a U-Net's skip block holding the next), the outer one's path for it."""
    found = layers.get(path) or layers.get(_repeated_path(path)) or _matching(layers, path)
    if found:
        return found
    parts = path.split(".")
    for end in range(len(parts) - 1, 0, -1):
        inner = classes.get(".".join(parts[:end]))
        if inner is None or inner.__module__.split(".")[0] == "torch":  # containers: no
            continue
        for start in range(1, end):
            if classes.get(".".join(parts[:start])) is inner:
                found = layouts_at(layers, ".".join(parts[:start] + parts[end:]), classes)
                if found:
                    return found
    return None


def alike(value: Any, first: Any) -> bool:
    """Whether ``value`` is ``first`` or a tensor of its rank and batch beside it."""
    if value is first:
        return True
    tensors = all(isinstance(t, torch.Tensor) for t in (value, first))
    return tensors and value.dim() == first.dim() > 2 and value.shape[0] == first.shape[0]


def map_layer(
    module: torch.nn.Module, model: torch.nn.Module, path: str, layers: dict, output: Any
) -> tuple[Fact | None, Fact | None]:
    """Layouts of a layer the facts did not follow (one in a module passed to the model):
    a layer that exists only on channels-last maps (a conv, a BatchNorm2d), or a torch
    Sequential of such layers, keeps its rank; so does an element of a Sequential the facts
    know takes and gives maps of one rank (timm's blocks, added under computed names) when it
    gives a tensor of that rank. A wrong guess only fails the layer's check."""
    rank = _map_rank(module)
    parent, _, _ = path.rpartition(".")
    known = layers.get(parent) if parent else None
    if rank is None and known and isinstance(model.get_submodule(parent), torch.nn.Sequential):
        ranks = {f.rank for f in known if f is not None and f.kind == MAP}
        if len(ranks) == 1 and all(f is not None and f.kind == MAP for f in known):
            rank = ranks.pop()
            rank = rank if isinstance(output, torch.Tensor) and output.dim() == rank else None
    return (None, None) if rank is None else (Fact(MAP, rank), Fact(MAP, rank))


def _map_rank(module: torch.nn.Module) -> int | None:
    """The map rank a torch layer (or a torch Sequential of such layers) exists on."""
    if type(module).__module__.split(".")[0] != "torch":
        return None
    if isinstance(module, torch.nn.Sequential):
        ranks = {_map_rank(child) for child in module}
        return ranks.pop() if len(ranks) == 1 and None not in ranks else None
    return {**_CONVS, **_MAP_LAYERS}.get(f"torch.nn.{type(module).__name__}")


def _repeated_path(path: str) -> str:
    """``layer1.*.conv1`` for ``layer1.0.conv1``: how the facts name the layers of a Sequential
    built in a loop (each element has the same layouts)."""
    return ".".join("*" if part.isdigit() else part for part in path.split("."))


def _matching(layers: dict[str, Any], path: str) -> Any:
    """The layouts under a path with ``*`` for names computed at run time
    (``features.*.*.norm1`` for ``features.denseblock1.denselayer1.norm1``), when only one
    such path matches (two differing ones would be a guess)."""
    parts = path.split(".")
    found = {
        key: value
        for key, value in layers.items()
        if "*" in key
        and len(key.split(".")) == len(parts)
        and all(k in ("*", p) for k, p in zip(key.split("."), parts, strict=True))
    }
    values = list(found.values())
    return values[0] if values and all(v == values[0] for v in values) else None
