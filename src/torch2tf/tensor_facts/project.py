"""The tensor facts of classes defined in other files of the project being translated
(``Conv2dNormActivation`` of ``ops/misc.py`` built by ``MobileNetV2`` of ``mobilenetv2.py``).

:func:`project_files` makes the project's sources known while it is translated; the facts of
a class of another file are then those that file's own analysis gives, read on demand, once.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from torch2tf.names import ImportTable, is_torch_name
from torch2tf.scopes import resolve_scopes


@dataclass
class _Project:
    files: Mapping[str, tuple[str, str | None]]  # module name -> (source, its package)
    classes: frozenset[str]  # qualified names of the project's nn.Module classes
    analyse: Callable[..., Any]  # (tree, source, qualify, class names) -> a file's analysis
    analyses: dict[str, Any] = field(default_factory=dict)  # module name -> its analysis
    imports: dict[str, ImportTable | None] = field(default_factory=dict)  # module -> its imports
    consumed: dict[str, int] = field(default_factory=dict)  # see consumed()


_project: ContextVar[_Project | None] = ContextVar("project_files", default=None)


@contextmanager
def project_files(
    files: Mapping[str, tuple[str, str | None]],
    classes: frozenset[str],
    analyse: Callable[..., Any],
) -> Iterator[None]:
    """Within this block the facts of any of ``classes`` (qualified) can be read, each file
    analysed by ``analyse(tree, source, qualify, class_names)``."""
    token = _project.set(_Project(files, classes, analyse))
    try:
        yield
    finally:
        _project.reset(token)


def is_project_class(qualified: str | None) -> bool:
    project = _project.get()
    return project is not None and _defined(project, qualified) in project.classes


def _defined(project: _Project, qualified: str | None, depth: int = 0) -> str | None:
    """Where the project defines what ``qualified`` names: through the imports of the
    project's files (``torchvision.ops.StochasticDepth``, which ``ops/__init__.py``
    imports from ``.stochastic_depth``)."""
    if qualified is None or qualified in project.classes or depth > 8:
        return qualified
    module, _, name = qualified.rpartition(".")
    if module not in project.files:
        return qualified
    if module not in project.imports:
        source, package = project.files[module]
        try:
            project.imports[module] = ImportTable.of(cst.parse_module(source), package)
        except cst.ParserSyntaxError:
            project.imports[module] = None
    imports = project.imports[module]
    found = imports.qualify_name(name) if imports is not None else None
    if found is None or found == qualified:
        return qualified
    return _defined(project, found, depth + 1)


def project_origin(qualified: str | None) -> str | None:
    """What the project's files import ``qualified`` from (``timm.layers.trace_utils._assert``
    -> ``torch._assert``), followed through their imports; itself outside a project."""
    project = _project.get()
    return qualified if project is None else _defined(project, qualified)


def torch_origin(qualified: str | None) -> str | None:
    """``torch._assert`` for ``timm.layers.trace_utils._assert`` (a torch name another file
    of the project imports): the torch name its calls translate as; else ``qualified``."""
    origin = project_origin(qualified) if qualified else None
    return origin if origin and origin != qualified and is_torch_name(origin) else qualified


def project_class(qualified: str):
    """The analysis of the file defining the project class ``qualified`` and the class's
    name there; None when that file is not part of the translation."""
    project = _project.get()
    if project is not None:
        qualified = _defined(project, qualified) or qualified
    module, _, name = qualified.rpartition(".")
    if project is None or qualified not in project.classes or module not in project.files:
        return None
    if module not in project.analyses:
        source, package = project.files[module]
        try:
            tree = ast.parse(source)
            parsed = cst.parse_module(source)
        except (SyntaxError, cst.ParserSyntaxError):
            project.analyses[module] = None  # reported where the file is translated
        else:
            imports = ImportTable.of(parsed, package)
            # names scope by scope, as the file's own translation reads them (and reports)
            resolve_scopes(MetadataWrapper(parsed, unsafe_skip_copy=True), tree, imports, module)
            names = {c.rpartition(".")[2] for c in project.classes if c.startswith(module + ".")}
            project.analyses[module] = project.analyse(tree, source, imports.qualify_name, names)
    analysis = project.analyses[module]
    return None if analysis is None or name not in analysis.classes else (analysis, name)


@dataclass(frozen=True)
class ProjectFunction:
    """A top-level function of another file of the project, as that file reads it."""

    module: str  # its module's dotted name
    node: cst.FunctionDef
    imports: ImportTable  # that file's imports (the function's names mean what they mean there)
    functions: Mapping[str, cst.FunctionDef]  # that file's top-level functions
    positions: Mapping[cst.CSTNode, Any]  # node -> its CodeRange in that file


def _located(qualified: str | None) -> tuple[Any, str, str] | None:
    """(project, module, name) of a top-level name of another file of the project being
    translated (through the imports of the project's files), or None."""
    project = _project.get()
    if project is None or qualified is None:
        return None
    qualified = _defined(project, qualified) or qualified
    module, _, name = qualified.rpartition(".")
    return (project, module, name) if module in project.files else None


def project_function(qualified: str | None) -> ProjectFunction | None:
    """The top-level function ``qualified`` names in another file of the project being
    translated (through the imports of the project's files), or None."""
    located = _located(qualified)
    if located is None:
        return None
    project, module, name = located
    key = f"functions:{module}"
    if key not in project.analyses:
        source, package = project.files[module]
        try:
            wrapper = cst.MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True)
        except cst.ParserSyntaxError:
            project.analyses[key] = None  # reported where the file is translated
        else:
            tree = wrapper.module
            project.analyses[key] = (
                {s.name.value: s for s in tree.body if isinstance(s, cst.FunctionDef)},
                ImportTable.of(tree, package),
                wrapper.resolve(PositionProvider),
            )
    found = project.analyses[key]
    if found is None or name not in found[0]:
        return None
    functions, imports, positions = found
    return ProjectFunction(module, functions[name], imports, functions, positions)


def consumed(qualified: str, count: int = 1) -> None:
    """Note that ``count`` calls of the project function ``qualified`` were read as init code
    (their effect moved into initializers): see :func:`fully_consumed`."""
    project = _project.get()
    if project is not None:
        project.consumed[qualified] = project.consumed.get(qualified, 0) + count


def consumed_functions() -> dict[str, int]:
    """Project functions -> how many of their calls became initializers so far."""
    project = _project.get()
    return dict(project.consumed) if project is not None else {}


def fully_consumed() -> dict[str, frozenset[str]]:
    """Module -> its functions every use of which in the project's files is a call read as
    init code (so nothing of them is left to translate): to leave out of that module."""
    project = _project.get()
    if project is None or not project.consumed:
        return {}
    uses: dict[str, int] = {}
    for module, (source, package) in project.files.items():
        try:
            tree = ast.parse(source)
            imports = ImportTable.of(cst.parse_module(source), package)
        except (SyntaxError, cst.ParserSyntaxError):
            continue
        own = {s.name for s in tree.body if isinstance(s, ast.FunctionDef)}
        for node in ast.walk(tree):
            name = _dotted_load(node)
            if name is None:
                continue
            qualified = imports.qualify_name(name)
            if qualified is None and name in own:
                qualified = f"{module}.{name}"
            qualified = _defined(project, qualified)
            if qualified in project.consumed:
                uses[qualified] = uses.get(qualified, 0) + 1
    found: dict[str, set[str]] = {}
    for qualified, count in project.consumed.items():
        if uses.get(qualified) == count:
            module, _, name = qualified.rpartition(".")
            found.setdefault(module, set()).add(name)
    return {module: frozenset(names) for module, names in found.items()}


def _dotted_load(node: ast.AST) -> str | None:
    """``a.b.c`` for a Name or Attribute chain read (not assigned)."""
    if not isinstance(node, (ast.Name, ast.Attribute)) or not isinstance(node.ctx, ast.Load):
        return None
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def project_class_node(qualified: str | None) -> ast.ClassDef | None:
    """The definition of the project class ``qualified`` in its own file, or None."""
    project = _project.get()
    if project is None or qualified is None:
        return None
    qualified = _defined(project, qualified) or qualified
    module, _, name = qualified.rpartition(".")
    if qualified not in project.classes or module not in project.files:
        return None
    try:
        tree = ast.parse(project.files[module][0])
    except SyntaxError:
        return None
    found = [s for s in tree.body if isinstance(s, ast.ClassDef) and s.name == name]
    return found[0] if found else None


def project_function_node(qualified: str | None) -> ast.FunctionDef | None:
    """The definition of the top-level function ``qualified`` in another file of the
    project being translated, or None."""
    located = _located(qualified)
    if located is None:
        return None
    project, module, name = located
    try:
        tree = ast.parse(project.files[module][0])
    except SyntaxError:
        return None
    found = [s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == name]
    return found[0] if found else None
