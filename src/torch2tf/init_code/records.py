"""Init calls (``nn.init.f_(...)``, ``w.data.normal_(...)``) -> one :class:`InitStep` each."""

from __future__ import annotations

import ast

import libcst as cst

from torch2tf import rules
from torch2tf.class_facts import InitStep
from torch2tf.init_code.base import (
    CONTAINERS,
    DEFAULT_BOUND,
    TENSOR_INIT_METHODS,
    ReaderBase,
    Scope,
    self_attr,
)
from torch2tf.init_code.containers import local_members
from torch2tf.init_code.inline import ELEMENTWISE
from torch2tf.names import code_of, dotted
from torch2tf.rules import LAYERS, Arg, Unsupported, bind
from torch2tf.rules.init import for_torch_layout
from torch2tf.tensor_facts.live import held_layer


class InitCallReader(ReaderBase):
    """Init calls (``nn.init.f_(...)``, ``w.data.normal_(...)``) -> one :class:`InitStep` each."""

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

    def _sliced(self, call, tensor, scope: Scope) -> cst.BaseExpression:
        """``self.w`` for ``self.w[i]`` in ``for i in range(n)``, where ``n`` counts all of
        ``self.w``'s slices (``len(self.w)``, ``self.w.shape[0]``, ``self.w.size(0)``) or
        ``self.w`` holds no values yet (``torch.empty``), so any slice left out is free."""
        index = tensor.slice[0].slice if isinstance(tensor, cst.Subscript) else None
        param = self._param_of(tensor.value) if index is not None else None
        if (
            param is None
            or len(tensor.slice) != 1
            or not isinstance(index, cst.Index)
            or dotted(index.value) != scope.slice_var
        ):
            self._refuse(
                call,
                f"a loop over range(...) initialises only slices self.w[{scope.slice_var}] of "
                "a parameter here",
            )
        counted = scope.slice_count
        whole = {f"len(self.{param})", f"self.{param}.shape[0]", f"self.{param}.size(0)"}
        if counted not in whole and not self._uninitialised(param):
            self._refuse(
                call,
                f"range({counted}) may not reach every slice of self.{param}, which holds "
                "values already",
                f"loop over range(len(self.{param}))",
            )
        return tensor.value

    def _init_call(self, call: cst.Call, position: int, scope: Scope) -> None:
        """``init.f_(target.param, ...)`` or ``target.param.data.f_(...)`` -> one step."""
        qualified = self.t.imports.qualify(call.func)
        args = list(call.args)
        if _sliced(call, scope.var) is not None:
            self._slice_fill(call, position, scope)
            return
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
        elif isinstance(call.func, cst.Attribute) and call.func.attr.value in ELEMENTWISE:
            tensor = call.func.value
            tensor = tensor.value if _is_data(tensor) else tensor
            self._elementwise(call, code_of(_aliased(tensor, scope.aliases)), scope)
            return
        elif self._inline(call, position, scope):  # a function of the project
            return
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
        first = len(self.info.init_steps)
        if scope.tensors is not None and dotted(tensor) == scope.var:
            self._record_tensors(call, source, position, scope)
        else:
            self._record(call, tensor, source, position, scope)
        self._initialised(tensor_text, first, scope)  # in-place ops may follow

    def _slice_fill(self, call: cst.Call, position: int, scope: Scope) -> None:
        """``p.data[h:2 * h].fill_(1)`` in a parameters() loop, after an init of the whole
        1-D tensor (an LSTM's forget-gate bias) -> TorchSliceFill(that init, h, 2 * h, 1)."""
        subscript = _sliced(call, scope.var)
        method = call.func.attr.value
        if scope.tensors is None or method not in ("fill_", "zero_"):
            self._refuse(call, "an init of a slice is translated only as p.data[a:b].fill_(v)")
        piece = subscript.slice[0].slice
        if method == "fill_" and (len(call.args) != 1 or call.args[0].keyword is not None):
            self._refuse(call, "fill_ takes one value")
        try:
            start, stop = (
                "None" if bound is None else self._expr(bound, scope)
                for bound in (piece.lower, piece.upper)
            )
            value = self._expr(call.args[0].value, scope) if method == "fill_" else "0.0"
        except Unsupported as err:
            self._refuse(call, err.message, err.hint)
        for tensor in scope.tensors:
            if tensor.rank != 1:
                self._refuse(
                    call,
                    f"a slice of {tensor.name} (rank {tensor.rank}) is initialised here: only "
                    "slices of 1-D tensors are translated",
                    "test 'bias' in name before filling a slice",
                )
            before = [
                s.params[tensor.name]
                for s in self.info.init_steps
                if tensor.call in s.calls and tensor.name in s.params
            ]
            if not before:
                self._refuse(
                    call,
                    f"a slice of {tensor.name} is filled before the whole of it is initialised",
                    "initialise the tensor first (nn.init.zeros_(p)), then fill the slice",
                )
            source = f"TorchSliceFill({before[-1]}, {start}, {stop}, {value})"
            self.info.init_steps.append(
                InitStep(
                    position,
                    "calls",
                    tensor.qualified,
                    {tensor.name: source},
                    frozenset({tensor.call}),
                )
            )

    def _record(self, call, tensor, source: str, position: int, scope: Scope) -> None:
        if scope.slice_var is not None:
            tensor = self._sliced(call, tensor, scope)
        param = self._param_of(tensor)
        if param is not None:
            shape = self._shape_of(param)
            rank = None if shape is None else len(shape) - (scope.slice_var is not None)
            try:
                source = for_torch_layout(source, rank)
            except Unsupported as err:
                self._refuse(call, f"{param}: {err.message}", err.hint)
            if scope.slice_var is not None and source.startswith("TorchLayout("):
                source = f"TorchSlices({source})"  # fans of one slice; elementwise ones agree
            self.info.init_steps.append(InitStep(position, "param", param, {"value": source}))
            return
        if not isinstance(tensor, cst.Attribute):
            self._refuse(call, f"init of {code_of(tensor)} is not translated")
        owner, weight = tensor.value, tensor.attr.value
        if scope.var is None and (scope.late or (scope.in_init and _indexed(owner))):
            self._late(call, owner, weight, source)
            return
        attr = self_attr(owner)
        if attr is not None and attr in self.info.layers:
            if self.info.layers[attr] in CONTAINERS:
                self._refuse(call, f"self.{attr} is a container: it has no {weight}")
            other = self._other_assignment(attr)
            if other is not None:  # e.g. a shared layer passed in: torch re-initialises it too
                if scope.var is None and (scope.in_init or scope.aliases):
                    # run where it stands, on whichever Keras layer self.attr holds then
                    self._late(call, owner, weight, source)
                    return
                self._refuse(
                    call,
                    f"self.{attr} is also assigned something else than its layer (line {other}): "
                    f"which {weight} this init reaches is not known statically",
                    "create the layer in one place, or initialise it where it is created",
                )
            if attr not in self.info.wrapped or weight not in ("weight_g", "weight_v"):
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

    def _late(self, call: cst.Call, owner: cst.BaseExpression, weight: str, source: str) -> None:
        """``nn.init.f_(owner.weight)`` run where it stands: ``torch_init(owner, ...)`` sets the
        initializer of the Keras layer before it is built."""
        qualified = self._layer_type(call, owner)
        self._check_param(call, qualified, weight)
        rule = LAYERS[qualified]
        variable = rule.initializers[weight].removesuffix("_initializer")
        initializer = rule({weight: source}).initializer(weight, None)
        self.late[call] = f"torch_init({code_of(owner)}, {variable!r}, {initializer})"
        self.late_lines.append(self.late[call])

    def _layer_type(self, call: cst.Call, owner: cst.BaseExpression) -> str:
        """The torch layer ``owner`` is: a layer attribute, or ``container[i]`` whose elements
        are all one layer type, or ``layers[-1]`` right after ``layers.append(Layer(...))``."""
        attr = self_attr(owner)
        if attr is not None and self.info.layers.get(attr) not in (None, *CONTAINERS):
            return self.info.layers[attr]
        found: set[str | None] = set()
        if isinstance(owner, cst.Name):  # task = nn.Linear(...); init_fn(task, ...)
            found = {self.t.imports.qualify(c.func) for c in local_constructions(owner, self.init)}
        if _indexed(owner):
            container = owner.value
            calls = self._members_of(container) if self_attr(container) else None
            if calls is None and isinstance(container, cst.Name):
                calls = local_members(container.value, self.init, self.t.imports.qualify)
            found = {self.t.imports.qualify(c.func) for c in calls or ()}
            if len(found) != 1 and _index(owner) == -1 and isinstance(container, cst.Name):
                appended = self._appended_before(call, container.value)
                found = {self.t.imports.qualify(appended.func)} if appended is not None else found
        if not found and attr is not None:  # self.bn = norm_layer(c): the live model's
            found = {held_layer(self.info.node.name.value, attr, LAYERS)}
        if len(found) != 1 or (qualified := found.pop()) not in LAYERS or qualified in CONTAINERS:
            self._refuse(
                call,
                f"init of {code_of(owner)}: which layer it is cannot be told from the source",
                "initialise the layer where it is created, or hold it in an attribute",
            )
        return qualified

    def _appended_before(self, call: cst.Call, name: str) -> cst.Call | None:
        """``Layer(...)`` of ``name.append(Layer(...))``, the statement of __init__ right before
        the one holding ``call`` (the ``if`` around it, if any)."""
        body = list(self.init.body.body)
        index = next((i for i, s in enumerate(body) if _contains(s, call)), 0)
        before = body[index - 1] if index else None
        if not (isinstance(before, cst.SimpleStatementLine) and len(before.body) == 1):
            return None
        expr = before.body[0]
        appended = expr.value if isinstance(expr, cst.Expr) else None
        if not (
            isinstance(appended, cst.Call)
            and dotted(appended.func) == f"{name}.append"
            and len(appended.args) == 1
            and isinstance(appended.args[0].value, cst.Call)
        ):
            return None
        return appended.args[0].value

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
                    and not _call_or_none(node.value)
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


def _readable(name: str, arguments: dict) -> str | None:
    """torch's Linear bias idiom ``uniform_(b, -bound, bound)`` with ``bound = 1 /
    math.sqrt(fan_in) if fan_in > 0 else 0`` -> ``torch_default_bias(fan_in)``."""
    if name != "torch.nn.init.uniform_":
        return None
    low, high = str(arguments.get("a", "")), str(arguments.get("b", ""))
    match = DEFAULT_BOUND.fullmatch(high)
    low, high = low.replace(" ", ""), high.replace(" ", "")
    if match and low in (f"-{high}", f"-({high})"):
        return f"torch_default_bias({match.group('fan')})"
    return None


def _is_data(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Attribute) and node.attr.value == "data"


def _aliased(tensor: cst.BaseExpression, aliases: dict[str, str]) -> cst.BaseExpression:
    """``module.weight`` -> ``self.fc.weight`` when ``module`` is bound to ``self.fc``;
    ``p[i]`` -> ``self.w[i]`` when ``p`` is bound to ``self.w``."""
    if isinstance(tensor, cst.Subscript):
        return tensor.with_changes(value=_aliased(tensor.value, aliases))
    name = dotted(tensor)
    head, _, rest = (name or "").partition(".")
    if head not in aliases:
        return tensor
    full = f"{aliases[head]}.{rest}" if rest else aliases[head]
    return cst.parse_expression(full.removesuffix(".data"))


def _sliced(call: cst.Call, var: str | None) -> cst.Subscript | None:
    """``var[a:b]`` (or ``var.data[a:b]``, ``var[a:b].data``) that ``call`` initialises in
    place, as ``<it>.fill_(v)`` or ``nn.init.f_(<it>, ...)``."""
    if var is None:
        return None
    func = call.func
    target = None
    if isinstance(func, cst.Attribute) and func.attr.value in TENSOR_INIT_METHODS:
        target = func.value
    elif call.args:
        target = call.args[0].value
    if isinstance(target, cst.Attribute) and target.attr.value == "data":
        target = target.value
    if not (isinstance(target, cst.Subscript) and len(target.slice) == 1):
        return None
    if dotted(target.value) not in (var, f"{var}.data"):
        return None
    return target if isinstance(target.slice[0].slice, cst.Slice) else None


def _call_or_none(value: ast.expr) -> bool:
    """``Layer(...) if c else None``: a construction or no layer at all (nothing to init)."""
    if not isinstance(value, ast.IfExp):
        return False
    branches = (value.body, value.orelse)
    none = [b for b in branches if isinstance(b, ast.Constant) and b.value is None]
    return len(none) == 1 and any(isinstance(b, ast.Call) for b in branches)


def _index(node: cst.BaseExpression) -> int | None:
    """``i`` of ``x[i]`` with a literal int (``-1`` too)."""
    if not isinstance(node, cst.Subscript) or len(node.slice) != 1:
        return None
    index = node.slice[0].slice
    value = index.value if isinstance(index, cst.Index) else None
    try:
        number = ast.literal_eval(code_of(value)) if value is not None else None
    except (ValueError, SyntaxError):
        return None
    return number if isinstance(number, int) else None


def _indexed(node: cst.BaseExpression) -> bool:
    """``self.layers[i]`` or ``layers[i]`` with a literal int."""
    if _index(node) is None:
        return False
    container = node.value
    return isinstance(container, cst.Name) or self_attr(container) is not None


def _contains(tree: cst.CSTNode, node: cst.CSTNode) -> bool:
    found = False

    class Find(cst.CSTVisitor):
        def on_visit(self, visited: cst.CSTNode) -> bool:
            nonlocal found
            found |= visited is node
            return not found

    tree.visit(Find())
    return found


def local_constructions(name: cst.Name, init: cst.FunctionDef | None) -> list:
    """What ``__init__`` assigns to the local ``name``: constructions only, else nothing."""
    values: list[cst.BaseExpression] = []

    class Finder(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            for target in node.targets:
                if isinstance(target.target, cst.Name) and target.target.value == name.value:
                    values.append(node.value)

        def visit_For(self, node: cst.For) -> None:  # a loop variable named alike: unknown
            if isinstance(node.target, cst.Name) and node.target.value == name.value:
                values.append(node.target)

    if init is not None:
        init.body.visit(Finder())
    calls = [v for v in values if isinstance(v, cst.Call)]
    return calls if calls and len(calls) == len(values) else []
