"""Small syntax helpers of the training-script pass: what a statement calls, reads and
assigns, fresh names, and the edits of single calls."""

from __future__ import annotations

import libcst as cst

from torch2tf.names import code_of


def expr_statement_call(stmt: cst.CSTNode) -> cst.Call | None:
    """The call of a statement line that is a single call expression."""
    if (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, cst.Call)
    ):
        return stmt.body[0].value
    return None


def method_call(stmt: cst.CSTNode, method: str) -> tuple[str, cst.Call] | None:
    """``(receiver name, call)`` for a statement ``name.method(...)``."""
    call = expr_statement_call(stmt)
    if (
        call is not None
        and isinstance(call.func, cst.Attribute)
        and call.func.attr.value == method
        and isinstance(call.func.value, cst.Name)
    ):
        return call.func.value.value, call
    return None


def assigned_targets(stmt: cst.CSTNode) -> set[str]:
    names: set[str] = set()

    class Targets(cst.CSTVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            target_names(node.target, names)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            target_names(node.target, names)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            target_names(node.target, names)

        def visit_For(self, node: cst.For) -> None:
            target_names(node.target, names)

        def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
            target_names(node.target, names)

    stmt.visit(Targets())
    return names


def target_names(target: cst.BaseExpression, out: set[str]) -> None:
    if isinstance(target, cst.Name):
        out.add(target.value)
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            target_names(element.value, out)
    elif isinstance(target, cst.StarredElement):
        target_names(target.value, out)


def has_jump(body: cst.CSTNode) -> bool:
    """Whether a loop body holds a break or continue of its own (not of an inner loop)."""
    found = []

    class Jumps(cst.CSTVisitor):
        def visit_Break(self, node: cst.Break) -> None:
            found.append(node)

        def visit_Continue(self, node: cst.Continue) -> None:
            found.append(node)

        def visit_For(self, node: cst.For) -> bool:
            return False

        def visit_While(self, node: cst.While) -> bool:
            return False

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

    body.visit(Jumps())
    return bool(found)


def statement_children(node: cst.CSTNode, out: list[cst.CSTNode]) -> None:
    """Every statement under ``node`` in pre-order, not entering classes."""
    for child in node.children:
        if isinstance(child, cst.BaseExpression):
            continue
        if isinstance(child, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            out.append(child)
            if not isinstance(child, cst.ClassDef):
                statement_children(child, out)
        else:
            statement_children(child, out)


def is_import_line(stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
    )


def header_calls(stmt: cst.CSTNode) -> list[cst.Call]:
    """The calls of a statement itself (for a compound one: its header), in pre-order."""
    calls: list[cst.Call] = []

    class Calls(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if node is not stmt and isinstance(
                node, (cst.IndentedBlock, cst.BaseCompoundStatement, cst.Else, cst.Finally)
            ):
                return False
            if isinstance(node, cst.ExceptHandler):
                return False
            if isinstance(node, cst.Call):
                calls.append(node)
            return True

    stmt.visit(Calls())
    return calls


def reads(stmt: cst.CSTNode) -> list[cst.Name]:
    """The names a statement reads (assignment targets left out; ``x += 1`` reads x)."""
    names: list[cst.Name] = []

    class Reads(cst.CSTVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> bool:
            target_reads(node.target, self)
            return False

        def visit_AnnAssign(self, node: cst.AnnAssign) -> bool:
            if node.value is not None:
                node.value.visit(self)
            return False

        def visit_For(self, node: cst.For) -> bool:
            node.iter.visit(self)
            node.body.visit(self)
            if node.orelse is not None:
                node.orelse.visit(self)
            return False

        def visit_Name(self, node: cst.Name) -> None:
            names.append(node)

        def visit_Attribute(self, node: cst.Attribute) -> bool:
            node.value.visit(self)
            return False

        def visit_Arg(self, node: cst.Arg) -> bool:
            node.value.visit(self)
            return False

    stmt.visit(Reads())
    return names


def target_reads(target: cst.BaseExpression, visitor: cst.CSTVisitor) -> None:
    """Names read by an assignment target: the object of ``a.b = ...``, ``a[i] = ...``."""
    if isinstance(target, cst.Attribute):
        target.value.visit(visitor)
    elif isinstance(target, cst.Subscript):
        target.value.visit(visitor)
        for element in target.slice:
            element.visit(visitor)
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            target_reads(element.value, visitor)


def operands(node: cst.CSTNode) -> list[cst.BaseExpression]:
    if isinstance(node, cst.BinaryOperation):
        return [node.left, node.right]
    if isinstance(node, cst.UnaryOperation):
        return [node.expression]
    if isinstance(node, cst.Comparison):
        return [node.left, *(c.comparator for c in node.comparisons)]
    return []


def all_calls(node: cst.CSTNode) -> list[cst.Call]:
    calls: list[cst.Call] = []

    class Calls(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            calls.append(call)

    node.visit(Calls())
    return calls


def names_in(node: cst.CSTNode) -> list[cst.Name]:
    names: list[cst.Name] = []

    class Names(cst.CSTVisitor):
        def visit_Name(self, name: cst.Name) -> None:
            names.append(name)

        def visit_Attribute(self, attribute: cst.Attribute) -> bool:
            attribute.value.visit(self)
            return False

    node.visit(Names())
    return names


def all_names(node: cst.CSTNode) -> set[str]:
    return {n.value for n in names_in(node)}


def count_assignments(module: cst.Module, name: str) -> int:
    count = 0
    for stmt in module.body:
        if name in assigned_targets(stmt):
            count += 1
    return count


def fresh_name(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    number = 1
    while f"{base}_{number}" in taken:
        number += 1
    return f"{base}_{number}"


def comment_lines(*texts: str) -> list[cst.EmptyLine]:
    return [cst.EmptyLine(indent=True, comment=cst.Comment(f"# {t}")) for t in texts]


def parse_statement(source: str) -> cst.BaseStatement:
    return cst.parse_statement(source)


def attr_of(call: cst.Call) -> str | None:
    return call.func.attr.value if isinstance(call.func, cst.Attribute) else None


def nth_key(calls: list[cst.Call], call: cst.Call) -> tuple[str, int] | None:
    """(func source head, rank among calls with the same func) of ``call``."""
    func = code_of(call.func).split("(")[0]
    same = [c for c in calls if code_of(c.func).split("(")[0] == func]
    for index, candidate in enumerate(same):
        if candidate is call:
            return func, index
    return None


def contains(root: cst.CSTNode, node: cst.CSTNode) -> bool:
    found = []

    class Finder(cst.CSTVisitor):
        def on_visit(self, child: cst.CSTNode) -> bool:
            if child is node:
                found.append(child)
            return not found

    root.visit(Finder())
    return bool(found)


def with_keyword(call: cst.Call, keyword: str, value: str) -> cst.Call:
    args = list(call.args)
    if args:
        args[-1] = args[-1].with_changes(
            comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        )
    new = cst.Arg(
        cst.parse_expression(value),
        keyword=cst.Name(keyword),
        equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
    )
    return call.with_changes(args=[*args, new])


def swap_loss_arguments(call: cst.Call) -> cst.Call:
    """``criterion(output, target)`` -> ``criterion(target, output)``."""
    positional = [a.value for a in call.args if a.keyword is None]
    keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
    values = positional + [keywords[k] for k in ("input", "target") if k in keywords]
    output, target = values[0], values[1]
    return call.with_changes(
        args=[
            cst.Arg(target, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
            cst.Arg(output),
        ]
    )


def clip_name(keyword: str) -> str:
    return "clip_grad_norm_" if keyword == "global_clipnorm" else "clip_grad_value_"


def lead(stmt: cst.CSTNode, lines: list[cst.EmptyLine]) -> cst.CSTNode:
    if not lines or not hasattr(stmt, "leading_lines"):
        return stmt
    return stmt.with_changes(leading_lines=[*lines, *stmt.leading_lines])
