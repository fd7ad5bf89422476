"""Scans of a class or file in Python's ``ast`` for the names it binds and uses. (These run once
per class, and ``ast`` walks a tree far faster than LibCST.)"""

from __future__ import annotations

import ast


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
