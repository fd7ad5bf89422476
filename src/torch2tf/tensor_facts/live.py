"""What the live model holds, where its source leaves a choice to the values it was built
with: ``self.flatten = nn.Flatten(1) if flatten else nn.Identity()`` gives a map in one branch
and a flat tensor in the other, which no reading of the source can place. While a live model
is converted, where an attribute's branches give other layouts, its layer classes in the live
model (over every instance of the class holding it) decide which branch the facts follow; the
generated code keeps every branch, and the verification checks the one taken layer by layer.
Without a live model (``translate``) the source alone decides, and such branches are refused.
The same live classes tell the layer of ``self.bn2 = norm_layer(c)`` (a class passed in) to
init code, and the class of ``self.global_pool, self.fc = create_classifier(...)``.
Also read here: the layers each class's instances hold under each name (see live_built.py),
and whether the live model holds any instance of a torch class (a registry entry it never
builds is left out, raising if built: translation/left_out.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from torch2tf.names import installed_torch_object

_live: ContextVar[dict[tuple[str, str], frozenset[Any]] | None] = ContextVar(
    "live_layers", default=None
)
# (class, attribute) -> the output sizes the adaptive pools held there were built with
_sizes: ContextVar[dict[tuple[str, str], frozenset[Any]] | None] = ContextVar(
    "live_sizes", default=None
)
_classes: ContextVar[frozenset[type] | None] = ContextVar("live_classes", default=None)
_left_out: ContextVar[list[dict[str, Any]] | None] = ContextVar("left_out_values", default=None)


def _signature(module: Any) -> Any:
    """A module's class, with its children's for a Sequential (``(Sequential, (Conv2d, ...))``)."""
    if type(module).__name__ == "Sequential" and type(module).__module__.startswith("torch."):
        return (type(module), tuple(_signature(c) for c in module.children()))
    return type(module)


@contextmanager
def live_layers(model: Any) -> Iterator[None]:
    """Within this block, the layer classes ``model``'s modules hold, by (class, attribute)."""
    found: dict[tuple[str, str], set[Any]] = {}
    sizes: dict[tuple[str, str], set[Any]] = {}
    for module in model.modules():
        for name, child in module.named_children():
            key = (type(module).__name__, name)
            found.setdefault(key, set()).add(_signature(child))
            size = getattr(child, "output_size", None)
            if "Adaptive" in type(child).__name__:
                sizes.setdefault(key, set()).add(tuple(size) if isinstance(size, list) else size)
    token = _live.set({key: frozenset(types) for key, types in found.items()})
    sized = _sizes.set({key: frozenset(values) for key, values in sizes.items()})
    classes = _classes.set(frozenset(type(m) for m in model.modules()))
    try:
        yield
    finally:
        _classes.reset(classes)
        _sizes.reset(sized)
        _live.reset(token)


def held_output_size(cls: str, attr: str) -> Any:
    """The output size every adaptive pool the live model's instances of ``cls`` hold at
    ``attr`` was built with (``nn.AdaptiveAvgPool2d(output_size)``, a parameter), else None."""
    sizes = _sizes.get()
    values = None if sizes is None else sizes.get((cls, attr))
    return next(iter(values)) if values and len(values) == 1 else None


def constructs(qualified: str) -> bool | None:
    """Whether a module of the live model is an instance of the torch class ``qualified``
    (or of a subclass); None without a live model, or for a name that is not a module class."""
    classes = _classes.get()
    if classes is None or not is_module_class(qualified):
        return None
    found = installed_torch_object(qualified)
    return any(issubclass(c, found) for c in classes)


def is_module_class(qualified: str | None) -> bool:
    """Whether the torch name ``qualified`` is an ``nn.Module`` class of the installed torch."""
    found = installed_torch_object(qualified)
    if not isinstance(found, type):
        return False
    import torch

    return issubclass(found, torch.nn.Module)


@contextmanager
def left_out_values() -> Iterator[list[dict[str, Any]]]:
    """Within this block, the torch classes used as values that the translation left out
    (see :func:`leave_out_value`), each as a ``left_out`` entry of the report."""
    found: list[dict[str, Any]] = []
    token = _left_out.set(found)
    try:
        yield found
    finally:
        _left_out.reset(token)


def leave_out_value(entry: dict[str, Any]) -> None:
    """Notes a torch class used as a value that the translation left out."""
    found = _left_out.get()
    if found is not None and entry not in found:
        found.append(entry)


def _holds(layer: Any, types: frozenset[Any]) -> bool | None:
    """Whether ``layer`` (a ``_Layer``) is of one of the live ``types`` (signatures); None
    when not known."""
    if layer is None:
        return None
    classes = getattr(layer, "classes", ())
    if classes:
        names = {c.rpartition(".")[2] for c in classes}
        return any(_class_of(t).__name__ in names for t in types)
    if layer.qualified == "alternatives":  # branches of an if: any of them
        answers = [_holds(e, types) for e in layer.elements]
        return True if True in answers else (None if None in answers else False)
    if not layer.qualified.startswith("torch."):
        return None
    found = installed_torch_object(layer.qualified)
    if found is None:
        return None
    if layer.qualified == "torch.nn.Sequential" and not layer.repeated and not layer.keys:
        answers = [
            _elements_hold(layer.elements, t[1])
            for t in types
            if isinstance(t, tuple) and t[0] is found
        ]
        return True if True in answers else (None if None in answers else False)
    return any(_class_of(t) is found for t in types)


def _elements_hold(elements: Sequence[Any], children: tuple[Any, ...]) -> bool | None:
    if len(elements) != len(children):
        return False
    answers = [_holds(e, frozenset([c])) for e, c in zip(elements, children, strict=True)]
    return False if False in answers else (None if None in answers else True)


def _class_of(signature: Any) -> type:
    return signature[0] if isinstance(signature, tuple) else signature


def taken(cls: str, attr: str, elements: Sequence[Any]) -> list[Any]:
    """The ``elements`` (each branch's layer of ``cls.attr``) of the classes the live model
    holds there; all of them when no live model tells (or none would be left)."""
    live = _live.get()
    types = None if live is None else live.get((cls, attr))
    if not types:
        return list(elements)
    kept = [e for e in elements if e is not None and _holds(e, types) is not False]
    return kept or list(elements)


def held_classes(cls: str, keys: Sequence[str]) -> frozenset[Any]:
    """The classes (signatures) the live model's instances of ``cls`` hold under the names
    ``keys`` (``*``: any name not among the other keys); empty without a live model."""
    live = _live.get()
    if live is None:
        return frozenset()
    named = {k for k in keys if k != "*"}
    found: set[Any] = set()
    for (owner, name), types in live.items():
        if owner == cls and (name in named or ("*" in keys and name not in named)):
            found |= types
    return frozenset(found)


def never_holds(cls: str, key: str) -> bool:
    """Whether the live model holds instances of ``cls`` with children, none of them under
    ``key``: a layer added in a branch of ``__init__`` the model did not take."""
    live = _live.get()
    if live is None or key == "*":
        return False
    owned = {name for owner, name in live if owner == cls}
    return bool(owned) and key not in owned


def holds(cls: str, attr: str) -> bool:
    """Whether the live model's instances of ``cls`` hold a module at ``attr``."""
    live = _live.get()
    return live is not None and bool(live.get((cls, attr)))


def held_layer(cls: str, attr: str, names: Iterable[str]) -> str | None:
    """The one torch layer (of the qualified ``names``) the live model's instances of ``cls``
    hold at ``attr`` (``self.bn2 = norm_layer(c)``: ``torch.nn.BatchNorm2d``); None when no
    live model tells, or they hold several classes or another one."""
    held = held_class(cls, attr)
    found = [name for name in names if held and installed_torch_object(name) is held]
    return found[0] if len(found) == 1 else None


def held_class(cls: str, attr: str) -> type | None:
    """The one class the live model's instances of ``cls`` hold at ``attr``, if it tells."""
    live = _live.get()
    types = None if live is None else live.get((cls, attr))
    return _class_of(next(iter(types))) if types and len(types) == 1 else None


UNFOLLOWED = "is translated only where forward() applies it"  # a layer not followed, unless ran
UNFOLLOWED_END = (
    "directly (`self.conv(x)`, in an nn.Sequential attribute): elsewhere the tensor facts "
    "cannot place its maps",
    "construct it as an attribute in __init__ and call it in forward() (convert() also takes "
    "it where the live model's construction made it)",
)
# (resolved file, line) of each line the live model's construction and forward ran
_lines: ContextVar[frozenset[tuple[str, int]] | None] = ContextVar("live_lines", default=None)


@contextmanager
def lines_run(lines: frozenset[tuple[str, int]] | None) -> Iterator[None]:
    """Within this block, :func:`ran` answers from ``lines`` (see unused_code.UsedCode)."""
    token = _lines.set(lines)
    try:
        yield
    finally:
        _lines.reset(token)


def ran(path: str, key: tuple[int, ...]) -> set[tuple[int, ...]]:
    """``{key}`` when building or running the live model ran the line ``key[0]`` of ``path``
    (a layer constructed there is one the live model holds, which verification checks layer
    by layer), else nothing."""
    lines = _lines.get()
    if lines is None:
        return set()
    try:
        resolved = str(Path(path).resolve())
    except (OSError, ValueError):
        resolved = path
    return {key} if (resolved, key[0]) in lines else set()
