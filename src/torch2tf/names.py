"""Resolve local names to fully qualified torch names, following the file's own imports.

Rules are keyed by qualified names (``torch.nn.Linear``), never by spelling, so
``nn.Linear``, ``torch.nn.Linear`` and ``from torch.nn import Linear as L`` all match.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from typing import Any

import libcst as cst

from torch2tf.parsed import identity_if_unchanged

# Public re-exports that users reach through their defining module.
# torch's layer classes live in torch.nn.modules.<file>; packages name them there too
# (``nn.modules.ELU``, ``torch.nn.modules.activation.ReLU``): read as their public torch.nn name.
_MODULES = "torch.nn.modules."
_CANONICAL_PREFIXES = {"torch.nn.parameter.": "torch.nn."}


def canonical(full: str) -> str:
    """The public name of a torch name: ``torch.nn.ReLU`` for ``torch.nn.modules.ReLU`` and
    ``torch.nn.modules.activation.ReLU``."""
    if full.startswith(_MODULES):
        parts = full[len(_MODULES) :].split(".")
        if parts[0].islower():  # the file: activation, linear, ...
            if len(parts) == 1:
                return full  # the file itself
            parts = parts[1:]
        return "torch.nn." + ".".join(parts)
    for prefix, public in _CANONICAL_PREFIXES.items():
        if full.startswith(prefix):
            return public + full[len(prefix) :]
    return full


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted(node.value)
        return None if head is None else f"{head}.{node.attr.value}"
    return None


def _module_name(node: cst.BaseExpression) -> str:
    name = dotted(node)
    assert name is not None, "import targets are always dotted names"
    return name


class ImportTable:
    """Maps each name bound by an import to the qualified name it refers to."""

    def __init__(self, package: str | None = None) -> None:
        self.aliases: dict[str, str] = {}
        self.package = package  # resolves relative imports when the file's package is known
        self.stars: list[str] = []  # the modules of `from X import *`, in order
        # What a reference means where the top-level table does not say it: the head name of a
        # reference -> the qualified name an import binds there, or None (a local, no import).
        # Keyed by the LibCST node and by (line, UTF-8 column) for the ``ast`` passes; filled
        # by scopes.resolve_scopes for the file being translated.
        self.scoped: Mapping[cst.Name, str | None] = {}
        self.scoped_at: Mapping[tuple[int, int], str | None] = {}
        self.nested_torch = False  # whether a function or class imports torch

    @classmethod
    def of(
        cls,
        module: cst.Module,
        package: str | None = None,
        starred: Iterable[tuple[str, str]] = (),
    ) -> ImportTable:
        """The table of ``module``'s top-level imports; ``starred``: (name, qualified name) of
        what its star imports bind (another file's imports and definitions), where it does not
        bind the name itself. Names bound inside functions and classes (parameters, locals,
        imports there) are read by :mod:`torch2tf.scopes` into :attr:`scoped`."""
        table = cls(package)
        for stmt in module.body:
            # try: import torch / except ImportError: ... binds the names of the try body
            body = stmt.body.body if isinstance(stmt, cst.Try) else [stmt]
            for line in body:
                if isinstance(line, cst.SimpleStatementLine):
                    for small in line.body:
                        table.add(small)
        for name, qualified in starred:
            table.aliases.setdefault(name, qualified)
        return table

    def add(self, node: cst.BaseSmallStatement) -> None:
        if isinstance(node, cst.ImportFrom) and isinstance(node.names, cst.ImportStar):
            base = self._from_base(node)
            if base is not None:
                self.stars.append(base)
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            self.aliases.update(self.bindings(node))

    def bindings(self, node: cst.Import | cst.ImportFrom) -> list[tuple[str, str]]:
        """(local name, qualified name) of what an import binds (relative imports resolved
        against the file's package; none for ``*`` or a relative import of an unknown
        package)."""
        if isinstance(node, cst.Import):
            found = []
            for alias in node.names:
                full = _module_name(alias.name)
                if alias.asname is not None:
                    found.append((_module_name(alias.asname.name), full))
                else:
                    top = full.split(".")[0]
                    found.append((top, top))
            return found
        base = self._from_base(node)
        if base is None or isinstance(node.names, cst.ImportStar):
            return []
        return [
            (
                _module_name(a.asname.name) if a.asname else _module_name(a.name),
                f"{base}.{_module_name(a.name)}",
            )
            for a in node.names
        ]

    def _from_base(self, node: cst.ImportFrom) -> str | None:
        module = _module_name(node.module) if node.module is not None else ""
        if not node.relative:
            return module
        if self.package is None:
            return None
        parts = self.package.split(".") if self.package else []
        up = len(node.relative) - 1
        if up > len(parts):
            return None
        anchor = ".".join(parts[: len(parts) - up])
        return ".".join(p for p in (anchor, module) if p)

    def qualify(self, node: cst.BaseExpression) -> str | None:
        """Qualified name of an expression such as ``nn.Linear`` (or ``getattr(nn, "Linear")``);
        None if not imported (or, for a node of the file's own tree, if a local shadows it)."""
        if isinstance(node, cst.Call) and dotted(node.func) == "getattr" and len(node.args) == 2:
            owner, attr = (a.value for a in node.args)
            qualified = self.qualify(owner)
            if qualified and isinstance(attr, cst.SimpleString) and not node.args[1].keyword:
                return f"{qualified}.{attr.evaluated_value}"
            return None
        name = dotted(node)
        if name is None:
            return None
        head = node
        while isinstance(head, cst.Attribute):
            head = head.value
        return self._qualified(name, self.scoped.get(head, _TOP))  # type: ignore[arg-type]

    def qualify_name(self, name: str, node: ast.AST | None = None) -> str | None:
        """Qualified name of a dotted name such as ``"nn.Linear"``; None if not imported.
        ``node``: the ``ast`` expression it was read from, where a local may shadow it."""
        target: str | None | object = _TOP
        if node is not None and self.scoped_at:
            while isinstance(node, ast.Attribute):
                node = node.value
            if isinstance(node, ast.Name):
                target = self.scoped_at.get((node.lineno, node.col_offset), _TOP)
        return self._qualified(name, target)

    def _qualified(self, name: str, target: str | None | object) -> str | None:
        head, _, rest = name.partition(".")
        if target is _TOP:
            target = self.aliases.get(head)
        if target is None:
            return None
        return canonical(f"{target}.{rest}" if rest else str(target))

    def is_torch(self, local: str) -> bool:
        """Whether the top level imports ``local`` from torch."""
        target = self.aliases.get(local)
        return target is not None and is_torch_name(target)

    def is_torch_reference(self, node: cst.Name) -> bool:
        """Whether the name ``node`` (of the file's own tree) means a torch import there."""
        target = self.scoped.get(node, _TOP)
        if target is _TOP:
            return self.is_torch(node.value)
        return target is not None and is_torch_name(str(target))


_TOP = object()  # no scoped entry: the top-level table decides


def is_torch_name(name: str) -> bool:
    return name == "torch" or name.startswith("torch.")


def code_of(node: cst.CSTNode) -> str:
    """Source text of one node (of any tree, original or rewritten)."""
    return cst.Module(body=[]).code_for_node(node)


def is_docstring(stmt: cst.CSTNode) -> bool:
    """A statement that is a lone string literal."""
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def drop_imports(module: cst.Module, names: set[str], nested_torch: bool = False) -> cst.Module:
    """Remove the imports that bind ``names`` (and statements left empty by that); with
    ``nested_torch``, also the imports of torch inside functions and classes (whose names the
    translation read scope by scope)."""
    if not names and not nested_torch:
        return module

    def bound(alias: cst.ImportAlias, is_from: bool) -> str:
        if alias.asname is not None:
            return dotted(alias.asname.name) or ""
        name = dotted(alias.name) or ""
        return name if is_from else name.split(".")[0]

    def dropped(small: cst.Import | cst.ImportFrom, alias: cst.ImportAlias, nested: bool) -> bool:
        is_from = isinstance(small, cst.ImportFrom)
        if bound(alias, is_from) in names:
            return True
        if not (nested and nested_torch) or (is_from and small.relative):
            return False
        imported = small.module if isinstance(small, cst.ImportFrom) else alias.name
        return imported is not None and is_torch_name(dotted(imported) or "")

    class Drop(cst.CSTTransformer):
        depth = 0  # functions and classes around the visit

        def on_leave(self, original, updated):
            # untouched statements stay the same objects: their code is not generated again
            left = super().on_leave(original, updated)
            return identity_if_unchanged(original, left) if left is updated else left

        def visit_FunctionDef(self, node) -> None:
            self.depth += 1

        def leave_FunctionDef(self, original, updated):
            self.depth -= 1
            return updated

        def visit_ClassDef(self, node) -> None:
            self.depth += 1

        def leave_ClassDef(self, original, updated):
            self.depth -= 1
            return updated

        def visit_SimpleStatementLine(self, node) -> bool:
            return False  # imports are whole small statements: nothing inside to visit

        def visit_Decorator(self, node) -> bool:
            return False

        def visit_Parameters(self, node) -> bool:
            return False

        def leave_SimpleStatementLine(self, original, updated):
            kept = []
            for small in updated.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(
                    small.names, cst.ImportStar
                ):
                    nested = self.depth > 0
                    aliases = [a for a in small.names if not dropped(small, a, nested)]
                    if not aliases:
                        continue
                    if len(aliases) != len(small.names):
                        aliases[-1] = aliases[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                        small = small.with_changes(names=aliases)
                kept.append(small)
            if not kept:
                return cst.RemoveFromParent()
            return updated.with_changes(body=kept)

        def leave_IndentedBlock(self, original, updated):
            if not updated.body:  # the block held nothing but imports
                return updated.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
            first = updated.body[0]
            if first is original.body[0] or not hasattr(first, "leading_lines"):
                return updated
            # the block's first line went: no blank line left at the top of the block
            lines = [line for line in first.leading_lines if line.comment is not None]
            return updated.with_changes(
                body=[first.with_changes(leading_lines=lines), *updated.body[1:]]
            )

    return module.visit(Drop())


def paren(source: str) -> str:
    """``source`` wrapped in parentheses unless it is already atomic (a name, number,
    attribute, call, subscript, list, or anything parenthesised)."""
    try:
        node = cst.parse_expression(source)
    except cst.ParserSyntaxError:
        return f"({source})"
    atoms = (cst.Name, cst.Integer, cst.Float, cst.Attribute, cst.Call, cst.Subscript, cst.List)
    if isinstance(node, atoms) or node.lpar:
        return source
    return f"({source})"


def installed_torch_object(qualified: str | None) -> Any:
    """The object of the installed torch that the qualified torch name ``qualified`` names (a
    module, class or function; submodules imported as needed), or None. Only where torch
    itself decides: the answer to a check of what torch provides, a live model's classes."""
    if qualified is None or not is_torch_name(qualified):
        return None
    import importlib

    parts = qualified.split(".")
    try:
        found: Any = importlib.import_module(parts[0])
    except ImportError:
        return None
    for index, part in enumerate(parts[1:], start=1):
        if hasattr(found, part):
            found = getattr(found, part)
            continue
        try:  # a submodule not imported by its package
            found = importlib.import_module(".".join(parts[: index + 1]))
        except ImportError:
            return None
    return found
