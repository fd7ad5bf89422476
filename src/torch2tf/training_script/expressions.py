"""The interpreter's expressions: what each one is (a tracked object, a tensor and the
models its gradient comes from, or unknown), and the uses of tracked objects that are refused."""

from __future__ import annotations

from typing import Any

import libcst as cst

from torch2tf import rules
from torch2tf.names import code_of, dotted
from torch2tf.rules import training as tr
from torch2tf.torch_api import MODULE_API
from torch2tf.training_script.records import (
    TENSOR,
    TUPLE_OF_TENSORS,
    Ctx,
    Obj,
    State,
    is_tensor,
)
from torch2tf.training_script.syntax import count_assignments, operands

TENSOR_ATTRS_REFUSED = {"grad", "data", "requires_grad", "grad_fn", "is_leaf", "T", "device"}


NOT_TENSOR_METHODS = {"item", "tolist", "numpy", "size", "dim", "ndimension", "numel", "nelement"}


class Expressions:
    """Methods of :class:`~torch2tf.training_script.analysis.Analysis` (state is kept there)."""

    def _expr(self, node: cst.BaseExpression | None, state: State, ctx: Ctx) -> Any:
        if node is None:
            return None
        if isinstance(node, cst.Name):
            return self._name_value(node, state, ctx)
        if isinstance(node, cst.Call):
            return self._call(node, state, ctx)
        if isinstance(node, cst.Attribute):
            return self._attribute(node, state, ctx)
        if isinstance(node, cst.Subscript):
            return self._subscript(node, state, ctx)
        if isinstance(node, (cst.BinaryOperation, cst.Comparison, cst.UnaryOperation)):
            values = [self._expr(c, state, ctx) for c in operands(node)]
            if isinstance(node, cst.Comparison):
                return TENSOR if self.tensor_of(values) else None  # booleans carry no gradient
            return self.tensor_of(values)
        if isinstance(node, cst.NamedExpr):
            value = self._expr(node.value, state, ctx)
            self._bind(node.target, value, state, ctx)
            return value
        self._expr_generic(node, state, ctx)
        return None

    def _expr_generic(self, node: cst.CSTNode, state: State, ctx: Ctx) -> None:
        for child in node.children:
            if isinstance(child, cst.BaseExpression):
                self._expr(child, state, ctx)
            elif not isinstance(child, (cst.BaseSuite, cst.BaseStatement)):
                self._expr_generic(child, state, ctx)

    def _name_value(self, node: cst.Name, state: State, ctx: Ctx) -> Any:
        value = self._lookup(node.value, state, ctx)
        if isinstance(value, Obj) and value.kind in ("optimizer", "scheduler", "loss"):
            self._bare_use(node, value)
        return value

    def _bare_use(self, node: cst.Name, obj: Obj) -> None:
        parent = self.parents.get(node)
        if isinstance(parent, cst.Arg):
            call = self.parents.get(parent)
            if isinstance(call, cst.Call) and isinstance(call.func, cst.Name):
                if call.func.value in self.functions:
                    return  # followed into the function
                if call.func.value == "print" and obj.kind != "loss":
                    return
        advice = {
            "loss": "Keras losses take (y_true, y_pred): the arguments are swapped where the "
            "loss is called, which is not visible here",
            "optimizer": "optimizers are translated where they are stepped",
            "scheduler": "schedules are attached to the optimizer where they are built",
        }[obj.kind]
        self.error(
            node,
            f"{node.value} ({obj.kind}) is used in a way that is not translated",
            advice,
        )

    def _call(self, node: cst.Call, state: State, ctx: Ctx) -> Any:
        func = node.func
        if isinstance(func, cst.Name):
            obj = self._lookup(func.value, state, ctx)
            if isinstance(obj, Obj) and obj.kind == "model":
                self._expr_args(node, state, ctx)
                self.model_calls.setdefault(node, set()).add(state.modes.get(obj, "?"))
                self.active = True
                return TENSOR if ctx.no_grad else self.grad_of(frozenset([obj]))
            if isinstance(obj, Obj) and obj.kind == "loss":
                values = self._expr_args(node, state, ctx)
                self._loss_call(node)
                return self.tensor_of([*values, TENSOR])
            if isinstance(obj, Obj) and obj.kind in ("optimizer", "scheduler", "loader"):
                self.error(node, f"calling {func.value} ({obj.kind}) is not translated")
                return None
            if func.value in ("len", "iter", "next") and len(node.args) == 1:
                return self._builtin(node, func.value, state, ctx)
            if (
                func.value in self.functions
                and func.value not in state.env
                and (ctx.scope is self.module_scope or func.value not in ctx.scope.params)
            ):
                return self._inline(node, self.functions[func.value], state, ctx)
        qualified = self.imports.qualify(func)
        if qualified is not None:
            kind = self._constructor(node)
            if kind in tr.SCHEDULERS or kind in tr.OPTIMIZERS or kind in (tr.DATA_LOADER,):
                self.error(
                    node,
                    f"{qualified} is translated only assigned to a name (`x = {qualified}(...)`)",
                )
                self._expr_args(node, state, ctx)
                return None
            if kind in tr.LOSSES:
                self.error(
                    node,
                    f"{qualified} is translated only assigned to a name, called as "
                    "criterion(output, target)",
                )
                return None
            if qualified in (tr.CLIP_NORM, tr.CLIP_VALUE) or qualified in tr.NO_GRAD:
                self.error(node, f"{qualified} is translated only in a training loop statement")
                return None
            values = self._expr_args(node, state, ctx)
            if qualified in rules.FUNCTIONS and qualified.startswith("torch."):
                if qualified in ("torch.max", "torch.min", "torch.split", "torch.chunk"):
                    return TUPLE_OF_TENSORS if len(node.args) > 1 else self.tensor_of(values)
                if qualified == "torch.manual_seed":
                    return None
                return self.tensor_of([*values, TENSOR])
            return None
        if isinstance(func, cst.Attribute):
            return self._method(node, func, state, ctx)
        self._expr(func, state, ctx)
        self._expr_args(node, state, ctx)
        return None

    def _loss_call(self, node: cst.Call) -> None:
        positional = [a for a in node.args if a.keyword is None and not a.star]
        keywords = {a.keyword.value for a in node.args if a.keyword is not None}
        if any(a.star for a in node.args) or not (
            (len(positional) == 2 and not keywords)
            or (len(positional) == 1 and keywords == {"target"})
            or (not positional and keywords == {"input", "target"})
        ):
            self.error(node, "a loss is translated when called as criterion(output, target)")
            return
        self.loss_calls.add(node)
        self.active = True

    def _builtin(self, node: cst.Call, name: str, state: State, ctx: Ctx) -> Any:
        arg = node.args[0].value
        if name == "len" and isinstance(arg, cst.Attribute) and arg.attr.value == "dataset":
            loader = self._lookup_expr(arg.value, state, ctx)
            if isinstance(loader, Obj) and loader.kind == "loader":
                self.active = True
                if loader.dataset is not None:
                    names = [n for n, v in self._visible(state, ctx).items() if v is loader.dataset]
                    if names:
                        self.len_dataset[node] = f"len({names[0]})"
                        return None
                first = loader.first_tensor
                if first is not None and self._stable(first, loader):
                    self.len_dataset[node] = f"len({first})"
                    return None
                self.error(
                    arg,
                    f"{code_of(arg)} is translated only when the dataset's first tensor is a "
                    "variable assigned once",
                    "assign the TensorDataset to a name and use len(dataset)",
                )
                return None
        value = self._expr(arg, state, ctx)
        if name == "len":
            return None
        if isinstance(value, Obj) and value.kind in ("loader", "dataset"):
            return TUPLE_OF_TENSORS if name == "next" else value
        return None

    def _stable(self, name: str, loader: Obj) -> bool:
        scope = loader.scope
        if scope is None or not name.isidentifier():
            return False
        if name in scope.params:
            return scope.assigned.get(name, 0) == 0 or name not in scope.assigned
        return scope.assigned.get(name, 0) <= 1 or (
            scope is self.module_scope and count_assignments(self.module, name) <= 1
        )

    def _inline(self, node: cst.Call, func: cst.FunctionDef, state: State, ctx: Ctx) -> Any:
        args = [(a, self._expr_arg(a.value, state, ctx)) for a in node.args]
        if func in ctx.chain:
            return None  # recursion: not followed
        self.inlined.add(func)
        scope = self.scopes[func]
        params = func.params
        positional = [*params.posonly_params, *params.params]
        env: dict[str, Any] = {p: None for p in scope.params}
        index = 0
        for arg, value in args:
            if arg.star:
                continue
            if arg.keyword is not None:
                env[arg.keyword.value] = value
            elif index < len(positional):
                env[positional[index].name.value] = value
                index += 1
        for name, value in env.items():
            scope.bind(name, value)
        inner_state = State(env, state.modes)
        globals_env = state.env if ctx.scope is self.module_scope else ctx.globals
        inner = Ctx(
            scope, globals_env, ctx.frames, ctx.tape, (*ctx.chain, func), [], ctx.cond, ctx.no_grad
        )
        self._function_body(func, inner_state, inner)
        state.modes = inner_state.modes
        returned = inner.returns
        if returned and all(r is returned[0] for r in returned):
            return returned[0]
        return None

    def _expr_arg(self, node: cst.BaseExpression, state: State, ctx: Ctx) -> Any:
        """An argument of a call to a function of the file: objects may be passed."""
        if isinstance(node, cst.Name):
            return self._lookup(node.value, state, ctx)
        return self._expr(node, state, ctx)

    def _method(self, node: cst.Call, func: cst.Attribute, state: State, ctx: Ctx) -> Any:
        method = func.attr.value
        receiver = func.value
        obj = self._lookup_expr(receiver, state, ctx)
        kind = obj.kind if isinstance(obj, Obj) else None
        if kind == "model":
            self._expr_args(node, state, ctx)
            if method in ("train", "eval", "zero_grad"):
                self.error(node, f"model.{method}() is translated only as a statement of its own")
            elif method == "parameters":
                self.error(
                    node,
                    "model.parameters() is translated only as the argument of an optimizer or "
                    "of clip_grad_norm_",
                )
            elif method in MODULE_API and not self._class_defines(obj, method):
                self.error(
                    node,
                    f"{code_of(receiver)}.{method}() is torch's nn.Module API, which is not "
                    "translated",
                    "Keras models differ here; rewrite this use",
                )
            return None
        if kind == "optimizer":
            self.error(
                node,
                f"{code_of(receiver)}.{method}() is translated only as a statement of a training "
                "step",
            )
            return None
        if kind == "scheduler":
            if method == "get_last_lr" and not node.args and obj.optimizer is not None:
                names = [n for n, v in self._visible(state, ctx).items() if v is obj.optimizer]
                if names:
                    self.lr_reads[node] = f"[float({names[0]}.learning_rate)]"
                    self.active = True
                    return None
            self.error(node, f"scheduler.{method}() here is not translated")
            return None
        if kind in ("loss", "loader", "dataset"):
            self.error(node, f"{code_of(receiver)}.{method}() ({kind}) is not translated")
            return None
        value = self._expr(receiver, state, ctx) if obj is None else obj
        values = self._expr_args(node, state, ctx)
        if is_tensor(value):
            if method == "backward":
                self.error(node, "backward() is translated only as a statement `loss.backward()`")
                return None
            if method in NOT_TENSOR_METHODS:
                return None
            if method in ("max", "min", "sort", "topk", "split", "chunk") and node.args:
                return TUPLE_OF_TENSORS
            if method == "detach":
                return TENSOR
            return self.tensor_of([value, *values])
        if method in ("backward", "zero_grad", "step", "train", "eval", "parameters"):
            self.error(
                node,
                f"cannot tell what {code_of(receiver)} is, so .{method}() is not translated",
                self._unknown_hint(dotted(receiver) or "", ctx)
                or "build models, optimizers and schedulers in this file, in variables",
            )
        return None

    def _unknown_hint(self, name: str, ctx: Ctx) -> str:
        """Why an argument of a function is unknown: the file never calls the function."""
        if ctx.standalone and name.split(".")[0] in ctx.scope.params:
            return (
                f"{ctx.scope.name}() is not called in this file, so what its arguments are "
                "cannot be told; translate it together with the code that calls it"
            )
        return ""

    def _class_defines(self, model: Obj, method: str) -> bool:
        call = model.call
        name = dotted(call.func) if call is not None else None
        cls = next(
            (s for s in self.module.body if isinstance(s, cst.ClassDef) and s.name.value == name),
            None,
        )
        if cls is None:
            return False
        return any(isinstance(s, cst.FunctionDef) and s.name.value == method for s in cls.body.body)

    def _attribute(self, node: cst.Attribute, state: State, ctx: Ctx) -> Any:
        attr = node.attr.value
        if attr in ("grad", "requires_grad", "grad_fn"):
            self.error(node, f".{attr} is not translated: TensorFlow keeps no gradients on values")
            self._expr(node.value, state, ctx)
            return None
        base = self._lookup_expr(node.value, state, ctx)
        kind = base.kind if isinstance(base, Obj) else None
        if kind == "model":
            if attr in MODULE_API and not self._class_defines(base, attr):
                self.error(node, f"{code_of(node)} is torch's nn.Module API, not translated")
            return None
        if kind in ("optimizer", "scheduler", "loss", "loader", "dataset"):
            if kind == "optimizer" and attr == "param_groups":
                return None  # checked by _subscript
            self.error(node, f"{code_of(node)} ({kind}) is not translated")
            return None
        value = self._expr(node.value, state, ctx)
        if is_tensor(value) and attr in TENSOR_ATTRS_REFUSED:
            self.error(node, f"Tensor.{attr} is not translated")
        if isinstance(node.value, cst.Attribute) or isinstance(node.value, cst.Name):
            root = node.value
            while isinstance(root, cst.Attribute):
                root = root.value
            owner = self._lookup_expr(root, state, ctx)
            if isinstance(owner, Obj) and owner.kind == "model" and attr in ("weight", "bias"):
                self.error(
                    node,
                    f"{code_of(node)}: torch parameters are not Keras variables (Dense's kernel is "
                    "the transposed weight)",
                )
        return None

    def _subscript(self, node: cst.Subscript, state: State, ctx: Ctx) -> Any:
        # optimizer.param_groups[0]["lr"]
        inner = node.value
        if (
            isinstance(inner, cst.Subscript)
            and isinstance(inner.value, cst.Attribute)
            and inner.value.attr.value == "param_groups"
        ):
            owner = self._lookup_expr(inner.value.value, state, ctx)
            if isinstance(owner, Obj) and owner.kind == "optimizer":
                index = code_of(inner.slice[0].slice) if len(inner.slice) == 1 else ""
                key = code_of(node.slice[0].slice) if len(node.slice) == 1 else ""
                if index.strip() == "0" and key.strip() in ('"lr"', "'lr'"):
                    parent = self.parents.get(node)
                    if isinstance(parent, cst.AssignTarget):
                        self.error(node, "setting the learning rate is not translated")
                        return None
                    self.lr_reads[node] = f"float({code_of(inner.value.value)}.learning_rate)"
                    self.active = True
                    return None
                self.error(node, "only param_groups[0]['lr'] is translated")
                return None
        if isinstance(inner, cst.Attribute) and inner.attr.value == "param_groups":
            owner = self._lookup_expr(inner.value, state, ctx)
            if isinstance(owner, Obj) and owner.kind == "optimizer":
                self.error(node, "only param_groups[0]['lr'] is translated")
                return None
        value = self._expr(node.value, state, ctx)
        for element in node.slice:
            self._expr_generic(element, state, ctx)
        if is_tensor(value):
            return value
        if value is TUPLE_OF_TENSORS:
            return TENSOR
        return None
