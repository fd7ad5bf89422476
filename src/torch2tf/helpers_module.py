"""``--helpers-module NAME``: the helpers of a translated project written once, into ``NAME.py``.

Each generated file carries copies of the helpers it uses (see ``keras_helpers``). For a project
of many files, this moves them into one module beside the project's top-level modules (or
packages), and each file imports the ones it uses (``from NAME import TorchBatchNorm``): the
folder that makes the project importable makes it importable too. Works on the generated code,
so the engine is unchanged: the copies are found by name among the top-level definitions.
"""

from __future__ import annotations

import ast
import keyword
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from torch2tf.errors import UsageError
from torch2tf.translation.emission import format_code as _format
from torch2tf.translation.emission import helper_sources as _helpers

NOTE = "# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks."
HEADER = '"""torch2tf helpers: exact Keras versions of torch behaviour Keras lacks."""\n\n'


def check_name(name: str, files: Mapping[Path, str]) -> None:
    """A usage error unless ``name`` can be imported and is not taken by a project file."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(
            f"--helpers-module: expected a Python module name like tf_helpers, received {name!r}"
        )
    home = _home(files)
    if home / f"{name}.py" in files or home / name / "__init__.py" in files:
        raise UsageError(
            f"--helpers-module {name}: expected a name no project module has, received "
            f"{(home / name).as_posix()}, a module of the project"
        )


def split_helpers(generated: Mapping[Path, str], name: str) -> dict[Path, str]:
    """``generated`` (relative path -> code) with each file's helper copies replaced by an
    import from ``name``, plus ``name.py`` holding every helper they use, in a stable order."""
    check_name(name, generated)
    helpers = _helpers()
    used: set[str] = set()
    result: dict[Path, str] = {}
    home = _home(generated)
    local = {name} | {
        p.relative_to(home).parts[0].removesuffix(".py")
        for p in generated
        if p.is_relative_to(home)
    }
    for relative, code in generated.items():
        result[relative], found = _without_helpers(code, helpers, name, local)
        used |= found
    if used:
        result[home / f"{name}.py"] = _helpers_source([h for h in helpers if h in used])
    return result


def _home(generated: Mapping[Path, str]) -> Path:
    """Where ``import NAME`` finds the helpers: beside the project's top-level modules, i.e.
    the files' common folder, or above it while that is a package."""
    folder = Path(*os.path.commonprefix([p.parent.parts for p in generated]))
    while folder != Path() and folder / "__init__.py" in generated:
        folder = folder.parent
    return folder


def _without_helpers(
    code: str, helpers: Mapping[str, str], name: str, local: set[str]
) -> tuple[str, set[str]]:
    """The code without its helper definitions and with ``from name import ...`` for those it
    uses itself, imports sorted with ``local`` (the project's modules) first-party; the
    helpers it carried."""
    copies = [
        node
        for node in ast.parse(code).body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in helpers
    ]
    if not copies:
        return code, set()
    lines = code.splitlines(keepends=True)
    drop = {i for i, line in enumerate(lines) if line.rstrip("\n") == NOTE}  # 0-based
    for node in copies:
        start = min([d.lineno for d in node.decorator_list] + [node.lineno])
        drop.update(range(start - 1, node.end_lineno))
    lines = [line for i, line in enumerate(lines) if i not in drop]
    tree = ast.parse("".join(lines))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    if "math" not in names:  # only the helpers used it
        unused = {s.lineno - 1 for s in tree.body if _is_import_of(s, "math")}
        lines = [line for i, line in enumerate(lines) if i not in unused]
        tree = ast.parse("".join(lines))
    imported = sorted({node.name for node in copies} & names)
    if imported:
        lines.insert(_imports_end(tree), f"from {name} import {', '.join(imported)}\n")
    return _format(_sort_imports("".join(lines), local)), {node.name for node in copies}


def _sort_imports(code: str, first_party: set[str]) -> str:
    """isort's order, with the project's modules and the helpers module first-party, as ruff
    sees them from the output folder."""
    from ruff.__main__ import find_ruff_bin

    setting = f"lint.isort.known-first-party = {sorted(first_party)!r}"
    command = [find_ruff_bin(), "check", "--isolated", "--select", "I", "--fix-only"]
    result = subprocess.run(
        [*command, "--exit-zero", "--config", setting, "-"],
        input=code,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:  # our own output: a bug, never the user's input
        raise RuntimeError(f"torch2tf generated imports ruff cannot sort: {result.stderr}")
    return result.stdout


def _is_import_of(stmt: ast.stmt, module: str) -> bool:
    return isinstance(stmt, ast.Import) and [a.name for a in stmt.names] == [module]


def _imports_end(tree: ast.Module) -> int:
    """The 0-based line after the leading docstring and imports."""
    end = 0
    for index, stmt in enumerate(tree.body):
        docstring = index == 0 and isinstance(stmt, ast.Expr)
        if not (docstring or isinstance(stmt, (ast.Import, ast.ImportFrom))):
            break
        end = stmt.end_lineno
    return end


def _helpers_source(names: list[str]) -> str:
    helpers = _helpers()
    code = "\n\n".join(helpers[h] for h in names)
    used = {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}
    imports = ("import math\n\n" if "math" in used else "") + "import tensorflow as tf\n\n\n"
    return _format(HEADER + imports + code + "\n")
