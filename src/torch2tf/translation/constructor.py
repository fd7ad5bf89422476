"""The end of the generated ``__init__``: what the class analysis decided it must add."""

from __future__ import annotations

import ast
from collections.abc import Set

import libcst as cst

from torch2tf.class_facts import ClassInfo
from torch2tf.names import code_of, dotted, is_docstring
from torch2tf.rules import LAYERS
from torch2tf.translation.patterns import call_args


def finish_init(info: ClassInfo, func: cst.FunctionDef, subclassed: Set[str]) -> cst.FunctionDef:
    """The generated ``__init__``: init-function defaults guarded, then built at construction.
    ``subclassed``: the names the file's classes derive from."""
    if info.fixed_defaults:
        func = fixed_defaults(func, info.fixed_defaults)
    func = built_unused(info, func, subclassed)
    if info.build_input is None:
        return func
    comments = [info.init_note] if info.init_note else []
    comments.append("# Create the weights now, as torch does at construction.")
    build_code = f"self(tf.keras.Input(shape=({info.build_input},)))\n"
    name = info.node.name.value
    if name in subclassed:
        # A subclass's own layers do not exist yet here: it is built by its first call.
        comments.append("# (Only for this class itself: a subclass adds layers after this.)")
        build_code = f"if type(self) is {name}:\n    {build_code}"
    build = cst.parse_statement(build_code)
    build = build.with_changes(
        leading_lines=[cst.EmptyLine(comment=cst.Comment(c), indent=True) for c in comments]
    )
    return func.with_changes(body=func.body.with_changes(body=[*func.body.body, build]))


def fixed_defaults(func: cst.FunctionDef, fixed: dict[str, cst.Lambda]) -> cst.FunctionDef:
    """An init function default read into initializers: the parameter keeps a plain default,
    and any other value is refused loudly (its effect cannot be known statically)."""
    params = func.params

    def replace(group):
        return [
            p.with_changes(default=cst.SimpleString('"default"')) if p.name.value in fixed else p
            for p in group
        ]

    params = params.with_changes(
        posonly_params=replace(params.posonly_params),
        params=replace(params.params),
        kwonly_params=replace(params.kwonly_params),
    )
    checks = []
    for name, default in fixed.items():
        func_name = code_of(default.body.func) if isinstance(default.body, cst.Call) else "lambda"
        message = f"{name}: only its default init function ({func_name}) is translated"
        checks.append(
            cst.parse_statement(f'if {name} != "default":\n    raise ValueError({message!r})\n')
        )
    body = list(func.body.body)
    at = 1 if body and is_docstring(body[0]) else 0
    body[at:at] = checks
    return func.with_changes(params=params, body=func.body.with_changes(body=body))


def built_unused(info: ClassInfo, func: cst.FunctionDef, subclassed: Set[str]) -> cst.FunctionDef:
    """A layer that no method but ``__init__`` names (pytorch-tabnet's ``initial_bn``) is never
    called, so Keras would never make its weights, which torch has: built right after it is
    made, from the size its constructor fixes."""
    name = info.node.name.value
    if name in subclassed:
        return func  # a subclass may call it
    named = _named_outside_init(info.tree)
    if named is None:
        return func
    body = list(func.body.body)
    for call, attr in info.call_attr.items():
        qualified = info.layers.get(attr)
        if attr in named or qualified not in LAYERS or _named_in_init(info.tree, attr) != 1:
            continue
        try:
            size = LAYERS[qualified]().input_features(*call_args(call)[0], **call_args(call)[1])
        except TypeError:
            continue
        at = next((i for i, stmt in enumerate(body) if _assigns(stmt, attr)), None)
        if size is None or at is None:
            continue
        build = cst.parse_statement(f"self.{attr}.build((None, {size}))\n")
        comment = cst.Comment("# never called: built now, so that its weights exist as torch's do")
        build = build.with_changes(leading_lines=[cst.EmptyLine(comment=comment, indent=True)])
        body.insert(at + 1, build)
    return func.with_changes(body=func.body.with_changes(body=body))


def _named_outside_init(tree: ast.ClassDef) -> set[str] | None:
    """The attributes of ``self`` the class's other methods name; None when a method reaches
    attributes by other means (``getattr(self, ...)``, ``self.modules()``, ``vars(self)``)."""
    named: set[str] = set()
    for method in tree.body:
        if not isinstance(method, ast.FunctionDef) or method.name == "__init__":
            continue
        for node in ast.walk(method):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.value.id == "self":
                    named.add(node.attr)
            elif isinstance(node, ast.Name) and node.id in ("getattr", "vars"):
                return None
    if named & {"modules", "children", "named_modules", "named_children", "apply", "__dict__"}:
        return None
    return named


def _named_in_init(tree: ast.ClassDef, attr: str) -> int:
    """How often ``__init__`` names ``self.attr``."""
    init = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
    return sum(
        1
        for node in ast.walk(init)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
        and node.attr == attr
    )


def _assigns(stmt: cst.CSTNode, attr: str) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Assign)
        and [dotted(t.target) for t in stmt.body[0].targets] == [f"self.{attr}"]
    )
