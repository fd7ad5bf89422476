"""Init code in ``__init__`` -> Keras initializer arguments, read statically.

torch initialises a module's tensors by running code after building them: ``reset_parameters()``
methods, loops over ``self.modules()`` or a ``ModuleList``, ``self.apply(fn)``, direct
``nn.init`` calls. Keras takes initializers at construction instead. This module reads that
code in ``__init__`` order, evaluates what it can read exactly (local variables, fans computed
from a parameter's shape, ``calculate_gain``) and records one :class:`InitStep` per effect; the
engine then passes each as ``kernel_initializer=``/``initializer=`` where the tensor is made.
Anything it cannot read exactly is reported at its position, never approximated.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass, field
from typing import Protocol

import libcst as cst

from torch2tf import rules
from torch2tf.class_facts import ClassInfo, InitStep
from torch2tf.names import ImportTable, code_of, dotted, is_docstring, paren
from torch2tf.parameters import tensor_shape
from torch2tf.rules import LAYERS, Arg, LayerRule, Unsupported, bind
from torch2tf.rules.init import for_torch_layout, gain_squared
from torch2tf.torch_api import MODULE_ITERATORS


class Engine(Protocol):
    """What init analysis needs of the engine: names resolved, problems reported."""

    imports: ImportTable

    def error(self, node: cst.CSTNode, message: str, hint: str = "") -> None: ...


TENSOR_INIT_METHODS = {  # in-place tensor methods: ``m.weight.data.normal_(0, 0.01)``
    "normal_": "torch.nn.init.normal_",
    "uniform_": "torch.nn.init.uniform_",
    "zero_": "torch.nn.init.zeros_",
    "fill_": "torch.nn.init.constant_",
}
FANS = "torch.nn.init._calculate_fan_in_and_fan_out"
# numpy on Python numbers in init arguments, as the identical ``math`` (both round sqrt exactly).
NUMPY_AS_MATH = {"numpy.sqrt": "math.sqrt", "numpy.pi": "math.pi"}
# The parameters of each layer with tensors, and their ranks (None: set by an argument).
PARAMETER_RANKS = {
    "torch.nn.Linear": {"weight": 2, "bias": 1},
    "torch.nn.BatchNorm1d": {"weight": 1, "bias": 1},
    "torch.nn.Embedding": {"weight": 2},
    "torch.nn.PReLU": {"weight": 1},
    "torch.nn.LayerNorm": {"weight": None, "bias": None},
    "torch.nn.RMSNorm": {"weight": None},
}
RANK_OPERATORS = {
    cst.GreaterThan: operator.gt,
    cst.GreaterThanEqual: operator.ge,
    cst.LessThan: operator.lt,
    cst.LessThanEqual: operator.le,
    cst.Equal: operator.eq,
    cst.NotEqual: operator.ne,
}
CONTAINERS = {"torch.nn.Sequential", "torch.nn.ModuleList"}
LOOP_ITERATORS = MODULE_ITERATORS | {"parameters", "named_parameters"}
# ``bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0``: torch's own Linear bias bound.
_DEFAULT_BOUND = re.compile(r"\(?1 / math\.sqrt\((?P<fan>[^()]+)\) if (?P=fan) > 0 else 0\)?")


class _Refused(Exception):
    """Init code that cannot be read exactly; already reported."""


@dataclass(frozen=True)
class _Tensor:
    """One parameter a ``self.parameters()`` loop reaches: the class's own (``own``) or one of
    the layer that ``call`` makes."""

    name: str  # its own name: ``weight``
    rank: int | None  # None when the source does not fix it
    own: bool
    call: cst.Call | None = None
    qualified: str | None = None


@dataclass
class _Scope:
    """Local names of the init code being read -> their value as source for __init__."""

    values: dict[str, str] = field(default_factory=dict)
    guard: str | None = None  # inside ``if <guard> is not None:``
    var: str | None = None  # the loop variable over modules
    types: frozenset[str] | None = None  # the types ``var`` was checked against (isinstance)
    members: frozenset[cst.Call] | None = None  # the layers ``var`` runs over (containers)
    over: str = "all"  # what a loop over modules reaches: "all" (modules()) or "children"
    tensors: tuple[_Tensor, ...] | None = None  # the parameters a parameters() loop reaches
    name_var: str | None = None  # the name variable of a named_parameters() loop
    in_init: bool = False  # __init__'s own code (else a method's, with names of its own)
    # an init function's parameters bound to a layer or tensor of __init__: ``module`` -> self.fc
    aliases: dict[str, str] = field(default_factory=dict)

    def child(self, **changes) -> _Scope:
        fields = {**self.__dict__, "values": dict(self.values), **changes}
        return _Scope(**fields)


class InitReader:
    """Reads the init code of one class for the engine (``t``), adding to ``info.init_steps``."""

    def __init__(self, t: Engine, info: ClassInfo) -> None:
        self.t = t
        self.info = info
        init = info.method("__init__")
        tree = next(
            f for f in info.tree.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"
        )
        self.init_tree = tree
        args = tree.args
        self.init_names = {
            a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]
        } | _bound_names(tree)
        self.init = init

    # -- entry points (each returns whether the code was init code it has taken over)

    def is_init_code(self, node: cst.CSTNode) -> bool:
        """Whether ``node`` calls ``nn.init`` or an in-place init method of a tensor."""
        found = False
        outer = self

        class Finds(cst.CSTVisitor):
            def visit_Call(self, call: cst.Call) -> None:
                nonlocal found
                name = outer.t.imports.qualify(call.func) or ""
                found |= name.startswith("torch.nn.init.")
                func = call.func
                found |= isinstance(func, cst.Attribute) and (
                    func.attr.value in TENSOR_INIT_METHODS
                    and (
                        (isinstance(func.value, cst.Attribute) and func.value.attr.value == "data")
                        or outer._param_of(func.value) is not None
                    )
                )

            def visit_For(self, loop: cst.For) -> None:
                nonlocal found
                it = loop.iter  # for m in self.modules(): what else would it do in init code?
                found |= (
                    isinstance(it, cst.Call)
                    and isinstance(it.func, cst.Attribute)
                    and dotted(it.func.value) == "self"
                    and it.func.attr.value in LOOP_ITERATORS
                )

        node.visit(Finds())
        return found

    def method(self, func: cst.FunctionDef, position: int, in_init: bool = False) -> bool:
        """``self.reset_parameters()`` called from __init__: read the whole method."""
        if not self.is_init_code(func.body):
            return False
        body = [s for s in func.body.body if not is_docstring(s)]
        self._block(body, position, _Scope(in_init=in_init))
        return True

    def function(self, func: cst.FunctionDef, call: cst.Call, position: int) -> bool:
        """``init_fn(self.fc, d_in, d_out)`` in __init__ with ``init_fn`` a module-level function
        (pytorch-tabnet's ``initialize_glu``): its body read as init code, with its parameters
        bound to the call's arguments."""
        if not self.is_init_code(func.body):
            return False
        try:
            bound = self._bind_function(func, call)
            aliases: dict[str, str] = {}
            values: dict[str, str] = {}
            for name, value in bound.items():
                owner = (dotted(value) or "").removesuffix(".data")
                if owner.startswith("self."):
                    aliases[name] = owner
                else:
                    values[name] = self._expr(value, _Scope(in_init=True))
        except _Refused:
            return True
        body = [s for s in func.body.body if not is_docstring(s)]
        if body and _is_bare_return(body[-1]):
            body = body[:-1]
        self._block(body, position, _Scope(values=values, aliases=aliases))
        return True

    def default_function(self, default: cst.Lambda, tensor: cst.BaseExpression, position: int):
        """``w_init_(self.linear.weight.data)`` where ``w_init_`` is a parameter of __init__
        whose default is ``lambda w: nn.init.kaiming_normal_(w, ...)``: the lambda's call read
        with ``w`` bound to the tensor. Returns whether it was init code."""
        if not self.is_init_code(default.body) or not isinstance(default.body, cst.Call):
            return False
        params = default.params
        owner = (dotted(tensor) or "").removesuffix(".data")
        if (
            len(params.params) != 1
            or params.star_arg not in (None, cst.MaybeSentinel.DEFAULT)
            or params.kwonly_params
            or params.star_kwarg is not None
            or not owner.startswith("self.")
        ):
            self.t.error(default, "an init function default is translated only as `lambda w: ...`")
            return True
        scope = _Scope(aliases={params.params[0].name.value: owner})
        try:
            self._init_call(default.body, position, scope)
        except _Refused:
            pass
        return True

    def _bind_function(self, func: cst.FunctionDef, call: cst.Call) -> dict:
        """The init function's parameters -> the call's argument expressions."""
        params = func.params
        if (
            params.posonly_params
            or params.kwonly_params
            or isinstance(params.star_arg, cst.Param)
            or params.star_kwarg is not None
            or any(a.star for a in call.args)
        ):
            self._refuse(call, "an init function is translated only with plain parameters")
        names = [p.name.value for p in params.params]
        bound: dict[str, cst.BaseExpression] = {}
        positional = [a for a in call.args if a.keyword is None]
        if len(positional) > len(names):
            self._refuse(call, f"too many arguments for {func.name.value}()")
        for name, arg in zip(names, positional, strict=False):
            bound[name] = arg.value
        for arg in call.args:
            if arg.keyword is not None:
                if arg.keyword.value not in names or arg.keyword.value in bound:
                    self._refuse(arg, f"unexpected argument {arg.keyword.value!r}")
                bound[arg.keyword.value] = arg.value
        for param in params.params:
            name = param.name.value
            if name in bound:
                continue
            if param.default is None or rules.const(Arg(code_of(param.default)), None) is None:
                self._refuse(
                    call, f"{func.name.value}() needs {name!r} here (or a literal default)"
                )
            bound[name] = param.default
        return bound

    def statement(self, stmt: cst.BaseStatement, position: int) -> bool:
        """A statement of __init__ itself: an init call, a loop over modules, a fan."""
        if not self.is_init_code(stmt):
            return False
        if isinstance(stmt, cst.If):
            self._conditional(stmt, position)
            return False  # kept: its init calls are taken one by one
        self._block([stmt], position, _Scope(in_init=True))
        return True

    def _conditional(self, stmt: cst.If, position: int) -> None:
        """Init calls in an ``if`` of __init__, each taken when the tensor it initialises is
        created earlier in the same block: then it runs exactly when the tensor exists."""
        branches = []
        branch: cst.If | cst.Else | None = stmt
        while branch is not None:
            branches.append(branch.body.body)
            branch = branch.orelse if isinstance(branch, cst.If) else None
        for body in branches:
            for index, child in enumerate(body):
                if not self.is_init_code(child):
                    continue
                if isinstance(child, cst.If):
                    self._conditional(child, position)
                    continue
                call = child.body[0].value if _is_call_statement(child) else None
                target = self._target(call) if call is not None else None
                if target is None or _made_in(body[:index], target) is None:
                    self.t.error(
                        child,
                        "init code under a condition is translated only for a layer or "
                        "parameter created earlier under the same condition",
                    )
                    self.info.removed.add(child)  # reported once, here
                    continue
                before = len(self.info.init_steps)
                self._block([child], position, _Scope(in_init=True))
                self.info.removed.add(child)
                made = _made_in(body[:index], target)  # only this branch's construction
                steps = self.info.init_steps
                for i in range(before, len(steps)):
                    step = steps[i]
                    if step.scope == "param":
                        steps[i] = InitStep(*_fields(step)[:4], frozenset({made}))
                    elif step.scope == "attr":
                        qualified = self.t.imports.qualify(made.func) or ""
                        steps[i] = InitStep(
                            position, "calls", qualified, step.params, frozenset({made})
                        )

    def _target(self, call: cst.Call) -> str | None:
        """``x`` for an init of ``self.x.weight``, ``self.x`` or ``self.x.data``."""
        if isinstance(call.func, cst.Attribute) and call.func.attr.value in TENSOR_INIT_METHODS:
            tensor = call.func.value
        else:
            tensor = call.args[0].value if call.args else None
        name = (dotted(tensor) or "").removesuffix(".data") if tensor is not None else ""
        parts = name.split(".")
        return parts[1] if len(parts) in (2, 3) and parts[0] == "self" else None

    def apply(self, func: cst.FunctionDef, var: str, position: int, what: str) -> None:
        """The body of ``fn`` in ``self.apply(fn)``: runs on every module, like modules()."""
        if not self._reaches_all(func, what):
            return
        body = [s for s in func.body.body if not is_docstring(s)]
        self._block(body, position, _Scope(var=var))

    # -- statements

    def _block(self, body, position: int, scope: _Scope) -> None:
        for stmt in body:
            try:
                self._statement(stmt, position, scope)
            except _Refused:
                pass

    def _statement(self, stmt, position: int, scope: _Scope) -> None:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self._small(small, position, scope)
        elif isinstance(stmt, cst.If):
            self._if(stmt, position, scope)
        elif isinstance(stmt, cst.For):
            self._for(stmt, position, scope)
        elif isinstance(stmt, cst.With) and self._is_no_grad(stmt):
            self._block(stmt.body.body, position, scope)
        else:
            self._refuse(stmt, "unsupported statement in init code")

    def _small(self, small, position: int, scope: _Scope) -> None:
        if isinstance(small, cst.Pass):
            return
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            self._init_call(small.value, position, scope)
            return
        if isinstance(small, cst.Assign) and len(small.targets) == 1 and not scope.in_init:
            self._assign(small.targets[0].target, small.value, scope)
            return
        self._refuse(small, "unsupported statement in init code")

    def _assign(self, target: cst.BaseExpression, value: cst.BaseExpression, scope) -> None:
        """``fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)``, ``bound = ...``."""
        if isinstance(value, cst.Call) and self.t.imports.qualify(value.func) == FANS:
            fans = self._fans(value)
            names = [e.value for e in target.elements] if isinstance(target, cst.Tuple) else []
            if len(names) != 2 or not all(isinstance(n, cst.Name) for n in names):
                self._refuse(target, "unpack _calculate_fan_in_and_fan_out into two names")
            for name, fan in zip(names, fans, strict=True):
                scope.values[name.value] = fan
            return
        if not isinstance(target, cst.Name):
            self._refuse(target, "init code assigns only plain local names here")
        scope.values[target.value] = self._expr(value, scope)

    def _fans(self, call: cst.Call) -> tuple[str, str]:
        """torch's fans of a parameter, from the shape it was created with."""
        if len(call.args) != 1:
            self._refuse(call, "_calculate_fan_in_and_fan_out takes one tensor")
        param = self._param_of(call.args[0].value)
        shape = self._shape_of(param) if param else None
        if shape is None:
            self._refuse(call, "fans are computed here only for a parameter of this class")
        if len(shape) < 2:
            self._refuse(
                call,
                f"torch cannot compute fans of the {len(shape)}-D parameter {param}",
                "torch raises ValueError here",
            )
        receptive = "".join(f" * {paren(s)}" for s in shape[2:])
        return f"{paren(shape[1])}{receptive}", f"{paren(shape[0])}{receptive}"

    def _if(self, stmt: cst.If, position: int, scope: _Scope) -> None:
        if scope.tensors is not None:  # decided per parameter, from its name and rank
            taken = tuple(t for t in scope.tensors if self._decide(stmt.test, t, scope))
            rest = tuple(t for t in scope.tensors if t not in taken)
            self._block(stmt.body.body, position, scope.child(tensors=taken))
            if isinstance(stmt.orelse, cst.If):
                self._if(stmt.orelse, position, scope.child(tensors=rest))
            elif isinstance(stmt.orelse, cst.Else):
                self._block(stmt.orelse.body.body, position, scope.child(tensors=rest))
            return
        tensor = _not_none(stmt.test)
        if tensor is not None and stmt.orelse is None:
            self._block(stmt.body.body, position, scope.child(guard=tensor))
            return
        seen: set[str] = set()
        branch: cst.If | cst.Else | None = stmt
        while isinstance(branch, cst.If):
            types = self._isinstance_types(branch.test, scope.var)
            if types is None:
                self._refuse(branch.test, "unsupported condition in init code", "use isinstance")
            if scope.types is not None:
                types &= scope.types
            # an elif only sees the types no earlier branch took
            self._block(branch.body.body, position, scope.child(types=frozenset(types - seen)))
            seen |= types
            branch = branch.orelse
        if branch is not None:
            self._refuse(branch, "an else branch in an init loop is not translated")

    def _for(self, loop: cst.For, position: int, scope: _Scope) -> None:
        """Loops over ``self.modules()`` (and kin), over a container attribute, or over a list
        of layer attributes."""
        if scope.var is not None:
            self._refuse(loop, "nested init loops are not translated")
        iterator, target = loop.iter, loop.target
        kind = None
        if isinstance(iterator, cst.Call) and not iterator.args:
            func = iterator.func
            if isinstance(func, cst.Attribute) and dotted(func.value) == "self":
                kind = func.attr.value
        if kind in ("parameters", "named_parameters"):
            self._parameters_loop(loop, kind, position, scope)
            return
        if kind and kind.startswith("named_") and isinstance(target, cst.Tuple):
            target = target.elements[-1].value
        if not isinstance(target, cst.Name):
            self._refuse(loop.target, "unsupported loop target in init code")
        inner = scope.child(var=target.value)
        if kind in MODULE_ITERATORS:
            if not self._reaches_all(loop, f"self.{kind}()"):
                raise _Refused
            over = "all" if kind in ("modules", "named_modules") else "children"
            self._loop_body(loop, position, inner.child(over=over))
            return
        found = self._members_of(iterator)
        if found is None:
            self._refuse(
                iterator,
                f"init loop over {code_of(iterator)} is not translated",
                "loop over self.modules(), a ModuleList/Sequential attribute, or [self.a, ...]",
            )
        self._loop_body(loop, position, inner.child(members=frozenset(found), over="calls"))

    def _parameters_loop(self, loop: cst.For, kind: str, position: int, scope: _Scope) -> None:
        """``for name, p in self.named_parameters():`` with conditions on the parameter's rank
        (``p.dim() > 1``) or on what its own name decides (``"bias" in name``)."""
        target, name_var = loop.target, None
        if kind == "named_parameters":
            names = [e.value for e in target.elements] if isinstance(target, cst.Tuple) else []
            if len(names) != 2 or not all(isinstance(n, cst.Name) for n in names):
                self._refuse(target, "unsupported loop target in init code")
            name_var, target = names[0].value, names[1]
        if not isinstance(target, cst.Name):
            self._refuse(target, "unsupported loop target in init code")
        if not self._reaches_all(loop, f"self.{kind}()"):
            raise _Refused
        tensors = tuple(self._all_parameters(loop))
        inner = scope.child(var=target.value, name_var=name_var, tensors=tensors, over="params")
        self._block(loop.body.body, position, inner)

    def _all_parameters(self, loop: cst.For) -> list[_Tensor]:
        found = []
        for attr in self.info.params:
            shape = self._shape_of(attr)
            found.append(_Tensor(attr, None if shape is None else len(shape), own=True))
        for call in self.info.call_position:
            qualified = self.t.imports.qualify(call.func)
            if LAYERS[qualified].weights is LayerRule.weights:
                continue  # no tensors
            if qualified not in PARAMETER_RANKS:
                self._refuse(loop, f"the loop reaches {qualified}, whose parameters are not known")
            for name, rank in PARAMETER_RANKS[qualified].items():
                if rank is None:
                    rank = _normalized_rank(call, self.init_tree)
                found.append(_Tensor(name, rank, False, call, qualified))
        return found

    def _decide(self, test: cst.BaseExpression, tensor: _Tensor, scope: _Scope) -> bool:
        """A loop condition's value for one parameter; refused when the source leaves it open."""
        if isinstance(test, cst.BooleanOperation):
            left = self._decide(test.left, tensor, scope)
            if isinstance(test.operator, cst.And):
                return left and self._decide(test.right, tensor, scope)
            return left or self._decide(test.right, tensor, scope)
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            return not self._decide(test.expression, tensor, scope)
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            op, right = test.comparisons[0].operator, test.comparisons[0].comparator
            left = test.left
            if type(op) in RANK_OPERATORS and _is_rank(left, scope.var):
                value = rules.const(Arg(code_of(right)), None)
                if tensor.rank is None or not isinstance(value, int):
                    self._refuse(test, f"the rank of {tensor.name} here is not known statically")
                return RANK_OPERATORS[type(op)](tensor.rank, value)
            if (
                isinstance(op, (cst.In, cst.NotIn))
                and isinstance(left, cst.SimpleString)
                and dotted(right) == scope.name_var
            ):
                inside = self._name_contains(left.evaluated_value, tensor, test)
                return inside if isinstance(op, cst.In) else not inside
        if (
            isinstance(test, cst.Call)
            and isinstance(test.func, cst.Attribute)
            and dotted(test.func.value) == scope.name_var
            and test.func.attr.value == "endswith"
            and len(test.args) == 1
            and isinstance(test.args[0].value, cst.SimpleString)
        ):
            return self._name_endswith(test.args[0].value.evaluated_value, tensor, test)
        self._refuse(
            test,
            "unsupported condition in a parameters() loop",
            "test p.dim(), or the parameter's own name (`'bias' in name`, name.endswith(...))",
        )

    def _name_contains(self, text: str, tensor: _Tensor, where) -> bool:
        """``text in name``, where name is ``<module path>.<own name>`` (or the own name)."""
        if text in tensor.name:
            return True
        if tensor.own:
            return False
        if "." in text or text.isdigit() or not self._path_cannot_hold(text):
            self._refuse(
                where,
                f"whether {text!r} is in the module path of {tensor.name} is not known statically",
            )
        return False

    def _name_endswith(self, text: str, tensor: _Tensor, where) -> bool:
        if len(text) <= len(tensor.name) or tensor.own:
            return tensor.name.endswith(text)
        if not text.endswith("." + tensor.name):
            return False
        self._refuse(where, f"whether the path of {tensor.name} ends with {text!r} is not known")

    def _path_cannot_hold(self, text: str) -> bool:
        """Whether no module path in this class can contain ``text``: it is in no attribute
        name or string of __init__, and __init__ formats no strings (``f"fc{i}"``)."""
        words = {t.attr for t in ast.walk(self.init_tree) if isinstance(t, ast.Attribute)}
        tested = {  # the strings of the loop's own name tests are no module names
            id(c)
            for node in ast.walk(self.init_tree)
            if isinstance(node, (ast.Compare, ast.Call))
            for c in ([node.left] if isinstance(node, ast.Compare) else node.args)
        }
        for node in ast.walk(self.init_tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) not in tested:
                    words.add(node.value)
            if isinstance(node, ast.JoinedStr) and any(
                isinstance(v, ast.FormattedValue) for v in node.values
            ):
                return False
        return not any(text in word for word in words)

    def _record_tensors(self, call: cst.Call, source: str, position: int, scope) -> None:
        """An init of the loop's parameter: one step for each parameter it reaches."""
        for tensor in scope.tensors:
            try:
                checked = for_torch_layout(source, tensor.rank)
            except Unsupported as err:
                self._refuse(call, f"the loop reaches {tensor.name}: {err.message}", err.hint)
            if tensor.own:
                step = InitStep(position, "param", tensor.name, {"value": checked})
            else:
                self._check_param(call, tensor.qualified, tensor.name)
                step = InitStep(
                    position,
                    "calls",
                    tensor.qualified,
                    {tensor.name: source},
                    frozenset({tensor.call}),
                )
            self.info.init_steps.append(step)

    def _loop_body(self, loop: cst.For, position, scope: _Scope) -> None:
        for stmt in loop.body.body:
            try:
                if scope.over != "calls" and not isinstance(stmt, cst.If):
                    # over every module: torch itself fails on m.weight of the model
                    self._refuse(stmt, "unsupported statement in an init loop", "use isinstance")
                self._statement(stmt, position, scope.child())
            except _Refused:
                pass

    # -- init calls

    def _init_call(self, call: cst.Call, position: int, scope: _Scope) -> None:
        """``init.f_(target.param, ...)`` or ``target.param.data.f_(...)`` -> one step."""
        qualified = self.t.imports.qualify(call.func)
        args = list(call.args)
        if qualified in rules.INITIALIZERS:
            if not args or args[0].keyword is not None:
                self._refuse(call, "the tensor to initialise must come first")
            tensor = args[0].value
            rule = rules.INITIALIZERS[qualified]
            name = qualified
        elif isinstance(call.func, cst.Attribute) and call.func.attr.value in TENSOR_INIT_METHODS:
            tensor = call.func.value
            name = TENSOR_INIT_METHODS[call.func.attr.value]
            rule = rules.INITIALIZERS[name]
            args = [cst.Arg(tensor), *args]
        else:
            self._refuse(call, "unsupported statement in init code")
        if isinstance(tensor, cst.Attribute) and tensor.attr.value == "data":
            tensor = tensor.value
        tensor = _aliased(tensor, scope.aliases)
        tensor_text = code_of(tensor)
        if scope.guard is not None and tensor_text != scope.guard:
            self._refuse(call, f"init of {tensor_text} under `if {scope.guard} is not None`")
        try:
            positional = [self._arg(a.value, scope) for a in args[1:] if a.keyword is None]
            keywords = {a.keyword.value: self._arg(a.value, scope) for a in args if a.keyword}
            positional.insert(0, Arg(tensor_text))
            bound = bind(rule, positional, keywords)
            source = _readable(name, bound.arguments) or rule(*bound.args)
        except TypeError as err:
            self._refuse(call, f"cannot translate this init call: {err}")
        except Unsupported as err:
            self._refuse(call, err.message, err.hint)
        if scope.tensors is not None and dotted(tensor) == scope.var:
            self._record_tensors(call, source, position, scope)
            return
        self._record(call, tensor, source, position, scope)

    def _record(self, call, tensor, source: str, position: int, scope: _Scope) -> None:
        param = self._param_of(tensor)
        if param is not None:
            shape = self._shape_of(param)
            try:
                source = for_torch_layout(source, None if shape is None else len(shape))
            except Unsupported as err:
                self._refuse(call, f"{param}: {err.message}", err.hint)
            self.info.init_steps.append(InitStep(position, "param", param, {"value": source}))
            return
        if not isinstance(tensor, cst.Attribute):
            self._refuse(call, f"init of {code_of(tensor)} is not translated")
        owner, weight = tensor.value, tensor.attr.value
        attr = _self_attr(owner)
        if attr is not None and attr in self.info.layers:
            if self.info.layers[attr] in CONTAINERS:
                self._refuse(call, f"self.{attr} is a container: it has no {weight}")
            other = self._other_assignment(attr)
            if other is not None:  # e.g. a shared layer passed in: torch re-initialises it too
                self._refuse(
                    call,
                    f"self.{attr} is also assigned something else than its layer (line {other}): "
                    f"which {weight} this init reaches is not known statically",
                    "create the layer in one place, or initialise it where it is created",
                )
            self._check_param(call, self.info.layers[attr], weight)
            self.info.init_steps.append(InitStep(position, "attr", attr, {weight: source}))
            return
        if scope.var is None or dotted(owner) != scope.var:
            self._refuse(call, f"init of {code_of(tensor)} is not translated", "init a layer")
        if scope.members is not None:
            self._record_members(call, weight, source, position, scope)
            return
        if scope.types is None:
            self._refuse(call, "init of a loop variable outside an isinstance check")
        for qualified in sorted(scope.types):
            self._check_param(call, qualified, weight)
            step = InitStep(position, scope.over, qualified, {weight: source})
            self.info.init_steps.append(step)

    def _other_assignment(self, attr: str) -> int | None:
        """The line of an assignment to ``self.attr`` in __init__ other than a construction."""
        for node in ast.walk(self.init_tree):
            if not isinstance(node, ast.Assign):
                continue
            for target in node.targets:
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                    and target.attr == attr
                    and not isinstance(node.value, ast.Call)
                ):
                    return node.lineno
        return None

    def _record_members(self, call, weight: str, source: str, position: int, scope) -> None:
        """An init of ``layer.weight`` in a loop over a container's layers."""
        reached = []
        for member in scope.members:
            qualified = self.t.imports.qualify(member.func)
            if scope.types is not None and qualified not in scope.types:
                continue
            if qualified not in LAYERS or qualified in CONTAINERS:
                self._refuse(
                    call,
                    f"the loop also reaches {code_of(member.func)}(...), whose {weight} is "
                    "not translated",
                )
            self._check_param(call, qualified, weight)
            reached.append(member)
        for qualified in {self.t.imports.qualify(m.func) for m in reached}:
            step = InitStep(position, "calls", qualified, {weight: source}, frozenset(reached))
            self.info.init_steps.append(step)

    def _check_param(self, call: cst.Call, qualified: str, weight: str) -> None:
        rule = LAYERS[qualified]
        if weight not in rule.initializers:
            self._refuse(
                call,
                f"init of {qualified}.{weight} is not translated",
                f"translated parameters: {', '.join(rule.initializers) or 'none'}",
            )

    # -- values

    def _arg(self, node: cst.BaseExpression, scope: _Scope) -> Arg:
        """An init argument as source for __init__; ``calculate_gain(...)`` is evaluated."""
        if (
            isinstance(node, cst.Call)
            and self.t.imports.qualify(node.func) == "torch.nn.init.calculate_gain"
        ):
            values = [rules.const(Arg(code_of(a.value)), None) for a in node.args]
            if not values or not isinstance(values[0], str) or None in values:
                raise Unsupported("calculate_gain needs literal arguments")
            return Arg(repr(math.sqrt(gain_squared(*values[:2]))))
        return Arg(self._expr(node, scope))

    def _expr(self, node: cst.BaseExpression, scope: _Scope) -> str:
        """Source of ``node`` valid in __init__ where the tensor is made: local names are
        replaced by their values, ``self.w.size(1)``/``self.w.shape[1]`` by the size."""
        outer = self
        names = _free_names(node)
        torch_names = {n for n in names if self.t.imports.is_torch(n)}
        if torch_names:
            self._refuse(node, f"the init argument {code_of(node)!r} uses torch")
        if scope.var is not None and scope.var in names:
            self._refuse(node, f"an init argument depending on {scope.var} is not translated")
        if names & set(scope.aliases):
            used = ", ".join(sorted(names & set(scope.aliases)))
            self._refuse(node, f"an init argument depending on the layer or tensor {used}")
        if not scope.in_init:
            for name in names - set(scope.values) - {"self", "math"}:
                if name in self.init_names:  # a global in the method, a local in __init__
                    self._refuse(node, f"{name!r} here is not the {name!r} of __init__")

        class Substitute(cst.CSTTransformer):
            def leave_Name(self, original: cst.Name, updated: cst.Name):
                if original.value in scope.values:
                    return cst.parse_expression(paren(scope.values[original.value]))
                return updated

            def visit_Attribute(self, node: cst.Attribute) -> bool:
                return dotted(node) is None  # in ``a.b`` only ``a`` may be a local name

            def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute):
                same = NUMPY_AS_MATH.get(outer.t.imports.qualify(original) or "")
                return updated if same is None else cst.parse_expression(same)

            def leave_Call(self, original: cst.Call, updated: cst.Call):
                size = outer._size(original.func, original.args)
                return updated if size is None else cst.parse_expression(paren(size))

            def leave_Subscript(self, original: cst.Subscript, updated):
                if len(original.slice) != 1 or not isinstance(original.slice[0].slice, cst.Index):
                    return updated
                tensor = original.value
                if isinstance(tensor, cst.Attribute) and tensor.attr.value == "shape":
                    size = outer._size_at(tensor.value, original.slice[0].slice.value)
                    return updated if size is None else cst.parse_expression(paren(size))
                return updated

        return code_of(node.visit(Substitute()))

    def _size(self, func, args) -> str | None:
        """``self.w.size(k)`` -> the size ``w`` was created with."""
        if not (isinstance(func, cst.Attribute) and func.attr.value == "size") or len(args) != 1:
            return None
        return self._size_at(func.value, args[0].value)

    def _size_at(self, tensor, index: cst.BaseExpression) -> str | None:
        param = self._param_of(tensor)
        if param is None:
            return None
        shape = self._shape_of(param)
        value = rules.const(Arg(code_of(index)), None)
        if shape is None or not isinstance(value, int) or not -len(shape) <= value < len(shape):
            self._refuse(index, f"cannot read this size of {param}")
        return shape[value]

    def _param_of(self, tensor: cst.BaseExpression) -> str | None:
        """``w`` for ``self.w`` (or ``self.w.data``) when it is an nn.Parameter of the class."""
        if isinstance(tensor, cst.Attribute) and tensor.attr.value == "data":
            tensor = tensor.value
        attr = _self_attr(tensor)
        return attr if attr in self.info.params else None

    def _shape_of(self, param: str) -> list[str] | None:
        _, call = self.info.params[param]
        args = [a for a in call.args if a.keyword is None]
        try:
            return tensor_shape(args[0].value, self.t.imports) if args else None
        except Unsupported:
            return None

    def _members_of(self, iterator: cst.BaseExpression) -> list[cst.Call] | None:
        """The layer constructions a loop runs over: a ModuleList/Sequential attribute's
        direct elements, or a literal list of layer attributes."""
        if isinstance(iterator, (cst.List, cst.Tuple)):
            found = []
            for element in iterator.elements:
                attr = _self_attr(element.value)
                call = self._call_of(attr)
                if call is None:
                    return None
                found.append(call)
            return found
        attr = _self_attr(iterator)
        call = self._call_of(attr)
        if call is None or self.t.imports.qualify(call.func) not in CONTAINERS:
            return None
        return members(call, self.init, self.t.imports.qualify)

    def _call_of(self, attr: str | None) -> cst.Call | None:
        if attr is None or attr not in self.info.layers:
            return None
        info = self.info
        calls = [c for c, a in info.call_attr.items() if a == attr and c in info.direct_calls]
        return calls[0] if len(calls) == 1 else None

    # -- checks

    def _reaches_all(self, node: cst.CSTNode, what: str) -> bool:
        """An init over all modules must see every layer it reaches; report it otherwise."""
        info = self.info
        if info.modules:
            self.t.error(
                node,
                f"{what} here also reaches layers of nested modules "
                f"({', '.join(sorted(info.modules))}), which is not translated",
                "initialise the layers inside each module class",
            )
            return False
        for call in info.opaque_builders:
            self.t.error(
                call,
                f"{what} also reaches the modules {code_of(call.func)}() builds, which is not "
                "translated",
                "build the layers in __init__ itself",
            )
        return not info.opaque_builders

    def _isinstance_types(self, test, var: str | None) -> set[str] | None:
        if not (
            var is not None
            and isinstance(test, cst.Call)
            and dotted(test.func) == "isinstance"
            and len(test.args) == 2
            and dotted(test.args[0].value) == var
        ):
            return None
        spec = test.args[1].value
        elements = (
            [e.value for e in spec.elements] if isinstance(spec, (cst.Tuple, cst.List)) else [spec]
        )
        types = {self.t.imports.qualify(e) for e in elements}
        if None in types:
            return None
        return types  # type: ignore[return-value]

    def _is_no_grad(self, stmt: cst.With) -> bool:
        return len(stmt.items) == 1 and (
            isinstance(stmt.items[0].item, cst.Call)
            and self.t.imports.qualify(stmt.items[0].item.func) == "torch.no_grad"
            and stmt.items[0].asname is None
        )

    def _refuse(self, node: cst.CSTNode, message: str, hint: str = ""):
        self.t.error(node, message, hint)
        raise _Refused


def members(container: cst.Call, init: cst.FunctionDef, qualify) -> list[cst.Call] | None:
    """The constructions that become the direct elements of ``nn.ModuleList([...])`` or
    ``nn.Sequential(...)``: followed through list literals, comprehensions, ``*args`` and the
    local lists of ``__init__`` they come from (``layers.append(nn.Linear(...))``). None when
    an element is not a construction this file shows."""
    is_sequential = qualify(container.func) == "torch.nn.Sequential"
    args = [a for a in container.args if a.keyword is None]
    if qualify(container.func) == "torch.nn.ModuleList":
        values = [a.value for a in args]
    elif (
        len(args) == 1
        and isinstance(args[0].value, cst.Call)
        and qualify(args[0].value.func) in ("collections.OrderedDict", "OrderedDict")
    ):
        inner = args[0].value.args
        if len(inner) != 1:
            return None
        return _elements(inner[0].value, init, qualify, pairs=True)
    else:
        values = [a.value for a in args]
    found: list[cst.Call] = []
    for value in values:
        star = next(a.star for a in args if a.value is value)
        if is_sequential and not star:
            if not isinstance(value, cst.Call):
                return None
            found.append(value)
            continue
        elements = _elements(value, init, qualify, pairs=False)
        if elements is None:
            return None
        found += elements
    return found


def _elements(node, init: cst.FunctionDef, qualify, pairs: bool) -> list[cst.Call] | None:
    """Constructions that are elements of the sequence ``node`` (``(key, layer)`` pairs when
    ``pairs``)."""

    def element(value) -> list[cst.Call] | None:
        if pairs:
            if not (isinstance(value, cst.Tuple) and len(value.elements) == 2):
                return None
            value = value.elements[1].value
        return [value] if isinstance(value, cst.Call) and dotted(value.func) else None

    if isinstance(node, (cst.List, cst.Tuple)):
        found = []
        for e in node.elements:
            if isinstance(e, cst.StarredElement):
                inner = _elements(e.value, init, qualify, pairs)
            else:
                inner = element(e.value)
            if inner is None:
                return None
            found += inner
        return found
    if isinstance(node, (cst.ListComp, cst.GeneratorExp)):
        return element(node.elt)
    if isinstance(node, cst.Name):
        return _local_list(node.value, init, qualify, pairs)
    return None


def _local_list(name: str, init: cst.FunctionDef, qualify, pairs: bool) -> list[cst.Call] | None:
    """Elements put into the local list ``name`` anywhere in __init__."""
    found: list[cst.Call] = []
    unknown = False

    class Uses(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            nonlocal unknown
            if any(dotted(t.target) == name for t in node.targets):
                inner = _elements(node.value, init, qualify, pairs)
                unknown |= inner is None
                found.extend(inner or [])

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            nonlocal unknown
            if dotted(node.target) == name:
                inner = _elements(node.value, init, qualify, pairs)
                unknown |= inner is None or not isinstance(node.operator, cst.AddAssign)
                found.extend(inner or [])

        def visit_Call(self, node: cst.Call) -> None:
            nonlocal unknown
            func = node.func
            if not (isinstance(func, cst.Attribute) and dotted(func.value) == name):
                return
            method = func.attr.value
            values = [a.value for a in node.args]
            if method == "append" and len(values) == 1:
                inner = _elements(cst.List([cst.Element(values[0])]), init, qualify, pairs)
            elif method == "extend" and len(values) == 1:
                inner = _elements(values[0], init, qualify, pairs)
            elif method == "insert" and len(values) == 2:
                inner = _elements(cst.List([cst.Element(values[1])]), init, qualify, pairs)
            else:
                inner = None
            unknown |= inner is None
            found.extend(inner or [])

    init.body.visit(Uses())
    return None if unknown else found


def _readable(name: str, arguments: dict) -> str | None:
    """torch's Linear bias idiom ``uniform_(b, -bound, bound)`` with ``bound = 1 /
    math.sqrt(fan_in) if fan_in > 0 else 0`` -> ``torch_default_bias(fan_in)``."""
    if name != "torch.nn.init.uniform_":
        return None
    low, high = str(arguments.get("a", "")), str(arguments.get("b", ""))
    match = _DEFAULT_BOUND.fullmatch(high)
    low, high = low.replace(" ", ""), high.replace(" ", "")
    if match and low in (f"-{high}", f"-({high})"):
        return f"torch_default_bias({match.group('fan')})"
    return None


def _free_names(node: cst.CSTNode) -> set[str]:
    """Names read in an expression (attribute and keyword names excluded)."""
    tree = ast.parse(code_of(node).strip(), mode="eval")
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _bound_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _self_attr(node: cst.BaseExpression) -> str | None:
    name = dotted(node)
    if name and name.startswith("self.") and name.count(".") == 1:
        return name[5:]
    return None


def _normalized_rank(call: cst.Call, init: ast.FunctionDef) -> int | None:
    """The rank of a LayerNorm/RMSNorm weight: 1 for an int (a literal, or a parameter of
    __init__ annotated ``int`` or defaulting to an int and never reassigned), n for a literal
    n-tuple."""
    args = [a for a in call.args if a.keyword is None or a.keyword.value == "normalized_shape"]
    if not args:
        return None
    value = args[0].value
    if isinstance(value, cst.Integer) or (
        isinstance(value, cst.Name) and value.value in _int_parameters(init)
    ):
        return 1
    if isinstance(value, (cst.Tuple, cst.List)):
        return len(value.elements)
    return None


def _int_parameters(init: ast.FunctionDef) -> set[str]:
    args = init.args
    positional = [*args.posonlyargs, *args.args]
    defaults = dict(zip(reversed(positional), reversed(args.defaults), strict=False))
    defaults |= {a: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d}
    found = set()
    for arg in [*positional, *args.kwonlyargs]:
        annotation = arg.annotation
        default = defaults.get(arg)
        if (isinstance(annotation, ast.Name) and annotation.id == "int") or (
            annotation is None and isinstance(default, ast.Constant) and type(default.value) is int
        ):
            found.add(arg.arg)
    return found - _bound_names(init)


def _aliased(tensor: cst.BaseExpression, aliases: dict[str, str]) -> cst.BaseExpression:
    """``module.weight`` -> ``self.fc.weight`` when ``module`` is bound to ``self.fc``."""
    name = dotted(tensor)
    head, _, rest = (name or "").partition(".")
    if head not in aliases:
        return tensor
    full = f"{aliases[head]}.{rest}" if rest else aliases[head]
    return cst.parse_expression(full.removesuffix(".data"))


def _is_bare_return(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Return)
        and stmt.body[0].value is None
    )


def _is_call_statement(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, cst.Call)
    )


def _fields(step: InitStep) -> tuple:
    return (step.position, step.scope, step.key, step.params, step.calls)


def _made_in(body, attr: str) -> cst.Call | None:
    """The construction last assigned to ``self.attr`` by the simple statements of ``body``."""
    made = None
    for stmt in body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call):
                    if any(_self_attr(t.target) == attr for t in small.targets):
                        made = small.value
    return made


def _is_rank(node: cst.BaseExpression, var: str | None) -> bool:
    """``p.dim()``, ``p.ndimension()``, ``p.ndim`` or ``len(p.shape)`` for the variable p."""
    if isinstance(node, cst.Call) and not node.args and isinstance(node.func, cst.Attribute):
        return dotted(node.func.value) == var and node.func.attr.value in ("dim", "ndimension")
    if isinstance(node, cst.Call) and dotted(node.func) == "len" and len(node.args) == 1:
        return dotted(node.args[0].value) == f"{var}.shape"
    return dotted(node) == f"{var}.ndim"


def _not_none(test: cst.BaseExpression) -> str | None:
    """``x`` (source) for ``x is not None``."""
    if (
        isinstance(test, cst.Comparison)
        and len(test.comparisons) == 1
        and isinstance(test.comparisons[0].operator, cst.IsNot)
        and dotted(test.comparisons[0].comparator) == "None"
        and dotted(test.left) is not None
    ):
        return code_of(test.left)
    return None
