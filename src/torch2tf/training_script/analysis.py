"""The analysis of the original file: module-level code and the top-level functions it
calls, followed in execution order. Its methods live in the modules of this package by job
(statements, expressions, objects, steps, schedules); its state and findings live here."""

from __future__ import annotations

from typing import Any

import libcst as cst

from torch2tf.errors import Diagnostic
from torch2tf.rules import training as tr
from torch2tf.training_script.expressions import Expressions
from torch2tf.training_script.objects import Objects
from torch2tf.training_script.records import (
    BUDGET,
    TENSOR,
    BudgetExceeded,
    Ctx,
    FileFacts,
    Findings,
    Obj,
    Plan,
    Scope,
    State,
    is_tensor,
    models_of,
)
from torch2tf.training_script.schedules import Schedules
from torch2tf.training_script.statements import Statements
from torch2tf.training_script.steps import Steps


class Analysis(Statements, Expressions, Objects, Steps, Schedules):
    """What the training code of one file does, and what to rewrite in its translation."""

    def __init__(self, facts: FileFacts) -> None:
        module = facts.parsed.module
        self.module = module
        self.path = facts.path
        self.imports = facts.imports
        self.source = facts.source
        self.model_classes = facts.model_classes
        self.project_classes = facts.project_classes
        self.dropped = facts.dropped_functions
        self.init_code = facts.init_code
        self.diagnostics: list[Diagnostic] = []
        self._reported: set[tuple[int, int, str]] = set()
        # The engine's own parse: positions and parents resolved once for both passes.
        self.positions, self.parents = facts.parsed.positions, facts.parsed.parents
        self._grads: dict[frozenset, Obj] = {}  # one value per set of models, for this file
        self.functions: dict[str, cst.FunctionDef] = {
            s.name.value: s for s in module.body if isinstance(s, cst.FunctionDef)
        }
        self.scopes: dict[cst.CSTNode, Scope] = {}
        self.module_scope = Scope("<module>", module)
        self.scopes[module] = self.module_scope
        for func in self.functions.values():
            params = [
                p.name.value
                for p in [
                    *func.params.posonly_params,
                    *func.params.params,
                    *func.params.kwonly_params,
                ]
            ]
            for star in (func.params.star_arg, func.params.star_kwarg):
                if isinstance(star, cst.Param):
                    params.append(star.name.value)
            self.scopes[func] = Scope(func.name.value, func, params)
        self.active = False  # whether anything needs rewriting
        self.budget = 0
        self.inlined: set[cst.FunctionDef] = set()
        # Observations, keyed by nodes of the original file.
        self.model_calls: dict[cst.Call, set[str]] = {}
        self.loss_calls: set[cst.Call] = set()
        self.plans: dict[cst.CSTNode, Plan] = {}  # step statement -> plan
        self.plan_optimizers: dict[Plan, set[Obj]] = {}
        self.sched_steps: dict[cst.CSTNode, list[Any]] = {}  # statement -> placements
        self.schedulers: dict[cst.CSTNode, Obj] = {}  # construction statement -> obj
        self.optimizers: dict[cst.CSTNode, Obj] = {}
        self.loaders: dict[cst.CSTNode, Obj] = {}
        self.no_grad: dict[tuple[cst.With, int], set[Any]] = {}
        self.no_grad_decorators: set[cst.Decorator] = set()
        self.removed: set[cst.CSTNode] = set()  # mode statements, stray zero_grad()
        self.len_dataset: dict[cst.Call, str] = {}
        self.lr_reads: dict[cst.CSTNode, str] = {}  # param_groups[0]["lr"] / get_last_lr()
        self.stmt_scope: dict[cst.CSTNode, Scope] = {}
        self._failed_plans: set[cst.CSTNode] = set()
        self._failed_backwards: set[cst.CSTNode] = set()
        self.sched_placements: dict[Obj, list[tuple[cst.CSTNode, Any]]] = {}

    def error(self, node: cst.CSTNode, message: str, hint: str = "") -> None:
        try:
            start = self.positions[node].start
            line, column = start.line, start.column + 1
        except KeyError:
            line, column = 1, 1
        key = (line, column, message)
        if key in self._reported:
            return
        self._reported.add(key)
        self.diagnostics.append(Diagnostic(self.path, line, column, message, hint))

    def analyse(self) -> None:
        self._scan_classes()
        top = [s for s in self.module.body if not isinstance(s, (cst.ClassDef,))]
        state = State({}, {})
        ctx = Ctx(self.module_scope, state.env, [], None, (), [])
        try:
            self._block(top, state, ctx)
            for name, func in self.functions.items():
                if func not in self.inlined and name not in self.dropped:
                    self._standalone(func, state)
        except BudgetExceeded:
            self.error(self.module, "the script is too complex for the training-loop analysis")
            return
        self._check_schedulers()
        self._check_optimizers()
        self._check_model_calls()
        self._check_no_grad()

    def _scan_classes(self) -> None:
        """Training code inside classes is not translated: report it."""
        statement_kinds = (
            (set(tr.OPTIMIZERS) | tr.SCHEDULERS | tr.LOSSES | {tr.DATA_LOADER, tr.CLIP_NORM})
            | {tr.CLIP_VALUE, tr.TENSOR_DATASET}
            | tr.NO_GRAD
        )
        words = {name.rsplit(".", 1)[-1] for name in statement_kinds} | {"backward"}
        if not any(word in self.source for word in words):
            return  # nothing of the kind anywhere in the file
        outer = self

        class Finder(cst.CSTVisitor):
            def on_visit(self, node: cst.CSTNode) -> bool:
                return node not in outer.init_code and super().on_visit(node)

            def visit_Call(self, node: cst.Call) -> None:
                qualified = outer.imports.qualify(node.func)
                if qualified in statement_kinds:
                    outer.error(
                        node,
                        f"{qualified} inside a class is not translated",
                        "training code is translated at module level and in top-level functions",
                    )
                elif isinstance(node.func, cst.Attribute) and node.func.attr.value == "backward":
                    outer.error(node, "backward() inside a class is not translated")

        for stmt in self.module.body:
            if isinstance(stmt, cst.ClassDef):
                stmt.visit(Finder())

    def _standalone(self, func: cst.FunctionDef, module_state: State) -> None:
        """A function the script never calls: analysed with unknown arguments."""
        scope = self.scopes[func]
        state = State({p: None for p in scope.params}, dict(module_state.modes))
        ctx = Ctx(scope, module_state.env, [], None, (func,), [], standalone=True)
        self._function_body(func, state, ctx)

    def _function_body(self, func: cst.FunctionDef, state: State, ctx: Ctx) -> None:
        for decorator in func.decorators:
            if self.imports.qualify(
                getattr(decorator.decorator, "func", None) or cst.Name("_")
            ) in (tr.NO_GRAD):
                self.no_grad_decorators.add(decorator)
                if ctx.tape is not None:
                    self.error(decorator, "a @torch.no_grad() function called while a tape records")
                self.active = True
                ctx.no_grad += 1
        body = func.body.body if isinstance(func.body, cst.IndentedBlock) else []
        self._block(list(body), state, ctx)

    def _tick(self) -> None:
        self.budget += 1
        if self.budget > BUDGET:
            raise BudgetExceeded

    # -- tensors: one value per set of models their gradient comes from

    def grad_of(self, models: frozenset) -> Obj:
        """A tensor autograd tracks back to the parameters of ``models``."""
        if models not in self._grads:
            self._grads[models] = Obj("tensor", "autograd", stmt=None, visible={"models": models})
        return self._grads[models]

    def tensor_of(self, values: list[Any]) -> Any:
        """The result of an op on ``values``: tracked by autograd if any input is."""
        models = frozenset().union(*(models_of(v) for v in values))
        if models:
            return self.grad_of(models)
        return TENSOR if any(is_tensor(v) for v in values) else None

    def findings(self) -> Findings:
        """The decisions of the analysis, for the rewrite."""
        return Findings(
            report=self.error,
            module_scope=self.module_scope,
            stmt_scope=self.stmt_scope,
            model_calls=self.model_calls,
            loss_calls=self.loss_calls,
            len_dataset=self.len_dataset,
            lr_reads=self.lr_reads,
            plans=self.plans,
            failed_plans=self._failed_plans,
            removed=self.removed,
            sched_steps=self.sched_steps,
            schedulers=self.schedulers,
            schedule_specs=self.schedule_specs,
            clip_specs=self.clip_specs,
            loaders=self.loaders,
            no_grad_actions=self.no_grad_actions,
            no_grad_decorators=self.no_grad_decorators,
        )
