"""Object tracking: models, optimizers, schedulers, losses and loaders where they are built,
and the statements that are one call on them (``model.train()``, ``optimizer.step()``...)."""

from __future__ import annotations

from typing import Any

import libcst as cst

from torch2tf.names import code_of, dotted
from torch2tf.rules import LAYERS
from torch2tf.rules import training as tr
from torch2tf.torch_api import DTYPES
from torch2tf.training_objects import SEQUENTIAL_LR
from torch2tf.training_script.records import Ctx, Obj, State


class Objects:
    """Methods of :class:`~torch2tf.training_script.analysis.Analysis` (state is kept there)."""

    def _constructor(self, call: cst.Call) -> str | None:
        qualified = self.imports.qualify(call.func)
        if qualified in tr.OPTIMIZERS or qualified in tr.SCHEDULERS or qualified in tr.LOSSES:
            return qualified
        if qualified in (tr.DATA_LOADER, tr.TENSOR_DATASET):
            return qualified
        if qualified is not None and qualified.startswith("torch.optim."):
            return qualified
        if self._is_model_class(call.func):
            return "model"
        return None

    def _is_model_class(self, func: cst.BaseExpression) -> bool:
        name = dotted(func)
        qualified = self.imports.qualify(func)
        return (
            name in self.model_classes or qualified in self.project_classes or (qualified in LAYERS)
        )

    def _construct(
        self, name: str, call: cst.Call, stmt: cst.CSTNode, state: State, ctx: Ctx
    ) -> Any:
        kind = self._constructor(call)
        obj = Obj("other", name, ctx.scope, stmt, call, kind or "")
        obj.visible = self._visible(state, ctx)
        positional = [a.value for a in call.args if a.keyword is None and not a.star]
        keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        if kind == "model":
            self._expr_args(call, state, ctx)
            obj.kind = "model"
            state.modes[obj] = "train"
            return obj
        if kind in tr.OPTIMIZERS:
            self.active = True
            obj.kind = "optimizer"
            params = positional[0] if positional else keywords.get("params")
            model = None
            if (
                isinstance(params, cst.Call)
                and isinstance(params.func, cst.Attribute)
                and params.func.attr.value == "parameters"
                and not params.args
            ):
                owner = params.func.value
                model = self._lookup_expr(owner, state, ctx)
                if not (isinstance(model, Obj) and model.kind == "model"):
                    if isinstance(owner, cst.Name):
                        model = Obj("model", owner.value, ctx.scope)
                        state.modes[model] = "?"
                        self._bind(owner, model, state, ctx)
                    else:
                        self.error(
                            params,
                            f"the optimizer's parameters {code_of(params)} are not a model's "
                            "held in a variable",
                            "write model.parameters() with the model in a variable",
                        )
                        model = None
            obj.model = model
            for arg in call.args:
                if arg.value is not params:
                    self._expr(arg.value, state, ctx)
            self.optimizers[stmt] = obj
            return obj
        if kind in tr.SCHEDULERS:
            self.active = True
            obj.kind = "scheduler"
            target = positional[0] if positional else keywords.get("optimizer")
            optimizer = self._lookup_expr(target, state, ctx) if target is not None else None
            if not (isinstance(optimizer, Obj) and optimizer.kind == "optimizer"):
                where = target if target is not None else call
                self.error(where, "the scheduler's optimizer is not a translated optimizer")
                optimizer = None
            obj.optimizer = optimizer
            members = None
            if kind == SEQUENTIAL_LR:
                members = positional[1] if len(positional) > 1 else keywords.get("schedulers")
                self._sequence(obj, members, state, ctx)
            for arg in call.args:
                if arg.value is not target and arg.value is not members:
                    self._expr(arg.value, state, ctx)
            self.schedulers[stmt] = obj
            return obj
        if kind is not None and kind.startswith("torch.optim."):
            return None  # not translated: the engine reports it
        if kind in tr.LOSSES:
            self._expr_args(call, state, ctx)
            obj.kind = "loss"
            self.active = True
            return obj
        if kind == tr.TENSOR_DATASET:
            self._expr_args(call, state, ctx)
            obj.kind = "dataset"
            first = call.args[0].value if call.args else None
            obj.first_tensor = code_of(first) if isinstance(first, cst.Name) else None
            return obj
        # DataLoader
        self.active = True
        obj.kind = "loader"
        dataset = positional[0] if positional else keywords.get("dataset")
        if isinstance(dataset, cst.Call) and self.imports.qualify(dataset.func) == (
            tr.TENSOR_DATASET
        ):
            self._expr_args(dataset, state, ctx)
            first = dataset.args[0].value if dataset.args else None
            obj.first_tensor = code_of(first) if isinstance(first, cst.Name) else None
        elif isinstance(dataset, cst.Name):  # other expressions: reported by the rule
            found = self._lookup_expr(dataset, state, ctx)
            if isinstance(found, Obj) and found.kind == "dataset":
                obj.dataset = found
                obj.first_tensor = found.first_tensor
            else:
                self.error(
                    dataset,
                    "a DataLoader is translated only over a TensorDataset of in-memory tensors",
                    "wrap the tensors in torch.utils.data.TensorDataset(X, y)",
                )
        for arg in call.args:
            if arg.value is not dataset:
                self._expr(arg.value, state, ctx)
        self.loaders[stmt] = obj
        return obj

    def _expr_args(self, call: cst.Call, state: State, ctx: Ctx) -> list[Any]:
        return [self._expr(a.value, state, ctx) for a in call.args]

    def _statement_call(
        self, call: cst.Call, stmt: cst.SimpleStatementLine, state: State, ctx: Ctx
    ) -> bool:
        """Handle ``model.train()``, ``optimizer.step()``...; False when not such a call."""
        qualified = self.imports.qualify(call.func)
        if qualified in (tr.CLIP_NORM, tr.CLIP_VALUE):
            if stmt not in self._plan_clips():
                self.error(
                    call,
                    f"{qualified.rsplit('.', 1)[1]} is translated only between loss.backward() "
                    "and optimizer.step() of a training step",
                )
            for arg in call.args[1:]:
                self._expr(arg.value, state, ctx)
            return True
        if not isinstance(call.func, cst.Attribute) or not isinstance(call.func.value, cst.Name):
            return False
        method = call.func.attr.value
        name = call.func.value.value
        obj = self._lookup(name, state, ctx)
        kind = obj.kind if isinstance(obj, Obj) else None
        if kind == "model" and method in ("train", "eval"):
            mode = "train" if method == "train" else "eval"
            if method == "train" and call.args:
                flag = call.args[0].value
                literal = dotted(flag)
                if (
                    literal not in ("True", "False")
                    or call.args[0].keyword not in (None,)
                    and (call.args[0].keyword.value != "mode")
                ):
                    self.error(call, "model.train(mode) is translated only with a literal mode")
                    return True
                mode = "train" if literal == "True" else "eval"
            state.modes[obj] = mode
            self.removed.add(stmt)
            self.active = True
            return True
        if kind == "model" and method in ("to", "cuda", "cpu"):
            return self._device_move(call, stmt, obj)
        if method == "zero_grad" and kind in ("model", "optimizer"):
            if not any(stmt is p.zero_grad for p in self.plans.values()):
                self.removed.add(stmt)  # nothing to clear: each tape computes fresh gradients
            self._expr_args(call, state, ctx)
            self.active = True
            return True
        if method == "step" and kind == "optimizer":
            plan = self.plans.get(stmt)
            if plan is None:
                return True  # reported by _plan
            self.plan_optimizers.setdefault(plan, set()).add(obj)
            depth = len(ctx.frames)
            if ctx.frames:
                inner = ctx.frames[-1]
                for frame in ctx.frames:
                    frame.steps.append((obj, depth, inner, ctx.cond))
            return True
        if method == "step" and kind == "scheduler":
            self._scheduler_step(call, stmt, obj, ctx)
            return True
        if method == "backward":
            if any(stmt is p.backward for p in self.plans.values()):
                return True
            if stmt in self._backward_of_failed_plans():
                return True  # reported with its step
            if kind != "tensor":
                self.error(
                    call,
                    f"cannot tell what {name} is, so .backward() is not translated",
                    self._unknown_hint(name, ctx)
                    or "compute the loss from a model and a loss of this file",
                )
                return True
            self.error(
                call,
                "loss.backward() is translated only in a training step: zero_grad(), the "
                "loss, backward() and optimizer.step() in one block",
            )
            return True
        return False

    def _backward_of_failed_plans(self) -> set[cst.CSTNode]:
        return self._failed_backwards

    def _device_move(self, call: cst.Call, stmt: cst.CSTNode, model: Obj) -> bool:
        """``model.to(device)``, ``.cuda()``, ``.cpu()``: TensorFlow places the model itself."""
        for arg in call.args:
            qualified = self.imports.qualify(arg.value) or ""
            keyword = arg.keyword.value if arg.keyword is not None else ""
            if keyword == "dtype" or qualified.rsplit(".", 1)[-1] in DTYPES:
                self.error(call, "model.to(dtype) is not translated", "build the model in a dtype")
                return True
        self.removed.add(stmt)
        self.active = True
        return True
