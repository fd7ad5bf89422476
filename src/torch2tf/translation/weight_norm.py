"""A weight-normalised layer in ``__init__``: ``self.fc = weight_norm(nn.Linear(...))`` or
``self.fc = weight_norm(self.fc)`` -> ``TorchWeightNorm(<the Keras layer>, dim=...)``.

torch recomputes ``weight`` from ``weight_g`` and ``weight_v`` before every forward, so init
code on ``weight`` after the wrapping changes nothing (it is left out); init of ``weight_v``
becomes the wrapped layer's kernel initializer (its kernel is v), of ``weight_g`` the wrapper's
``g_initializer``; ``self.fc.weight_g.requires_grad = flag`` sets the wrapper's ``g_trainable``.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from torch2tf.names import dotted
from torch2tf.rules.weight_norm import NAMES, WRAPPABLE
from torch2tf.translation.patterns import self_attr

WEIGHT_NORMS = frozenset(NAMES)


def wrapped_overrides(
    rewrite: Any, original: cst.Call, qualified: str, attr: str, created: int, direct: bool
) -> dict[str, str]:
    """The wrapped layer's initializer overrides; the wrapper's ``g`` one is kept on the class."""
    info = rewrite.cls
    wrapped_at = info.wrapped[attr][1]
    inner: dict[str, str] = {}
    v_after = False
    for step in info.init_steps:  # in __init__ order
        if step.position < created or not step.reaches(original, qualified, attr, direct):
            continue
        for param, source in step.params.items():
            if step.position <= wrapped_at or param == "bias":
                inner[param] = source  # before wrapping: g starts at the norm of this weight
            elif param == "weight_v":
                inner["weight"], v_after = source, True
            elif param == "weight_g":
                info.wrapped_g[attr] = source
            elif param != "weight":  # weight: recomputed from g and v at every forward
                inner[param] = source
    if v_after and attr not in info.wrapped_g:
        rewrite.error(
            info.wrapped[attr][0],
            "init of weight_v after weight_norm is not translated: torch keeps g at the norm "
            "of the weight before, another draw than v's",
            "initialise weight before weight_norm, or weight_g as well",
        )
    return inner


def wrapper_call(rewrite: Any, original: cst.Call, translated: cst.BaseExpression):
    """The translated ``weight_norm(...)`` with its ``g_initializer`` and its attribute's name."""
    info = rewrite.cls
    if not isinstance(translated, cst.Call) or not original.args or info is None:
        return translated
    inner = original.args[0].value
    layer = info.layers.get(self_attr(inner) or "")
    if isinstance(inner, cst.Call):
        layer = rewrite.imports.qualify(inner.func)
    if layer not in WRAPPABLE:
        what = layer or "a layer built elsewhere"
        rewrite.error(
            original,
            f"weight_norm of {what} is not translated: only around "
            f"{', '.join(sorted(WRAPPABLE))} built in __init__",
            "write self.x = weight_norm(nn.Linear(...)) (or nn.Conv1d/nn.Conv2d)",
        )
        return translated
    attr = next((a for a, (call, _) in info.wrapped.items() if call is original), None)
    extra = []
    if attr is not None and attr in info.wrapped_g:
        extra.append(_keyword("g_initializer", info.wrapped_g[attr]))
    if attr is not None:
        extra.append(_keyword("name", repr(attr)))
    return translated.with_changes(args=[*translated.args, *extra])


def _keyword(name: str, source: str) -> cst.Arg:
    return cst.Arg(cst.parse_expression(source), keyword=cst.Name(name))


def g_trainable(info: Any, line: cst.SimpleStatementLine) -> cst.SimpleStatementLine | None:
    """``self.fc.weight_g.requires_grad = flag`` -> ``self.fc.g_trainable = flag``."""
    if info is None or len(line.body) != 1 or not isinstance(line.body[0], cst.Assign):
        return None
    assign = line.body[0]
    if len(assign.targets) != 1:
        return None
    parts = (dotted(assign.targets[0].target) or "").split(".")
    if len(parts) != 4 or parts[0] != "self" or parts[1] not in info.wrapped:
        return None
    if parts[2:] != ["weight_g", "requires_grad"]:
        return None
    target = cst.parse_expression(f"self.{parts[1]}.g_trainable")
    return line.with_changes(body=[assign.with_changes(targets=[cst.AssignTarget(target)])])
