"""The interpreter's statements: blocks, branches and loops followed in execution order
(loops twice, to a fixed point of what each name holds), and assignments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import libcst as cst

from torch2tf.names import code_of, dotted
from torch2tf.rules import training as tr
from torch2tf.training_script.records import (
    TENSOR,
    TUPLE_OF_TENSORS,
    Ctx,
    Frame,
    Obj,
    Plan,
    State,
    is_tensor,
)
from torch2tf.training_script.syntax import has_jump, method_call, statement_children


class Statements:
    """Methods of :class:`~torch2tf.training_script.analysis.Analysis` (state is kept there)."""

    def _block(self, stmts: list[cst.CSTNode], state: State, ctx: Ctx) -> None:
        regions: dict[cst.CSTNode, Plan] = {}
        models: dict[Plan, Any] = {}
        for index, stmt in enumerate(stmts):
            found = method_call(stmt, "step")
            if found is None or found[1].args:
                continue
            obj = self._lookup(found[0], state, ctx)
            if isinstance(obj, Obj) and obj.kind == "optimizer":
                plan = self._plan(stmts, index, obj, state, ctx)
                if plan is not None:
                    models[plan] = obj.model
                    for member in plan.region:
                        regions[member] = plan
        for stmt in stmts:
            tape = ctx.tape
            if stmt in regions:
                plan = regions[stmt]
                if stmt is plan.region[0]:
                    self._check_tape_inputs(plan, models[plan], state, ctx)
                ctx.tape = plan
            self._statement(stmt, state, ctx)
            ctx.tape = tape

    def _statement(self, stmt: cst.CSTNode, state: State, ctx: Ctx) -> None:
        self._tick()
        self.stmt_scope[stmt] = ctx.scope
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self._small(small, stmt, state, ctx)
        elif isinstance(stmt, cst.For):
            self._for(stmt, state, ctx)
        elif isinstance(stmt, cst.While):
            self._expr(stmt.test, state, ctx)
            self._loop(stmt, stmt.body, None, state, ctx)
            if stmt.orelse is not None:
                self._block(list(stmt.orelse.body.body), state, ctx)
        elif isinstance(stmt, cst.If):
            self._expr(stmt.test, state, ctx)
            branch = state.copy()
            ctx.cond += 1
            self._suite(stmt.body, branch, ctx)
            other = state.copy()
            if isinstance(stmt.orelse, cst.If):
                self._statement(stmt.orelse, other, ctx)
            elif isinstance(stmt.orelse, cst.Else):
                self._suite(stmt.orelse.body, other, ctx)
            ctx.cond -= 1
            self._join(state, branch, other)
        elif isinstance(stmt, cst.With):
            self._with(stmt, state, ctx)
        elif isinstance(stmt, (cst.Try, cst.TryStar)):
            ctx.cond += 1
            self._suite(stmt.body, state, ctx)
            for handler in stmt.handlers:
                other = state.copy()
                self._suite(handler.body, other, ctx)
                self._join(state, state.copy(), other)
            if stmt.orelse is not None:
                self._suite(stmt.orelse.body, state, ctx)
            if stmt.finalbody is not None:
                self._suite(stmt.finalbody.body, state, ctx)
            ctx.cond -= 1
        elif isinstance(stmt, cst.FunctionDef) and stmt in self.functions.values():
            pass  # a top-level function: followed where it is called
        elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            self._nested_definition(stmt, state, ctx)
        else:  # match and anything newer: look inside, conservatively
            ctx.cond += 1
            for child in stmt.children:
                if isinstance(child, cst.BaseExpression):
                    self._expr(child, state, ctx)
            inner: list[cst.CSTNode] = []
            statement_children(stmt, inner)
            for child in inner:
                self.stmt_scope[child] = ctx.scope
                if isinstance(child, cst.SimpleStatementLine):
                    for small in child.body:
                        self._small(small, child, state, ctx)
            ctx.cond -= 1

    def _suite(self, suite: cst.BaseSuite, state: State, ctx: Ctx) -> None:
        if isinstance(suite, cst.IndentedBlock):
            self._block(list(suite.body), state, ctx)
        else:  # one-line suite: small statements
            for small in suite.body:
                self._small(small, None, state, ctx)

    def _nested_definition(self, stmt: cst.CSTNode, state: State, ctx: Ctx) -> None:
        """A def or class inside a scope: report training code in it."""
        outer = self

        class Finder(cst.CSTVisitor):
            def visit_Name(self, node: cst.Name) -> None:
                obj = outer._lookup(node.value, state, ctx)
                if isinstance(obj, Obj) and obj.kind in (
                    "optimizer",
                    "scheduler",
                    "loss",
                    "model",
                ):
                    outer.error(
                        node,
                        f"{node.value} ({obj.kind}) used inside a nested function or class is "
                        "not translated",
                        "move the code to module level or a top-level function",
                    )

            def visit_Call(self, node: cst.Call) -> None:
                if isinstance(node.func, cst.Attribute) and node.func.attr.value == "backward":
                    outer.error(node, "backward() inside a nested function is not translated")

        stmt.visit(Finder())
        if isinstance(stmt, cst.FunctionDef):
            state.env[stmt.name.value] = None
            ctx.scope.bind(stmt.name.value, None)

    def _join(self, state: State, a: State, b: State) -> None:
        env = {}
        for name in set(a.env) | set(b.env):
            left, right = a.env.get(name), b.env.get(name)
            env[name] = left if left is right else None
        modes = {}
        for obj in set(a.modes) | set(b.modes):
            left, right = a.modes.get(obj), b.modes.get(obj)
            modes[obj] = left if left == right else "?"
        state.env, state.modes = env, modes

    def _loop(
        self,
        loop: cst.CSTNode,
        body: cst.BaseSuite,
        iterable: Any,
        state: State,
        ctx: Ctx,
        bind: Callable[[State], None] | None = None,
    ) -> None:
        """Run a loop body twice: from the state before it, then from the joined state."""
        jump = has_jump(body)
        for _ in range(2):
            entry = state.copy()
            if bind is not None:
                bind(entry)
            frame = Frame(loop, iterable, ctx.cond, jump)
            ctx.frames.append(frame)
            try:
                self._suite(body, entry, ctx)
            finally:
                ctx.frames.pop()
            self._join(state, state.copy(), entry)

    def _for(self, stmt: cst.For, state: State, ctx: Ctx) -> None:
        iterable = self._expr(stmt.iter, state, ctx)
        element: Any = None
        counted: Any = None
        target = stmt.target
        if isinstance(iterable, Obj) and iterable.kind in ("loader", "dataset"):
            element, counted = TUPLE_OF_TENSORS, iterable
        elif is_tensor(iterable):
            element = iterable
        elif isinstance(stmt.iter, cst.Call) and dotted(stmt.iter.func) == "enumerate":
            args = stmt.iter.args
            inner = self._lookup_expr(args[0].value, state, ctx) if args else None
            if isinstance(inner, Obj) and inner.kind in ("loader", "dataset"):
                counted = inner
                if isinstance(target, cst.Tuple) and len(target.elements) == 2:
                    element = ("enumerate", TUPLE_OF_TENSORS)
        elif isinstance(stmt.iter, cst.Call) and dotted(stmt.iter.func) == "range":
            if len(stmt.iter.args) == 1 and stmt.iter.args[0].keyword is None:
                counted = ("range", code_of(stmt.iter.args[0].value))

        def bind_target(entry: State) -> None:
            if isinstance(element, tuple):
                first, second = target.elements  # type: ignore[union-attr]
                self._bind(first.value, None, entry, ctx)
                self._bind(second.value, element[1], entry, ctx)
            else:
                self._bind(target, element, entry, ctx)

        self._loop(stmt, stmt.body, counted, state, ctx, bind_target)
        if stmt.orelse is not None:
            self._block(list(stmt.orelse.body.body), state, ctx)

    def _with(self, stmt: cst.With, state: State, ctx: Ctx) -> None:
        silenced = 0
        for index, item in enumerate(stmt.items):
            value = item.item
            qualified = self.imports.qualify(value.func) if isinstance(value, cst.Call) else None
            if qualified in tr.NO_GRAD:
                if item.asname is not None:
                    self.error(item, f"`with {qualified}() as ...` is not translated")
                self.no_grad.setdefault((stmt, index), set()).add(
                    (ctx.tape, ctx.tape is not None and ctx.tape.scope is ctx.scope)
                )
                self.active = True
                silenced = 1
                continue
            obj = self._expr(value, state, ctx)
            if item.asname is not None:
                self._bind(item.asname.name, obj, state, ctx)
        ctx.no_grad += silenced
        self._suite(stmt.body, state, ctx)
        ctx.no_grad -= silenced

    def _small(
        self,
        small: cst.BaseSmallStatement,
        stmt: cst.SimpleStatementLine | None,
        state: State,
        ctx: Ctx,
    ) -> None:
        whole = stmt is not None and len(stmt.body) == 1
        if isinstance(small, cst.Assign):
            target = small.targets[0].target if len(small.targets) == 1 else None
            if (
                whole
                and isinstance(target, cst.Name)
                and isinstance(small.value, cst.Call)
                and self._constructor(small.value) is not None
            ):
                obj = self._construct(target.value, small.value, stmt, state, ctx)
                self._bind(target, obj, state, ctx)
                return
            if whole and isinstance(target, cst.Name) and isinstance(small.value, cst.Call):
                func = small.value.func
                if (
                    isinstance(func, cst.Attribute)
                    and func.attr.value in ("to", "cuda", "cpu")
                    and dotted(func.value) == target.value
                ):
                    obj = self._lookup(target.value, state, ctx)
                    if isinstance(obj, Obj) and obj.kind == "model":
                        self._device_move(small.value, stmt, obj)
                        return
            if (
                target is not None
                and isinstance(target, (cst.Tuple, cst.List))
                and isinstance(small.value, (cst.Tuple, cst.List))
                and len(target.elements) == len(small.value.elements)
            ):  # a, b = x, y: element by element
                values = [self._expr(e.value, state, ctx) for e in small.value.elements]
                for element, value in zip(target.elements, values, strict=True):
                    self._target_expr(element.value, state, ctx)
                    self._bind(element.value, value, state, ctx)
                return
            value = self._expr(small.value, state, ctx)
            for assign_target in small.targets:
                self._target_expr(assign_target.target, state, ctx)
                self._bind(assign_target.target, value, state, ctx)
        elif isinstance(small, cst.AnnAssign):
            value = self._expr(small.value, state, ctx) if small.value is not None else None
            self._bind(small.target, value, state, ctx)
        elif isinstance(small, cst.AugAssign):
            value = self._expr(small.value, state, ctx)
            self._target_expr(small.target, state, ctx)
            if isinstance(small.target, cst.Name):
                before = self._lookup(small.target.value, state, ctx)
                result = self.tensor_of([value, before])
                self._bind(small.target, result, state, ctx)
        elif isinstance(small, cst.Expr):
            if whole and isinstance(small.value, cst.Call):
                if self._statement_call(small.value, stmt, state, ctx):
                    return
            self._expr(small.value, state, ctx)
        elif isinstance(small, cst.Return):
            value = self._expr(small.value, state, ctx) if small.value is not None else None
            ctx.returns.append(value)
        else:
            for child in small.children:
                if isinstance(child, cst.BaseExpression):
                    self._expr(child, state, ctx)

    def _target_expr(self, target: cst.BaseExpression, state: State, ctx: Ctx) -> None:
        """Evaluate the parts of an assignment target that are read (``a[i] = ...``)."""
        if isinstance(target, cst.Subscript):
            self._expr(target.value, state, ctx)
            for element in target.slice:
                self._expr_generic(element, state, ctx)
        elif isinstance(target, cst.Attribute):
            self._expr(target.value, state, ctx)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._target_expr(element.value, state, ctx)

    def _bind(self, target: cst.BaseExpression, value: Any, state: State, ctx: Ctx) -> None:
        if isinstance(target, cst.Name):
            state.env[target.value] = value
            ctx.scope.bind(target.value, value)
            ctx.scope.assigned[target.value] = ctx.scope.assigned.get(target.value, 0) + 1
        elif isinstance(target, (cst.Tuple, cst.List)):
            each = value if is_tensor(value) else None
            each = TENSOR if value is TUPLE_OF_TENSORS else each
            for element in target.elements:
                self._bind(element.value, each, state, ctx)
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value, None, state, ctx)

    def _lookup(self, name: str, state: State, ctx: Ctx) -> Any:
        if name in state.env:
            return state.env[name]
        if ctx.scope is not self.module_scope and name in ctx.scope.params:
            return None
        return ctx.globals.get(name)

    def _lookup_expr(self, node: cst.BaseExpression, state: State, ctx: Ctx) -> Any:
        return self._lookup(node.value, state, ctx) if isinstance(node, cst.Name) else None

    def _visible(self, state: State, ctx: Ctx) -> dict[str, Any]:
        names = dict(ctx.globals) if ctx.scope is not self.module_scope else {}
        names.update(state.env)
        return names
