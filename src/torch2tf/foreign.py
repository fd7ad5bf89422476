"""Layers of other packages (``timm``, ...) used in ``nn.Module`` classes: named, never
translated. Static like the engine: the input is parsed, never imported or executed."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import libcst as cst

from torch2tf.errors import Diagnostic
from torch2tf.names import ImportTable, dotted
from torch2tf.parsed import ParsedSource
from torch2tf.project import is_project_top, project_of, project_tops
from torch2tf.rules import LAYERS

# Packages whose calls in a model class are not layers: they compute plain values.
_NOT_LAYERS = {"numpy", "tensorflow", "keras", "torch", "__future__", "torch2tf"}


def _is_third_party(qualified: str) -> bool:
    top = qualified.split(".")[0]
    return top not in _NOT_LAYERS and top not in sys.stdlib_module_names


def _module_classes(
    module: cst.Module, imports: ImportTable, is_local: Callable[[str], bool]
) -> list[cst.ClassDef]:
    """Top-level classes deriving from nn.Module, or from a class of the project that may."""
    project = set()  # names bound by relative imports or by imports of the project's modules
    for stmt in module.body:
        for small in stmt.body if isinstance(stmt, cst.SimpleStatementLine) else []:
            if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                base = dotted(small.module) if small.module is not None else ""
                if small.relative or (base and is_local(base.split(".")[0])):
                    project.update(
                        dotted(a.asname.name if a.asname else a.name) for a in small.names
                    )

    def is_base(base: cst.BaseExpression) -> bool:
        name = dotted(base) or ""
        return (
            imports.qualify(base) == "torch.nn.Module"
            or name in found
            or name.split(".")[0] in project
        )

    found: dict[str, cst.ClassDef] = {}
    changed = True
    while changed:
        changed = False
        for node in module.body:
            if not isinstance(node, cst.ClassDef) or node.name.value in found:
                continue
            if any(is_base(b.value) for b in node.bases):
                found[node.name.value] = node
                changed = True
    return list(found.values())


def _local_modules(path: str) -> Callable[[str], bool]:
    """Whether a top-level module name is part of the input's own project (its own top
    package, or a module beside a top-level module of the user's), not another package."""
    file = Path(path)
    if not file.is_file():
        return lambda top: False
    root, _ = project_of(file)
    tops = project_tops(file)
    return lambda top: is_project_top(top, root, tops)


def foreign_layers(
    source: str,
    path: str = "<string>",
    parsed: ParsedSource | None = None,
    imports: ImportTable | None = None,
) -> list[Diagnostic]:
    """Layers of other packages built in ``nn.Module`` classes: each is named, none translated.

    A call counts as a layer when its result is stored on ``self`` or when its name is a class
    name (CapWords), e.g. ``self.mlp = Mlp(...)`` after ``from timm.layers import Mlp``.
    Modules of the input's own project (relative imports, files and packages beside it) are
    not other packages: ``translate_project`` and ``convert`` translate them too.
    Source that does not parse gives no diagnostics here (``translate_source`` reports it).
    ``parsed`` is the engine's own parse with its metadata, so the file is not read twice;
    ``imports`` its table of names (read from ``parsed`` when not given).
    """
    if parsed is None:
        try:
            parsed = ParsedSource.of(cst.parse_module(source))
        except Exception:  # noqa: BLE001 - a parse failure is the engine's to report
            return []
    module, positions, parents = parsed
    if imports is None:
        imports = ImportTable.of(module)
    is_local = _local_modules(path)
    if not any(
        _is_third_party(q) and not is_local(q.split(".")[0]) for q in imports.aliases.values()
    ):
        return []  # nothing is imported from another package
    found: list[Diagnostic] = []

    def stored_on_self(call: cst.Call) -> bool:
        parent = parents.get(call)
        return isinstance(parent, (cst.Assign, cst.AnnAssign)) and any(
            (dotted(t.target) or "").startswith("self.")
            for t in (parent.targets if isinstance(parent, cst.Assign) else [parent])
        )

    class Calls(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            name = dotted(node.func)
            if name is None:
                return
            qualified = imports.qualify(node.func)
            if qualified is None or not _is_third_party(qualified):
                return
            if is_local(qualified.split(".")[0]) or qualified in LAYERS:
                return  # the project's own, or another package's layer with a rule (einops)
            if not (name.split(".")[-1][:1].isupper() or stored_on_self(node)):
                return
            start = positions[node].start
            found.append(
                Diagnostic(
                    path,
                    start.line,
                    start.column + 1,
                    f"{qualified} is a layer from another package "
                    f"({qualified.split('.')[0]}); it is not translated",
                    "torch2tf translates torch.nn layers and this project's own nn.Module "
                    "classes: use torch.nn layers, or copy the layer's source into the project",
                )
            )

    for node in _module_classes(module, imports, is_local):
        node.visit(Calls())
    return found
