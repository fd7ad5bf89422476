"""Scans of a class or file in Python's ``ast`` for the names it binds and uses. (These run once
per class, and ``ast`` walks a tree far faster than LibCST.)"""

from __future__ import annotations

import ast
from collections.abc import Callable

import libcst as cst

from torch2tf.names import dotted


def assignment_targets(tree: ast.AST) -> list[ast.expr]:
    """Every assignment and for-loop target in ``tree``, tuples unpacked."""
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            stack = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
            stack = [node.target]
        else:
            continue
        while stack:
            target = stack.pop()
            if isinstance(target, (ast.Tuple, ast.List)):
                stack.extend(target.elts)
            else:
                found.append(target)
    return found


def assigned_names(tree: ast.AST) -> set[str]:
    """Names (re)bound anywhere in ``tree``."""
    return {t.id for t in assignment_targets(tree) if isinstance(t, ast.Name)}


def assigned_self_attributes(tree: ast.AST) -> set[str]:
    """Every ``x`` assigned as ``self.x = ...`` in ``tree``."""
    return {
        t.attr
        for t in assignment_targets(tree)
        if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
    }


def local_names(tree: ast.AST) -> set[str]:
    """Names assigned anywhere in ``tree`` (parameters excluded)."""
    return {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }


def name_uses(tree: ast.Module, name: str) -> int:
    return sum(isinstance(n, ast.Name) and n.id == name for n in ast.walk(tree))


def function_attributes(tree: ast.AST, is_function: Callable[[ast.expr], bool]) -> set[str]:
    """Every ``x`` of ``self.x = ...`` whose every assignment is a function value (a lambda,
    or what ``is_function`` accepts; both branches of a conditional): called without
    ``training=``, which a plain function does not take."""
    found: dict[str, bool] = {}
    init = next(
        (
            f
            for f in getattr(tree, "body", ())
            if isinstance(f, ast.FunctionDef) and f.name == "__init__"
        ),
        None,
    )
    defaults = _defaults(init) if init is not None else {}

    def function_valued(value: ast.expr) -> bool:
        if isinstance(value, ast.IfExp):
            return function_valued(value.body) and function_valued(value.orelse)
        if isinstance(value, ast.Name) and value.id in defaults:  # activation=F.relu
            return function_valued(defaults[value.id])
        return isinstance(value, ast.Lambda) or is_function(value)

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            pairs = [(t, node.value) for t in node.targets]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            pairs = [(node.target, node.value)]
        elif isinstance(node, (ast.AugAssign, ast.For, ast.AsyncFor)):
            pairs = [(node.target, None)]
        else:
            continue
        for target, value in pairs:
            if isinstance(target, ast.Attribute) and dotted_ast(target.value) == "self":
                valued = value is not None and function_valued(value)
                found[target.attr] = found.get(target.attr, True) and valued
            elif isinstance(target, (ast.Tuple, ast.List)):  # unpacked: not followed
                for element in ast.walk(target):
                    if isinstance(element, ast.Attribute):
                        found[element.attr] = False
    return {name for name, valued in found.items() if valued}


def _defaults(func: ast.FunctionDef) -> dict[str, ast.expr]:
    """Each parameter of ``func`` with a default -> the default."""
    args = func.args
    positional = [*args.posonlyargs, *args.args]
    found = dict(
        zip(
            [a.arg for a in positional[len(positional) - len(args.defaults) :]],
            args.defaults,
            strict=True,
        )
    )
    found.update((a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d)
    return found


def dotted_ast(node: ast.expr) -> str | None:
    """``a.b.c`` of a Name/Attribute chain, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = dotted_ast(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


def defined_names(module: cst.Module) -> set[str]:
    """The names a module's top-level classes, functions and plain assignments bind."""
    names = set()
    for stmt in module.body:
        if isinstance(stmt, (cst.ClassDef, cst.FunctionDef)):
            names.add(stmt.name.value)
        elif isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                targets = small.targets if isinstance(small, cst.Assign) else []
                names |= {t.target.value for t in targets if isinstance(t.target, cst.Name)}
    return names


def dunder_all(module: cst.Module) -> set[str] | None:
    """A module's literal ``__all__`` list or tuple of strings, else None."""
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if (
                    isinstance(small, cst.Assign)
                    and dotted(small.targets[0].target) == "__all__"
                    and isinstance(small.value, (cst.List, cst.Tuple))
                ):
                    return {
                        e.value.evaluated_value
                        for e in small.value.elements
                        if isinstance(e.value, cst.SimpleString)
                    }
    return None
