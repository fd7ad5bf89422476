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
from libcst.metadata import MetadataWrapper

from torch2tf.names import ImportTable
from torch2tf.scopes import resolve_scopes


@dataclass
class _Project:
    files: Mapping[str, tuple[str, str | None]]  # module name -> (source, its package)
    classes: frozenset[str]  # qualified names of the project's nn.Module classes
    analyse: Callable[..., Any]  # (tree, source, qualify, class names) -> a file's analysis
    analyses: dict[str, Any] = field(default_factory=dict)  # module name -> its analysis
    imports: dict[str, ImportTable | None] = field(default_factory=dict)  # module -> its imports


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
