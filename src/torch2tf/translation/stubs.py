"""--allow-partial's stubs: each construct that cannot be translated becomes a call of
``torch2tf_untranslated(code, problem)``, which raises ``NotImplementedError`` when it runs.

A diagnostic names a position, not a node: the construct stubbed for it is the smallest one
starting there (a call such as ``nn.Conv2d(...)``, or a dotted name), or, when that is already
a stub, the statement around it, then the one around that, up to the function's whole body.

:class:`StubRecording` lets the engine stub in the translation itself: it records the
translation of every node of the input, and :func:`stub_translation` replaces the translation
of each construct reported by its stub, so one translation gives the partial output.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence

import libcst as cst

from torch2tf.errors import Diagnostic
from torch2tf.names import dotted, is_docstring

STUB = "torch2tf_untranslated"
STUB_DEF = f'''
def {STUB}(code, problem):
    """Stands for PyTorch code torch2tf could not translate (written by --allow-partial)."""
    raise NotImplementedError(f"torch2tf could not translate {{code}}: {{problem}}")
'''


def is_stub_call(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Call) and dotted(node.func) == STUB


def _stub_value(node: cst.CSTNode) -> cst.Call | None:
    """The stub call of ``x = stub(...)`` or ``return stub(...)``."""
    if isinstance(node, cst.SimpleStatementLine) and len(node.body) == 1:
        value = getattr(node.body[0], "value", None)
        if isinstance(node.body[0], (cst.Assign, cst.AnnAssign, cst.Return)) and (
            value is not None and is_stub_call(value)
        ):
            return value
    return None


def is_stub(node: cst.CSTNode) -> bool:
    """A stub call, a statement that is one, or a function whose whole body is one."""
    if is_stub_call(node):
        return True
    if isinstance(node, cst.FunctionDef):
        body = [s for s in node.body.body if not is_docstring(s)]
        return len(body) == 1 and is_stub(body[0])
    return (
        isinstance(node, cst.SimpleStatementLine)
        and len(node.body) == 1
        and isinstance(node.body[0], cst.Expr)
        and is_stub_call(node.body[0].value)
    )


def targets(
    diagnostics: Sequence[Diagnostic], positions: Mapping, parents: Mapping
) -> dict[cst.CSTNode, Diagnostic] | None:
    """The construct to stub for each diagnostic (the first diagnostic of each), or None when
    a diagnostic names no node or its construct cannot be widened further."""
    starts: dict[tuple[int, int], list[cst.CSTNode]] = {}
    for node, pos in positions.items():
        starts.setdefault((pos.start.line, pos.start.column), []).append(node)

    def size(node: cst.CSTNode) -> tuple[int, int]:
        end = positions[node].end
        return (end.line, end.column)

    found: dict[cst.CSTNode, Diagnostic] = {}
    for diagnostic in diagnostics:
        at = starts.get((diagnostic.line, diagnostic.column - 1))
        if not at:
            return None
        chain = _candidates(min(at, key=size), parents)
        stubs = [i for i, node in enumerate(chain) if is_stub(node)]
        index = stubs[-1] + 1 if stubs else 0
        if index >= len(chain):
            return None
        found.setdefault(chain[index], diagnostic)
    return found


def _candidates(node: cst.CSTNode, parents: Mapping) -> list[cst.CSTNode]:
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
            if is_stub_call(call) and len(call.args) == 2:
                try:
                    inner.append(ast.literal_eval(module.code_for_node(call.args[1].value)))
                except (ValueError, SyntaxError):
                    pass

    node.visit(Stubs())
    return inner[0] if len(set(inner)) == 1 else diagnostic.message


def stub_for(
    module: cst.Module, original: cst.CSTNode, replaced: cst.CSTNode, diagnostic: Diagnostic
) -> cst.CSTNode:
    """The stub standing for ``original`` (of ``module``), in place of ``replaced``."""
    label, problem = _label(module, original), _problem(module, original, diagnostic)
    call = f"{STUB}({label!r}, {problem!r})"
    if isinstance(original, cst.BaseExpression):
        return cst.parse_expression(call).with_changes(lpar=original.lpar, rpar=original.rpar)
    statement = cst.parse_statement(call + "\n")
    if isinstance(original, cst.FunctionDef):
        kept = [s for s in replaced.body.body[:1] if is_docstring(s)]
        return replaced.with_changes(body=replaced.body.with_changes(body=[*kept, statement]))
    return statement.with_changes(leading_lines=getattr(replaced, "leading_lines", ()))


def with_stub_def(module: cst.Module) -> cst.Module:
    """``module`` defining the stub after its docstring and imports."""
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
    body[at:at] = cst.parse_module(STUB_DEF).body
    return module.with_changes(body=body)


class StubRecording(cst.CSTTransformer):
    """Records what each node of the input became (``translated``, when not None), so the
    translation of a construct reported later can still be replaced by its stub."""

    translated: dict[cst.CSTNode, object] | None = None

    def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode):
        result = super().on_leave(original, updated)
        if self.translated is not None:
            self.translated[original] = result
        return result


def stub_source(
    module: cst.Module, found: Mapping[cst.CSTNode, Diagnostic]
) -> tuple[cst.Module, dict[cst.CSTNode, cst.CSTNode]]:
    """``module`` with each construct of ``found`` stubbed (defining the stub), and what each
    of its nodes became."""
    became: dict[cst.CSTNode, cst.CSTNode] = {}

    class Stubber(cst.CSTTransformer):
        def on_leave(self, original, updated):
            diagnostic = found.get(original)
            if diagnostic is not None:
                updated = stub_for(module, original, updated, diagnostic)
            became[original] = updated
            return updated

    return with_stub_def(module.visit(Stubber())), became


def stub_translation(
    module: cst.Module,
    result: cst.Module,
    translated: Mapping[cst.CSTNode, object],
    found: Mapping[cst.CSTNode, Diagnostic],
    dropped: Sequence[cst.CSTNode] = (),
) -> cst.Module | None:
    """``result``, the translation of ``module``, with the translation of each construct of
    ``found`` replaced by its stub (defining the stub) and the statements ``dropped`` (of
    ``result``) removed; None when one of them has no
    translation of its own in ``result`` (removed, merged into another node, or moved
    elsewhere, such as init code into initializers) or stands where Python accepts no call:
    then the caller stubs the source instead and translates that."""
    replace: dict[int, tuple[cst.CSTNode, Diagnostic]] = {}
    for original, diagnostic in found.items():
        node = translated.get(original)
        expression = isinstance(original, cst.BaseExpression)
        if not isinstance(node, cst.CSTNode) or isinstance(node, cst.BaseExpression) != expression:
            return None
        replace[id(node)] = (original, diagnostic)
    drop = {id(node) for node in dropped}
    done: set[int] = set()

    class Stubber(cst.CSTTransformer):
        def on_leave(self, original_node, updated_node):
            if id(original_node) in drop:
                done.add(id(original_node))
                return cst.RemoveFromParent()
            entry = replace.get(id(original_node))
            if entry is None:
                return updated_node
            done.add(id(original_node))
            return stub_for(module, entry[0], updated_node, entry[1])

    stubbed = result.visit(Stubber())
    if len(done) != len(replace) + len(drop):
        return None
    stubbed = with_stub_def(stubbed)
    try:
        ast.parse(stubbed.code)
    except SyntaxError:  # a stub where Python accepts no call, such as an assignment target
        return None
    return stubbed
