"""The layers a ``ModuleList``/``Sequential`` holds, followed through the local lists of
``__init__``."""

from __future__ import annotations

import libcst as cst

from torch2tf.names import dotted


def members(container: cst.Call, init: cst.FunctionDef, qualify) -> list[cst.Call] | None:
    """The constructions that become the direct elements of ``nn.ModuleList([...])`` or
    ``nn.Sequential(...)``: followed through list literals, comprehensions, ``*args`` and the
    local lists of ``__init__`` they come from (``layers.append(nn.Linear(...))``). None when
    an element is not a construction this file shows."""
    is_sequential = qualify(container.func) == "torch.nn.Sequential"
    args = [a for a in container.args if a.keyword is None]
    if qualify(container.func) == "torch.nn.ModuleList":
        values = [a.value for a in args]
    elif (
        len(args) == 1
        and isinstance(args[0].value, cst.Call)
        and qualify(args[0].value.func) in ("collections.OrderedDict", "OrderedDict")
    ):
        inner = args[0].value.args
        if len(inner) != 1:
            return None
        return _elements(inner[0].value, init, qualify, pairs=True)
    else:
        values = [a.value for a in args]
    found: list[cst.Call] = []
    for value in values:
        star = next(a.star for a in args if a.value is value)
        if is_sequential and not star:
            if not isinstance(value, cst.Call):
                return None
            found.append(value)
            continue
        elements = _elements(value, init, qualify, pairs=False)
        if elements is None:
            return None
        found += elements
    return found


def _elements(node, init: cst.FunctionDef, qualify, pairs: bool) -> list[cst.Call] | None:
    """Constructions that are elements of the sequence ``node`` (``(key, layer)`` pairs when
    ``pairs``)."""

    def element(value) -> list[cst.Call] | None:
        if pairs:
            if not (isinstance(value, cst.Tuple) and len(value.elements) == 2):
                return None
            value = value.elements[1].value
        return [value] if isinstance(value, cst.Call) and dotted(value.func) else None

    if isinstance(node, (cst.List, cst.Tuple)):
        found = []
        for e in node.elements:
            if isinstance(e, cst.StarredElement):
                inner = _elements(e.value, init, qualify, pairs)
            else:
                inner = element(e.value)
            if inner is None:
                return None
            found += inner
        return found
    if isinstance(node, (cst.ListComp, cst.GeneratorExp)):
        return element(node.elt)
    if isinstance(node, cst.Name):
        return _local_list(node.value, init, qualify, pairs)
    return None


def _local_list(name: str, init: cst.FunctionDef, qualify, pairs: bool) -> list[cst.Call] | None:
    """Elements put into the local list ``name`` anywhere in __init__."""
    found: list[cst.Call] = []
    unknown = False

    class Uses(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            nonlocal unknown
            if any(dotted(t.target) == name for t in node.targets):
                inner = _elements(node.value, init, qualify, pairs)
                unknown |= inner is None
                found.extend(inner or [])

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            nonlocal unknown
            if dotted(node.target) == name:
                inner = _elements(node.value, init, qualify, pairs)
                unknown |= inner is None or not isinstance(node.operator, cst.AddAssign)
                found.extend(inner or [])

        def visit_Call(self, node: cst.Call) -> None:
            nonlocal unknown
            func = node.func
            if not (isinstance(func, cst.Attribute) and dotted(func.value) == name):
                return
            method = func.attr.value
            values = [a.value for a in node.args]
            if method == "append" and len(values) == 1:
                inner = _elements(cst.List([cst.Element(values[0])]), init, qualify, pairs)
            elif method == "extend" and len(values) == 1:
                inner = _elements(values[0], init, qualify, pairs)
            elif method == "insert" and len(values) == 2:
                inner = _elements(cst.List([cst.Element(values[1])]), init, qualify, pairs)
            else:
                inner = None
            unknown |= inner is None
            found.extend(inner or [])

    init.body.visit(Uses())
    return None if unknown else found


def local_members(name: str, init: cst.FunctionDef, qualify) -> list[cst.Call] | None:
    """The constructions put into the local list ``name`` of ``__init__``; None if unknown."""
    return _local_list(name, init, qualify, pairs=False)
