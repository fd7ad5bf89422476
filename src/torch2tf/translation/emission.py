"""Emission: the helpers a translated file uses, the imports they need, then formatting.

Helpers are top-level definitions of ``torch2tf/keras_helpers`` read as text (never imported),
added to a generated file only when it uses them, with the helpers they use in turn.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import libcst as cst

from torch2tf.names import ImportTable, dotted, is_docstring

HELPER_FILES = ("layers.py", "ops.py", "training.py")


@cache
def helper_sources() -> dict[str, str]:
    """Name -> source of each top-level definition in ``keras_helpers``, read as text."""
    folder = Path(__file__).parent.parent / "keras_helpers"
    found: dict[str, str] = {}
    for name in HELPER_FILES:
        text = (folder / name).read_text(encoding="utf-8")
        for node in ast.parse(text).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                start = min([d.lineno for d in node.decorator_list] + [node.lineno])
                lines = text.splitlines()[start - 1 : node.end_lineno]
                found[node.name] = "\n".join(lines)
    return found


def emit(code: str) -> str:
    """Complete TensorFlow code written by torch2tf itself: add the helpers it uses, format."""
    return emit_module(
        cst.parse_module(code), code, used_names(code), "import tensorflow as tf" in code
    )


def used_names(code: str) -> set[str]:
    return names_in(ast.parse(code))


def names_in(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def emit_module(
    module: cst.Module,
    code: str,
    used: set[str],
    tf_imported: bool,
    generated: dict[str, str] | None = None,
) -> str:
    """Add the helpers ``code`` (the module's code, using the names ``used``) uses, and the
    functions the rewrite ``generated``, and the imports they need; then format."""
    helpers = {**helper_sources(), **(generated or {})}
    needed: list[str] = []
    frontier = used
    while True:  # helpers may use helpers
        new = [h for h in helpers if h in frontier and h not in needed]
        if not new:
            break
        needed += new
        frontier = set().union(*(used_names(helpers[h]) for h in new))
        used = used | frontier
    body = list(module.body)
    insert_at = 0
    for index, stmt in enumerate(body):
        if is_docstring(stmt) and index == 0:
            insert_at = 1
        elif isinstance(stmt, cst.SimpleStatementLine) and all(
            isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
        ):
            insert_at = index + 1
        else:
            break
    helper_code = "\n\n".join(helpers[h] for h in needed)
    if helper_code:
        helper_module = cst.parse_module(helper_code)
        first, *rest = helper_module.body
        note = "# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks."
        first = first.with_changes(
            leading_lines=[cst.EmptyLine(), cst.EmptyLine(comment=cst.Comment(note))]
        )
        body[insert_at:insert_at] = [first, *rest]
    at = _first_import(body)
    if "tf" in used and not tf_imported:
        body.insert(at, cst.parse_statement("import tensorflow as tf\n"))
    if "math" in used and not _imports_name(module, "math"):
        following = body[at]
        math_import = cst.parse_statement("import math\n")
        if isinstance(following, cst.SimpleStatementLine):  # it takes the blank lines above
            math_import = math_import.with_changes(leading_lines=following.leading_lines)
            # isort's groups: standard library first, then a blank line, then third party
            gap = [cst.EmptyLine()] if _is_third_party_import(following) else []
            body[at] = following.with_changes(leading_lines=gap)
        body.insert(at, math_import)
    return format_code(module.with_changes(body=body).code)


def _is_third_party_import(stmt: cst.CSTNode) -> bool:
    if not isinstance(stmt, cst.SimpleStatementLine):
        return False
    small = stmt.body[0]
    if isinstance(small, cst.Import):
        name = dotted(small.names[0].name) or ""
    elif isinstance(small, cst.ImportFrom) and not small.relative and small.module is not None:
        name = dotted(small.module) or ""
    else:
        return False
    return name.split(".")[0] not in sys.stdlib_module_names | {"__future__"}


def _imports_name(module: cst.Module, name: str) -> bool:
    return name in ImportTable.of(module).aliases


def _first_import(body: list[cst.BaseStatement]) -> int:
    for index, stmt in enumerate(body):
        if isinstance(stmt, cst.SimpleStatementLine) and isinstance(
            stmt.body[0], (cst.Import, cst.ImportFrom)
        ):
            return index
    return 0


def format_code(code: str) -> str:
    """Format like black (88 columns) with ruff's formatter, ~50x faster than black itself."""
    from ruff.__main__ import find_ruff_bin

    result = subprocess.run(
        [find_ruff_bin(), "format", "--isolated", "--line-length", "88", "-"],
        input=code,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:  # our own output does not parse: a bug, never the user's input
        raise RuntimeError(f"torch2tf generated code ruff cannot format: {result.stderr}")
    return result.stdout
