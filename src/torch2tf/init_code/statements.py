"""Statements of init code: blocks, assignments of fans and local values, ``if``s, loops
over modules, containers or parameters."""

from __future__ import annotations

import ast

import libcst as cst

from torch2tf.init_code.base import (
    CONTAINERS,
    FANS,
    PARAMETER_RANKS,
    RECURRENT_GATES,
    LoopTensor,
    ReaderBase,
    Refused,
    Scope,
    bound_names,
    self_attr,
)
from torch2tf.names import code_of, dotted, paren
from torch2tf.rules import LAYERS, LayerRule
from torch2tf.torch_api import MODULE_ITERATORS


class StatementReader(ReaderBase):
    """Statements of init code: blocks, assignments of fans and local values, ``if``s, loops"""

    def _block(self, body, position: int, scope: Scope) -> None:
        for stmt in body:
            try:
                self._statement(stmt, position, scope)
            except Refused:
                pass

    def _statement(self, stmt, position: int, scope: Scope) -> None:
        if self._no_effect(stmt):  # warnings.warn(...), under an if or not
            return
        if isinstance(stmt, cst.FunctionDef):
            self._nested(stmt, scope)
        elif isinstance(stmt, cst.SimpleStatementLine):
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

    def _small(self, small, position: int, scope: Scope) -> None:
        if isinstance(small, cst.Pass):
            return
        if isinstance(small, cst.Assert) and scope.inlined:
            self._assert(small, scope)
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

    def _if(self, stmt: cst.If, position: int, scope: Scope) -> None:
        if scope.tensors is not None:  # decided per parameter, from its name and rank
            taken = tuple(t for t in scope.tensors if self._decide(stmt.test, t, scope))
            rest = tuple(t for t in scope.tensors if t not in taken)
            self._block(stmt.body.body, position, scope.child(tensors=taken))
            if isinstance(stmt.orelse, cst.If):
                self._if(stmt.orelse, position, scope.child(tensors=rest))
            elif isinstance(stmt.orelse, cst.Else):
                self._block(stmt.orelse.body.body, position, scope.child(tensors=rest))
            return
        tensor = _not_none(stmt.test) or self._not_none_call(stmt.test)
        if tensor is not None and stmt.orelse is None:
            tensor = scope.aliases.get(tensor, tensor)
            self._block(stmt.body.body, position, scope.child(guard=tensor))
            return
        seen: set[str] = set()
        branch: cst.If | cst.Else | None = stmt
        while isinstance(branch, cst.If):
            types = self._isinstance_types(branch.test, scope.var)
            if types is None:
                self._refuse(branch.test, "unsupported condition in init code", "use isinstance")
            self._refuse_subclassed(branch.test, types)
            if scope.types is not None:
                types &= scope.types
            # an elif only sees the types no earlier branch took
            self._block(branch.body.body, position, scope.child(types=frozenset(types - seen)))
            seen |= types
            branch = branch.orelse
        if branch is not None:
            self._refuse(branch, "an else branch in an init loop is not translated")

    def _not_none_call(self, test: cst.BaseExpression) -> str | None:
        """``x`` (source) for ``exists(x)``, ``exists`` a function of the file returning
        ``<its parameter> is not None`` (siren-pytorch's, lucidrains' packages')."""
        functions = getattr(self.t, "functions", {})
        if not (isinstance(test, cst.Call) and len(test.args) == 1 and not test.args[0].keyword):
            return None
        func = functions.get(dotted(test.func) or "")
        params = func.params.params if func is not None else ()
        body = [s for s in func.body.body] if func is not None else []
        if len(params) != 1 or len(body) != 1 or not isinstance(body[0], cst.SimpleStatementLine):
            return None
        returned = body[0].body[0]
        if not isinstance(returned, cst.Return) or returned.value is None:
            return None
        if _not_none(returned.value) != params[0].name.value or dotted(test.args[0].value) is None:
            return None
        return code_of(test.args[0].value)

    def _for(self, loop: cst.For, position: int, scope: Scope) -> None:
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
        recurrent = self._recurrent_loop(iterator)
        if recurrent is not None:
            kind = iterator.func.attr.value
            self._parameters_loop(loop, kind, position, scope, tuple(recurrent))
            return
        sub = self._attribute_parameters(iterator)
        if sub is not None:  # for name, p in self.linears.named_parameters():
            tensors = tuple(self._layer_tensors(sub[1], loop))
            self._parameters_loop(loop, sub[0], position, scope, tensors)
            return
        if self._is_range(iterator) and isinstance(target, cst.Name) and scope.var is None:
            count = code_of(iterator.args[0].value)
            inner = scope.child(slice_var=target.value, slice_count=count)
            self._block(loop.body.body, position, inner)
            return
        listed = self._local_parameter_list(iterator) or iterator
        own = self._listed_parameters(listed)
        if own is not None and isinstance(target, cst.Name) and _has_loop(loop.body):
            # for p in [self.a, self.b]: for i in range(n): init(p[i]): read once per parameter
            for tensor in own:
                aliases = {**scope.aliases, target.value: f"self.{tensor.name}"}
                self._block(loop.body.body, position, scope.child(aliases=aliases))
            return
        if own is not None:  # for w in [self.w1, self.w2]:
            self._parameters_loop(loop, "parameters", position, scope, own)
            return
        if kind and kind.startswith("named_") and isinstance(target, cst.Tuple):
            target = target.elements[-1].value
        if not isinstance(target, cst.Name):
            self._refuse(loop.target, "unsupported loop target in init code")
        inner = scope.child(var=target.value)
        if kind in MODULE_ITERATORS:
            if not self._reaches_all(loop, f"self.{kind}()"):
                raise Refused
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

    def _recurrent_loop(self, iterator: cst.BaseExpression) -> list[LoopTensor] | None:
        """The parameters of ``self.rnn.named_parameters()`` (or ``parameters()``) when
        ``self.rnn`` is an nn.LSTM/GRU/RNN of the class: one tensor per kind (weight_ih, ...),
        standing for that kind in every layer and direction."""
        if not (
            isinstance(iterator, cst.Call)
            and not iterator.args
            and isinstance(iterator.func, cst.Attribute)
            and iterator.func.attr.value in ("parameters", "named_parameters")
        ):
            return None
        attr = self_attr(iterator.func.value)
        call = self._call_of(attr)
        qualified = self.t.imports.qualify(call.func) if call is not None else None
        if qualified not in RECURRENT_GATES:
            return None
        arguments = self._layer_arguments(call, qualified)
        hidden = arguments.get("hidden_size")
        rows = None if hidden is None else f"{RECURRENT_GATES[qualified]} * {paren(hidden)}"
        kinds = [("weight_ih", 2), ("weight_hh", 2), ("bias_ih", 1), ("bias_hh", 1)]
        if qualified == "torch.nn.LSTM" and arguments.get("proj_size", "0") != "0":
            kinds.append(("weight_hr", 2))
        return [
            LoopTensor(
                name,
                rank,
                False,
                call,
                qualified,
                suffixed=True,
                rows=arguments.get("proj_size") if name == "weight_hr" else rows,
            )
            for name, rank in kinds
        ]

    def _attribute_parameters(self, iterator) -> tuple[str, list[cst.Call]] | None:
        """(``parameters`` or ``named_parameters``, the layer constructions they reach) for
        ``self.attr.parameters()`` over a layer or container attribute."""
        if not (
            isinstance(iterator, cst.Call)
            and not iterator.args
            and isinstance(iterator.func, cst.Attribute)
            and iterator.func.attr.value in ("parameters", "named_parameters")
        ):
            return None
        owner = iterator.func.value
        calls = self._members_of(owner)
        if calls is None:
            call = self._call_of(self_attr(owner))
            if call is None or self.t.imports.qualify(call.func) in CONTAINERS:
                return None
            calls = [call]
        return iterator.func.attr.value, calls

    def _is_range(self, iterator) -> bool:
        """``range(n)``: a loop over the slices of stacked parameters (each init call then
        checks that it initialises ``self.w[i]``, and every slice of it)."""
        return (
            isinstance(iterator, cst.Call)
            and dotted(iterator.func) == "range"
            and len(iterator.args) == 1
            and iterator.args[0].keyword is None
        )

    def _listed_parameters(self, iterator) -> tuple[LoopTensor, ...] | None:
        """The class's own parameters a literal list names: ``[self.w1, self.w2]``."""
        if not isinstance(iterator, (cst.List, cst.Tuple)) or not iterator.elements:
            return None
        attrs = [self_attr(element.value) for element in iterator.elements]
        if not all(attr in self.info.params for attr in attrs):
            return None
        return tuple(self._own_tensor(attr) for attr in attrs)

    def _local_parameter_list(self, iterator) -> cst.List | cst.Tuple | None:
        """The literal list a local name of __init__ is bound to once and never changed:
        ``params = [self.w1, self.w2]`` (then ``for p in params:``)."""
        init = self.info.method("__init__")
        if not isinstance(iterator, cst.Name) or init is None:
            return None
        name = iterator.value
        bindings = [
            s.body[0]
            for s in init.body.body
            if isinstance(s, cst.SimpleStatementLine)
            and isinstance(s.body[0], cst.Assign)
            and any(dotted(t.target) == name for t in s.body[0].targets)
        ]
        uses = [
            n
            for n in ast.walk(self.info.tree)
            if isinstance(n, ast.Name) and n.id == name and not isinstance(n.ctx, ast.Load)
        ]
        changed = any(
            isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == name
            for n in ast.walk(self.info.tree)
        )  # params.append(...), params.extend(...)
        if len(bindings) != 1 or len(uses) != 1 or changed:
            return None
        value = bindings[0].value
        return value if isinstance(value, (cst.List, cst.Tuple)) else None

    def _own_tensor(self, attr: str) -> LoopTensor:
        shape = self._shape_of(attr)
        return LoopTensor(attr, None if shape is None else len(shape), own=True)

    def _parameters_loop(
        self,
        loop: cst.For,
        kind: str,
        position: int,
        scope: Scope,
        tensors: tuple[LoopTensor, ...] | None = None,
    ) -> None:
        """``for name, p in self.named_parameters():`` with conditions on the parameter's rank
        (``p.dim() > 1``) or on what its own name decides (``"bias" in name``); ``tensors``:
        those the loop runs over when it is not the whole model's (one attribute's layers, a
        list of the class's own parameters)."""
        target, name_var = loop.target, None
        if kind == "named_parameters":
            names = [e.value for e in target.elements] if isinstance(target, cst.Tuple) else []
            if len(names) != 2 or not all(isinstance(n, cst.Name) for n in names):
                self._refuse(target, "unsupported loop target in init code")
            name_var, target = names[0].value, names[1]
        if not isinstance(target, cst.Name):
            self._refuse(target, "unsupported loop target in init code")
        if tensors is None:
            if not self._reaches_all(loop, f"self.{kind}()"):
                raise Refused
            tensors = (
                *(self._own_tensor(attr) for attr in self.info.params),
                *self._layer_tensors(self.info.call_position, loop),
            )
        inner = scope.child(var=target.value, name_var=name_var, tensors=tensors, over="params")
        self._block(loop.body.body, position, inner)

    def _layer_tensors(self, calls, loop: cst.For) -> list[LoopTensor]:
        """The parameters of the layers ``calls`` construct."""
        found = []
        for call in calls:
            qualified = self.t.imports.qualify(call.func)
            if LAYERS[qualified].weights is LayerRule.weights:
                continue  # no tensors
            if qualified not in PARAMETER_RANKS:
                self._refuse(loop, f"the loop reaches {qualified}, whose parameters are not known")
            for name, rank in PARAMETER_RANKS[qualified].items():
                if rank is None:
                    rank = _normalized_rank(call, self.init_tree)
                found.append(LoopTensor(name, rank, False, call, qualified))
        return found

    def _loop_body(self, loop: cst.For, position, scope: Scope) -> None:
        for stmt in loop.body.body:
            try:
                if scope.over != "calls" and not isinstance(stmt, cst.If):
                    # over every module: torch itself fails on m.weight of the model
                    self._refuse(stmt, "unsupported statement in an init loop", "use isinstance")
                self._statement(stmt, position, scope.child())
            except Refused:
                pass

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
        base = self._layered_base(info)
        if base is not None:
            self.t.error(
                node,
                f"{what} here also reaches the layers the base class {base} builds in its "
                "__init__, which is not translated (their initializers are the base's)",
                "initialise those layers in the base class",
            )
        return not info.opaque_builders and base is None

    def _isinstance_types(self, test, var: str | None) -> set[str] | None:
        """The torch types of ``isinstance(var, A)``, ``isinstance(var, (A, B))``, or of
        ``isinstance(var, A) or isinstance(var, B)``; None for any other test."""
        if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.Or):
            left = self._isinstance_types(test.left, var)
            right = self._isinstance_types(test.right, var)
            return None if left is None or right is None else left | right
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
    return found - bound_names(init)


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


def _has_loop(body: cst.BaseSuite) -> bool:
    """Whether a loop lies inside ``body``."""
    found = False

    class Finder(cst.CSTVisitor):
        def visit_For(self, node: cst.For) -> None:
            nonlocal found
            found = True

    body.visit(Finder())
    return found
