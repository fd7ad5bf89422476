"""Attributes ``__init__`` sets with ``setattr(self, name, layer)``: their names, where the
source fixes them (``for name, ... in zip(stage_names, ...)``, ``stage_names`` a list of
literals or a comprehension of f-strings over one)."""

from __future__ import annotations

import ast

# nodes of an expression that evaluates to strings from literals alone
_LITERAL = (
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.ListComp,
    ast.comprehension,
    ast.JoinedStr,
    ast.FormattedValue,
    ast.BinOp,
    ast.Name,
    ast.expr_context,
    ast.operator,
)


def setattr_calls(init: ast.FunctionDef) -> list[tuple[ast.Call, list[str] | None]]:
    """Each ``setattr(self, name, value)`` of ``init`` with the names it sets (None when the
    source does not fix them)."""
    found = []
    for node in ast.walk(init):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) == 3
            and not node.keywords
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "self"
        ):
            found.append((node, _names(node.args[1], node, init)))
    return found


def _names(name: ast.expr, call: ast.Call, init: ast.FunctionDef) -> list[str] | None:
    if isinstance(name, ast.Constant) and isinstance(name.value, str):
        return [name.value]
    if not isinstance(name, ast.Name):
        return None
    loops = [
        loop
        for loop in ast.walk(init)
        if isinstance(loop, ast.For) and any(n is call for n in ast.walk(loop))
    ]
    for loop in loops:
        iterable, target = loop.iter, loop.target
        if isinstance(target, ast.Name) and target.id == name.id:
            return _strings(iterable, init)
        if not isinstance(target, ast.Tuple):
            continue
        index = next(
            (i for i, t in enumerate(target.elts) if isinstance(t, ast.Name) and t.id == name.id),
            None,
        )
        if index is None:
            continue
        if not (
            isinstance(iterable, ast.Call)
            and isinstance(iterable.func, ast.Name)
            and iterable.func.id == "zip"
            and len(iterable.args) == len(target.elts)
        ):
            return None
        return _strings(iterable.args[index], init)
    return None


def _strings(node: ast.expr, init: ast.FunctionDef, depth: int = 0) -> list[str] | None:
    """The strings a literal expression (or a local name assigned one once) evaluates to."""
    if isinstance(node, ast.Name) and depth < 4:
        values = [
            n.value
            for n in ast.walk(init)
            if isinstance(n, ast.Assign)
            and len(n.targets) == 1
            and isinstance(n.targets[0], ast.Name)
            and n.targets[0].id == node.id
        ]
        return _strings(values[0], init, depth + 1) if len(values) == 1 else None
    bound = {
        t.id
        for c in ast.walk(node)
        if isinstance(c, ast.comprehension)
        for t in ast.walk(c.target)
        if isinstance(t, ast.Name)
    }
    for child in ast.walk(node):
        if not isinstance(child, _LITERAL):
            return None
        if isinstance(child, ast.Name) and child.id not in bound:
            return None
    try:  # literals only (checked above): nothing to run but the expression itself
        value = eval(compile(ast.Expression(node), "<names>", "eval"), {"__builtins__": {}})
    except Exception:  # noqa: BLE001 - a literal that does not evaluate: not known
        return None
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    return None
