"""Conditions of a ``parameters()`` loop decided per parameter, from its rank and name."""

from __future__ import annotations

import ast

import libcst as cst

from torch2tf import rules
from torch2tf.init_code.base import RANK_OPERATORS, LoopTensor, ReaderBase, Scope
from torch2tf.names import code_of, dotted
from torch2tf.rules import Arg


class ConditionReader(ReaderBase):
    """Conditions of a ``parameters()`` loop decided per parameter, from its rank and name."""

    def _decide(self, test: cst.BaseExpression, tensor: LoopTensor, scope: Scope) -> bool:
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
        if (
            tensor.suffixed  # an RNN's own parameter names start with their kind
            and isinstance(test, cst.Call)
            and isinstance(test.func, cst.Attribute)
            and dotted(test.func.value) == scope.name_var
            and test.func.attr.value == "startswith"
            and len(test.args) == 1
            and isinstance(test.args[0].value, cst.SimpleString)
        ):
            text = test.args[0].value.evaluated_value
            return self._same_for_every_layer(lambda name: name.startswith(text), tensor, test)
        self._refuse(
            test,
            "unsupported condition in a parameters() loop",
            "test p.dim(), or the parameter's own name (`'bias' in name`, name.endswith(...))",
        )

    def _name_contains(self, text: str, tensor: LoopTensor, where) -> bool:
        """``text in name``, where name is ``<module path>.<own name>`` (or the own name)."""
        if tensor.suffixed:
            return self._same_for_every_layer(lambda name: text in name, tensor, where)
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

    def _same_for_every_layer(self, test, tensor: LoopTensor, where) -> bool:
        """A name test of an RNN's parameter kind, which must decide alike for each layer and
        direction (weight_ih_l0, weight_ih_l0_reverse, weight_ih_l1, ...)."""
        names = [f"{tensor.name}_l{k}{d}" for k in range(12) for d in ("", "_reverse")]
        decided = {bool(test(name)) for name in names}
        if len(decided) > 1:
            self._refuse(
                where,
                f"this test differs between the layers or directions of {tensor.name}: "
                "an init per layer is not translated",
                "test the parameter kind only ('weight_hh' in name, 'bias' in name)",
            )
        return decided.pop()

    def _name_endswith(self, text: str, tensor: LoopTensor, where) -> bool:
        if tensor.suffixed:
            return self._same_for_every_layer(lambda name: name.endswith(text), tensor, where)
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


def _is_rank(node: cst.BaseExpression, var: str | None) -> bool:
    """``p.dim()``, ``p.ndimension()``, ``p.ndim`` or ``len(p.shape)`` for the variable p."""
    if isinstance(node, cst.Call) and not node.args and isinstance(node.func, cst.Attribute):
        return dotted(node.func.value) == var and node.func.attr.value in ("dim", "ndimension")
    if isinstance(node, cst.Call) and dotted(node.func) == "len" and len(node.args) == 1:
        return dotted(node.args[0].value) == f"{var}.shape"
    return dotted(node) == f"{var}.ndim"
