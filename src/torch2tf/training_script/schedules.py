"""LR schedulers: where ``scheduler.step()`` sits relative to ``optimizer.step()`` (per batch
or per epoch), and the checks that decide how each schedule is written."""

from __future__ import annotations

from typing import Any

import libcst as cst

from torch2tf.names import dotted
from torch2tf.training_objects import SEQUENTIAL_LR
from torch2tf.training_script.records import Ctx, Obj, State
from torch2tf.training_script.syntax import expr_statement_call


class Schedules:
    """Methods of :class:`~torch2tf.training_script.analysis.Analysis` (state is kept there)."""

    def _scheduler_step(self, call: cst.Call, stmt: cst.CSTNode, obj: Obj, ctx: Ctx) -> None:
        self.active = True
        if call.args:
            self.error(call, "scheduler.step(...) with an argument is not translated")
            return
        placements = self.sched_steps.setdefault(stmt, [])
        mark = len(placements)
        if not ctx.frames:
            placements.append(("error", "scheduler.step() outside a loop is not translated"))
            self.sched_placements.setdefault(obj, []).append((stmt, placements[-1]))
            return
        frame = ctx.frames[-1]
        depth = len(ctx.frames)
        optimizer = obj.optimizer
        steps = [s for s in frame.steps if s[0] is optimizer]
        here = [s for s in steps if s[1] == depth]
        inner = [s for s in steps if s[1] == depth + 1]
        deeper = [s for s in steps if s[1] > depth + 1]
        if ctx.cond != frame.cond:
            placements.append(("error", "scheduler.step() is stepped conditionally"))
        elif not steps:
            placements.append(
                (
                    "error",
                    "scheduler.step() before optimizer.step() in its loop is not translated "
                    "(torch warns: the first value of the schedule is skipped)",
                )
            )
        elif here and not inner and not deeper:
            if frame.has_jump or any(s[3] != frame.cond for s in here):
                placements.append(("error", "the optimizer is stepped conditionally"))
            else:
                placements.append(("batch",))
        elif inner and not here and not deeper:
            loops = {s[2].loop for s in inner}
            inner_frames = [s[2] for s in inner]
            if len(loops) != 1:
                placements.append(("error", "the optimizer is stepped in several inner loops"))
            elif any(f.has_jump for f in inner_frames) or frame.has_jump:
                placements.append(
                    ("error", "break or continue in the loop makes the steps per epoch uneven")
                )
            elif any(s[3] != s[2].cond or s[2].cond != frame.cond for s in inner):
                placements.append(("error", "the optimizer is stepped conditionally"))
            else:
                placements.append(("epoch", inner_frames[0].iterable, inner_frames[0].loop))
        else:
            placements.append(
                (
                    "error",
                    "scheduler.step() is neither in the loop of optimizer.step() nor in the "
                    "loop directly around it",
                )
            )
        self.sched_placements.setdefault(obj, []).extend((stmt, p) for p in placements[mark:])

    def _check_schedulers(self) -> None:
        self.schedule_specs: dict[cst.CSTNode, tuple] = {}
        steps_of = self.sched_placements
        for stmt, placements in self.sched_steps.items():
            call = expr_statement_call(stmt)
            for placement in placements:
                if placement[0] == "error":
                    self.error(call or stmt, placement[1])
        for stmt, obj in self.schedulers.items():
            if obj.sequence is not None:  # stepped by its SequentialLR
                if steps_of.get(obj):
                    self.error(
                        obj.call or stmt,
                        f"{obj.name} is stepped by the SequentialLR {obj.sequence.name}; "
                        "stepping it as well is not translated",
                    )
                continue
            found = [p for _, p in steps_of.get(obj, []) if p[0] != "error"]
            if not steps_of.get(obj):
                self.error(
                    obj.call or stmt,
                    f"{obj.name} is never stepped: torch sets the first learning rate of the "
                    "schedule when it is built, which is not translated alone",
                    "call scheduler.step() in the training loop",
                )
                continue
            if len({(p[0], p[2] if p[0] == "epoch" else None) for p in found}) > 1:
                self.error(obj.call or stmt, f"{obj.name} is stepped both per batch and per epoch")
                continue
            if not found:
                continue
            if obj.qualified.endswith("OneCycleLR") and obj.optimizer is not None:
                cycle = next(
                    (
                        a.value
                        for a in obj.call.args
                        if a.keyword and a.keyword.value == "cycle_momentum"
                    ),
                    None,
                )
                if obj.optimizer.qualified == "torch.optim.Adagrad" and dotted(cycle) != "False":
                    self.error(obj.call, "OneCycleLR(cycle_momentum=True) on Adagrad: torch raises")
                    continue
            placement = found[0]
            if placement[0] == "batch":
                self.schedule_specs[stmt] = ("batch", None)
                continue
            steps = self._steps_per_epoch(placement[1], obj)
            if steps is None:
                self.error(
                    obj.call or stmt,
                    f"{obj.name} is stepped once per epoch, but the number of batches per epoch "
                    "cannot be written where it is built",
                    "build the DataLoader before the scheduler, in the same function",
                )
                continue
            self.schedule_specs[stmt] = ("epoch", steps)
        sched_optimizers = [
            o.optimizer for o in self.schedulers.values() if o.optimizer and o.sequence is None
        ]
        for optimizer in set(sched_optimizers):
            if sched_optimizers.count(optimizer) > 1:
                self.error(
                    optimizer.call or optimizer.stmt or self.module,
                    f"{optimizer.name} has several schedulers, which is not translated",
                )

    def _steps_per_epoch(self, iterable: Any, scheduler: Obj) -> str | None:
        if isinstance(iterable, tuple) and iterable[0] == "range":
            text = iterable[1]
            try:
                int(text)
                return text
            except ValueError:
                return text if scheduler.visible.get(text, "missing") is None else None
        if isinstance(iterable, Obj):
            for name, value in scheduler.visible.items():
                if value is iterable:
                    return f"len({name})"
        return None

    def _sequence(self, obj: Obj, members: Any, state: State, ctx: Ctx) -> None:
        """``SequentialLR(optimizer, [a, b], milestones)``: its schedulers are stepped by it."""
        elements = members.elements if isinstance(members, (cst.List, cst.Tuple)) else []
        found = [self._lookup_expr(e.value, state, ctx) for e in elements]
        if not elements or not all(isinstance(s, Obj) and s.kind == "scheduler" for s in found):
            self.error(
                members if members is not None else obj.call,
                "SequentialLR is translated over a list of schedulers held in variables",
            )
            return
        for element, child in zip(elements, found, strict=True):
            keywords = {a.keyword.value: a.value for a in child.call.args if a.keyword}
            if child.optimizer is not obj.optimizer:
                self.error(element.value, f"{child.name} is built on another optimizer")
            elif child.qualified == SEQUENTIAL_LR or child.sequence is not None:
                self.error(element.value, f"{child.name} in two SequentialLR is not translated")
            elif child.qualified.endswith("OneCycleLR") and (
                dotted(keywords.get("cycle_momentum")) != "False"
            ):
                self.error(
                    element.value,
                    "OneCycleLR(cycle_momentum=True) inside SequentialLR is not translated (the "
                    "momentum keeps its last value after the milestone)",
                    "use cycle_momentum=False",
                )
            child.sequence = obj
