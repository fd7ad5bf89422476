"""Parameters and buffers: ``nn.Parameter``, ``register_parameter``/``register_buffer``
become ``add_weight`` (or a variable holding the translated tensor)."""

from __future__ import annotations

import ast

import libcst as cst

from torch2tf.names import code_of, dotted
from torch2tf.parameters import LEGACY, add_weight
from torch2tf.rules import Unsupported
from torch2tf.translation.patterns import SUBCLASSED_BUFFERS, self_attr
from torch2tf.translation.rewrite_base import RewriteBase
from torch2tf.translation.scans import assigned_names


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
        flag = keywords.pop("requires_grad", cst.Name("True"))
        grad = dotted(flag)
        if grad not in ("True", "False") and not self._is_init_argument(flag):
            self.error(
                flag,
                f"nn.Parameter(requires_grad={code_of(flag)}) is translated only with a literal "
                "or an argument of __init__ as the flag",
                "pass True/False, or the constructor's own argument",
            )
            self._resolved(original)  # reported once, here
            return updated
        if attr is None or len(args) != 1 or keywords:
            self.error(
                original,
                "nn.Parameter is translated only as `self.name = nn.Parameter(tensor)` in __init__",
            )
            return updated
        trainable: bool | str = {"True": True, "False": False}.get(grad or "", code_of(flag))
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
            self._variable(attr, shape_source, value, trainable, initializer, original)
        )

    def _is_init_argument(self, flag: cst.BaseExpression) -> bool:
        """``learned_freq``: a parameter of ``__init__`` it does not reassign (a Python bool
        in torch, as Keras's ``trainable=`` wants)."""
        init = self.cls.method("__init__") if self.cls is not None else None
        if init is None or not isinstance(flag, cst.Name):
            return False
        params = [*init.params.posonly_params, *init.params.params, *init.params.kwonly_params]
        if flag.value not in {p.name.value for p in params[1:]}:
            return False
        tree = next(
            f for f in self.cls.tree.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"
        )
        return flag.value not in assigned_names(tree)

    def _variable(
        self,
        name: str,
        original: cst.BaseExpression,
        updated: cst.BaseExpression,
        trainable: bool | str,
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

    def _buffer_write(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        """``self.cache[:n] = value`` outside ``__init__`` on a registered buffer (a cache filled
        in forward) -> ``torch_setitem(self.cache, (slice(None, n),), value)``: torch writes
        the buffer in place, cast to its dtype and broadcast; so does the variable's assign."""
        if self.cls is None or self.function_stack[:1] in ([], ["__init__"]):
            return None
        if len(original.body) != 1 or not isinstance(original.body[0], cst.Assign):
            return None
        targets = updated.body[0].targets
        if len(targets) != 1 or not isinstance(targets[0].target, cst.Subscript):
            return None
        target = targets[0].target
        name = dotted(target.value) or ""
        if not name.startswith("self.") or name[5:] not in registered_buffers(self.cls.tree):
            return None
        parts = []
        for element in target.slice:
            index = element.slice
            if isinstance(index, cst.Index):
                parts.append(code_of(index.value))
            else:
                bounds = [index.lower, index.upper] + ([index.step] if index.step else [])
                parts.append(
                    f"slice({', '.join('None' if b is None else code_of(b) for b in bounds)})"
                )
        key = f"({', '.join(parts)},)"
        value = code_of(updated.body[0].value)
        return cst.parse_statement(f"torch_setitem({name}, {key}, {value})\n").body[0]


def registered_buffers(tree: ast.ClassDef) -> set[str]:
    """Names the class gives ``self.register_buffer("name", ...)``."""
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "register_buffer"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "self"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


def buffer_statement(call: cst.Call, parents, cls, qualify) -> str | None:
    """``x`` for a statement ``self.x.op_(...)`` on a buffer of ``cls``: one the class
    registers or its torch base holds (a BatchNorm subclass's ``num_batches_tracked``)."""
    attr = self_attr(call.func.value)
    if attr is None or cls is None or not isinstance(parents[call], cst.Expr):
        return None
    bases = {qualify(b.value) for b in cls.node.bases}
    held = {n for b in bases for n in SUBCLASSED_BUFFERS.get(b or "", ())}
    return attr if attr in held | registered_buffers(cls.tree) else None
