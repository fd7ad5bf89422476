"""Layers the source builds where only the live model tells which: a layer class taken from a
registry (``conv_type = Conv[Conv.CONV, dims]``, then ``conv_type(...)``), a module added under
a name computed when built (``self.add_module(item, layers[item])``), a Sequential a method
builds recursively (a U-Net's ``_create_block``). Each is read off the live model's module
tree, over every instance of the class holding it (several: as the branches of an ``if``,
which must agree in layout); verification checks each such layer."""

from __future__ import annotations

import ast
from typing import Any

from torch2tf.names import installed_torch_object
from torch2tf.tensor_facts.built_layer import ALTERNATIVES, MODULE, _Layer
from torch2tf.tensor_facts.live import held_classes
from torch2tf.tensor_facts.project import is_project_class


def live_element(
    cls: str, key: str, keys: list[str], value: ast.expr, local: frozenset[str] = frozenset()
) -> _Layer | None:
    """The layer the live model's instances of ``cls`` hold under ``key`` (``*``: any name
    not among ``keys``), built by ``value``; None when no live model tells, or when one of
    them is neither a torch layer, a Sequential of known layers nor a project class (or one of
    the file's classes ``local``, by name)."""
    signatures = held_classes(cls, [key] if key != "*" else keys)
    made = [_from_signature(s, value, local) for s in sorted(signatures, key=repr)]
    if not made or None in made:
        return None
    return made[0] if len(made) == 1 else _Layer(ALTERNATIVES, value, list(made))


def _from_signature(signature: Any, value: ast.expr, local: frozenset[str]) -> _Layer | None:
    if isinstance(signature, tuple):  # a torch Sequential: its children in order
        elements = [_from_signature(c, value, local) for c in signature[1]]
        if None in elements:
            return None
        return _Layer("torch.nn.Sequential", _call(value, "Sequential"), elements)
    if signature.__module__.startswith("torch.nn."):
        qualified = f"torch.nn.{signature.__name__}"
        if installed_torch_object(qualified) is not signature:
            return None
        return _Layer(qualified, _call(value, signature.__name__))
    qualified = f"{signature.__module__}.{signature.__qualname__}"
    if is_project_class(qualified):
        return _Layer(MODULE, value, classes=(qualified,))
    if signature.__qualname__ in local:
        return _Layer(MODULE, value, classes=(signature.__qualname__,))
    return None


def _call(value: ast.expr, name: str) -> ast.Call:
    """A constructor call without arguments standing at ``value``: no argument is known."""
    return ast.copy_location(ast.Call(ast.Name(name), [], []), value)
