"""Reading Python's ``ast`` for the tensor facts: positions, names, literals, arguments."""

from __future__ import annotations

import ast

from torch2tf.tensor_facts.records import ArgRewrite, Key


def key_of(node: ast.AST, lines: list[str]) -> Key:
    def column(line: int, offset: int) -> int:  # ast counts UTF-8 bytes, LibCST characters
        text = lines[line - 1] if line - 1 < len(lines) else ""
        return len(text.encode("utf-8")[:offset].decode("utf-8", "replace"))

    return (
        node.lineno,
        column(node.lineno, node.col_offset),
        node.end_lineno,
        column(node.end_lineno, node.end_col_offset),
    )


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _self_attr(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.attr if node.value.id == "self" else None
    return None


def _literal(node: ast.AST | None, default=None):
    if node is None:
        return default
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return default


def _argument(call: ast.Call, name: str, index: int) -> tuple[ast.AST | None, ArgRewrite]:
    """The written argument for parameter ``name`` (positional ``index``), and where it is."""
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value, ArgRewrite(None, name, "")
    if index < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args):
        return call.args[index], ArgRewrite(index, None, "")
    return None, ArgRewrite(None, name, "")


def joined(node: ast.expr, names: set[str], qualify) -> ast.expr:
    """``torch.cat([x_e, up], dim=1)`` of one of ``names``, fed on to a layer: taken as that
    name (what the layer takes, every tensor joined is); else ``node`` itself."""
    if not (isinstance(node, ast.Call) and node.args):
        return node
    if qualify(_dotted(node.func) or "", node.func) not in ("torch.cat", "torch.concat"):
        return node
    listed = node.args[0]
    elements = listed.elts if isinstance(listed, (ast.List, ast.Tuple)) else []
    found = [e for e in elements if isinstance(e, ast.Name) and e.id in names]
    return found[0] if found else node
