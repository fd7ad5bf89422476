"""Init code past ``nn.init``: the project's own init functions, read where they are called,
and in-place elementwise ops after an init.

    def trunc_normal(tensor, mean, std, a, b):      # a project's copy of torch's algorithm
        with torch.no_grad():
            l = norm_cdf((a - mean) / std)           # a nested one-expression function
            u = norm_cdf((b - mean) / std)
            tensor.uniform_(2 * l - 1, 2 * u - 1)  -> TorchInPlace(RandomUniform(l', u'),
            tensor.erfinv_()                            [("erfinv",), ("mul", s'),
            tensor.mul_(std * math.sqrt(2.0))            ("add", 0.0), ("clamp", -2.0, 2.0)])
            tensor.add_(mean)
            tensor.clamp_(min=a, max=b)
            return tensor

A call of a function of the file or of another project file is read as init code with the
function's parameters bound to the call's arguments (a tensor argument stands for the tensor),
in the names of the function's own file; a value computed there must fold to a number, and
problems inside are reported at the call with the function's own line. The ops after an init
of a tensor (``uniform_``, ``normal_``, ``fill_``, ``nn.init.*``) are applied, in order, to the
values that init draws: the same distribution, whatever the function is called. A function of
another file each of whose uses became initializers is left out of that file's translation
(``tensor_facts.project.fully_consumed``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import libcst as cst

from torch2tf import rules
from torch2tf.init_code.base import (
    TENSOR_INIT_METHODS,
    ReaderBase,
    Refused,
    Scope,
    inits_a_name,
)
from torch2tf.names import code_of, dotted, is_docstring, paren
from torch2tf.rules import Arg
from torch2tf.tensor_facts.project import ProjectFunction, consumed, project_function
from torch2tf.translation.scans import name_uses

# Tensor.<op>_(...) -> (TorchInPlace's op name, its argument names in torch's signature, defaults)
ELEMENTWISE: dict[str, tuple[str, tuple[str, ...], dict[str, str]]] = {
    **{f"{op}_": (op, (), {}) for op in ("erfinv", "exp", "log", "abs", "sqrt", "tanh")},
    "sigmoid_": ("sigmoid", (), {}),
    "neg_": ("negative", (), {}),
    "mul_": ("mul", ("other",), {}),
    "div_": ("div", ("other",), {}),
    "add_": ("add", ("other", "alpha"), {"alpha": "1"}),
    "sub_": ("sub", ("other", "alpha"), {"alpha": "1"}),
    "clamp_": ("clamp", ("min", "max"), {"min": "None", "max": "None"}),
    "clamp_min_": ("clamp", ("min",), {}),
    "clamp_max_": ("clamp", ("max",), {}),
}
MAX_DEPTH = 4  # init functions calling init functions
_NOT_CONST = object()


class _Elsewhere:
    """The engine seen from a function of another project file: that file's imports and
    functions; each problem reported at the call, with the function's own position."""

    def __init__(self, engine: Any, found: ProjectFunction, call: cst.Call) -> None:
        self.engine, self.found, self.call = engine, found, call
        self.imports = found.imports
        self.functions = found.functions

    def error(self, node: cst.CSTNode, message: str, hint: str = "") -> None:
        position = self.found.positions.get(node)
        where = self.found.module.replace(".", "/") + ".py"
        if position is not None:
            where += f":{position.start.line}:{position.start.column + 1}"
        name = self.found.node.name.value
        self.engine.error(self.call, f"in {name}() ({where}): {message}", hint)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


@dataclasses.dataclass
class _Chain:
    """The steps the last init of a tensor recorded, as drawn, and the ops applied since."""

    scope: tuple
    steps: range
    drawn: list[dict[str, str]]
    ops: list[str] = dataclasses.field(default_factory=list)


class InlineReader(ReaderBase):
    """Project init functions read where called; in-place elementwise ops after an init."""

    def _chains(self) -> dict[str, _Chain]:
        if not hasattr(self, "_chain_state"):
            self._chain_state: dict[str, _Chain] = {}
        return self._chain_state

    def _initialised(self, tensor: str, first: int, scope: Scope) -> None:
        """The init call on ``tensor`` recorded the steps from ``first`` on."""
        steps = range(first, len(self.info.init_steps))
        drawn = [dict(self.info.init_steps[i].params) for i in steps]
        self._chains()[tensor] = _Chain(_scope_key(scope), steps, drawn)

    def _elementwise(self, call: cst.Call, tensor_text: str, scope: Scope) -> None:
        """``w.mul_(s)`` after an init of ``w`` in the same scope: the init's values mapped."""
        op, names, defaults = ELEMENTWISE[call.func.attr.value]
        chain = self._chains().get(tensor_text)
        if chain is None or chain.scope != _scope_key(scope) or not chain.steps:
            self._refuse(
                call,
                f"in-place {call.func.attr.value}() of {tensor_text} in init code is translated "
                "only after an init of it in the same block (uniform_, normal_, nn.init.*)",
            )
        given: dict[str, str] = dict(defaults)
        positional = [a for a in call.args if a.keyword is None]
        if len(positional) > len(names) or any(a.star for a in call.args):
            self._refuse(call, f"{call.func.attr.value}() takes {len(names)} arguments")
        for name, arg in zip(names, positional, strict=False):
            given[name] = self._expr(arg.value, scope)
        for arg in call.args:
            if arg.keyword is not None:
                if arg.keyword.value not in names:
                    self._refuse(arg, f"unexpected argument {arg.keyword.value!r}")
                given[arg.keyword.value] = self._expr(arg.value, scope)
        if set(names) - set(given):
            self._refuse(call, f"{call.func.attr.value}() needs {', '.join(names)}")
        values = [given[n] for n in names]
        if op in ("add", "sub"):
            other, alpha = values
            values = [other if alpha == "1" else _folded(f"{paren(alpha)} * {paren(other)}")]
        if op == "clamp" and len(values) == 1:
            values = [values[0], "None"] if "min" in names else ["None", values[0]]
        parts = [repr(op), *values]
        chain.ops.append(f"({', '.join(parts)}{',' if len(parts) == 1 else ''})")
        ops = f"[{', '.join(chain.ops)}]"
        for index, drawn in zip(chain.steps, chain.drawn, strict=True):
            params = {k: f"TorchInPlace({v}, {ops})" for k, v in drawn.items()}
            step = self.info.init_steps[index]
            self.info.init_steps[index] = dataclasses.replace(step, params=params)

    def _project_function(self, call: cst.Call, scope: Scope):
        """(the function, its file's view or None for this file) that ``call`` calls."""
        name = dotted(call.func)
        if name is None or name in scope.functions:
            return None
        functions = getattr(self.t, "functions", {})
        if "." not in name and name in functions:
            here = getattr(self.t, "found", None)  # in a function of another file: its own
            if here is not None:
                here = dataclasses.replace(here, node=functions[name])
            return functions[name], here
        found = project_function(self.t.imports.qualify(call.func))
        return None if found is None else (found.node, found)

    def _calls_init_function(self, call: cst.Call) -> bool:
        """Whether ``call`` calls a project function whose body is init code on one of its
        parameters (``nn.init.*``, ``w.uniform_()``...), read in its own file's names."""
        target = self._project_function(call, Scope())
        if target is None or getattr(self, "_looking", False):
            return False  # one level: an init function calling others is read when inlined
        func, found = target
        params = {p.name.value for p in func.params.params}
        engine = self.t
        self._looking = True
        if found is not None:
            here = engine.engine if isinstance(engine, _Elsewhere) else engine
            self.t = _Elsewhere(here, found, call)
        try:
            methods = (*TENSOR_INIT_METHODS, *ELEMENTWISE)
            return self.is_init_code(func.body) or inits_a_name(func.body, params, methods)
        finally:
            self.t, self._looking = engine, False

    def _inline(self, call: cst.Call, position: int, scope: Scope) -> bool:
        """A call of a project function in init code: its body read as init code. Returns
        whether ``call`` is one."""
        target = self._project_function(call, scope)
        if target is None or not self._calls_init_function(call):
            return False  # no init code in it: reported as not init code
        func, found = target
        if scope.inlined >= MAX_DEPTH:
            self._refuse(call, f"init functions calling each other deeper than {MAX_DEPTH}")
        bound = self._bind_function(func, call)
        aliases, values = {}, {}
        for name, value in bound.items():
            tensor = value.value if _is_data(value) else value
            head = (dotted(tensor) or "").partition(".")[0]
            if head and (head in ("self", scope.var) or head in scope.aliases):
                aliases[name] = code_of(_alias(tensor, scope.aliases))
            else:
                values[name] = self._expr(value, scope)
        inner = scope.child(
            values=values,
            aliases=aliases,
            functions={},
            inlined=scope.inlined + 1,
            numbers_only=scope.numbers_only or found is not None,
            in_init=False,
            name_var=None,
        )
        engine = self.t
        if found is not None:
            here = engine.engine if isinstance(engine, _Elsewhere) else engine
            self.t = _Elsewhere(here, found, isinstance(engine, _Elsewhere) and engine.call or call)
        try:
            self._block(_body(func), position, inner)
        finally:
            self.t = engine
        if found is not None:
            consumed(f"{found.module}.{func.name.value}")
        else:
            self._consumed_here(func.name.value)
        return True

    def _consumed_here(self, name: str) -> None:
        """A function of this file called from init code: left out once every use of it is
        such a call (its effect is in initializers)."""
        calls = getattr(self.t, "init_function_calls", None)
        if calls is None:
            return
        calls[name] = calls.get(name, 0) + 1
        if calls[name] == name_uses(self.t.tree, name):
            self.t.dropped_functions.add(name)

    def _assert(self, stmt: cst.Assert, scope: Scope) -> None:
        """``assert d > 0, message`` in an init function: dropped where it holds for numbers
        known statically, else kept where the function is called (in the names there)."""
        test = self._expr(stmt.test, scope)
        value = rules.const(Arg(test), None)
        if value is None:
            value = _compared(test)
        if value is True:
            return
        if value is False:
            self._refuse(stmt, f"this assert fails in torch here ({test} is False)")
        if scope.numbers_only:
            self._refuse(stmt, f"the assert of {test!r} in a function of another file")
        if scope.var is not None or scope.slice_var is not None:
            self._refuse(stmt, "an assert in an init loop is not translated")
        message = f", {self._expr(stmt.msg, scope)}" if stmt.msg is not None else ""
        line = f"assert {test}{message}"
        if line in self.asserts:
            return  # checked already, unconditionally
        if scope.guard is not None:  # under `if self.bias is not None:`
            line = f"if {scope.guard} is not None:\n    {line}"
        self.asserts.append(line)

    def _nested(self, stmt: cst.FunctionDef, scope: Scope) -> None:
        """``def norm_cdf(x): return ...`` inside an init function: inlined where called."""
        body = [s for s in stmt.body.body if not is_docstring(s)]
        params = stmt.params
        if (
            not scope.inlined
            or len(body) != 1
            or not _returns_value(body[0])
            or params.star_arg not in (None, cst.MaybeSentinel.DEFAULT)
            or params.kwonly_params
            or params.star_kwarg is not None
            or params.posonly_params
            or any(p.default is not None for p in params.params)
        ):
            self._refuse(
                stmt, "a function defined in init code is translated only as `return <expr>`"
            )
        scope.functions[stmt.name.value] = stmt

    def _call_nested(self, call: cst.Call, scope: Scope) -> cst.BaseExpression:
        """The return expression of a nested function, its parameters replaced by ``call``'s
        arguments (already in the caller's values)."""
        func = scope.functions[dotted(call.func)]
        names = [p.name.value for p in func.params.params]
        if len(call.args) != len(names) or any(a.keyword or a.star for a in call.args):
            self._refuse(call, f"{func.name.value}() takes exactly {len(names)} arguments")
        given = {n: paren(code_of(a.value)) for n, a in zip(names, call.args, strict=True)}
        returned = [s for s in func.body.body if not is_docstring(s)][0].body[0].value

        class Bind(cst.CSTTransformer):
            def leave_Name(self, original: cst.Name, updated: cst.Name):
                if original.value in given:
                    return cst.parse_expression(given[original.value])
                return updated

            def visit_Attribute(self, node: cst.Attribute) -> bool:
                return dotted(node) is None  # in ``a.b`` only ``a`` may be a parameter

        return cst.parse_expression(paren(code_of(returned.visit(Bind()))))

    def _number(self, node: cst.CSTNode, source: str, scope: Scope) -> str:
        """A value in an init function folded to a number where it is one; one computed in
        another file must be (its names mean what they mean there)."""
        if not scope.inlined:
            return source
        folded = _folded(source)
        if (
            scope.numbers_only
            and folded == source
            and rules.const(Arg(source), _NOT_CONST) is _NOT_CONST
        ):
            self._refuse(
                node,
                f"the value {code_of(node)!r} of an init function of another file is not a "
                "number known statically",
            )
        return folded

    def _no_effect(self, stmt: cst.CSTNode) -> bool:
        """A warning (``warnings.warn(...)``), or an ``if`` of warnings only under a test
        without calls: no effect on the values drawn."""
        if isinstance(stmt, cst.If):
            branches = [stmt.body.body]
            if stmt.orelse is not None:
                if isinstance(stmt.orelse, cst.If):
                    return False
                branches.append(stmt.orelse.body.body)
            return not _has_call(stmt.test) and all(
                self._no_effect(s) for body in branches for s in body
            )
        if isinstance(stmt, cst.SimpleStatementLine):
            return all(
                isinstance(s, cst.Expr)
                and isinstance(s.value, cst.Call)
                and self.t.imports.qualify(s.value.func) == "warnings.warn"
                for s in stmt.body
            )
        return False


def _compared(source: str) -> bool | None:
    """The value of a comparison of numbers known statically (``3 > 0``), else None."""
    try:
        tree = cst.parse_expression(source)
    except cst.ParserSyntaxError:
        return None
    if not isinstance(tree, cst.Comparison) or len(tree.comparisons) != 1:
        return None
    left = rules.const(Arg(code_of(tree.left)), None)
    right = rules.const(Arg(code_of(tree.comparisons[0].comparator)), None)
    operators = {
        cst.GreaterThan: lambda a, b: a > b,
        cst.GreaterThanEqual: lambda a, b: a >= b,
        cst.LessThan: lambda a, b: a < b,
        cst.LessThanEqual: lambda a, b: a <= b,
    }
    compare = operators.get(type(tree.comparisons[0].operator))
    if compare is None or not all(isinstance(v, (int, float)) for v in (left, right)):
        return None
    return compare(left, right)


def _scope_key(scope: Scope) -> tuple:
    return (scope.var, scope.types, scope.members, scope.guard, scope.tensors, scope.slice_var)


def _folded(source: str) -> str:
    value = rules.const(Arg(source), None)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return source


def _is_data(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Attribute) and node.attr.value == "data"


def _alias(tensor: cst.BaseExpression, aliases: dict[str, str]) -> cst.BaseExpression:
    name = dotted(tensor) or ""
    head, _, rest = name.partition(".")
    if head not in aliases:
        return tensor
    return cst.parse_expression(f"{aliases[head]}.{rest}" if rest else aliases[head])


def _returns_value(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Return)
        and stmt.body[0].value is not None
    )


def _body(func: cst.FunctionDef) -> list[cst.BaseStatement]:
    """The statements of ``func`` without its docstring and a last ``return`` (of the tensor
    it initialised, or nothing), also at the end of a last ``with`` block."""
    body = [s for s in func.body.body if not is_docstring(s)]
    return _without_last_return(body)


def _without_last_return(body: list) -> list:
    """The value returned is not used (the call is a statement): only a call's effect stays
    (``return nn.init.uniform_(w, -s, s)``)."""
    if not body:
        return body
    last = body[-1]
    if isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], cst.Return):
        value = last.body[-1].value
        kept = [cst.Expr(value)] if isinstance(value, cst.Call) else []
        rest = [*last.body[:-1], *kept]
        return [*body[:-1], last.with_changes(body=rest)] if rest else body[:-1]
    if isinstance(last, cst.With):
        inner = _without_last_return(list(last.body.body))
        return [*body[:-1], last.with_changes(body=last.body.with_changes(body=inner))]
    return body


def _has_call(node: cst.CSTNode) -> bool:
    found = False

    class Finder(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            nonlocal found
            found = True

    node.visit(Finder())
    return found


__all__ = ["ELEMENTWISE", "InlineReader", "Refused"]
