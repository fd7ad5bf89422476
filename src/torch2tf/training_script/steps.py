"""The training step: zero_grad, the statements a tape records, backward, clipping and
step found in one block; and the checks of optimizers, model calls and no_grad after it."""

from __future__ import annotations

from typing import Any

import libcst as cst

from torch2tf.names import code_of
from torch2tf.rules import training as tr
from torch2tf.training_script.records import Ctx, Obj, Plan, State, models_of
from torch2tf.training_script.syntax import (
    all_calls,
    all_names,
    assigned_targets,
    expr_statement_call,
    fresh_name,
    method_call,
    names_in,
    reads,
)


class Steps:
    """Methods of :class:`~torch2tf.training_script.analysis.Analysis` (state is kept there)."""

    def _check_tape_inputs(self, plan: Plan, model: Any, state: State, ctx: Ctx) -> None:
        """The tape must see every op from the parameters to the loss: a tensor computed from
        a model before the tape starts (in another tape, or earlier) would carry no gradient."""
        assigned: set[str] = set()
        for stmt in plan.region:
            for name in reads(stmt):
                value = self._lookup(name.value, state, ctx)
                if name.value not in assigned and model in models_of(value):
                    self.error(
                        name,
                        f"{name.value} was computed from a model before the statements that "
                        f"compute {plan.loss}, so a tape there would not see how",
                        f"compute {name.value} again after the zero_grad() of this step",
                    )
            assigned |= assigned_targets(stmt)

    def _plan_clips(self) -> set[cst.CSTNode]:
        return {c for p in self.plans.values() for c in p.clips}

    def _plan(
        self, stmts: list[cst.CSTNode], index: int, optimizer: Obj, state: State, ctx: Ctx
    ) -> Plan | None:
        step = stmts[index]
        if step in self.plans:
            return self.plans[step]
        if step in self._failed_plans:
            return None
        self.active = True

        def fail(node: cst.CSTNode, message: str, hint: str = "") -> None:
            self._failed_plans.add(step)
            self._failed_backwards.update(
                s for s in stmts[:index] if method_call(s, "backward") is not None
            )
            self.error(node, message, hint)

        opt_name = method_call(step, "step")[0]  # type: ignore[index]
        model = optimizer.model
        previous = 0
        for i in range(index - 1, -1, -1):
            if any(stmts[i] is p.step for p in self.plans.values()):
                previous = i + 1
                break
        backwards = [
            i for i in range(previous, index) if method_call(stmts[i], "backward") is not None
        ]
        if len(backwards) != 1:
            what = "no loss.backward()" if not backwards else "several loss.backward()"
            fail(
                step,
                f"optimizer.step() with {what} before it in the same block is not translated",
                "write zero_grad(), the loss, loss.backward() and optimizer.step() in one block",
            )
            return None
        bw = backwards[0]
        loss_name, bw_call = method_call(stmts[bw], "backward")  # type: ignore[misc]
        if bw_call.args:
            fail(bw_call, "loss.backward(...) with arguments is not translated")
            return None

        def is_zero_grad(stmt: cst.CSTNode) -> bool:
            found = method_call(stmt, "zero_grad")
            if found is None:
                return False
            obj = self._lookup(found[0], state, ctx)
            return obj is optimizer or (model is not None and obj is model)

        zeros = [i for i in range(len(stmts)) if is_zero_grad(stmts[i])]
        zeros = [i for i in zeros if i >= previous]
        if len(zeros) != 1:
            fail(
                step,
                "a training step needs exactly one zero_grad() in its block; without it torch "
                "accumulates gradients across steps, which is not translated",
                f"call {opt_name}.zero_grad() before computing the loss",
            )
            return None
        zero = zeros[0]
        if bw < zero < index:
            fail(stmts[zero], "zero_grad() between loss.backward() and optimizer.step()")
            return None
        clips, others = [], []
        for i in range(bw + 1, index):
            call = expr_statement_call(stmts[i])
            qualified = self.imports.qualify(call.func) if call is not None else None
            if qualified in (tr.CLIP_NORM, tr.CLIP_VALUE):
                clips.append(stmts[i])
            else:
                others.append(stmts[i])
        start = previous
        for i in range(previous, bw):
            if method_call(stmts[i], "train") or method_call(stmts[i], "eval"):
                start = i + 1

        def assigned(part: list[cst.CSTNode]) -> set[str]:
            return set().union(*(assigned_targets(s) for s in part)) if part else set()

        if start <= zero < bw and loss_name in assigned(stmts[zero + 1 : bw]):
            start = zero + 1  # the tape starts where the gradients are cleared
        region = list(stmts[start:bw])
        if loss_name not in assigned(region):
            fail(
                stmts[bw],
                f"{loss_name} is not computed in the block of {loss_name}.backward()",
                "compute the loss in the same block, after model.train()",
            )
            return None
        for stmt in region:
            if isinstance(stmt, cst.SimpleStatementLine) and any(
                isinstance(s, (cst.Return, cst.Break, cst.Continue)) for s in stmt.body
            ):
                fail(stmt, "return, break or continue while the loss is computed")
                return None
        model_name = self._model_name(model, region, state, ctx)
        if model_name is None:
            fail(
                step,
                "cannot tell which model the optimizer updates here",
                "build the optimizer over model.parameters() with the model in a variable",
            )
            return None
        clip = None
        for stmt in clips:
            call = expr_statement_call(stmt)
            spec = self._clip_spec(call, model, state, ctx)  # type: ignore[arg-type]
            if spec is None:
                self._failed_plans.add(step)
                return None
            if clip is not None and clip != spec:
                fail(stmt, "two clippings in one step are not translated")
                return None
            clip = spec
        names = set(ctx.scope.bindings) | set(ctx.scope.params) | all_names(ctx.scope.node)
        plan = Plan(
            block=self.parents.get(step),
            stmts=list(stmts),
            zero_grad=stmts[zero],
            region=region,
            backward=stmts[bw],
            clips=clips,
            step=step,
            loss=loss_name,
            optimizer_name=opt_name,
            model_name=model_name,
            scope=ctx.scope,
            tape=fresh_name("tape", names),
            grads=fresh_name("grads", names),
            clip=clip,
        )
        self.plans[step] = plan
        return plan

    def _model_name(
        self, model: Obj | None, region: list[cst.CSTNode], state: State, ctx: Ctx
    ) -> str | None:
        if model is None:
            return None
        names = [n for n, v in state.env.items() if v is model]
        if ctx.scope is not self.module_scope:
            names += [n for n, v in ctx.globals.items() if v is model and n not in state.env]
        if not names:
            return None
        called = set()
        for stmt in region:
            for call in all_calls(stmt):
                if isinstance(call.func, cst.Name):
                    called.add(call.func.value)
        for name in names:
            if name in called:
                return name
        return names[0]

    def _clip_spec(
        self, call: cst.Call, model: Obj | None, state: State, ctx: Ctx
    ) -> tuple[str, str] | None:
        qualified = self.imports.qualify(call.func)
        keyword = "global_clipnorm" if qualified == tr.CLIP_NORM else "clipvalue"
        value_name = "max_norm" if qualified == tr.CLIP_NORM else "clip_value"
        positional = [a.value for a in call.args if a.keyword is None]
        keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        params = positional[0] if positional else keywords.get("parameters")
        value = positional[1] if len(positional) > 1 else keywords.get(value_name)
        owner = None
        if (
            isinstance(params, cst.Call)
            and isinstance(params.func, cst.Attribute)
            and params.func.attr.value == "parameters"
        ):
            owner = self._lookup_expr(params.func.value, state, ctx)
        if owner is None or owner is not model:
            self.error(
                call,
                "clipping is translated only over the parameters the optimizer updates "
                "(model.parameters())",
            )
            return None
        if value is None:
            return None
        return keyword, code_of(value)

    def _check_optimizers(self) -> None:
        self.clip_specs: dict[cst.CSTNode, tuple[str, str]] = {}
        for stmt, optimizer in self.optimizers.items():
            plans = [p for p, objs in self.plan_optimizers.items() if optimizer in objs]
            clips = {p.clip for p in plans}
            if len(clips) > 1:
                self.error(
                    optimizer.call or stmt,
                    f"{optimizer.name} is stepped with and without clipping (or with different "
                    "clippings), which is not translated",
                )
                continue
            clip = next(iter(clips), None)
            if clip is None:
                continue
            text = clip[1]
            try:
                float(text)
            except ValueError:
                names = {n.value for n in names_in(cst.parse_expression(text))}
                plan = plans[0]
                if plan.scope is not optimizer.scope or any(
                    n not in optimizer.visible or optimizer.scope.assigned.get(n, 0) > 1
                    for n in names
                ):
                    self.error(
                        optimizer.call or stmt,
                        f"the clipping value {text} cannot be given to {optimizer.name} where it "
                        "is built",
                        "use a literal, or a variable set before the optimizer",
                    )
                    continue
            self.clip_specs[stmt] = clip

    def _check_model_calls(self) -> None:
        for call, modes in self.model_calls.items():
            if len(modes) > 1 or "?" in modes:
                self.error(
                    call,
                    f"{code_of(call.func)} may be in train or eval mode here (it depends on the "
                    "path taken), which is not translated",
                    "call model.train() or model.eval() before",
                )

    def _check_no_grad(self) -> None:
        self.no_grad_actions: dict[tuple[cst.With, int], str | None] = {}
        for key, records in self.no_grad.items():
            tapes = {r[0] for r in records}
            if tapes == {None}:
                self.no_grad_actions[key] = None
            elif len(tapes) == 1 and all(r[1] for r in records):
                plan = next(iter(tapes))
                self.no_grad_actions[key] = plan.tape  # type: ignore[union-attr]
            else:
                self.error(
                    key[0].items[key[1]],
                    "torch.no_grad() reached both inside and outside the statements a tape "
                    "records (or in a function called from them), which is not translated",
                )
