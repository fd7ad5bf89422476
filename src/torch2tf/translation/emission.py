"""Emission: the helpers a translated file uses, the imports they need, then formatting.

Helpers are top-level definitions of ``torch2tf/keras_helpers`` read as text (never imported),
added to a generated file only when it uses them, with the helpers they use in turn.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import libcst as cst

from torch2tf.formatting import hoist_wrapped_comments
from torch2tf.names import ImportTable, dotted, is_docstring
from torch2tf.parsed import code_reusing


@cache
def helper_sources() -> dict[str, str]:
    """Name -> source of each top-level definition in ``keras_helpers``, read as text."""
    folder = Path(__file__).parent.parent / "keras_helpers"
    found: dict[str, str] = {}
    for path in sorted(folder.glob("*.py")):  # every module there but __init__ holds helpers
        if path.name == "__init__.py":
            continue
        text = path.read_text(encoding="utf-8")
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
    needed.sort(key=list(helpers).index)  # a base class before its subclasses
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
        first, at = at, _sorted_position(body, at, "math")
        following = body[at] if at < len(body) else None
        math_import = cst.parse_statement("import math\n")
        # first of the block, it takes the blank lines above (else among the standard library's)
        if at == first and isinstance(following, cst.SimpleStatementLine):
            math_import = math_import.with_changes(leading_lines=following.leading_lines)
            # isort's groups: standard library first, then a blank line, then third party
            gap = [cst.EmptyLine()] if _is_third_party_import(following) else []
            body[at] = following.with_changes(leading_lines=gap)
        body.insert(at, math_import)
    body = _einops_imports(body, module, code)
    return format_code(code_reusing(module, code, module.with_changes(body=body)))


def _einops_imports(
    body: list[cst.BaseStatement], module: cst.Module, code: str
) -> list[cst.BaseStatement]:
    """einops stays einops (rules/einops_forms.py): ``import einops`` for its functions,
    ``import einops.layers.keras`` for its layers, and an import of ``einops.layers.torch``
    left in the file (it imports torch) reads from ``einops.layers.keras``, which has the
    same layers."""

    class ToKeras(cst.CSTTransformer):
        def leave_Attribute(self, original, updated):
            if dotted(updated) == "einops.layers.torch":
                return updated.with_changes(attr=cst.Name("keras"))
            return updated

    body = [
        stmt.visit(ToKeras()) if _is_import(stmt) and "einops.layers.torch" in code else stmt
        for stmt in body
    ]
    imported = {
        dotted(alias.name)
        for stmt in body
        if _is_import(stmt)
        for small in stmt.body
        if isinstance(small, cst.Import)
        for alias in small.names
    }
    wanted = []
    if "einops.layers.keras." in code and "einops.layers.keras" not in imported:
        wanted.append("import einops.layers.keras\n")
    elif re.search(r"\beinops\.(rearrange|repeat|reduce)\(", code) and not (
        _imports_name(module, "einops") or imported & {"einops", "einops.layers.keras"}
    ):
        wanted.append("import einops\n")
    for statement in wanted:  # where isort puts it among the third-party imports
        name = statement.split()[1]
        third = [i for i, stmt in enumerate(body) if _is_third_party_import(stmt)]
        plain = [i for i in third if isinstance(body[i].body[0], cst.Import)]
        after = [i for i in plain if (dotted(body[i].body[0].names[0].name) or "") > name]
        at = after[0] if after else plain[-1] + 1 if plain else third[0] if third else 0
        new = cst.parse_statement(statement)
        if at < len(body) and at in (after[:1] or third[:1]):  # first of the block: its gap
            new = new.with_changes(leading_lines=body[at].leading_lines)
            body[at] = body[at].with_changes(leading_lines=[])
        body.insert(at, new)
    return body


def _is_import(stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and isinstance(
        stmt.body[0], (cst.Import, cst.ImportFrom)
    )


def _sorted_position(body: list[cst.BaseStatement], first: int, name: str) -> int:
    """Where isort puts ``import name`` (standard library) in the import block at ``first``:
    after the plain standard-library imports that sort before it."""
    at = first
    for index in range(first, len(body)):
        stmt = body[index]
        if not _is_import(stmt) or _is_third_party_import(stmt):
            break
        small = stmt.body[0]
        if not isinstance(small, cst.Import) or (dotted(small.names[0].name) or "") > name:
            break
        at = index + 1
    return at


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
    """The first import's index, after ``from __future__`` ones (which must stay first)."""
    for index, stmt in enumerate(body):
        if _is_import(stmt) and not _is_future(stmt):
            return index
    return next((i + 1 for i in reversed(range(len(body))) if _is_future(body[i])), 0)


def _is_future(stmt: cst.CSTNode) -> bool:
    return (
        _is_import(stmt)
        and isinstance(stmt.body[0], cst.ImportFrom)
        and stmt.body[0].module is not None
        and dotted(stmt.body[0].module) == "__future__"
    )


def format_code(code: str) -> str:
    """Format like black (88 columns) with ruff's formatter, ~50x faster than black itself.

    First, assignments of a value without effects to a local nothing reads any more go
    (``in_dim = h``, read only by torch's ``nn.Linear(in_dim, h)``).
    """
    from ruff.__main__ import find_ruff_bin

    ruff = find_ruff_bin()
    code = _drop_dead_stores(code, ruff)
    formatted = _ruff([ruff, "format", "--isolated", "--line-length", "88", "-"], code)
    return hoist_wrapped_comments(formatted, format_code)  # no `)  # comment` lines


def _ruff(command: list[str], code: str) -> str:
    result = subprocess.run(command, input=code, capture_output=True, text=True, check=False)
    if result.returncode != 0:  # our own output does not parse: a bug, never the user's input
        raise RuntimeError(f"torch2tf generated code ruff cannot format: {result.stderr}")
    return result.stdout


def _drop_dead_stores(code: str, ruff: str) -> str:
    """Remove ``name = value`` statements ruff finds unread (F841) whose value has no effect
    (no call, await or yield): what torch needed and Keras does not. Repeated, since removing
    one can leave an earlier one unread; never empties a block."""
    command = [ruff, "check", "--isolated", "--select", "F841", "--output-format", "json"]
    effects = (ast.Call, ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)
    for _ in range(8):
        found = json.loads(_ruff([*command, "--exit-zero", "-"], code))
        unread = {(d["location"]["row"], d["location"]["column"] - 1) for d in found}
        if not unread:
            break
        lines = code.splitlines(keepends=True)
        dropped = False
        for parent in ast.walk(ast.parse(code)):
            for field in ("body", "orelse", "finalbody"):
                block = getattr(parent, field, None)
                if not isinstance(block, list) or len(block) < 2:
                    continue
                for node in block:
                    if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
                        continue
                    target = node.targets[0]
                    if (target.lineno, target.col_offset) not in unread:
                        continue
                    if any(isinstance(n, effects) for n in ast.walk(node.value)):
                        continue
                    for line in range(node.lineno - 1, node.end_lineno or node.lineno):
                        lines[line] = ""
                    dropped = True
                    break  # one per block a round: the block keeps a statement
        code = "".join(lines)
        if not dropped:
            break
    return code
