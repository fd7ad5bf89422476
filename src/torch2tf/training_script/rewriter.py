"""The rewrite of the translated module: statements of the training step wrapped in a tape,
removed or replaced, schedules attached to their optimizers, per the analysis's findings."""

from __future__ import annotations

import libcst as cst

from torch2tf.names import code_of, dotted
from torch2tf.rules import training as tr
from torch2tf.training_script.editor import ExpressionEditor
from torch2tf.training_script.records import Findings, Plan
from torch2tf.training_script.syntax import (
    clip_name,
    comment_lines,
    is_import_line,
    lead,
    parse_statement,
    statement_children,
    with_keyword,
)

SCHEDULE_NAMES = {q: q.rsplit(".", 1)[1] for q in tr.SCHEDULERS}


def apply(
    found: Findings, original: cst.Module, result: cst.Module, dropped: frozenset[str]
) -> cst.Module:
    """``result`` (the translation of ``original``) with the decisions of ``found`` applied."""
    mapping = align(original, result, dropped)
    if mapping is None:
        found.report(original, "internal error: the training-loop pass lost its place")
        return result
    return result.visit(Rewriter(found, mapping))


def align(
    original: cst.Module, result: cst.Module, dropped: frozenset[str]
) -> dict[cst.CSTNode, cst.CSTNode] | None:
    """Result statement -> original statement, for code outside classes."""
    original_top = [
        s
        for s in original.body
        if not is_import_line(s)
        and not (isinstance(s, cst.FunctionDef) and s.name.value in dropped)
    ]
    result_top = [s for s in result.body if not is_import_line(s)]
    if len(original_top) != len(result_top):
        return None
    mapping: dict[cst.CSTNode, cst.CSTNode] = {}
    for source, translated in zip(original_top, result_top, strict=True):
        if type(source) is not type(translated):
            return None
        mapping[translated] = source
        if isinstance(source, cst.ClassDef):
            continue
        left: list[cst.CSTNode] = []
        right: list[cst.CSTNode] = []
        statement_children(source, left)
        statement_children(translated, right)
        if len(left) != len(right):
            return None
        for a, b in zip(left, right, strict=True):
            if type(a) is not type(b):
                return None
            mapping[b] = a
    return mapping


class Rewriter(cst.CSTTransformer):
    """Applies the pass's decisions to the translated module."""

    def __init__(self, found: Findings, mapping: dict[cst.CSTNode, cst.CSTNode]) -> None:
        super().__init__()
        self.found = found
        self.mapping = mapping
        self.plan_of: dict[cst.CSTNode, tuple[Plan, str]] = {}
        for plan in found.plans.values():
            if plan.step in found.failed_plans:
                continue
            self.plan_of[plan.zero_grad] = (plan, "zero_grad")
            self.plan_of[plan.backward] = (plan, "backward")
            self.plan_of[plan.step] = (plan, "step")
            for clip in plan.clips:
                self.plan_of[clip] = (plan, "clip")
        self.region_start: dict[cst.CSTNode, Plan] = {
            p.region[0]: p for p in found.plans.values() if p.region
        }
        self.class_depth = 0
        self.unwrap: set[cst.CSTNode] = set()

    # statements: expression edits

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.class_depth += 1

    def leave_ClassDef(self, original, updated):
        self.class_depth -= 1
        return updated

    def _edit(self, original: cst.CSTNode, updated: cst.CSTNode) -> cst.CSTNode:
        source = self.mapping.get(original)
        if source is None or self.class_depth:
            return updated
        editor = ExpressionEditor(self.found, updated, source)
        return updated.visit(editor)

    def leave_SimpleStatementLine(self, original, updated):
        return self._edit(original, updated)

    def leave_For(self, original, updated):
        return self._edit(original, updated)

    def leave_While(self, original, updated):
        return self._edit(original, updated)

    def leave_If(self, original, updated):
        return self._edit(original, updated)

    def leave_With(self, original, updated):
        updated = self._edit(original, updated)
        source = self.mapping.get(original)
        if source is None:
            return updated
        items = []
        for index, item in enumerate(updated.items):
            key = (source, index)
            if key in self.found.no_grad_actions:
                tape = self.found.no_grad_actions[key]
                if tape is not None:
                    items.append(
                        item.with_changes(item=cst.parse_expression(f"{tape}.stop_recording()"))
                    )
                continue
            items.append(item)
        if items == list(updated.items):
            return updated
        if not items:
            self.unwrap.add(updated)  # replaced by its body in the enclosing block
            return updated
        items[-1] = items[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated.with_changes(items=items)

    def leave_FunctionDef(self, original, updated):
        source = self.mapping.get(original)
        if source is None:
            return updated
        decorators = [
            d
            for d, o in zip(updated.decorators, source.decorators, strict=True)
            if o not in self.found.no_grad_decorators
        ]
        if len(decorators) != len(updated.decorators):
            leading = list(updated.leading_lines)
            return updated.with_changes(decorators=decorators, leading_lines=leading)
        return updated

    def leave_Return(self, original, updated):
        return updated

    # blocks: statements removed, replaced, wrapped

    def leave_IndentedBlock(self, original, updated):
        body = self._block(list(original.body), list(updated.body))
        if not body:
            body = [cst.SimpleStatementLine([cst.Pass()])]
        return updated.with_changes(body=body)

    def leave_Module(self, original, updated):
        return updated.with_changes(body=self._block(list(original.body), list(updated.body)))

    def _block(
        self, originals: list[cst.CSTNode], updated: list[cst.CSTNode], in_tape: bool = False
    ) -> list[cst.CSTNode]:
        out: list[cst.CSTNode] = []
        carried: list[cst.EmptyLine] = []
        index = 0
        while index < len(updated):
            stmt = updated[index]
            source = self.mapping.get(originals[index])
            if self.class_depth or source is None:
                out.append(lead(stmt, carried))
                carried = []
                index += 1
                continue
            if source in self.region_start and not in_tape:
                plan = self.region_start[source]
                end = index
                while end < len(updated) and self.mapping.get(originals[end]) is not plan.backward:
                    end += 1
                inner = self._block(originals[index:end], updated[index:end], in_tape=True)
                if not inner:
                    inner = [cst.SimpleStatementLine([cst.Pass()])]
                leading = [*carried, *getattr(inner[0], "leading_lines", [])]
                inner[0] = inner[0].with_changes(leading_lines=[])
                tape = cst.With(
                    items=[
                        cst.WithItem(
                            cst.parse_expression("tf.GradientTape()"),
                            asname=cst.AsName(cst.Name(plan.tape)),
                        )
                    ],
                    body=cst.IndentedBlock(body=inner),
                    leading_lines=leading,
                )
                out.append(tape)
                carried = []
                index = end
                continue
            replaced = self._replace(source, stmt)
            if replaced is None:
                carried += list(getattr(stmt, "leading_lines", []))
            else:
                if replaced:
                    replaced[0] = lead(replaced[0], carried)
                    carried = []
                out.extend(replaced)
            index += 1
        return out  # comments above removed trailing statements are dropped with them

    def _replace(self, source: cst.CSTNode, stmt: cst.CSTNode) -> list[cst.CSTNode] | None:
        """The statements that replace ``stmt``: None to remove it."""
        found = self.found
        if source in found.removed:
            return None
        if source in self.plan_of:
            plan, role = self.plan_of[source]
            if role in ("zero_grad", "clip"):
                return None
            variables = f"{plan.model_name}.trainable_variables"
            if role == "backward":
                text = f"{plan.grads} = {plan.tape}.gradient({plan.loss}, {variables})\n"
            else:
                text = f"{plan.optimizer_name}.apply({plan.grads}, {variables})\n"
            return [parse_statement(text).with_changes(leading_lines=stmt.leading_lines)]
        if source in found.sched_steps:
            return None
        if source in found.schedule_specs:
            return self._schedule(source, stmt)
        if source in found.clip_specs:
            keyword, value = found.clip_specs[source]
            small = stmt.body[0]
            call = with_keyword(small.value, keyword, value)
            notes = comment_lines(
                f"{keyword}: torch.nn.utils.{clip_name(keyword)} before each step "
                "(torch's formula)."
            )
            return [
                stmt.with_changes(
                    body=[small.with_changes(value=call)],
                    leading_lines=[*stmt.leading_lines, *notes],
                )
            ]
        if source in found.loaders and ".shuffle(" in code_of(stmt):
            notes = comment_lines(
                "Reshuffled each epoch like torch's DataLoader, but not in torch's order."
            )
            return [stmt.with_changes(leading_lines=[*stmt.leading_lines, *notes])]
        if stmt in self.unwrap:
            body = list(stmt.body.body)
            if body:
                body[0] = lead(body[0], list(stmt.leading_lines))
            return body
        return [stmt]

    def _schedule(self, source: cst.CSTNode, stmt: cst.SimpleStatementLine) -> list[cst.CSTNode]:
        found = self.found
        scheduler = found.schedulers[source]
        how, steps = found.schedule_specs[source]
        assign = stmt.body[0]
        value = assign.value
        kind = SCHEDULE_NAMES.get(scheduler.qualified, "the scheduler")
        optimizer = code_of(scheduler.call.args[0].value) if scheduler.call.args else "optimizer"
        for arg in scheduler.call.args:
            if arg.keyword is not None and arg.keyword.value == "optimizer":
                optimizer = code_of(arg.value)
        if how == "epoch":
            value = cst.parse_expression(f"PerEpochSchedule({code_of(value)}, {steps})")
            note = f"{kind}, stepped once per epoch: it moves every {steps} optimizer steps."
        else:
            note = f"{kind}, stepped after each optimizer step: Keras evaluates it at each one."
        name = scheduler.name
        out = [
            stmt.with_changes(
                body=[assign.with_changes(value=value)],
                leading_lines=[*stmt.leading_lines, *comment_lines(note)],
            ),
            parse_statement(f"{optimizer}.learning_rate = {name}\n"),
        ]
        if scheduler.qualified.endswith("OneCycleLR"):
            momentum = self._one_cycle_momentum(scheduler, assign.value, optimizer, how, steps)
            if momentum is not None:
                out.append(momentum)
        return out

    def _one_cycle_momentum(self, scheduler, value, optimizer, how, steps):
        call = scheduler.call
        keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        cycle = keywords.get("cycle_momentum")
        if cycle is not None and dotted(cycle) == "False":
            return None
        base = code_of(keywords["base_momentum"]) if "base_momentum" in keywords else "0.85"
        top = code_of(keywords["max_momentum"]) if "max_momentum" in keywords else "0.95"
        kind = scheduler.optimizer.qualified if scheduler.optimizer else ""
        attribute = "beta_1" if kind in ("torch.optim.Adam", "torch.optim.AdamW") else "momentum"
        curve = with_keyword(value, "base_momentum", base)
        curve = with_keyword(curve, "max_momentum", top)
        curve = with_keyword(curve, "curve", '"momentum"')
        text = code_of(curve)
        if how == "epoch":
            text = f"PerEpochSchedule({text}, {steps})"
        return parse_statement(f"{optimizer}.{attribute} = {text}\n")
