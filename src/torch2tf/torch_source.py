"""Where a live torch model is written: the file of its class, the line that made a layer.

``convert`` translates the source of the model's class (found through its methods' code
objects, so a class of a script's ``__main__`` or of a notebook cell is found too), and a
report names the ``self.<attr> = ...`` line of the first layer that diverges.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import os
import textwrap
from pathlib import Path

import torch

from torch2tf.errors import ConversionError


def source_line(torch_model: torch.nn.Module, layer: str) -> str | None:
    """``file:line`` of the ``self.<attr> = ...`` that created the layer at path ``layer``.

    For ``encoder.fc1`` the assignment of ``fc1`` is searched in the class of ``encoder``;
    for an item of a container (``blocks.0``) the assignment of the container is found.
    """
    parts = layer.split(".") if layer else []
    for depth in range(len(parts) - 1, -1, -1):
        try:
            owner = torch_model.get_submodule(".".join(parts[:depth]))
        except AttributeError:
            continue
        found = _assignment_line(type(owner), parts[depth])
        if found is not None:
            return found
    return None


def _assignment_line(cls: type, attr: str) -> str | None:
    for klass in cls.__mro__:
        if klass.__module__.split(".")[0] in ("torch", "builtins"):
            continue
        try:
            path = inspect.getsourcefile(klass)
            lines, start = inspect.getsourcelines(klass)
        except (OSError, TypeError):
            continue
        try:
            tree = ast.parse(textwrap.dedent("".join(lines)))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets = [node.target]
            else:
                continue
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == attr
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                ):
                    return f"{_display_path(path)}:{start + node.lineno - 1}"
    return None


def _display_path(path: str | None) -> str:
    if path is None:
        return "<unknown>"
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


def source_of(cls: type) -> tuple[str, str]:
    """(text, path) of the file defining ``cls``. Its methods' code objects name the file even
    when its module is not in ``sys.modules`` (loaded by importlib without registering it, a
    script's ``__main__``); a notebook cell's text is only in ``linecache``."""
    for path in _code_files(cls):
        if Path(path).is_file():
            return Path(path).read_text(encoding="utf-8"), path
        lines = linecache.getlines(path)
        if lines:
            return "".join(lines), path
    try:
        path = inspect.getsourcefile(cls)
    except TypeError:
        path = None
    if path is None or not Path(path).exists():
        raise ConversionError(
            f"cannot find the source file of {cls.__qualname__}: expected a class defined in "
            "a .py file or a notebook cell"
        )
    return Path(path).read_text(encoding="utf-8"), path


def _code_files(cls: type) -> list[str]:
    """File names of the code objects of the methods written in ``cls``'s own body."""
    files: list[str] = []
    for value in vars(cls).values():
        for func in (value, getattr(value, "__func__", None), getattr(value, "fget", None)):
            code = getattr(inspect.unwrap(func), "__code__", None) if callable(func) else None
            if code is not None and code.co_qualname.startswith(f"{cls.__qualname__}."):
                if code.co_filename not in files:
                    files.append(code.co_filename)
    return files


def live_classes(model: torch.nn.Module) -> dict[str, set[str]]:
    """Classes of the model's submodules by module name: more roots for what is translated."""
    found: dict[str, set[str]] = {}
    for module in model.modules():
        cls = type(module)
        if cls.__module__.split(".")[0] not in ("torch", "builtins"):
            found.setdefault(cls.__module__, set()).add(cls.__name__)
    return found
