"""What the live model holds, where its source leaves a choice to the values it was built
with: ``self.flatten = nn.Flatten(1) if flatten else nn.Identity()`` gives a map in one branch
and a flat tensor in the other, which no reading of the source can place. While a live model
is converted, where an attribute's branches give other layouts, its layer classes in the live
model (over every instance of the class holding it) decide which branch the facts follow; the
generated code keeps every branch, and the verification checks the one taken layer by layer.
Without a live model (``translate``) the source alone decides, and such branches are refused.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_live: ContextVar[dict[tuple[str, str], frozenset[type]] | None] = ContextVar(
    "live_layers", default=None
)


@contextmanager
def live_layers(model: Any) -> Iterator[None]:
    """Within this block, the layer classes ``model``'s modules hold, by (class, attribute)."""
    found: dict[tuple[str, str], set[type]] = {}
    for module in model.modules():
        for name, child in module.named_children():
            found.setdefault((type(module).__name__, name), set()).add(type(child))
    token = _live.set({key: frozenset(types) for key, types in found.items()})
    try:
        yield
    finally:
        _live.reset(token)


def _torch_class(qualified: str) -> Any:
    module, _, name = qualified.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def _holds(layer: Any, types: frozenset[type]) -> bool | None:
    """Whether ``layer`` (a ``_Layer``) is of one of ``types``; None when not known."""
    classes = getattr(layer, "classes", ())
    if classes:
        names = {c.rpartition(".")[2] for c in classes}
        return any(t.__name__ in names for t in types)
    if not layer.qualified.startswith("torch."):
        return None
    found = _torch_class(layer.qualified)
    return None if found is None else any(t is found for t in types)


def taken(cls: str, attr: str, elements: Sequence[Any]) -> list[Any]:
    """The ``elements`` (each branch's layer of ``cls.attr``) of the classes the live model
    holds there; all of them when no live model tells (or none would be left)."""
    live = _live.get()
    types = None if live is None else live.get((cls, attr))
    if not types:
        return list(elements)
    kept = [e for e in elements if e is not None and _holds(e, types) is not False]
    return kept or list(elements)


def holds(cls: str, attr: str) -> bool:
    """Whether the live model's instances of ``cls`` hold a module at ``attr``."""
    live = _live.get()
    return live is not None and bool(live.get((cls, attr)))
