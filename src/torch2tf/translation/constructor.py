"""The end of the generated ``__init__``: what the class analysis decided it must add."""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

from torch2tf.class_facts import ClassInfo
from torch2tf.names import code_of, dotted, is_docstring


def finish_init(
    info: ClassInfo, func: cst.FunctionDef, classes: Mapping[str, ClassInfo]
) -> cst.FunctionDef:
    """The generated ``__init__``: init-function defaults guarded, then built at construction."""
    if info.fixed_defaults:
        func = fixed_defaults(func, info.fixed_defaults)
    if info.build_input is None:
        return func
    comments = [info.init_note] if info.init_note else []
    comments.append("# Create the weights now, as torch does at construction.")
    build_code = f"self(tf.keras.Input(shape=({info.build_input},)))\n"
    name = info.node.name.value
    if any(dotted(b.value) == name for c in classes.values() for b in c.node.bases):
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
