"""Expression edits of one translated statement: the model's ``training=`` flag, swapped loss
arguments, eager tensor methods, ``len(loader.dataset)`` and learning-rate reads."""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from torch2tf import rules
from torch2tf.names import code_of, dotted, paren
from torch2tf.rules import Arg, Unsupported, bind
from torch2tf.training_script.records import Findings
from torch2tf.training_script.syntax import (
    attr_of,
    contains,
    header_calls,
    nth_key,
    operands,
    swap_loss_arguments,
    with_keyword,
)

EAGER_METHODS: dict[str, Callable[[str], str]] = {
    "item": lambda x: f"{paren(x)}.numpy().item()",
    "tolist": lambda x: f"{paren(x)}.numpy().tolist()",
    "numpy": lambda x: f"{paren(x)}.numpy()",
    "cpu": lambda x: x,
    "cuda": lambda x: x,
}


NOT_TENSOR_TF = ("tf.data.", "tf.GradientTape", "tf.random.set_seed", "tf.keras.ops.shape")


class ExpressionEditor(cst.CSTTransformer):
    """Expression-level edits of one translated statement (its header, if compound)."""

    def __init__(self, found: Findings, statement: cst.CSTNode, original: cst.CSTNode) -> None:
        super().__init__()
        self.found = found
        self.root = statement
        self.original = original
        scope = found.stmt_scope.get(original, found.module_scope)
        self.scope = scope
        self.modes: dict[str, str] = {}
        originals = header_calls(original)
        for call in originals:
            modes = found.model_calls.get(call)
            if modes and isinstance(call.func, cst.Name) and len(modes) == 1:
                self.modes[call.func.value] = next(iter(modes))
        self.losses = {c.func.value for c in originals if c in found.loss_calls}  # type: ignore[union-attr]
        self.len_dataset = {
            nth_key(originals, c): v for c, v in found.len_dataset.items() if c in originals
        }
        self.lr_calls = {
            nth_key(originals, c): v for c, v in found.lr_reads.items() if c in originals
        }
        self.lr_subscripts = [v for n, v in found.lr_reads.items() if contains(original, n)]
        self.originals = originals
        self.translated = header_calls(statement)

    def on_visit(self, node: cst.CSTNode) -> bool:
        if node is self.root:
            return True
        return not isinstance(
            node,
            (
                cst.IndentedBlock,
                cst.BaseCompoundStatement,
                cst.Else,
                cst.Finally,
                cst.ExceptHandler,
            ),
        )

    def _is_tensor(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Name):
            kinds = self.scope.kinds(node.value)
            if not kinds and self.scope is not self.found.module_scope:
                if node.value not in self.scope.params:
                    kinds = self.found.module_scope.kinds(node.value)
            return kinds == {"tensor"} or kinds == {"tensor", "tensors"}
        if isinstance(node, cst.Call):
            name = dotted(node.func) or ""
            if isinstance(node.func, cst.Name) and node.func.value in self.modes:
                return True
            if isinstance(node.func, cst.Name) and node.func.value in self.losses:
                return True
            if name.startswith("tf.") and not name.startswith(NOT_TENSOR_TF):
                return True
            if name.startswith("torch_"):
                return True
            if isinstance(node.func, cst.Call) and (dotted(node.func.func) or "").startswith(
                "Torch"
            ):
                return True
            return False
        if isinstance(node, cst.Subscript):
            return self._is_tensor(node.value)
        if isinstance(node, (cst.BinaryOperation, cst.Comparison, cst.UnaryOperation)):
            return any(self._is_tensor(o) for o in operands(node))
        return False

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        func = updated.func
        key = nth_key(self.translated, original)
        if key in self.len_dataset:
            return cst.parse_expression(self.len_dataset[key])
        if key in self.lr_calls:
            return cst.parse_expression(self.lr_calls[key])
        if isinstance(func, cst.Name) and func.value in self.modes:
            mode = self.modes[func.value]
            if not any(a.keyword and a.keyword.value == "training" for a in updated.args):
                return with_keyword(updated, "training", "True" if mode == "train" else "False")
        if isinstance(func, cst.Name) and func.value in self.losses:
            return swap_loss_arguments(updated)
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in EAGER_METHODS or method in rules.METHODS:
                if self._is_tensor(func.value):
                    return self._method(original, updated, method)
        return updated

    def leave_Subscript(self, original: cst.Subscript, updated: cst.Subscript):
        value = updated.value
        if (
            isinstance(value, cst.Subscript)
            and isinstance(value.value, cst.Attribute)
            and value.value.attr.value == "param_groups"
        ):
            name = code_of(value.value.value)
            source = f"float({name}.learning_rate)"
            if source in self.lr_subscripts:
                return cst.parse_expression(source)
        return updated

    def _method(self, original: cst.Call, updated: cst.Call, method: str) -> cst.BaseExpression:
        receiver = updated.func.value  # type: ignore[attr-defined]
        tensor = code_of(receiver)
        if method in EAGER_METHODS:
            if updated.args:
                self._error(original, method, f"Tensor.{method}(...) with arguments")
                return updated
            return cst.parse_expression(EAGER_METHODS[method](tensor))
        if method == "sum" and isinstance(receiver, cst.Comparison) and not updated.args:
            return cst.parse_expression(f"tf.reduce_sum(tf.cast({tensor}, tf.int64))")
        rule = rules.METHODS[method]
        try:
            positional, keywords = [], {}
            for arg in updated.args:
                text = Arg(code_of(arg.value))
                if arg.star:
                    raise TypeError("*-arguments cannot be bound statically")
                if arg.keyword is None:
                    positional.append(text)
                else:
                    keywords[arg.keyword.value] = text
            bound = bind(rule, [Arg(tensor), *positional], keywords)
            source = rule(*bound.args, **bound.kwargs)
        except TypeError as err:
            self._error(original, method, f"cannot translate Tensor.{method}: {err}")
            return updated
        except Unsupported as err:
            self._error(original, method, f"Tensor.{method}: {err.message}", err.hint)
            return updated
        return cst.parse_expression(source)

    def _error(self, call: cst.Call, method: str, message: str, hint: str = "") -> None:
        same = [c for c in self.translated if attr_of(c) == method]
        index = next((i for i, c in enumerate(same) if c is call), 0)
        originals = [c for c in self.originals if attr_of(c) == method]
        node = originals[index] if index < len(originals) else self.original
        self.found.report(node, message, hint)
