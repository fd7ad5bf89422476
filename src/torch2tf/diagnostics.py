"""Diagnostics: what could not be translated exactly, and where; partial output on request.

Everything here is static, like the engine: the input is parsed, never imported or executed.

``foreign_layers`` (from :mod:`torch2tf.foreign`) names layers imported from third-party
packages, which nothing translates. ``translate_partial`` is what
``torch2tf translate --allow-partial`` writes: each construct that cannot be translated is
replaced by a call to ``torch2tf_untranslated(code, problem)``, a stub defined in the output
that raises ``NotImplementedError`` when it runs, so the rest of the file is still translated.
"""

from __future__ import annotations

import ast

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from torch2tf.errors import Diagnostic, TranslationError
from torch2tf.foreign import foreign_layers
from torch2tf.names import dotted, drop_imports, is_docstring
from torch2tf.translate import translate_source

__all__ = ["STUB", "Diagnostic", "TranslationError", "foreign_layers", "translate_partial"]


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
