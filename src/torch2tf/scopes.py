"""Resolve names scope by scope: what an imported name means where each reference stands.

The top-level imports (:class:`torch2tf.names.ImportTable`) say what a name means in most of a
file. Python's scopes say otherwise in two ways, both read here with LibCST's
``ScopeProvider``:

* a parameter, local variable, loop or comprehension variable, ``except ... as``/``with ... as``
  target, lambda argument or class attribute of the same name shadows the import there
  (``def forward(self, F)``, ``nn = self.net``): the reference is a plain local;
* an import inside a function or class binds its name in that scope only (``import
  torch.nn.functional as F`` in ``forward`` means nothing in ``__init__``).

The result is written into the table (``ImportTable.scoped``/``scoped_at``) for only the
references whose meaning differs from the top level, so rules dispatch on
``ImportTable.qualify`` as before. Scopes are resolved only when the file could differ: some
function, class, lambda or comprehension binds an imported name or imports something.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator

import libcst as cst
from libcst.metadata import (
    Assignment,
    GlobalScope,
    ImportAssignment,
    MetadataWrapper,
    PositionProvider,
    Scope,
    ScopeProvider,
)

from torch2tf.errors import Diagnostic
from torch2tf.names import ImportTable, is_torch_name

_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


def _outer_scopes(node: ast.AST) -> Iterator[ast.AST]:
    """The function, class, lambda and comprehension nodes not inside another one."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, _SCOPES):
            yield child
        else:
            yield from _outer_scopes(child)


def may_differ(tree: ast.Module, names: Collection[str]) -> bool:
    """Whether a reference in ``tree`` may mean something other than what the top-level
    ``names`` bind: a scope inside binds one of them, or imports anything. Errs towards yes
    (module-level defaults and decorators count as inside)."""
    for scope in _outer_scopes(tree):
        for node in ast.walk(scope):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                return True
            if isinstance(node, ast.Name):
                bound = None if isinstance(node.ctx, ast.Load) else node.id
            elif isinstance(node, ast.arg):
                bound = node.arg
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound = node.name if node is not scope else None
            elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)):
                bound = node.name
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                if set(node.names) & set(names):
                    return True
                bound = None
            elif isinstance(node, ast.MatchMapping):
                bound = node.rest
            else:
                continue
            if bound is not None and bound in names:
                return True
    return False


def resolve_scopes(
    wrapper: MetadataWrapper, tree: ast.Module, imports: ImportTable, path: str
) -> list[Diagnostic]:
    """Fill ``imports.scoped``/``scoped_at`` with the references of ``wrapper.module`` (whose
    ``ast`` twin is ``tree``) that a scope gives another meaning than the top level, and return
    a diagnostic for each name used where only another function or class imports it from
    torch (Python would raise NameError there)."""
    if not may_differ(tree, imports.aliases):
        return []
    scopes = wrapper.resolve(ScopeProvider)
    positions = wrapper.resolve(PositionProvider)
    scoped: dict[cst.Name, str | None] = {}
    scoped_at: dict[tuple[int, int], str | None] = {}
    local_torch: dict[str, tuple[str, str]] = {}  # name -> (qualified name, where imported)
    unbound: list[cst.Name] = []
    for scope in [s for s in dict.fromkeys(scopes.values()) if s is not None]:  # in order
        for access in scope.accesses:
            node = access.node
            while isinstance(node, cst.Attribute):  # `torch.nn` after `import torch.nn`
                node = node.value
            if not isinstance(node, cst.Name):
                continue  # a string annotation
            meaning = _meaning(node.value, access.referents, imports)
            if meaning is _UNBOUND:
                unbound.append(node)
                continue
            if meaning is _TOP:
                continue
            scoped[node] = meaning  # type: ignore[assignment]
        if _is_global(scope):
            continue
        for assignment in scope.assignments:
            if isinstance(assignment, ImportAssignment):
                for name, qualified in imports.bindings(assignment.node):
                    if is_torch_name(qualified):
                        local_torch.setdefault(name, (qualified, _scope_name(scope)))
            elif isinstance(assignment, Assignment) and assignment.name in imports.aliases:
                if isinstance(assignment.node, cst.Name):  # a target: `nn = ...`, `for F in`
                    scoped[assignment.node] = None
    found = []
    for node in unbound:
        if node.value in local_torch and node.value not in imports.aliases and not imports.stars:
            qualified, where = local_torch[node.value]
            scoped[node] = qualified  # read as meant: the missing import is the one error
            start = positions[node].start
            found.append(
                Diagnostic(
                    path,
                    start.line,
                    start.column + 1,
                    f"{node.value} is not bound here: only {where} imports it "
                    f"({qualified}), inside its own scope",
                    f"import {qualified} at the top of the file, or in this function too",
                )
            )
    lines = wrapper.module.code.splitlines() if scoped else []
    for node, meaning in scoped.items():
        start = positions[node].start
        column = start.column
        text = lines[start.line - 1] if start.line - 1 < len(lines) else ""
        if not text.isascii():  # ast counts UTF-8 bytes, LibCST characters
            column = len(text[:column].encode("utf-8"))
        scoped_at[(start.line, column)] = meaning
    imports.scoped, imports.scoped_at = scoped, scoped_at
    imports.nested_torch = bool(local_torch)
    return found


_TOP = object()  # the top-level table decides
_UNBOUND = object()  # bound nowhere Python would look


def _meaning(name: str, referents: Collection[object], imports: ImportTable) -> object:
    """What ``name`` means for a reference that may be bound by ``referents``: the qualified
    name of an import made in a function or class, None for a plain local, or _TOP."""
    local_imports = [
        r for r in referents if isinstance(r, ImportAssignment) and not _is_global(r.scope)
    ]
    if local_imports:
        for referent in local_imports:
            for local, qualified in imports.bindings(referent.node):
                if local == name:
                    return qualified if imports.aliases.get(name) != qualified else _TOP
        return _TOP
    if any(isinstance(r, ImportAssignment) for r in referents):
        return _TOP  # an import at the top level (or a global kept by the table)
    if any(isinstance(r, Assignment) and not _is_global(r.scope) for r in referents):
        return None if name in imports.aliases else _TOP  # a local shadows the import
    if not referents:
        return _UNBOUND
    return _TOP


def _is_global(scope: Scope) -> bool:
    return isinstance(scope, GlobalScope)


def _scope_name(scope: Scope) -> str:
    node = getattr(scope, "node", None)
    name = getattr(node, "name", None)
    return name.value if isinstance(name, cst.Name) else "a nested scope"
