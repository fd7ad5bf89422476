"""Generated source run as a module, alone or among generated siblings.

Used by ``convert`` (the Keras twin is built from the generated classes) and by the export
check (the same modules, written out for a fresh process). A whole file's translation runs
as its definitions only (its example runs and scripts stay out); what ``reach`` kept for a
class runs whole, as every statement of it is needed (``Act = LayerFactory(...)``).
"""

from __future__ import annotations

import ast
import importlib
import sys
import tempfile
import types
from pathlib import Path

# Module-level calls that do no work and that model code uses (``logger = ...``).
QUIET_CALLS = {"logging.getLogger"}


def definitions_only(source: str) -> str:
    """The generated module without its top-level statements that do work (example runs)."""
    tree = ast.parse(source)
    keep = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

    def harmless(node: ast.stmt) -> bool:
        if isinstance(node, keep):
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            if isinstance(node.value, ast.Call) and ast.unparse(node.value.func) in QUIET_CALLS:
                return True
            return not any(isinstance(n, ast.Call) for n in ast.walk(node.value))
        return False

    tree.body = [n for n in tree.body if harmless(n)]
    return ast.unparse(tree)


def load_generated(source: str, name: str, reached: bool = False) -> types.ModuleType:
    """Execute generated source as a fresh module: definitions only, or all of it when
    ``reached`` (a class and what it reaches, every statement needed)."""
    module = types.ModuleType(name)
    code = compile(source if reached else definitions_only(source), f"<torch2tf: {name}>", "exec")
    exec(code, module.__dict__)
    return module


def load_project(sources: dict[str, str], name: str) -> types.ModuleType:
    """Import generated module ``name`` among its generated siblings, which ``reach`` kept
    (so all of each runs: a constant of one module another imports is needed).

    The project's torch modules keep their places in ``sys.modules``: the generated ones are
    imported from a temporary folder with those entries set aside, then put back.
    """
    with tempfile.TemporaryDirectory(prefix="torch2tf-") as folder:
        names = set()
        for relative, code in sources.items():
            file = Path(folder) / relative
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(code, encoding="utf-8")
            parts = Path(relative).with_suffix("").parts
            names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        for top in {Path(r).parts[0] for r in sources if len(Path(r).parts) > 1}:
            init = Path(folder) / top / "__init__.py"
            if not init.exists():
                init.write_text("", encoding="utf-8")
        saved = {k: v for k, v in sys.modules.items() if k in names or k.split(".")[0] in names}
        for key in saved:
            del sys.modules[key]
        sys.path.insert(0, folder)
        try:
            return importlib.import_module(name)
        finally:
            sys.path.remove(folder)
            for key in [k for k in sys.modules if k in names or k.split(".")[0] in names]:
                del sys.modules[key]
            sys.modules.update(saved)
