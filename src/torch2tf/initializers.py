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

import libcst as cst

from torch2tf import rules
from torch2tf.class_facts import InitStep
from torch2tf.init_code.base import (
    LOOP_ITERATORS,
    TENSOR_INIT_METHODS,
    Refused,
    Scope,
    inits_a_name,
    self_attr,
)
from torch2tf.init_code.conditions import ConditionReader
from torch2tf.init_code.inline import InlineReader
from torch2tf.init_code.methods import MethodReader
from torch2tf.init_code.records import InitCallReader, local_constructions
from torch2tf.init_code.runtime import RuntimeLoop, is_modules_loop
from torch2tf.init_code.statements import StatementReader
from torch2tf.init_code.values import ValueReader
from torch2tf.names import code_of, dotted, is_docstring
from torch2tf.parsed import descendants
from torch2tf.rules import Arg
from torch2tf.translation.scans import assignment_targets


class InitReader(
    StatementReader, ConditionReader, InitCallReader, InlineReader, ValueReader, MethodReader
):
    """Reads the init code of one class for the engine (``t``), adding to ``info.init_steps``."""

    # -- entry points (each returns whether the code was init code it has taken over)

    def is_init_code(self, node: cst.CSTNode, functions: bool = True) -> bool:
        """Whether ``node`` calls ``nn.init`` or an in-place init method of a tensor (or, with
        ``functions``, a project function doing either, as a statement: an init method's)."""
        for child in descendants(node):
            if isinstance(child, cst.Call) and self._is_init_call(child):
                return True
            if isinstance(child, cst.For) and self._is_module_loop(child):
                return True
            call = child.value if isinstance(child, cst.Expr) else None
            if functions and isinstance(call, cst.Call) and self._calls_init_function(call):
                return True  # init_fn(self.fc.weight): a project function doing init
        return False

    def _is_init_call(self, call: cst.Call) -> bool:
        """``nn.init.*(...)``, or an in-place init method of a parameter (``w.data.fill_``)."""
        if (self.t.imports.qualify(call.func) or "").startswith("torch.nn.init."):
            return True
        func = call.func
        return isinstance(func, cst.Attribute) and (
            func.attr.value in TENSOR_INIT_METHODS
            and (
                (isinstance(func.value, cst.Attribute) and func.value.attr.value == "data")
                or self._param_of(func.value) is not None
            )
        )

    def _is_module_loop(self, loop: cst.For) -> bool:
        """``for m in self.modules():`` (what else would it do in init code?), or over a
        layer's own parameters (an RNN's named_parameters())."""
        it = loop.iter
        return (
            isinstance(it, cst.Call)
            and isinstance(it.func, cst.Attribute)
            and it.func.attr.value in LOOP_ITERATORS
            and (
                dotted(it.func.value) == "self"
                or (
                    it.func.attr.value in ("parameters", "named_parameters")
                    and self_attr(it.func.value) in self.info.layers
                )
            )
        )

    def method(self, func: cst.FunctionDef, position: int, in_init: bool = False) -> bool:
        """``self.reset_parameters()`` called from __init__: read the whole method."""
        if not self.is_init_code(func.body):
            return False
        body = [s for s in func.body.body if not is_docstring(s)]
        self._block(body, position, Scope(in_init=in_init))
        return True

    def function(
        self,
        func: cst.FunctionDef,
        call: cst.Call,
        position: int,
        method: bool = False,
        late: bool = False,
    ) -> bool:
        """``init_fn(self.fc, d_in, d_out)`` in __init__ with ``init_fn`` a module-level function
        (pytorch-tabnet's ``initialize_glu``), or ``self.init_(self.w, c=c)`` with ``init_`` a
        method (``method``): its body read as init code, with its parameters bound to the
        call's arguments. ``late``: a call nested in an ``if`` or loop of __init__, whose
        inits run where it stands (``torch_init``), on layer attributes or local layers."""
        params = {p.name.value for p in func.params.params}
        if not (self.is_init_code(func.body) or inits_a_name(func.body, params)):
            return False
        try:
            bound = self._bind_function(func, call, method)
            aliases: dict[str, str] = {}
            values: dict[str, str] = {}
            for name, value in bound.items():
                owner = (dotted(value) or "").removesuffix(".data")
                if owner in self.info.local_params:  # a local tensor made a parameter later
                    owner = f"self.{self.info.local_params[owner]}"
                local_layer = isinstance(value, cst.Name) and local_constructions(value, self.init)
                parts = owner.split(".")
                held = parts[0] == "self" and len(parts) > 1
                # self.input_dim is a value; self.fc (or self.fc.weight) a layer or tensor
                held = held and (
                    len(parts) > 2 or parts[1] in self.info.layers or parts[1] in self.info.params
                )
                if held or (late and local_layer):
                    aliases[name] = owner  # a local layer: its type read where it is made
                else:
                    values[name] = self._expr(value, Scope(in_init=True))
        except Refused:
            return True
        body = [s for s in func.body.body if not is_docstring(s)]
        if body and _is_bare_return(body[-1]):
            body = body[:-1]
        mark = len(self.late_lines)
        self._block(body, position, Scope(values=values, aliases=aliases, late=late))
        # inits of a layer known only at run time (a shared layer passed in), run where the
        # call stands: ``torch_init`` lines replace the call
        self.function_late = self.late_lines[mark:]
        return True

    def replace_call(self, stmt: cst.BaseStatement) -> None:
        """The init function's call ``stmt`` (read by :meth:`function`): removed, or replaced
        by the ``torch_init`` lines of its inits that run where they stand (and its asserts)."""
        late = self.function_late + self.asserts  # asserts: kept where torch checks them
        if late:
            self.info.replaced[stmt] = "".join(line + "\n" for line in late)
        else:
            self.info.removed.add(stmt)
        self.function_late = []
        self.asserts.clear()

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
        scope = Scope(aliases={params.params[0].name.value: owner})
        try:
            self._init_call(default.body, position, scope)
        except Refused:
            pass
        return True

    def _bind_function(self, func: cst.FunctionDef, call: cst.Call, method: bool = False) -> dict:
        """The init function's parameters -> the call's argument expressions (a method's
        ``self`` is the class's own)."""
        params = func.params
        if (
            params.posonly_params
            or params.kwonly_params
            or isinstance(params.star_arg, cst.Param)
            or params.star_kwarg is not None
            or any(a.star for a in call.args)
        ):
            self._refuse(call, "an init function is translated only with plain parameters")
        own = params.params[1:] if method else params.params
        names = [p.name.value for p in own]
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
        for param in own:
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
        if not self.is_init_code(stmt, functions=False):
            return False
        if self._runtime(stmt):
            return False
        if isinstance(stmt, cst.If):
            self._conditional(stmt, position)
            return False  # kept: its init calls are taken one by one
        aliases = {name: f"self.{attr}" for name, attr in self.info.local_params.items()}
        self._block([stmt], position, Scope(in_init=True, aliases=aliases))
        return not self._run_late(stmt)

    def _run_late(self, stmt: cst.BaseStatement) -> bool:
        """Whether ``stmt``, an init call read as run where it stands (Scope.late), is now
        replaced by its ``torch_init`` line."""
        call = stmt.body[0].value if _is_call_statement(stmt) else None
        if call not in self.late:
            return False
        self.info.replaced[stmt] = self.late[call] + "\n"
        return True

    def _runtime(self, stmt: cst.CSTNode) -> bool:
        """A loop over self.modules() reaching layers built outside __init__: kept as a loop
        over the Keras layers (see init_code/runtime.py)."""
        if not is_modules_loop(stmt) or not self._needs_runtime():
            return False
        info = self.info
        facts = getattr(self.t, "facts", {})
        layers = {name: f.attribute_layers for name, f in facts.items()}
        loop = RuntimeLoop(self, set(getattr(self.t, "classes", ())), layers)
        try:
            info.replaced[stmt] = loop.translate(stmt, not info.init_steps and not info.replaced)
        except Refused:
            info.removed.add(stmt)  # reported
        return True

    def _needs_runtime(self) -> bool:
        """Whether a loop over modules reaches layers built outside __init__ (by methods,
        functions, nested module classes, a base class, or classes passed in)."""
        info = self.info
        own = getattr(self.t, "facts", {}).get(info.node.name.value)
        passed = own is not None and "module" in own.attribute_layers.values()  # passed in
        passed = passed or _adds_modules(info.method("__init__"))  # add_module(name, block)
        return bool(
            info.modules
            or info.opaque_builders
            or passed
            or self._nested_modules()
            or self._layered_base(info) is not None
        )

    def _nested_modules(self) -> bool:
        """Whether __init__ builds a module class of the project inside a container
        (``nn.Sequential(..., Fire(...))``): a loop over modules reaches its layers too."""
        init = self.info.method("__init__")
        is_module = getattr(self.t, "is_module_class", None)
        if init is None or is_module is None:
            return False
        found = False

        class Finder(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> None:
                nonlocal found
                found = found or is_module(node.func)

        init.visit(Finder())
        return found

    def _conditional(self, stmt: cst.If, position: int) -> None:
        """Init calls in an ``if`` of __init__, each taken when the tensor it initialises is
        created earlier in the same block: then it runs exactly when the tensor exists."""
        branches = []
        branch: cst.If | cst.Else | None = stmt
        while branch is not None:
            branches.append(branch.body.body)
            branch = branch.orelse if isinstance(branch, cst.If) else None
        guarded = self._guarded(stmt)  # if self.x is not None: ...x's init...
        for body in branches:
            for index, child in enumerate(body):
                if not self.is_init_code(child, functions=False):
                    continue
                if isinstance(child, cst.If):
                    self._conditional(child, position)
                    continue
                if self._runtime(child):
                    continue
                if self._listed_loop(child, body[:index], position):
                    continue
                call = child.body[0].value if _is_call_statement(child) else None
                target = self._target(call) if call is not None else None
                earlier = body[:index]
                if guarded is not None and target == guarded[0]:
                    earlier = [cst.SimpleStatementLine([guarded[1]])]
                if call is not None and (target is None or _made_in(earlier, target) is None):
                    # a layer made before the if: its init runs under the if, on the Keras layer
                    self._block([child], position, Scope(in_init=True, late=True))
                    if not self._run_late(child):
                        self.info.removed.add(child)  # reported
                    continue
                if target is None or _made_in(earlier, target) is None:
                    self.t.error(
                        child,
                        "init code under a condition is translated only for a layer or "
                        "parameter created earlier under the same condition",
                    )
                    self.info.removed.add(child)  # reported once, here
                    continue
                before = len(self.info.init_steps)
                made = _made_in(earlier, target)  # only this branch's construction
                optional = target not in self.info.layers  # self.x = Layer(...) if c else None
                qualified = self.t.imports.qualify(made.func)
                if optional and qualified in rules.LAYERS:
                    self.info.layers[target] = qualified  # while reading the init call only
                try:
                    self._block([child], position, Scope(in_init=True))
                finally:
                    if optional:
                        self.info.layers.pop(target, None)
                self.info.removed.add(child)
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

    def _listed_loop(self, child: cst.CSTNode, before: list, position: int) -> bool:
        """``for p in [self.b_ih, self.b_hh]: nn.init.zeros_(p)`` under a condition, each
        listed parameter made earlier in the same block: each init pinned to that construction.
        Returns whether ``child`` was such a loop."""
        if not isinstance(child, cst.For) or self._listed_parameters(child.iter) is None:
            return False
        made = {
            attr: _made_in(before, attr)
            for attr in (self_attr(element.value) for element in child.iter.elements)
        }
        if any(call is None for call in made.values()):
            return False  # reported by the caller
        first = len(self.info.init_steps)
        self._block([child], position, Scope(in_init=True))
        self.info.removed.add(child)
        steps = self.info.init_steps
        for i in range(first, len(steps)):
            if steps[i].scope == "param" and steps[i].key in made:
                steps[i] = InitStep(*_fields(steps[i])[:4], frozenset({made[steps[i].key]}))
        return True

    def _guarded(self, stmt: cst.If) -> tuple[str, cst.Assign] | None:
        """(``x``, ``self.x = Layer(...)``) for ``if self.x is not None:`` (no else) where
        __init__ made ``self.x`` once, before, as ``Layer(...) if c else None`` (or
        ``Layer(...)``): init code inside runs exactly when that layer exists."""
        test = stmt.test
        if stmt.orelse is not None or not isinstance(test, cst.Comparison):
            return None
        if len(test.comparisons) != 1 or not isinstance(test.comparisons[0].operator, cst.IsNot):
            return None
        attr = self_attr(test.left)
        if attr is None or dotted(test.comparisons[0].comparator) != "None":
            return None
        init = self.info.method("__init__")
        statements = list(init.body.body) if init is not None else []
        before = statements[: statements.index(stmt)] if stmt in statements else []
        made = [
            small
            for line in before
            if isinstance(line, cst.SimpleStatementLine)
            for small in line.body
            if isinstance(small, cst.Assign)
            and any(self_attr(t.target) == attr for t in small.targets)
        ]
        assigned = sum(1 for t in assignment_targets(self.info.tree) if _self_attr_ast(t) == attr)
        if len(made) != 1 or assigned != 1:
            return None
        value = made[0].value
        if isinstance(value, cst.IfExp) and dotted(value.orelse) == "None":
            value = value.body
        if not isinstance(value, cst.Call):
            return None
        return attr, made[0].with_changes(value=value)

    def _target(self, call: cst.Call) -> str | None:
        """``x`` for an init of ``self.x.weight``, ``self.x`` or ``self.x.data``."""
        if isinstance(call.func, cst.Attribute) and call.func.attr.value in TENSOR_INIT_METHODS:
            tensor = call.func.value
        else:
            tensor = call.args[0].value if call.args else None
        name = (dotted(tensor) or "").removesuffix(".data") if tensor is not None else ""
        parts = name.split(".")
        return parts[1] if len(parts) in (2, 3) and parts[0] == "self" else None

    def apply_at_runtime(self, func: cst.FunctionDef, var: str, stmt: cst.CSTNode) -> bool:
        """``self.apply(fn)`` where a loop over modules would run on the Keras layers (layers
        built outside __init__: by a base class, a builder, a nested module): ``fn``'s body
        kept as that loop. Returns whether it was."""
        body = [s for s in func.body.body if not is_docstring(s)]
        loop = cst.For(
            target=cst.Name(var),
            iter=cst.parse_expression("self.modules()"),
            body=func.body.with_changes(body=body),
        )
        self.info.replaced.pop(stmt, None)
        if not self._runtime(loop):
            return False
        if loop in self.info.replaced:
            self.info.replaced[stmt] = self.info.replaced.pop(loop)
        else:
            self.info.removed.discard(loop)
            self.info.removed.add(stmt)
        return True

    def apply(self, func: cst.FunctionDef, var: str, position: int, what: str) -> None:
        """The body of ``fn`` in ``self.apply(fn)``: runs on every module, like modules()."""
        if not self._reaches_all(func, what):
            return
        body = [s for s in func.body.body if not is_docstring(s)]
        self._block(body, position, Scope(var=var))


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
                    if any(self_attr(t.target) == attr for t in small.targets):
                        made = small.value
    return made


def _self_attr_ast(target) -> str | None:
    value = getattr(target, "value", None)
    return target.attr if getattr(value, "id", None) == "self" else None


def _adds_modules(init: cst.FunctionDef | None) -> bool:
    """Whether ``__init__`` registers modules by ``add_module``/``register_module``."""
    found = False

    class Finder(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            nonlocal found
            func = call.func
            names = ("add_module", "register_module")
            found |= isinstance(func, cst.Attribute) and func.attr.value in names

    if init is not None:
        init.visit(Finder())
    return found
