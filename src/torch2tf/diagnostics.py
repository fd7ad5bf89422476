"""Diagnostics: what could not be translated exactly, and where; partial output on request.

Everything here is static, like the engine: the input is parsed, never imported or executed.

``foreign_layers`` names layers imported from third-party packages, which nothing translates
(the engine reports them with its own diagnostics). ``translate_partial`` is what
``torch2tf translate --allow-partial`` writes: each construct that cannot be translated is
replaced by a call to ``torch2tf_untranslated(code, problem)``, a stub defined in the output
that raises ``NotImplementedError`` when it runs, so the rest of the file is still translated.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from torch2tf.names import ImportTable, dotted, drop_imports, is_docstring
from torch2tf.project import is_project_top, project_of, project_tops


@dataclass(frozen=True)
class Diagnostic:
    """One problem in the input, with its 1-based line and column."""

    path: str
    line: int
    column: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{self.path}:{self.line}:{self.column}: error: {self.message}{hint}"


class TranslationError(Exception):
    """The input cannot be translated exactly; ``diagnostics`` lists every reason at once."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(set(diagnostics), key=lambda d: (d.path, d.line, d.column))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


# --------------------------------------------------------------------------- third-party layers


class ParsedSource(NamedTuple):
    """A parsed file with the position and parent of each node."""

    module: cst.Module
    positions: Mapping[cst.CSTNode, Any]
    parents: Mapping[cst.CSTNode, cst.CSTNode]


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
    source: str, path: str = "<string>", parsed: ParsedSource | None = None
) -> list[Diagnostic]:
    """Layers of other packages built in ``nn.Module`` classes: each is named, none translated.

    A call counts as a layer when its result is stored on ``self`` or when its name is a class
    name (CapWords), e.g. ``self.mlp = Mlp(...)`` after ``from timm.layers import Mlp``.
    Modules of the input's own project (relative imports, files and packages beside it) are
    not other packages: ``translate_project`` and ``convert`` translate them too.
    Source that does not parse gives no diagnostics here (``translate_source`` reports it).
    ``parsed`` is the engine's own parse with its metadata, so the file is not read twice.
    """
    if parsed is None:
        try:
            wrapper = MetadataWrapper(cst.parse_module(source))
        except Exception:  # noqa: BLE001 - a parse failure is the engine's to report
            return []
        parsed = ParsedSource(
            wrapper.module, wrapper.resolve(PositionProvider), wrapper.resolve(ParentNodeProvider)
        )
    module, positions, parents = parsed
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
            if is_local(qualified.split(".")[0]):
                return
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


# --------------------------------------------------------------------------- partial output

STUB = "torch2tf_untranslated"
_STUB_DEF = f'''
def {STUB}(code, problem):
    """Stands for PyTorch code torch2tf could not translate (written by --allow-partial)."""
    raise NotImplementedError(f"torch2tf could not translate {{code}}: {{problem}}")
'''
_MAX_ROUNDS = 30


def translate_partial(source: str, path: str = "<string>") -> tuple[str, list[Diagnostic]]:
    """Translate, replacing each construct that cannot be translated by a raising stub.

    Returns:
        The TensorFlow source and the diagnostics of the input (empty when it translated
        exactly, and then the source is exactly what ``translate_source`` returns).

    Raises:
        TranslationError: the input has a syntax error, or a problem could not be stubbed.
    """
    from torch2tf.translate import translate_source

    try:
        return translate_source(source, path), []
    except TranslationError as err:
        problems = err.diagnostics
    if any(d.message.startswith("syntax error") for d in problems):
        raise TranslationError(problems)
    current, diagnostics = source, problems
    for _ in range(_MAX_ROUNDS):
        stubbed = _stub(current, diagnostics)
        if stubbed is None:
            break
        current = stubbed
        try:
            code = translate_source(current, path)
        except TranslationError as err:
            diagnostics = err.diagnostics
            continue
        count = code.count(f"{STUB}(") - 1
        header = (
            f"# PARTIAL TRANSLATION by torch2tf --allow-partial: {count} construct"
            f"{'s' * (count != 1)} could not be translated.\n"
            f"# Each is a call to {STUB}(...), which raises NotImplementedError when it runs.\n"
        )
        return _with_header(code, header), problems
    raise TranslationError(problems)


def _with_header(code: str, header: str) -> str:
    lines = code.splitlines(keepends=True)
    keep = 0
    while keep < len(lines) and keep < 2 and lines[keep].startswith("#!"):
        keep += 1
    return "".join(lines[:keep]) + header + "".join(lines[keep:])


def _is_stub_call(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Call) and dotted(node.func) == STUB


def _stub_value(node: cst.CSTNode) -> cst.Call | None:
    """The stub call of ``x = stub(...)`` or ``return stub(...)``."""
    if isinstance(node, cst.SimpleStatementLine) and len(node.body) == 1:
        value = getattr(node.body[0], "value", None)
        if isinstance(node.body[0], (cst.Assign, cst.AnnAssign, cst.Return)) and (
            value is not None and _is_stub_call(value)
        ):
            return value
    return None


def _is_stub(node: cst.CSTNode) -> bool:
    """A stub call, a statement that is one, or a function whose whole body is one."""
    if _is_stub_call(node):
        return True
    if isinstance(node, cst.FunctionDef):
        body = [s for s in node.body.body if not is_docstring(s)]
        return len(body) == 1 and _is_stub(body[0])
    return (
        isinstance(node, cst.SimpleStatementLine)
        and len(node.body) == 1
        and isinstance(node.body[0], cst.Expr)
        and _is_stub_call(node.body[0].value)
    )


def _stub(source: str, diagnostics: list[Diagnostic]) -> str | None:
    """``source`` with the construct of each diagnostic replaced by a stub, or None if stuck.

    A diagnostic names a position, not a node, so the smallest construct starting there is
    stubbed first (a call such as ``nn.Conv2d(...)``, or a dotted name). When a diagnostic
    comes back at a stub, the statement around it is stubbed instead, then the one around
    that, up to the function's own statements.
    """
    try:
        wrapper = MetadataWrapper(cst.parse_module(source))
    except Exception:  # noqa: BLE001
        return None
    module = wrapper.module
    positions = wrapper.resolve(PositionProvider)
    parents = wrapper.resolve(ParentNodeProvider)
    starts: dict[tuple[int, int], list[cst.CSTNode]] = {}
    for node, pos in positions.items():
        starts.setdefault((pos.start.line, pos.start.column), []).append(node)

    def size(node: cst.CSTNode) -> tuple[int, int]:
        end = positions[node].end
        return (end.line, end.column)

    targets: dict[cst.CSTNode, Diagnostic] = {}
    for diagnostic in diagnostics:
        at = starts.get((diagnostic.line, diagnostic.column - 1))
        if not at:
            return None
        chain = _candidates(min(at, key=size), parents)
        stubs = [i for i, node in enumerate(chain) if _is_stub(node)]
        index = stubs[-1] + 1 if stubs else 0
        if index >= len(chain):
            return None
        targets.setdefault(chain[index], diagnostic)
    if not targets:
        return None
    try:
        stubbed = module.visit(_Stubber(module, targets))
        code = _drop_unused_imports(module, _with_stub_def(stubbed)).code
        ast.parse(code)
    except Exception:  # noqa: BLE001 - a stub where Python accepts no call: give up
        return None
    return code


def _candidates(node: cst.CSTNode, parents) -> list[cst.CSTNode]:
    """What may be stubbed for a problem at ``node``, smallest first: an expression, the
    statements around it outward, and last the whole body of the function around it."""
    chain: list[cst.CSTNode] = []
    if isinstance(node, cst.BaseExpression):
        expr: cst.CSTNode = node
        while True:  # the whole dotted name, then the call it names
            parent = parents.get(expr)
            if isinstance(parent, cst.Attribute) and parent.value is expr:
                expr = parent
            elif isinstance(parent, cst.Call) and parent.func is expr:
                expr = parent
                break
            else:
                break
        chain.append(expr)
    current = node if isinstance(node, cst.BaseStatement) else parents.get(node)
    while current is not None and not isinstance(current, (cst.FunctionDef, cst.ClassDef)):
        parent = parents.get(current)
        elif_ = isinstance(parent, cst.If) and parent.orelse is current
        if isinstance(current, (cst.SimpleStatementLine, cst.BaseCompoundStatement)) and not elif_:
            chain.append(current)
        current = parent
    if isinstance(current, cst.FunctionDef) and current not in chain:
        chain.append(current)
    return chain


def _label(module: cst.Module, node: cst.CSTNode) -> str:
    """The code a stub stands for, shortened to its first line."""
    value = _stub_value(node)
    if value is not None:  # ``x = stub("f(...)")``: the statement was ``x = f(...)``
        small = node.body[0]
        inner = ast.literal_eval(module.code_for_node(value.args[0].value))
        if isinstance(small, cst.Return):
            text = f"return {inner}"
        else:
            targets = small.targets if isinstance(small, cst.Assign) else [small]
            text = " = ".join(module.code_for_node(t.target) for t in targets) + f" = {inner}"
    elif isinstance(node, cst.FunctionDef):
        text = f"the body of {node.name.value}()"
    else:
        if isinstance(node, cst.SimpleStatementLine):
            node = node.with_changes(leading_lines=[])
        text = module.code_for_node(node).strip()
    first = text.splitlines()[0] if text else ""
    if first != text:
        first += " ..."
    return first if len(first) <= 80 else first[:76] + " ..."


def _problem(module: cst.Module, node: cst.CSTNode, diagnostic: Diagnostic) -> str:
    """The stub's message: that of the stub inside, if one caused this diagnostic."""
    inner: list[str] = []

    class Stubs(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            if _is_stub_call(call) and len(call.args) == 2:
                try:
                    inner.append(ast.literal_eval(module.code_for_node(call.args[1].value)))
                except (ValueError, SyntaxError):
                    pass

    node.visit(Stubs())
    return inner[0] if len(set(inner)) == 1 else diagnostic.message


class _Stubber(cst.CSTTransformer):
    def __init__(self, module: cst.Module, targets: dict[cst.CSTNode, Diagnostic]) -> None:
        super().__init__()
        self.module = module
        self.targets = targets

    def on_leave(self, original, updated):
        diagnostic = self.targets.get(original)
        if diagnostic is None:
            return updated
        label, problem = _label(self.module, original), _problem(self.module, original, diagnostic)
        call = f"{STUB}({label!r}, {problem!r})"
        if isinstance(original, cst.BaseExpression):
            return cst.parse_expression(call).with_changes(lpar=original.lpar, rpar=original.rpar)
        statement = cst.parse_statement(call + "\n")
        if isinstance(original, cst.FunctionDef):
            kept = [s for s in original.body.body[:1] if is_docstring(s)]
            return original.with_changes(body=original.body.with_changes(body=[*kept, statement]))
        return statement.with_changes(leading_lines=getattr(original, "leading_lines", ()))


def _with_stub_def(module: cst.Module) -> cst.Module:
    if any(isinstance(s, cst.FunctionDef) and s.name.value == STUB for s in module.body):
        return module
    body = list(module.body)
    at = 0
    for index, stmt in enumerate(body):
        if isinstance(stmt, cst.SimpleStatementLine) and all(
            isinstance(s, (cst.Import, cst.ImportFrom))
            or (index == 0 and isinstance(s, cst.Expr) and isinstance(s.value, cst.SimpleString))
            for s in stmt.body
        ):
            at = index + 1
        else:
            break
    body[at:at] = cst.parse_module(_STUB_DEF).body
    return module.with_changes(body=body)


def _names(module: cst.Module) -> set[str]:
    """Names referenced outside import statements."""
    used: set[str] = set()

    class Names(cst.CSTVisitor):
        def visit_Import(self, node: cst.Import) -> bool:
            return False

        def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
            return False

        def visit_Name(self, node: cst.Name) -> None:
            used.add(node.value)

    module.visit(Names())
    return used


def _drop_unused_imports(before: cst.Module, after: cst.Module) -> cst.Module:
    """Remove the imports only stubbed code used, so the output imports without them."""
    return drop_imports(after, _names(before) - _names(after))
