"""Resolve local names to fully qualified torch names, following the file's own imports.

Rules are keyed by qualified names (``torch.nn.Linear``), never by spelling, so
``nn.Linear``, ``torch.nn.Linear`` and ``from torch.nn import Linear as L`` all match.
"""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst

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

    @classmethod
    def of(
        cls,
        module: cst.Module,
        package: str | None = None,
        starred: Iterable[tuple[str, str]] = (),
    ) -> ImportTable:
        """The table of ``module``'s imports; ``starred``: (name, qualified name) of what its
        star imports bind (another file's imports and definitions), where it does not bind
        the name itself."""
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
        # torch imported inside a function or class (a lazy import): the name it binds means
        # that module wherever the file uses it, unless the top level binds it otherwise
        # (foreign.local_torch_imports refuses those)
        for local, qualified in local_torch_bindings(module):
            table.aliases.setdefault(local, qualified)
        return table

    def add(self, node: cst.BaseSmallStatement) -> None:
        if isinstance(node, cst.Import):
            for alias in node.names:
                full = _module_name(alias.name)
                if alias.asname is not None:
                    self.aliases[_module_name(alias.asname.name)] = full
                else:
                    top = full.split(".")[0]
                    self.aliases[top] = top
        elif isinstance(node, cst.ImportFrom):
            base = self._from_base(node)
            if base is not None and isinstance(node.names, cst.ImportStar):
                self.stars.append(base)
            if base is None or isinstance(node.names, cst.ImportStar):
                return
            for alias in node.names:
                name = _module_name(alias.name)
                local = _module_name(alias.asname.name) if alias.asname else name
                self.aliases[local] = f"{base}.{name}"

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
        None if not imported."""
        if isinstance(node, cst.Call) and dotted(node.func) == "getattr" and len(node.args) == 2:
            owner, attr = (a.value for a in node.args)
            qualified = self.qualify(owner)
            if qualified and isinstance(attr, cst.SimpleString) and not node.args[1].keyword:
                return f"{qualified}.{attr.evaluated_value}"
            return None
        name = dotted(node)
        return None if name is None else self.qualify_name(name)

    def qualify_name(self, name: str) -> str | None:
        """Qualified name of a dotted name such as ``"nn.Linear"``; None if not imported."""
        head, _, rest = name.partition(".")
        if head not in self.aliases:
            return None
        return canonical(self.aliases[head] + ("." + rest if rest else ""))

    def is_torch(self, local: str) -> bool:
        target = self.aliases.get(local)
        return target is not None and (target == "torch" or target.startswith("torch."))


def import_bindings(node: cst.Import | cst.ImportFrom) -> list[tuple[str, str]]:
    """(local name, qualified name) of what an absolute import binds (none for ``*``)."""
    if isinstance(node, cst.Import):
        found = []
        for alias in node.names:
            full = _module_name(alias.name)
            if alias.asname is not None:
                found.append((_module_name(alias.asname.name), full))
            else:
                found.append((full.split(".")[0], full.split(".")[0]))
        return found
    if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
        return []
    base = _module_name(node.module)
    return [
        (
            _module_name(a.asname.name) if a.asname else _module_name(a.name),
            f"{base}.{_module_name(a.name)}",
        )
        for a in node.names
    ]


def is_torch_name(name: str) -> bool:
    return name == "torch" or name.startswith("torch.")


def local_torch_bindings(module: cst.Module) -> list[tuple[str, str]]:
    """(local name, qualified name) bound by torch imports inside functions and classes."""
    found: list[tuple[str, str]] = []

    class Imports(cst.CSTVisitor):
        depth = 0

        def visit_FunctionDef(self, node) -> None:
            self.depth += 1

        def leave_FunctionDef(self, node) -> None:
            self.depth -= 1

        def visit_ClassDef(self, node) -> None:
            self.depth += 1

        def leave_ClassDef(self, node) -> None:
            self.depth -= 1

        def visit_Import(self, node: cst.Import) -> None:
            self._add(node)

        def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
            self._add(node)

        def _add(self, node: cst.Import | cst.ImportFrom) -> None:
            if self.depth:
                found.extend(b for b in import_bindings(node) if is_torch_name(b[1]))

    module.visit(Imports())
    return found


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


def drop_imports(module: cst.Module, names: set[str]) -> cst.Module:
    """Remove the imports that bind ``names`` (and statements left empty by that)."""
    if not names:
        return module

    def bound(alias: cst.ImportAlias, is_from: bool) -> str:
        if alias.asname is not None:
            return dotted(alias.asname.name) or ""
        name = dotted(alias.name) or ""
        return name if is_from else name.split(".")[0]

    class Drop(cst.CSTTransformer):
        def leave_SimpleStatementLine(self, original, updated):
            kept = []
            for small in updated.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(
                    small.names, cst.ImportStar
                ):
                    is_from = isinstance(small, cst.ImportFrom)
                    aliases = [a for a in small.names if bound(a, is_from) not in names]
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
            first = updated.body[0] if updated.body else None
            if first is None or first is original.body[0] or not hasattr(first, "leading_lines"):
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
