"""Code the source reaches but the live model does not use: left out when it fails.

Reach is static: ``utils.ClampExp()`` in an ``elif`` of ``MLP.__init__`` keeps ClampExp although
the model being converted took another branch, and a registry (``_ACT_LAYERS = dict(swish=Swish,
...)``) reaches every entry. When a problem lies in a top-level class the model's modules are
not instances of, or in a top-level function neither its forward (one eval-mode and one
train-mode run of a copy, profiled) nor its construction (run again with its constructor
arguments, when known) called, ``convert`` translates the model without it: each becomes a
class or function raising the problem that stopped it (exact for every path the model took;
loud for the others), and the report lists it under ``left_out``. Likewise a branch of an
``if`` in code the model uses none of whose lines those runs reached (timm's
``if self.grad_checkpointing ...: checkpoint_seq(...)``, a flag False when built): its
statements become one ``raise NotImplementedError`` with the problem (a ``branch`` in
``left_out``). Problems in code the model uses are the only ones reported when some remain.
"""

from __future__ import annotations

import ast
import copy
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from torch2tf.errors import Diagnostic
from torch2tf.reach import MAIN_MODULE, Reached

Definition = ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class UsedCode:
    """What the live model uses: classes by (module, name), functions by where their code is."""

    classes: frozenset[tuple[str, str]]
    called: frozenset[tuple[str, int]]  # (resolved file, first line) of each code object run
    lines: frozenset[tuple[str, int]] = frozenset()  # (resolved file, line) of each line run


def used_code(
    model: torch.nn.Module,
    main_module: str,
    inputs: Sequence[Any],
    arguments: tuple[Sequence[Any], Mapping[str, Any]] | None = None,
) -> UsedCode:
    """The classes of the model's modules (and their bases; the converted class's own module
    is ``MAIN_MODULE``) and the Python functions one forward of a copy runs in each mode, and
    its construction again with ``arguments`` (args, kwargs) when known (``make_blocks``,
    ``downsample_conv``: functions building the model are code it uses too)."""
    classes = set()
    for module in model.modules():
        for cls in type(module).__mro__:
            owner = MAIN_MODULE if cls.__module__ == main_module else cls.__module__
            classes.add((owner, cls.__name__))
    called, lines = _called(model, inputs)
    if arguments is not None:
        more, more_lines = _run(lambda: type(model)(*arguments[0], **arguments[1]))
        called, lines = called | more, lines | more_lines
    return UsedCode(frozenset(classes), frozenset(called), frozenset(lines))


def _called(model: torch.nn.Module, inputs: Sequence[Any]) -> tuple[set, set]:
    """Code run by a forward in eval and in train mode, on a copy (batch statistics and
    torch's random state stay as they were): the code objects, and the lines outside torch.
    A model that cannot be copied or run: none."""
    try:
        twin = copy.deepcopy(model)
    except Exception:  # noqa: BLE001 - then nothing counts as called: stubs stay loud
        return set(), set()

    def forward() -> None:
        with torch.no_grad():
            for training in (False, True):
                twin.train(training)
                try:
                    twin(*inputs)
                except Exception:  # noqa: BLE001 - verification reports a failing forward
                    pass

    return _run(forward)


def _run(run: Any) -> tuple[set, set]:
    """The code objects and the lines outside torch that ``run()`` runs (torch's random
    state kept); up to where it fails, if it does."""
    called: set[tuple[str, int]] = set()
    lines: set[tuple[str, int]] = set()
    torch_dir = str(Path(torch.__file__).parent)

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            called.add((code.co_filename, code.co_firstlineno))

    def line(frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            lines.add((frame.f_code.co_filename, frame.f_lineno))
        return line

    def trace(frame: Any, event: str, arg: Any) -> Any:
        return None if frame.f_code.co_filename.startswith(torch_dir) else line

    previous, previous_trace = sys.getprofile(), sys.gettrace()
    with torch.random.fork_rng():
        sys.setprofile(profile)
        sys.settrace(trace)
        try:
            run()
        except Exception:  # noqa: BLE001 - a failing construction: what ran until then
            pass
        finally:
            sys.setprofile(previous)
            sys.settrace(previous_trace)
    resolved = {name: _resolved(name) for name, _ in called | lines}
    return (
        {(resolved[name], n) for name, n in called},
        {(resolved[name], n) for name, n in lines},
    )


def stub_unused(
    sources: dict[Path, str],
    reached: Reached,
    main_path: str,
    problems: list[Diagnostic],
    used: UsedCode,
) -> tuple[dict[Path, str], list[dict[str, object]], list[Diagnostic]]:
    """``sources`` (``reached``'s, by path relative to its root) with each unused top-level
    class or function holding a problem stubbed, their ``left_out`` entries, and the problems
    that remain (in code the model uses, or outside any class or function), which the caller
    reports alone. ``main_path``: the converted class's file."""
    files = {
        relative: main_path if relative == reached.main else str(reached.root / relative)
        for relative in sources
    }
    by_path = {_resolved(path): relative for relative, path in files.items()}
    stubbed: dict[Path, dict[str, list[Diagnostic]]] = {}
    remaining: list[Diagnostic] = []
    branches: dict[Path, dict[tuple[int, int, int], list[Diagnostic]]] = {}
    for problem in problems:
        relative = by_path.get(_resolved(problem.path))
        node = None if relative is None else _definition_at(sources[relative], problem.line)
        if node is not None and not _is_used(
            node, _module(relative, reached), files[relative], used
        ):
            stubbed.setdefault(relative, {}).setdefault(node.name, []).append(problem)
            continue
        block = None if node is None else _untaken(node, problem.line, files[relative], used)
        if block is None:
            remaining.append(problem)
        else:
            branches.setdefault(relative, {}).setdefault(block, []).append(problem)
    changed = dict(sources)
    left_out: list[dict[str, object]] = []
    for relative, blocks in branches.items():
        lines = changed[relative].splitlines(keepends=True)
        for (start, end, indent), found in sorted(blocks.items(), reverse=True):
            message = "this branch was not translated (the converted model did not take it): "
            message += str(found[0])
            stub = [" " * indent + f"raise NotImplementedError({message!r})\n"]
            lines[start - 1 : end] = stub + ["\n"] * (end - start)
            left_out.append(
                {
                    "name": f"lines {start}-{end}",
                    "kind": "branch",
                    "file": files[relative],
                    "line": start,
                    "reason": f"not taken by the converted model, and not translated: {found[0]}",
                }
            )
        changed[relative] = "".join(lines)
    for relative, names in stubbed.items():
        lines = changed[relative].splitlines(keepends=True)
        definitions = _definitions(ast.parse(changed[relative]))
        for node in sorted(definitions, key=lambda n: n.lineno, reverse=True):
            if node.name not in names:
                continue
            first = str(names[node.name][0])
            start = _start(node)
            stub = _decorators(lines, node) + _stub(node, first)
            stub += ["\n"] * (node.end_lineno - start + 1 - len(stub))  # later lines keep place
            lines[start - 1 : node.end_lineno] = stub
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            unused = "not used by" if kind == "class" else "not called by the forward of"
            left_out.append(
                {
                    "name": node.name,
                    "kind": kind,
                    "file": files[relative],
                    "line": node.lineno,
                    "reason": f"{unused} the converted model, and not translated: {first}",
                }
            )
        changed[relative] = "".join(lines)
    return changed, left_out, remaining


def _is_used(node: Definition, module: str, path: str, used: UsedCode) -> bool:
    if isinstance(node, ast.ClassDef):
        return (module, node.name) in used.classes
    file = _resolved(path)
    return any(
        name == file and _start(node) <= line <= node.end_lineno for name, line in used.called
    )


def _untaken(node: Definition, line: int, path: str, used: UsedCode) -> tuple[int, int, int] | None:
    """(first line, last line, indent) of the innermost branch of an ``if`` in ``node`` that
    holds ``line`` and none of whose lines the model's forward ran; None if there is none."""
    file = _resolved(path)
    run = {n for name, n in used.lines if name == file}
    found = None
    for child in ast.walk(node):
        if not isinstance(child, ast.If):
            continue
        for body in (child.body, child.orelse):
            if not body or isinstance(body[0], ast.If) and body is child.orelse:
                continue  # an elif: its own branches
            start, end = body[0].lineno, max(s.end_lineno or s.lineno for s in body)
            if not start <= line <= end or any(start <= n <= end for n in run):
                continue
            if found is None or found[0] <= start and end <= found[1]:
                found = (start, end, body[0].col_offset)
    return found


def _module(relative: Path, reached: Reached) -> str:
    if relative == reached.main:
        return MAIN_MODULE
    parts = relative.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolved(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, ValueError):  # "<stdin>", a notebook cell's name
        return path


def _definitions(tree: ast.Module) -> list[Definition]:
    kinds = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return [n for n in tree.body if isinstance(n, kinds)]


def _start(node: Definition) -> int:
    return node.decorator_list[0].lineno if node.decorator_list else node.lineno


def _definition_at(source: str, line: int) -> Definition | None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in _definitions(tree):
        if _start(node) <= line <= (node.end_lineno or node.lineno):
            return node
    return None


def _decorators(lines: list[str], node: Definition) -> list[str]:
    """The decorator lines of ``node``, kept on its stub: a registry's ``@Norm.factory("x")``
    still registers the name, so a lookup reaches the stub and raises its problem."""
    if not node.decorator_list:
        return []
    return lines[node.decorator_list[0].lineno - 1 : node.lineno - 1]


def _stub(node: Definition, problem: str) -> list[str]:
    """A plain class whose construction, or a function whose call, raises with the problem."""
    if isinstance(node, ast.ClassDef):
        message = f"{node.name} was not translated (the converted model does not use it): "
        head = [f"class {node.name}:\n", "    def __init__(self, *args, **kwargs):\n"]
        indent = "        "
    else:
        message = (
            f"{node.name} was not translated (the converted model's forward did not call it): "
        )
        head = [f"def {node.name}(*args, **kwargs):\n"]
        indent = "    "
    return [*head, f"{indent}raise NotImplementedError({message + problem!r})\n"]
