"""Classes the source reaches but the live model does not use: left out when they fail.

Reach is static: ``utils.ClampExp()`` in an ``elif`` of ``MLP.__init__`` keeps ClampExp although
the model being converted took another branch. When only such classes stop the translation,
``convert`` translates the model without them: each becomes a class whose constructor raises
with the problem that stopped it (exact for every branch the model took; loud for the others),
and the report lists it under ``left_out``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import torch

from torch2tf.errors import Diagnostic
from torch2tf.reach import MAIN_MODULE, Reached


def used_classes(model: torch.nn.Module, main_module: str) -> set[tuple[str, str]]:
    """(module, name) of the classes of the model's modules and their base classes; the
    converted class's own module is ``MAIN_MODULE``."""
    found = set()
    for module in model.modules():
        for cls in type(module).__mro__:
            owner = MAIN_MODULE if cls.__module__ == main_module else cls.__module__
            found.add((owner, cls.__name__))
    return found


def stub_unused(
    sources: dict[Path, str],
    reached: Reached,
    main_path: str,
    problems: list[Diagnostic],
    used: set[tuple[str, str]],
) -> tuple[dict[Path, str], list[dict[str, object]]] | None:
    """``sources`` (``reached``'s, by path relative to its root) with each class holding a
    problem stubbed, and their ``left_out`` entries; None unless every problem lies in a
    top-level class the model does not use. ``main_path``: the converted class's file."""
    files = {
        relative: main_path if relative == reached.main else str(reached.root / relative)
        for relative in sources
    }
    modules = {relative: _module(relative, reached) for relative in sources}
    by_path = {_resolved(path): relative for relative, path in files.items()}
    stubbed: dict[Path, dict[str, list[Diagnostic]]] = {}
    for problem in problems:
        relative = by_path.get(_resolved(problem.path))
        if relative is None:
            return None
        cls = _class_at(sources[relative], problem.line)
        if cls is None or (modules[relative], cls.name) in used:
            return None
        stubbed.setdefault(relative, {}).setdefault(cls.name, []).append(problem)
    changed = dict(sources)
    left_out: list[dict[str, object]] = []
    for relative, classes in stubbed.items():
        lines = changed[relative].splitlines(keepends=True)
        tree = ast.parse(changed[relative])
        for node in sorted(_classes(tree), key=lambda n: n.lineno, reverse=True):
            if node.name not in classes:
                continue
            first = str(classes[node.name][0])
            start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            span = node.end_lineno - start + 1
            stub = _stub(node.name, first)
            stub += ["\n"] * (span - len(stub))  # the lines after keep their numbers
            lines[start - 1 : node.end_lineno] = stub
            left_out.append(
                {
                    "name": node.name,
                    "kind": "class",
                    "file": files[relative],
                    "line": node.lineno,
                    "reason": f"not used by the converted model, and not translated: {first}",
                }
            )
        changed[relative] = "".join(lines)
    return changed, left_out


def _module(relative: Path, reached: Reached) -> str:
    if relative == reached.main:
        return MAIN_MODULE
    parts = relative.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolved(path: str) -> str:
    return str(Path(path).resolve())


def _classes(tree: ast.Module) -> list[ast.ClassDef]:
    return [n for n in tree.body if isinstance(n, ast.ClassDef)]


def _class_at(source: str, line: int) -> ast.ClassDef | None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in _classes(tree):
        start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
        if start <= line <= (node.end_lineno or node.lineno):
            return node
    return None


def _stub(name: str, problem: str) -> list[str]:
    """A plain class whose construction raises with the problem."""
    message = f"{name} was not translated (the converted model does not use it): {problem}"
    return [
        f"class {name}:\n",
        "    def __init__(self, *args, **kwargs):\n",
        f"        raise NotImplementedError({message!r})\n",
    ]
