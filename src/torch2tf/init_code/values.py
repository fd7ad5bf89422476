"""Values in init code as source valid where the tensor is made: local names, sizes of
parameters, ``calculate_gain``, the layers a loop runs over."""

from __future__ import annotations

import ast
import math

import libcst as cst

from torch2tf import rules
from torch2tf.init_code.base import CONTAINERS, NUMPY_AS_MATH, ReaderBase, Scope, self_attr
from torch2tf.init_code.containers import members
from torch2tf.names import code_of, dotted, is_docstring, paren
from torch2tf.parameters import is_starred
from torch2tf.rules import Arg, Unsupported
from torch2tf.rules.init import gain_squared


class ValueReader(ReaderBase):
    """Values in init code as source valid where the tensor is made: local names, sizes of"""

    def _arg(self, node: cst.BaseExpression, scope: Scope) -> Arg:
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

    def _expr(self, node: cst.BaseExpression, scope: Scope) -> str:
        """Source of ``node`` valid in __init__ where the tensor is made: local names are
        replaced by their values, ``self.w.size(1)``/``self.w.shape[1]`` by the size."""
        outer = self
        names = _free_names(node)
        torch_names = {n for n in names if self.t.imports.is_torch(n)}
        if torch_names:
            self._refuse(node, f"the init argument {code_of(node)!r} uses torch")
        sized = scope.var is not None and scope.var in names and scope.tensors is not None
        if scope.var is not None and scope.var in names and not sized:
            self._refuse(node, f"an init argument depending on {scope.var} is not translated")
        names -= {scope.var} if sized else set()
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
                returned = outer._property(original)
                if returned is not None:  # self.in_features: return self.weight.shape[-2]
                    return cst.parse_expression(paren(outer._expr(returned, Scope())))
                same = NUMPY_AS_MATH.get(outer.t.imports.qualify(original) or "")
                if same is None and dotted(original.value) != "self":
                    argument = outer._layer_attribute(original)  # self.rnn.hidden_size
                    same = None if argument is None else paren(argument)
                return updated if same is None else cst.parse_expression(same)

            def leave_Call(self, original: cst.Call, updated: cst.Call):
                if dotted(original.func) in scope.functions:  # def norm_cdf(x): return ...
                    return outer._call_nested(updated, scope)
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

        result = node.visit(Substitute())
        if sized:  # p.size(0) of a parameters() loop's p, where the parameters agree on it
            result = self._loop_sizes(result, scope)
            if scope.var in _free_names(result):
                self._refuse(node, f"an init argument depending on {scope.var} is not translated")
        return self._number(node, code_of(result), scope)

    def _property(self, node: cst.Attribute) -> cst.BaseExpression | None:
        """What ``self.p`` returns, ``p`` a property of the class returning one expression."""
        if dotted(node.value) != "self":
            return None
        func = self.info.method(node.attr.value)
        decorators = [dotted(d.decorator) for d in func.decorators] if func is not None else []
        if decorators != ["property"]:
            return None
        body = [s for s in func.body.body if not is_docstring(s)]
        line = body[0] if len(body) == 1 else None
        if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
            return None
        returned = line.body[0]
        return returned.value if isinstance(returned, cst.Return) else None

    def _loop_sizes(self, node: cst.BaseExpression, scope: Scope) -> cst.BaseExpression:
        """``p.size(0)``, ``p.shape[0]``, ``len(p)`` of a parameters() loop's variable -> the
        size, where every parameter the code reaches has the same, known one."""
        rows = {t.rows for t in scope.tensors or ()}
        if len(rows) != 1 or None in rows:
            return node
        size = cst.parse_expression(paren(rows.pop()))
        var = scope.var

        class Sizes(cst.CSTTransformer):
            def leave_Call(self, original: cst.Call, updated):
                func, args = original.func, original.args
                if (
                    isinstance(func, cst.Attribute)
                    and func.attr.value == "size"
                    and dotted(func.value) in (var, f"{var}.data")
                    and len(args) == 1
                    and rules.const(Arg(code_of(args[0].value)), None) == 0
                ) or (dotted(func) == "len" and len(args) == 1 and dotted(args[0].value) == var):
                    return size
                return updated

            def leave_Subscript(self, original: cst.Subscript, updated):
                if (
                    dotted(original.value) in (f"{var}.shape", f"{var}.data.shape")
                    and len(original.slice) == 1
                    and isinstance(original.slice[0].slice, cst.Index)
                    and rules.const(Arg(code_of(original.slice[0].slice.value)), None) == 0
                ):
                    return size
                return updated

        return node.visit(Sizes())

    def _size(self, func, args) -> str | None:
        """``self.w.size(k)`` -> the size ``w`` was created with."""
        if not (isinstance(func, cst.Attribute) and func.attr.value == "size") or len(args) != 1:
            return None
        return self._size_at(func.value, args[0].value)

    def _size_at(self, tensor, index: cst.BaseExpression) -> str | None:
        param = self._param_of(tensor)
        if param is None:
            return None
        shape = self._sizes_of(param)
        value = rules.const(Arg(code_of(index)), None)
        if shape is None or not isinstance(value, int) or not -len(shape) <= value < len(shape):
            self._refuse(index, f"cannot read this size of {param}")
        # counted from the side of the index, no starred size may come before it
        before = shape[value:] if value < 0 else shape[: value + 1]
        if any(is_starred(s) for s in before):
            self._refuse(index, f"cannot read this size of {param}: a starred size comes before it")
        return shape[value]

    def _members_of(self, iterator: cst.BaseExpression) -> list[cst.Call] | None:
        """The layer constructions a loop runs over: a ModuleList/Sequential attribute's
        direct elements, or a literal list of layer attributes."""
        if isinstance(iterator, (cst.List, cst.Tuple)):
            found = []
            for element in iterator.elements:
                attr = self_attr(element.value)
                call = self._call_of(attr)
                if call is None:
                    return None
                found.append(call)
            return found
        attr = self_attr(iterator)
        call = self._call_of(attr)
        if call is None or self.t.imports.qualify(call.func) not in CONTAINERS:
            return None
        return members(call, self.init, self.t.imports.qualify)

    def _layer_arguments(self, call: cst.Call, qualified: str) -> dict[str, str]:
        """The constructor arguments of a layer construction as source, by torch's names
        (defaults as written in the rule); empty when they do not bind."""
        positional = [Arg(code_of(a.value)) for a in call.args if a.keyword is None]
        keywords = {a.keyword.value: Arg(code_of(a.value)) for a in call.args if a.keyword}
        if any(a.star for a in call.args):
            return {}
        try:
            bound = rules.bind(rules.LAYERS[qualified]().keras, positional, keywords)
        except TypeError:
            return {}
        return {name: str(value) for name, value in bound.arguments.items()}

    def _layer_attribute(self, node: cst.Attribute) -> str | None:
        """``self.rnn.hidden_size`` -> the argument ``self.rnn`` was constructed with (torch
        keeps its constructor arguments as attributes of the same name)."""
        attr = self_attr(node.value)
        call = self._call_of(attr)
        if call is None:
            return None
        qualified = self.t.imports.qualify(call.func)
        if qualified not in rules.LAYERS or qualified in CONTAINERS:
            return None
        value = self._layer_arguments(call, qualified).get(node.attr.value)
        names = _free_names(cst.parse_expression(value)) if value is not None else set()
        if value is None or names & (self.init_names - self._init_parameters()):
            return None  # only literals and __init__'s own parameters mean the same there
        return value

    def _init_parameters(self) -> set[str]:
        args = self.init_tree.args
        return {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}

    def _call_of(self, attr: str | None) -> cst.Call | None:
        if attr is None or attr not in self.info.layers:
            return None
        info = self.info
        calls = [c for c, a in info.call_attr.items() if a == attr and c in info.direct_calls]
        return calls[0] if len(calls) == 1 else None


def _free_names(node: cst.CSTNode) -> set[str]:
    """Names read in an expression (attribute and keyword names excluded)."""
    tree = ast.parse(code_of(node).strip(), mode="eval")
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
