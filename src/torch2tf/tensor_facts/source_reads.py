"""What the class pass reads of a class's source beside its forward: the torch layer an
attribute holds, modules and layer classes passed to ``__init__``, local names holding an
input, a base class in another file, classes a file assigns to names, tuple targets."""

from __future__ import annotations

import ast

from torch2tf.tensor_facts.builders import ALTERNATIVES, _Layer
from torch2tf.tensor_facts.live import held_class
from torch2tf.tensor_facts.project import is_project_class
from torch2tf.tensor_facts.syntax import _dotted, _self_attr


def _held(layer: _Layer) -> str:
    """The torch layer an attribute holds: the one of every branch that assigns it."""
    if layer.qualified != ALTERNATIVES:
        return layer.qualified
    held = {_held(e) for e in layer.elements if e is not None}
    return held.pop() if len(held) == 1 else ALTERNATIVES


def _module_parameters(init: ast.FunctionDef) -> set[str]:
    """Parameters of __init__ annotated as a module (``Optional[nn.Module]``): modules passed in."""
    args = init.args
    return {
        a.arg
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]
        if a.annotation is not None
        and "Module" in ast.unparse(a.annotation)
        and not any(k in ast.unparse(a.annotation) for k in ("Callable", "type[", "Type["))
    }


_JOINS = ("torch.cat", "torch.concat")
_NOT_DECIDING = (*_JOINS, "torch.jit.isinstance")


_KEEPDIM_REDUCTIONS = frozenset({"mean", "sum", "amax", "amin"})


def _kept_rank(value: ast.expr) -> ast.expr:
    """``x`` for ``x.mean(dims, keepdim=True)``: a map of x's rank and layout (timm's
    squeeze-excitation, ``x_se = x.mean((2, 3), keepdim=True)``, then a conv), else ``value``."""
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr in _KEEPDIM_REDUCTIONS
        and any(
            k.arg == "keepdim" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in value.keywords
        )
    ):
        return value.func.value
    return value


def _holding(func: ast.FunctionDef, param: str, qualify) -> set[str]:
    """Local names of ``func`` holding ``param``: assigned it, a list or tuple of it, a
    ``torch.cat`` of those (``features = [x]``, ``y = torch.cat(features, 1)``), or a
    reduction of it keeping its dims."""
    names = {param}
    assigns = sorted(
        (n for n in ast.walk(func) if isinstance(n, ast.Assign) and len(n.targets) == 1),
        key=lambda n: (n.lineno, n.col_offset),
    )
    for node in assigns:
        value, target = node.value, node.targets[0]
        if isinstance(value, ast.Call) and qualify(_dotted(value.func) or "", value.func) in _JOINS:
            value = value.args[0] if value.args else value
        if isinstance(value, (ast.List, ast.Tuple)) and len(value.elts) == 1:
            value = value.elts[0]
        value = _kept_rank(value)
        if isinstance(value, ast.Name) and value.id in names and isinstance(target, ast.Name):
            names.add(target.id)
    return names - {param}


def _calls_parameter(node: ast.AST, init: ast.FunctionDef | None) -> bool:
    """``activation()``: a call of a parameter of ``__init__`` (a layer class passed in)."""
    if init is None or not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return False
    args = init.args
    return node.func.id in {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}


def _other_file_base(cls: ast.ClassDef, qualify) -> str | None:
    """The one base class of ``cls`` that is a project class of another file, if any."""
    found = [qualify(_dotted(b) or "", b) for b in cls.bases]
    found = [q for q in found if is_project_class(q)]
    return found[0] if len(found) == 1 and len(cls.bases) == 1 else None


def _held_classes(tree: ast.Module, classes: set[str]) -> dict[str, set[str]]:
    """Name or attribute -> the module classes of the file assigned to it anywhere
    (``block = MBConv`` in a config class): what ``cnf.block(...)`` may construct."""
    held: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
            if node.value.id not in classes:
                continue
            for target in node.targets:
                name = getattr(target, "id", None) or getattr(target, "attr", None)
                if name is not None:
                    held.setdefault(name, set()).add(node.value.id)
    return held


def _unpacked(target: ast.expr, cls: str) -> list[tuple[str, str]]:
    """(attribute, project class) of each ``self.<attribute>`` of a tuple target whose class
    the live model tells (the one its instances of ``cls`` hold there): the static reading
    does not follow tuples a function returns (timm's ``create_classifier``)."""
    found = []
    for element in target.elts if isinstance(target, ast.Tuple) else ():
        attr = _self_attr(element)
        held = held_class(cls, attr) if attr is not None else None
        qualified = f"{held.__module__}.{held.__qualname__}" if held is not None else None
        if qualified is not None and is_project_class(qualified):
            found.append((attr, qualified))
    return found
