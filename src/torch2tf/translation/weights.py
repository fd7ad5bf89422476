"""Parameters and buffers: ``nn.Parameter``, ``register_parameter``/``register_buffer``
become ``add_weight`` (or a variable holding the translated tensor)."""

from __future__ import annotations

import libcst as cst

from torch2tf.names import code_of, dotted
from torch2tf.parameters import LEGACY, add_weight
from torch2tf.rules import Unsupported
from torch2tf.translation.rewrite_base import RewriteBase


class WeightRewrite(RewriteBase):
    """Parameters and buffers: ``nn.Parameter``, ``register_parameter``/``register_buffer``"""

    def _register_parameter(self, original, updated: cst.SimpleStatementLine):
        """``self.register_parameter("b", None)`` -> ``self.b = None``; with a Parameter, the
        same as ``self.b = nn.Parameter(...)``."""
        name = self.cls.registered[original]
        value = updated.body[0].value.args[1].value  # the Parameter, already add_weight
        assign = cst.parse_statement(f"self.{name} = {code_of(value)}\n").body[0]
        return updated.with_changes(body=[assign])

    def _parameter(self, original: cst.Call, updated: cst.Call):
        """``self.w = nn.Parameter(torch.zeros(d))`` -> ``self.w = self.add_weight(...)``."""
        info = self.cls
        attr = (
            info.call_attr.get(original) if info and self.function_stack == ["__init__"] else None
        )
        args = [a for a in original.args if a.keyword is None or a.keyword.value == "data"]
        keywords = {a.keyword.value: a.value for a in original.args if a.keyword}
        keywords.pop("data", None)  # nn.Parameter(data=tensor): the tensor, in args
        grad = dotted(keywords.pop("requires_grad", cst.Name("True")))
        if attr is None or len(args) != 1 or keywords or grad not in ("True", "False"):
            self.error(
                original,
                "nn.Parameter is translated only as `self.name = nn.Parameter(tensor)` in __init__",
            )
            return updated
        self._resolved(original)
        value = next(
            a.value for a in updated.args if a.keyword is None or a.keyword.value == "data"
        )
        created = info.params[attr][0]
        inits = [
            step.params["value"]
            for step in info.init_steps
            if step.scope == "param"
            and step.key == attr
            and step.position >= created
            and (not step.calls or original in step.calls)  # pinned to one construction
        ]
        initializer = inits[-1] if inits else None  # torch's last init of it wins
        shape_source = info.param_sources.get(original, args[0].value)  # a local's maker
        return cst.parse_expression(
            self._variable(attr, shape_source, value, grad == "True", initializer, original)
        )

    def _variable(
        self,
        name: str,
        original: cst.BaseExpression,
        updated: cst.BaseExpression,
        trainable: bool,
        initializer: str | None = None,
        where: cst.CSTNode | None = None,
    ) -> str:
        """``add_weight`` for a tensor whose shape and distribution the source shows, else a
        variable holding the translated tensor expression."""
        try:
            source = add_weight(name, original, self.imports, trainable, initializer)
        except Unsupported as err:
            legacy = isinstance(original, cst.Call) and (
                self.imports.qualify(original.func) in LEGACY
            )
            if initializer is not None or legacy:  # init code needs the shape; Tensor(data)
                self.error(where or original, f"{name}: {err.message}", err.hint)
            return f"torch_variable(self, {name!r}, {code_of(updated)}, trainable={trainable})"
        self._settle(original)  # its torch calls were read for shape and distribution
        return source

    def _buffer(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.BaseSmallStatement | None:
        """``self.register_buffer("name", tensor)`` -> ``self.name = self.add_weight(...)``."""
        if self.cls is None or self.function_stack != ["__init__"] or len(original.body) != 1:
            return None
        expr = original.body[0]
        if not (
            isinstance(expr, cst.Expr)
            and isinstance(expr.value, cst.Call)
            and dotted(expr.value.func) == "self.register_buffer"
        ):
            return None
        calls = (expr.value, updated.body[0].value)
        args, keywords = [], []
        for call in calls:
            positional = [a.value for a in call.args if a.keyword is None]
            named = {a.keyword.value: a.value for a in call.args if a.keyword}
            positional += [named.pop(k) for k in ("name", "tensor") if k in named]
            named.pop("persistent", None)  # a variable either way; weights move by attribute
            args.append(positional)
            keywords.append(named)
        name = args[0][0] if args[0] else None
        if not isinstance(name, cst.SimpleString) or len(args[0]) != 2 or keywords[0]:
            self.error(
                expr.value, "register_buffer is translated only with a literal name and tensor"
            )
            return None
        value = self._variable(name.evaluated_value, args[0][1], args[1][1], trainable=False)
        return cst.parse_statement(f"self.{name.evaluated_value} = {value}\n").body[0]
