"""Training scripts: the canonical PyTorch training loop -> a ``tf.GradientTape`` loop.

``translate_source`` runs this pass after the main translator. The main translator turns the
training objects into torch-exact Keras helpers through the expression rules of
:mod:`torch2tf.rules.training`; this pass reads the *original* file (so its diagnostics point
at the user's code), follows the script in execution order (module-level code and the
top-level functions it calls), and rewrites the statements around those objects.

What is translated, in module-level code and top-level functions:

* ``optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)`` -> ``optimizer =
  TorchAdam(learning_rate=0.001)`` (also SGD, AdamW, RMSprop, Adagrad); the optimizer is
  applied to ``model.trainable_variables`` in the loop.
* ``criterion = nn.CrossEntropyLoss(...)`` -> ``TorchCrossEntropyLoss(...)`` (and the other
  losses of :func:`torch2tf.training.convert_loss`); every call ``criterion(out, y)`` becomes
  ``criterion(y, out)``, because Keras losses take ``(y_true, y_pred)``.
* The training step, as statements of one block (a loop body or a function body)::

      optimizer.zero_grad()                       # (or at the end of the block)
      out = model(xb)                             # whatever computes the loss
      loss = criterion(out, yb)
      loss.backward()
      torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)   # optional
      optimizer.step()
      scheduler.step()                            # optional: per batch

  becomes::

      with tf.GradientTape() as tape:
          out = model(xb, training=True)
          loss = criterion(yb, out)
      grads = tape.gradient(loss, model.trainable_variables)
      optimizer.apply(grads, model.trainable_variables)

  The statements from the one after ``zero_grad()`` (or after ``model.train()``, or the start
  of the block) up to ``loss.backward()`` are recorded by the tape. Clipping moves into the
  optimizer (``global_clipnorm=1.0``, or ``clipvalue=`` for ``clip_grad_value_``), whose
  helper clips with torch's formula; every step of that optimizer must clip alike.
* ``model.train()`` / ``model.eval()`` are removed; every call of the model passes
  ``training=True`` or ``training=False`` according to the mode the model is in at that call
  (torch modules start in training mode). A call where the mode depends on the path taken
  is reported.
* ``with torch.no_grad():`` (or ``torch.inference_mode()``, or the decorator
  ``@torch.no_grad()``) is removed, since nothing outside a tape is recorded; inside the
  statements a tape records it becomes ``with tape.stop_recording():``.
* A scheduler (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, OneCycleLR)
  becomes a torch-exact schedule set as the optimizer's learning rate, which Keras evaluates
  at every ``optimizer.apply``. Where ``scheduler.step()`` sits decides how it is stepped:
  in the same block as ``optimizer.step()`` (after it) -> once per batch, the schedule as
  it is; in the loop around the loop holding ``optimizer.step()`` (after that inner loop) ->
  once per epoch, the schedule wrapped in ``PerEpochSchedule(schedule, len(train_loader))``.
  ``OneCycleLR(cycle_momentum=True)`` also cycles ``beta_1`` (Adam) or ``momentum``.
* ``DataLoader(TensorDataset(X, y), batch_size=b, shuffle=s, drop_last=d)`` ->
  ``tf.data.Dataset.from_tensor_slices((X, y))[.shuffle(len(X))].batch(b)``: the same
  batches in the same order without shuffling. With shuffling the dataset is reshuffled
  every epoch like torch's, with a full-size buffer (a uniform permutation), but the order
  cannot be torch's: the generators differ (``torch.manual_seed(s)`` becomes
  ``tf.random.set_seed(s)``, which makes runs reproducible, not equal to torch's).
* ``torch.tensor(data, dtype=torch.float32)``, ``torch.as_tensor``, ``torch.from_numpy`` ->
  ``tf.constant(...)``; tensor methods on values known to be tensors (batches, model
  outputs, losses, ``tf.constant`` results) through the engine's method rules, with
  ``x.item()`` -> ``x.numpy().item()`` (eager code); ``len(loader)``, ``len(loader.dataset)``,
  ``optimizer.param_groups[0]["lr"]`` and ``scheduler.get_last_lr()`` are translated too.

Everything else that involves these objects is reported with its position: steps without
``loss.backward()`` or ``zero_grad()`` in the same block (gradient accumulation), a
``zero_grad()`` between backward and step, a scheduler stepped before the optimizer or
conditionally, ``break``/``continue`` in a loop whose schedule counts steps, optimizers over
param groups, schedulers not listed above, a loss or scheduler passed to code outside the
file, ``.grad``, ``model.state_dict()`` and the rest of the nn.Module API, training code in
classes or nested functions, and ``.backward()``/``.step()``/``.zero_grad()`` on values whose
kind cannot be told.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from torch2tf import rules
from torch2tf.diagnostics import Diagnostic
from torch2tf.names import code_of, dotted
from torch2tf.rules import LAYERS, Arg, Unsupported, bind
from torch2tf.rules import training as tr
from torch2tf.torch_api import DTYPES, MODULE_API

_TENSOR_ATTRS_REFUSED = {"grad", "data", "requires_grad", "grad_fn", "is_leaf", "T", "device"}
# Tensor methods whose result is not a tensor.
_NOT_TENSOR_METHODS = {"item", "tolist", "numpy", "size", "dim", "ndimension", "numel", "nelement"}
# Eager-code versions of tensor methods (the engine's rules are written for graph code).
_EAGER_METHODS: dict[str, Callable[[str], str]] = {
    "item": lambda x: f"{_paren(x)}.numpy().item()",
    "tolist": lambda x: f"{_paren(x)}.numpy().tolist()",
    "numpy": lambda x: f"{_paren(x)}.numpy()",
    "cpu": lambda x: x,
    "cuda": lambda x: x,
}
_NOT_TENSOR_TF = ("tf.data.", "tf.GradientTape", "tf.random.set_seed", "tf.keras.ops.shape")
_SCHEDULE_NAMES = {q: q.rsplit(".", 1)[1] for q in tr.SCHEDULERS}
_BUDGET = 200_000  # statements interpreted before giving up


class _Budget(Exception):
    pass


@dataclass(eq=False)
class _Obj:
    """A value the pass follows: a model, an optimizer, a scheduler, a loss, a loader..."""

    kind: str
    name: str = ""
    scope: _Scope | None = None
    stmt: cst.CSTNode | None = None
    call: cst.Call | None = None
    qualified: str = ""
    model: _Obj | None = None  # optimizer: the model whose parameters it updates
    optimizer: _Obj | None = None  # scheduler: its optimizer
    dataset: _Obj | None = None  # loader: its TensorDataset, when held in a variable
    first_tensor: str | None = None  # loader/dataset: the source of its first tensor
    visible: dict[str, Any] = field(default_factory=dict)  # names visible where it was built


_TENSOR = _Obj("tensor")
_GRADS: dict[frozenset, _Obj] = {}


def _grad(models: frozenset) -> _Obj:
    """A tensor autograd tracks back to the parameters of ``models``."""
    if models not in _GRADS:
        _GRADS[models] = _Obj("tensor", "autograd", stmt=None, visible={"models": models})
    return _GRADS[models]


def _is_tensor(value: Any) -> bool:
    return isinstance(value, _Obj) and value.kind == "tensor"


def _models_of(value: Any) -> frozenset:
    return value.visible.get("models", frozenset()) if _is_tensor(value) else frozenset()


def _tensor(values: list[Any]) -> Any:
    """The result of an op on ``values``: tracked by autograd if any input is."""
    models = frozenset().union(*(_models_of(v) for v in values))
    if models:
        return _grad(models)
    return _TENSOR if any(_is_tensor(v) for v in values) else None


_TUPLE_OF_TENSORS = _Obj("tensors")


@dataclass(eq=False)
class _Scope:
    name: str
    node: cst.CSTNode
    params: list[str] = field(default_factory=list)
    bindings: dict[str, set[str]] = field(default_factory=dict)  # name -> kinds bound
    assigned: dict[str, int] = field(default_factory=dict)  # name -> assignment count

    def bind(self, name: str, value: Any) -> None:
        kind = value.kind if isinstance(value, _Obj) else "other"
        self.bindings.setdefault(name, set()).add(kind)

    def kinds(self, name: str) -> set[str]:
        return self.bindings.get(name, set())


@dataclass
class _State:
    env: dict[str, Any]
    modes: dict[_Obj, str]

    def copy(self) -> _State:
        return _State(dict(self.env), dict(self.modes))


@dataclass(eq=False)
class _Frame:
    loop: cst.CSTNode
    iterable: Any  # the loader obj, ("range", source) or None
    cond: int
    has_jump: bool
    steps: list[tuple[_Obj, int, _Frame, int]] = field(default_factory=list)


@dataclass(eq=False)
class _Plan:
    """One canonical training step, found statically in a block."""

    block: cst.CSTNode
    stmts: list[cst.CSTNode]
    zero_grad: cst.CSTNode
    region: list[cst.CSTNode]  # statements the tape records
    backward: cst.CSTNode
    clips: list[cst.CSTNode]
    step: cst.CSTNode
    loss: str
    optimizer_name: str
    model_name: str
    scope: _Scope
    tape: str = "tape"
    grads: str = "grads"
    clip: tuple[str, str] | None = None  # ("global_clipnorm" | "clipvalue", source)


@dataclass
class _Ctx:
    scope: _Scope
    globals: dict[str, Any]
    frames: list[_Frame]
    tape: _Plan | None
    chain: tuple[cst.CSTNode, ...]
    returns: list[Any]
    cond: int = 0
    no_grad: int = 0
    standalone: bool = False  # a function the script never calls: its arguments are unknown


def rewrite(module: cst.Module, result: cst.Module, translator: Any) -> cst.Module:
    """Rewrite the training code of ``result`` (the translated ``module``).

    ``translator`` is the engine's translator after its pass: its path, imports, module
    classes and diagnostics are used; problems are appended to ``translator.diagnostics``.
    """
    found = _Pass(module, translator)
    found.analyse()
    translator.diagnostics += found.diagnostics
    if translator.diagnostics or not found.active:
        return result
    rewritten = found.apply(result)
    translator.diagnostics += found.diagnostics
    return rewritten


def _paren(source: str) -> str:
    try:
        node = cst.parse_expression(source)
    except cst.ParserSyntaxError:
        return f"({source})"
    atoms = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.List, cst.Tuple)
    if isinstance(node, atoms) or node.lpar:
        return source
    return f"({source})"


def _expr_statement_call(stmt: cst.CSTNode) -> cst.Call | None:
    """The call of a statement line that is a single call expression."""
    if (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, cst.Call)
    ):
        return stmt.body[0].value
    return None


def _method_call(stmt: cst.CSTNode, method: str) -> tuple[str, cst.Call] | None:
    """``(receiver name, call)`` for a statement ``name.method(...)``."""
    call = _expr_statement_call(stmt)
    if (
        call is not None
        and isinstance(call.func, cst.Attribute)
        and call.func.attr.value == method
        and isinstance(call.func.value, cst.Name)
    ):
        return call.func.value.value, call
    return None


def _assigned_targets(stmt: cst.CSTNode) -> set[str]:
    names: set[str] = set()

    class Targets(cst.CSTVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            _target_names(node.target, names)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            _target_names(node.target, names)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            _target_names(node.target, names)

        def visit_For(self, node: cst.For) -> None:
            _target_names(node.target, names)

        def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
            _target_names(node.target, names)

    stmt.visit(Targets())
    return names


def _target_names(target: cst.BaseExpression, out: set[str]) -> None:
    if isinstance(target, cst.Name):
        out.add(target.value)
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            _target_names(element.value, out)
    elif isinstance(target, cst.StarredElement):
        _target_names(target.value, out)


def _has_jump(body: cst.CSTNode) -> bool:
    """Whether a loop body holds a break or continue of its own (not of an inner loop)."""
    found = []

    class Jumps(cst.CSTVisitor):
        def visit_Break(self, node: cst.Break) -> None:
            found.append(node)

        def visit_Continue(self, node: cst.Continue) -> None:
            found.append(node)

        def visit_For(self, node: cst.For) -> bool:
            return False

        def visit_While(self, node: cst.While) -> bool:
            return False

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

    body.visit(Jumps())
    return bool(found)


def _statement_children(node: cst.CSTNode, out: list[cst.CSTNode]) -> None:
    """Every statement under ``node`` in pre-order, not entering classes."""
    for child in node.children:
        if isinstance(child, cst.BaseExpression):
            continue
        if isinstance(child, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            out.append(child)
            if not isinstance(child, cst.ClassDef):
                _statement_children(child, out)
        else:
            _statement_children(child, out)


def _is_import_line(stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
    )


def _header_calls(stmt: cst.CSTNode) -> list[cst.Call]:
    """The calls of a statement itself (for a compound one: its header), in pre-order."""
    calls: list[cst.Call] = []

    class Calls(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if node is not stmt and isinstance(
                node, (cst.IndentedBlock, cst.BaseCompoundStatement, cst.Else, cst.Finally)
            ):
                return False
            if isinstance(node, cst.ExceptHandler):
                return False
            if isinstance(node, cst.Call):
                calls.append(node)
            return True

    stmt.visit(Calls())
    return calls


class _Pass:
    """Analysis of the original file, then the rewrite of the translated one."""

    def __init__(self, module: cst.Module, translator: Any) -> None:
        self.module = module
        self.path = translator.path
        self.imports = translator.imports
        self.source = getattr(translator, "source", None) or module.code
        self.model_classes = set(translator.classes)
        self.project_classes = set(translator.project_classes)
        self.dropped = set(translator.dropped_functions)
        self.init_code = translator.init_code()  # became initializers: no training code
        self.diagnostics: list[Diagnostic] = []
        self._reported: set[tuple[int, int, str]] = set()
        parsed = getattr(translator, "parsed", None)
        if parsed is not None and parsed.module is module:
            # The engine's own parse: positions and parents resolved once for both passes.
            self.positions, self.parents = parsed.positions, parsed.parents
        else:
            wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
            self.positions = wrapper.resolve(PositionProvider)
            self.parents = wrapper.resolve(ParentNodeProvider)
        self.functions: dict[str, cst.FunctionDef] = {
            s.name.value: s for s in module.body if isinstance(s, cst.FunctionDef)
        }
        self.scopes: dict[cst.CSTNode, _Scope] = {}
        self.module_scope = _Scope("<module>", module)
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
            self.scopes[func] = _Scope(func.name.value, func, params)
        self.active = False  # whether anything needs rewriting
        self.budget = 0
        self.inlined: set[cst.FunctionDef] = set()
        # Observations, keyed by nodes of the original file.
        self.model_calls: dict[cst.Call, set[str]] = {}
        self.loss_calls: set[cst.Call] = set()
        self.plans: dict[cst.CSTNode, _Plan] = {}  # step statement -> plan
        self.plan_optimizers: dict[_Plan, set[_Obj]] = {}
        self.sched_steps: dict[cst.CSTNode, list[Any]] = {}  # statement -> placements
        self.schedulers: dict[cst.CSTNode, _Obj] = {}  # construction statement -> obj
        self.optimizers: dict[cst.CSTNode, _Obj] = {}
        self.loaders: dict[cst.CSTNode, _Obj] = {}
        self.no_grad: dict[tuple[cst.With, int], set[Any]] = {}
        self.no_grad_decorators: set[cst.Decorator] = set()
        self.removed: set[cst.CSTNode] = set()  # mode statements, stray zero_grad()
        self.len_dataset: dict[cst.Call, str] = {}
        self.lr_reads: dict[cst.CSTNode, str] = {}  # param_groups[0]["lr"] / get_last_lr()
        self.stmt_scope: dict[cst.CSTNode, _Scope] = {}
        self._failed_plans: set[cst.CSTNode] = set()
        self._failed_backwards: set[cst.CSTNode] = set()
        self.sched_placements: dict[_Obj, list[tuple[cst.CSTNode, Any]]] = {}

    # -- diagnostics

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

    # -- analysis

    def analyse(self) -> None:
        self._scan_classes()
        top = [s for s in self.module.body if not isinstance(s, (cst.ClassDef,))]
        state = _State({}, {})
        ctx = _Ctx(self.module_scope, state.env, [], None, (), [])
        try:
            self._block(top, state, ctx)
            for name, func in self.functions.items():
                if func not in self.inlined and name not in self.dropped:
                    self._standalone(func, state)
        except _Budget:
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

    def _standalone(self, func: cst.FunctionDef, module_state: _State) -> None:
        """A function the script never calls: analysed with unknown arguments."""
        scope = self.scopes[func]
        state = _State({p: None for p in scope.params}, dict(module_state.modes))
        ctx = _Ctx(scope, module_state.env, [], None, (func,), [], standalone=True)
        self._function_body(func, state, ctx)

    def _function_body(self, func: cst.FunctionDef, state: _State, ctx: _Ctx) -> None:
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
        if self.budget > _BUDGET:
            raise _Budget

    # -- statements

    def _block(self, stmts: list[cst.CSTNode], state: _State, ctx: _Ctx) -> None:
        regions: dict[cst.CSTNode, _Plan] = {}
        models: dict[_Plan, Any] = {}
        for index, stmt in enumerate(stmts):
            found = _method_call(stmt, "step")
            if found is None or found[1].args:
                continue
            obj = self._lookup(found[0], state, ctx)
            if isinstance(obj, _Obj) and obj.kind == "optimizer":
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

    def _statement(self, stmt: cst.CSTNode, state: _State, ctx: _Ctx) -> None:
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
            _statement_children(stmt, inner)
            for child in inner:
                self.stmt_scope[child] = ctx.scope
                if isinstance(child, cst.SimpleStatementLine):
                    for small in child.body:
                        self._small(small, child, state, ctx)
            ctx.cond -= 1

    def _suite(self, suite: cst.BaseSuite, state: _State, ctx: _Ctx) -> None:
        if isinstance(suite, cst.IndentedBlock):
            self._block(list(suite.body), state, ctx)
        else:  # one-line suite: small statements
            for small in suite.body:
                self._small(small, None, state, ctx)

    def _nested_definition(self, stmt: cst.CSTNode, state: _State, ctx: _Ctx) -> None:
        """A def or class inside a scope: report training code in it."""
        outer = self

        class Finder(cst.CSTVisitor):
            def visit_Name(self, node: cst.Name) -> None:
                obj = outer._lookup(node.value, state, ctx)
                if isinstance(obj, _Obj) and obj.kind in (
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

    def _join(self, state: _State, a: _State, b: _State) -> None:
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
        state: _State,
        ctx: _Ctx,
        bind: Callable[[_State], None] | None = None,
    ) -> None:
        """Run a loop body twice: from the state before it, then from the joined state."""
        jump = _has_jump(body)
        for _ in range(2):
            entry = state.copy()
            if bind is not None:
                bind(entry)
            frame = _Frame(loop, iterable, ctx.cond, jump)
            ctx.frames.append(frame)
            try:
                self._suite(body, entry, ctx)
            finally:
                ctx.frames.pop()
            self._join(state, state.copy(), entry)

    def _for(self, stmt: cst.For, state: _State, ctx: _Ctx) -> None:
        iterable = self._expr(stmt.iter, state, ctx)
        element: Any = None
        counted: Any = None
        target = stmt.target
        if isinstance(iterable, _Obj) and iterable.kind in ("loader", "dataset"):
            element, counted = _TUPLE_OF_TENSORS, iterable
        elif _is_tensor(iterable):
            element = iterable
        elif isinstance(stmt.iter, cst.Call) and dotted(stmt.iter.func) == "enumerate":
            args = stmt.iter.args
            inner = self._lookup_expr(args[0].value, state, ctx) if args else None
            if isinstance(inner, _Obj) and inner.kind in ("loader", "dataset"):
                counted = inner
                if isinstance(target, cst.Tuple) and len(target.elements) == 2:
                    element = ("enumerate", _TUPLE_OF_TENSORS)
        elif isinstance(stmt.iter, cst.Call) and dotted(stmt.iter.func) == "range":
            if len(stmt.iter.args) == 1 and stmt.iter.args[0].keyword is None:
                counted = ("range", code_of(stmt.iter.args[0].value))

        def bind_target(entry: _State) -> None:
            if isinstance(element, tuple):
                first, second = target.elements  # type: ignore[union-attr]
                self._bind(first.value, None, entry, ctx)
                self._bind(second.value, element[1], entry, ctx)
            else:
                self._bind(target, element, entry, ctx)

        self._loop(stmt, stmt.body, counted, state, ctx, bind_target)
        if stmt.orelse is not None:
            self._block(list(stmt.orelse.body.body), state, ctx)

    def _with(self, stmt: cst.With, state: _State, ctx: _Ctx) -> None:
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
        state: _State,
        ctx: _Ctx,
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
                    if isinstance(obj, _Obj) and obj.kind == "model":
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
                result = _tensor([value, before])
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

    def _target_expr(self, target: cst.BaseExpression, state: _State, ctx: _Ctx) -> None:
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

    def _bind(self, target: cst.BaseExpression, value: Any, state: _State, ctx: _Ctx) -> None:
        if isinstance(target, cst.Name):
            state.env[target.value] = value
            ctx.scope.bind(target.value, value)
            ctx.scope.assigned[target.value] = ctx.scope.assigned.get(target.value, 0) + 1
        elif isinstance(target, (cst.Tuple, cst.List)):
            each = value if _is_tensor(value) else None
            each = _TENSOR if value is _TUPLE_OF_TENSORS else each
            for element in target.elements:
                self._bind(element.value, each, state, ctx)
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value, None, state, ctx)

    def _lookup(self, name: str, state: _State, ctx: _Ctx) -> Any:
        if name in state.env:
            return state.env[name]
        if ctx.scope is not self.module_scope and name in ctx.scope.params:
            return None
        return ctx.globals.get(name)

    def _lookup_expr(self, node: cst.BaseExpression, state: _State, ctx: _Ctx) -> Any:
        return self._lookup(node.value, state, ctx) if isinstance(node, cst.Name) else None

    def _visible(self, state: _State, ctx: _Ctx) -> dict[str, Any]:
        names = dict(ctx.globals) if ctx.scope is not self.module_scope else {}
        names.update(state.env)
        return names

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
        self, name: str, call: cst.Call, stmt: cst.CSTNode, state: _State, ctx: _Ctx
    ) -> Any:
        kind = self._constructor(call)
        obj = _Obj("other", name, ctx.scope, stmt, call, kind or "")
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
                if not (isinstance(model, _Obj) and model.kind == "model"):
                    if isinstance(owner, cst.Name):
                        model = _Obj("model", owner.value, ctx.scope)
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
            if not (isinstance(optimizer, _Obj) and optimizer.kind == "optimizer"):
                where = target if target is not None else call
                self.error(where, "the scheduler's optimizer is not a translated optimizer")
                optimizer = None
            obj.optimizer = optimizer
            for arg in call.args:
                if arg.value is not target:
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
            if isinstance(found, _Obj) and found.kind == "dataset":
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

    def _expr_args(self, call: cst.Call, state: _State, ctx: _Ctx) -> list[Any]:
        return [self._expr(a.value, state, ctx) for a in call.args]

    # -- statements that are one call

    def _statement_call(
        self, call: cst.Call, stmt: cst.SimpleStatementLine, state: _State, ctx: _Ctx
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
        kind = obj.kind if isinstance(obj, _Obj) else None
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

    def _device_move(self, call: cst.Call, stmt: cst.CSTNode, model: _Obj) -> bool:
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

    def _check_tape_inputs(self, plan: _Plan, model: Any, state: _State, ctx: _Ctx) -> None:
        """The tape must see every op from the parameters to the loss: a tensor computed from
        a model before the tape starts (in another tape, or earlier) would carry no gradient."""
        assigned: set[str] = set()
        for stmt in plan.region:
            for name in _reads(stmt):
                value = self._lookup(name.value, state, ctx)
                if name.value not in assigned and model in _models_of(value):
                    self.error(
                        name,
                        f"{name.value} was computed from a model before the statements that "
                        f"compute {plan.loss}, so a tape there would not see how",
                        f"compute {name.value} again after the zero_grad() of this step",
                    )
            assigned |= _assigned_targets(stmt)

    def _plan_clips(self) -> set[cst.CSTNode]:
        return {c for p in self.plans.values() for c in p.clips}

    def _scheduler_step(self, call: cst.Call, stmt: cst.CSTNode, obj: _Obj, ctx: _Ctx) -> None:
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

    # -- the training step

    def _plan(
        self, stmts: list[cst.CSTNode], index: int, optimizer: _Obj, state: _State, ctx: _Ctx
    ) -> _Plan | None:
        step = stmts[index]
        if step in self.plans:
            return self.plans[step]
        if step in self._failed_plans:
            return None
        self.active = True

        def fail(node: cst.CSTNode, message: str, hint: str = "") -> None:
            self._failed_plans.add(step)
            self._failed_backwards.update(
                s for s in stmts[:index] if _method_call(s, "backward") is not None
            )
            self.error(node, message, hint)

        opt_name = _method_call(step, "step")[0]  # type: ignore[index]
        model = optimizer.model
        previous = 0
        for i in range(index - 1, -1, -1):
            if any(stmts[i] is p.step for p in self.plans.values()):
                previous = i + 1
                break
        backwards = [
            i for i in range(previous, index) if _method_call(stmts[i], "backward") is not None
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
        loss_name, bw_call = _method_call(stmts[bw], "backward")  # type: ignore[misc]
        if bw_call.args:
            fail(bw_call, "loss.backward(...) with arguments is not translated")
            return None

        def is_zero_grad(stmt: cst.CSTNode) -> bool:
            found = _method_call(stmt, "zero_grad")
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
            call = _expr_statement_call(stmts[i])
            qualified = self.imports.qualify(call.func) if call is not None else None
            if qualified in (tr.CLIP_NORM, tr.CLIP_VALUE):
                clips.append(stmts[i])
            else:
                others.append(stmts[i])
        start = previous
        for i in range(previous, bw):
            if _method_call(stmts[i], "train") or _method_call(stmts[i], "eval"):
                start = i + 1

        def assigned(part: list[cst.CSTNode]) -> set[str]:
            return set().union(*(_assigned_targets(s) for s in part)) if part else set()

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
            call = _expr_statement_call(stmt)
            spec = self._clip_spec(call, model, state, ctx)  # type: ignore[arg-type]
            if spec is None:
                self._failed_plans.add(step)
                return None
            if clip is not None and clip != spec:
                fail(stmt, "two clippings in one step are not translated")
                return None
            clip = spec
        names = set(ctx.scope.bindings) | set(ctx.scope.params) | _all_names(ctx.scope.node)
        plan = _Plan(
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
            tape=_fresh_name("tape", names),
            grads=_fresh_name("grads", names),
            clip=clip,
        )
        self.plans[step] = plan
        return plan

    def _model_name(
        self, model: _Obj | None, region: list[cst.CSTNode], state: _State, ctx: _Ctx
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
            for call in _all_calls(stmt):
                if isinstance(call.func, cst.Name):
                    called.add(call.func.value)
        for name in names:
            if name in called:
                return name
        return names[0]

    def _clip_spec(
        self, call: cst.Call, model: _Obj | None, state: _State, ctx: _Ctx
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

    # -- expressions

    def _expr(self, node: cst.BaseExpression | None, state: _State, ctx: _Ctx) -> Any:
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
            values = [self._expr(c, state, ctx) for c in _operands(node)]
            if isinstance(node, cst.Comparison):
                return _TENSOR if _tensor(values) else None  # booleans carry no gradient
            return _tensor(values)
        if isinstance(node, cst.NamedExpr):
            value = self._expr(node.value, state, ctx)
            self._bind(node.target, value, state, ctx)
            return value
        self._expr_generic(node, state, ctx)
        return None

    def _expr_generic(self, node: cst.CSTNode, state: _State, ctx: _Ctx) -> None:
        for child in node.children:
            if isinstance(child, cst.BaseExpression):
                self._expr(child, state, ctx)
            elif not isinstance(child, (cst.BaseSuite, cst.BaseStatement)):
                self._expr_generic(child, state, ctx)

    def _name_value(self, node: cst.Name, state: _State, ctx: _Ctx) -> Any:
        value = self._lookup(node.value, state, ctx)
        if isinstance(value, _Obj) and value.kind in ("optimizer", "scheduler", "loss"):
            self._bare_use(node, value)
        return value

    def _bare_use(self, node: cst.Name, obj: _Obj) -> None:
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

    def _call(self, node: cst.Call, state: _State, ctx: _Ctx) -> Any:
        func = node.func
        if isinstance(func, cst.Name):
            obj = self._lookup(func.value, state, ctx)
            if isinstance(obj, _Obj) and obj.kind == "model":
                self._expr_args(node, state, ctx)
                self.model_calls.setdefault(node, set()).add(state.modes.get(obj, "?"))
                self.active = True
                return _TENSOR if ctx.no_grad else _grad(frozenset([obj]))
            if isinstance(obj, _Obj) and obj.kind == "loss":
                values = self._expr_args(node, state, ctx)
                self._loss_call(node)
                return _tensor([*values, _TENSOR])
            if isinstance(obj, _Obj) and obj.kind in ("optimizer", "scheduler", "loader"):
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
                    return _TUPLE_OF_TENSORS if len(node.args) > 1 else _tensor(values)
                if qualified == "torch.manual_seed":
                    return None
                return _tensor([*values, _TENSOR])
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

    def _builtin(self, node: cst.Call, name: str, state: _State, ctx: _Ctx) -> Any:
        arg = node.args[0].value
        if name == "len" and isinstance(arg, cst.Attribute) and arg.attr.value == "dataset":
            loader = self._lookup_expr(arg.value, state, ctx)
            if isinstance(loader, _Obj) and loader.kind == "loader":
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
        if isinstance(value, _Obj) and value.kind in ("loader", "dataset"):
            return _TUPLE_OF_TENSORS if name == "next" else value
        return None

    def _stable(self, name: str, loader: _Obj) -> bool:
        scope = loader.scope
        if scope is None or not name.isidentifier():
            return False
        if name in scope.params:
            return scope.assigned.get(name, 0) == 0 or name not in scope.assigned
        return scope.assigned.get(name, 0) <= 1 or (
            scope is self.module_scope and _count_assignments(self.module, name) <= 1
        )

    def _inline(self, node: cst.Call, func: cst.FunctionDef, state: _State, ctx: _Ctx) -> Any:
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
        inner_state = _State(env, state.modes)
        globals_env = state.env if ctx.scope is self.module_scope else ctx.globals
        inner = _Ctx(
            scope, globals_env, ctx.frames, ctx.tape, (*ctx.chain, func), [], ctx.cond, ctx.no_grad
        )
        self._function_body(func, inner_state, inner)
        state.modes = inner_state.modes
        returned = inner.returns
        if returned and all(r is returned[0] for r in returned):
            return returned[0]
        return None

    def _expr_arg(self, node: cst.BaseExpression, state: _State, ctx: _Ctx) -> Any:
        """An argument of a call to a function of the file: objects may be passed."""
        if isinstance(node, cst.Name):
            return self._lookup(node.value, state, ctx)
        return self._expr(node, state, ctx)

    def _method(self, node: cst.Call, func: cst.Attribute, state: _State, ctx: _Ctx) -> Any:
        method = func.attr.value
        receiver = func.value
        obj = self._lookup_expr(receiver, state, ctx)
        kind = obj.kind if isinstance(obj, _Obj) else None
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
        if _is_tensor(value):
            if method == "backward":
                self.error(node, "backward() is translated only as a statement `loss.backward()`")
                return None
            if method in _NOT_TENSOR_METHODS:
                return None
            if method in ("max", "min", "sort", "topk", "split", "chunk") and node.args:
                return _TUPLE_OF_TENSORS
            if method == "detach":
                return _TENSOR
            return _tensor([value, *values])
        if method in ("backward", "zero_grad", "step", "train", "eval", "parameters"):
            self.error(
                node,
                f"cannot tell what {code_of(receiver)} is, so .{method}() is not translated",
                self._unknown_hint(dotted(receiver) or "", ctx)
                or "build models, optimizers and schedulers in this file, in variables",
            )
        return None

    def _unknown_hint(self, name: str, ctx: _Ctx) -> str:
        """Why an argument of a function is unknown: the file never calls the function."""
        if ctx.standalone and name.split(".")[0] in ctx.scope.params:
            return (
                f"{ctx.scope.name}() is not called in this file, so what its arguments are "
                "cannot be told; translate it together with the code that calls it"
            )
        return ""

    def _class_defines(self, model: _Obj, method: str) -> bool:
        call = model.call
        name = dotted(call.func) if call is not None else None
        cls = next(
            (s for s in self.module.body if isinstance(s, cst.ClassDef) and s.name.value == name),
            None,
        )
        if cls is None:
            return False
        return any(isinstance(s, cst.FunctionDef) and s.name.value == method for s in cls.body.body)

    def _attribute(self, node: cst.Attribute, state: _State, ctx: _Ctx) -> Any:
        attr = node.attr.value
        if attr in ("grad", "requires_grad", "grad_fn"):
            self.error(node, f".{attr} is not translated: TensorFlow keeps no gradients on values")
            self._expr(node.value, state, ctx)
            return None
        base = self._lookup_expr(node.value, state, ctx)
        kind = base.kind if isinstance(base, _Obj) else None
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
        if _is_tensor(value) and attr in _TENSOR_ATTRS_REFUSED:
            self.error(node, f"Tensor.{attr} is not translated")
        if isinstance(node.value, cst.Attribute) or isinstance(node.value, cst.Name):
            root = node.value
            while isinstance(root, cst.Attribute):
                root = root.value
            owner = self._lookup_expr(root, state, ctx)
            if isinstance(owner, _Obj) and owner.kind == "model" and attr in ("weight", "bias"):
                self.error(
                    node,
                    f"{code_of(node)}: torch parameters are not Keras variables (Dense's kernel is "
                    "the transposed weight)",
                )
        return None

    def _subscript(self, node: cst.Subscript, state: _State, ctx: _Ctx) -> Any:
        # optimizer.param_groups[0]["lr"]
        inner = node.value
        if (
            isinstance(inner, cst.Subscript)
            and isinstance(inner.value, cst.Attribute)
            and inner.value.attr.value == "param_groups"
        ):
            owner = self._lookup_expr(inner.value.value, state, ctx)
            if isinstance(owner, _Obj) and owner.kind == "optimizer":
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
            if isinstance(owner, _Obj) and owner.kind == "optimizer":
                self.error(node, "only param_groups[0]['lr'] is translated")
                return None
        value = self._expr(node.value, state, ctx)
        for element in node.slice:
            self._expr_generic(element, state, ctx)
        if _is_tensor(value):
            return value
        if value is _TUPLE_OF_TENSORS:
            return _TENSOR
        return None

    # -- decisions after the analysis

    def _check_schedulers(self) -> None:
        self.schedule_specs: dict[cst.CSTNode, tuple] = {}
        steps_of = self.sched_placements
        for stmt, placements in self.sched_steps.items():
            call = _expr_statement_call(stmt)
            for placement in placements:
                if placement[0] == "error":
                    self.error(call or stmt, placement[1])
        for stmt, obj in self.schedulers.items():
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
        sched_optimizers = [o.optimizer for o in self.schedulers.values() if o.optimizer]
        for optimizer in set(sched_optimizers):
            if sched_optimizers.count(optimizer) > 1:
                self.error(
                    optimizer.call or optimizer.stmt or self.module,
                    f"{optimizer.name} has several schedulers, which is not translated",
                )

    def _steps_per_epoch(self, iterable: Any, scheduler: _Obj) -> str | None:
        if isinstance(iterable, tuple) and iterable[0] == "range":
            text = iterable[1]
            try:
                int(text)
                return text
            except ValueError:
                return text if scheduler.visible.get(text, "missing") is None else None
        if isinstance(iterable, _Obj):
            for name, value in scheduler.visible.items():
                if value is iterable:
                    return f"len({name})"
        return None

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
                names = {n.value for n in _names_in(cst.parse_expression(text))}
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

    # -- the rewrite

    def apply(self, result: cst.Module) -> cst.Module:
        mapping = self._align(result)
        if mapping is None:
            self.error(self.module, "internal error: the training-loop pass lost its place")
            return result
        return result.visit(_Rewriter(self, mapping))

    def _align(self, result: cst.Module) -> dict[cst.CSTNode, cst.CSTNode] | None:
        """Result statement -> original statement, for code outside classes."""
        original_top = [
            s
            for s in self.module.body
            if not _is_import_line(s)
            and not (isinstance(s, cst.FunctionDef) and s.name.value in self.dropped)
        ]
        result_top = [s for s in result.body if not _is_import_line(s)]
        if len(original_top) != len(result_top):
            return None
        mapping: dict[cst.CSTNode, cst.CSTNode] = {}
        for original, translated in zip(original_top, result_top, strict=True):
            if type(original) is not type(translated):
                return None
            mapping[translated] = original
            if isinstance(original, cst.ClassDef):
                continue
            left: list[cst.CSTNode] = []
            right: list[cst.CSTNode] = []
            _statement_children(original, left)
            _statement_children(translated, right)
            if len(left) != len(right):
                return None
            for a, b in zip(left, right, strict=True):
                if type(a) is not type(b):
                    return None
                mapping[b] = a
        return mapping


def _reads(stmt: cst.CSTNode) -> list[cst.Name]:
    """The names a statement reads (assignment targets left out; ``x += 1`` reads x)."""
    names: list[cst.Name] = []

    class Reads(cst.CSTVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> bool:
            _target_reads(node.target, self)
            return False

        def visit_AnnAssign(self, node: cst.AnnAssign) -> bool:
            if node.value is not None:
                node.value.visit(self)
            return False

        def visit_For(self, node: cst.For) -> bool:
            node.iter.visit(self)
            node.body.visit(self)
            if node.orelse is not None:
                node.orelse.visit(self)
            return False

        def visit_Name(self, node: cst.Name) -> None:
            names.append(node)

        def visit_Attribute(self, node: cst.Attribute) -> bool:
            node.value.visit(self)
            return False

        def visit_Arg(self, node: cst.Arg) -> bool:
            node.value.visit(self)
            return False

    stmt.visit(Reads())
    return names


def _target_reads(target: cst.BaseExpression, visitor: cst.CSTVisitor) -> None:
    """Names read by an assignment target: the object of ``a.b = ...``, ``a[i] = ...``."""
    if isinstance(target, cst.Attribute):
        target.value.visit(visitor)
    elif isinstance(target, cst.Subscript):
        target.value.visit(visitor)
        for element in target.slice:
            element.visit(visitor)
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            _target_reads(element.value, visitor)


def _operands(node: cst.CSTNode) -> list[cst.BaseExpression]:
    if isinstance(node, cst.BinaryOperation):
        return [node.left, node.right]
    if isinstance(node, cst.UnaryOperation):
        return [node.expression]
    if isinstance(node, cst.Comparison):
        return [node.left, *(c.comparator for c in node.comparisons)]
    return []


def _all_calls(node: cst.CSTNode) -> list[cst.Call]:
    calls: list[cst.Call] = []

    class Calls(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            calls.append(call)

    node.visit(Calls())
    return calls


def _names_in(node: cst.CSTNode) -> list[cst.Name]:
    names: list[cst.Name] = []

    class Names(cst.CSTVisitor):
        def visit_Name(self, name: cst.Name) -> None:
            names.append(name)

        def visit_Attribute(self, attribute: cst.Attribute) -> bool:
            attribute.value.visit(self)
            return False

    node.visit(Names())
    return names


def _all_names(node: cst.CSTNode) -> set[str]:
    return {n.value for n in _names_in(node)}


def _count_assignments(module: cst.Module, name: str) -> int:
    count = 0
    for stmt in module.body:
        if name in _assigned_targets(stmt):
            count += 1
    return count


def _fresh_name(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    number = 1
    while f"{base}_{number}" in taken:
        number += 1
    return f"{base}_{number}"


def _comment_lines(*texts: str) -> list[cst.EmptyLine]:
    return [cst.EmptyLine(indent=True, comment=cst.Comment(f"# {t}")) for t in texts]


def _statement(source: str) -> cst.BaseStatement:
    return cst.parse_statement(source)


class _ExpressionEditor(cst.CSTTransformer):
    """Expression-level edits of one translated statement (its header, if compound)."""

    def __init__(self, owner: _Pass, statement: cst.CSTNode, original: cst.CSTNode) -> None:
        super().__init__()
        self.owner = owner
        self.root = statement
        self.original = original
        scope = owner.stmt_scope.get(original, owner.module_scope)
        self.scope = scope
        self.modes: dict[str, str] = {}
        originals = _header_calls(original)
        for call in originals:
            modes = owner.model_calls.get(call)
            if modes and isinstance(call.func, cst.Name) and len(modes) == 1:
                self.modes[call.func.value] = next(iter(modes))
        self.losses = {c.func.value for c in originals if c in owner.loss_calls}  # type: ignore[union-attr]
        self.len_dataset = {
            _nth_key(originals, c): v for c, v in owner.len_dataset.items() if c in originals
        }
        self.lr_calls = {
            _nth_key(originals, c): v for c, v in owner.lr_reads.items() if c in originals
        }
        self.lr_subscripts = [v for n, v in owner.lr_reads.items() if _contains(original, n)]
        self.originals = originals
        self.translated = _header_calls(statement)

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
            if not kinds and self.scope is not self.owner.module_scope:
                if node.value not in self.scope.params:
                    kinds = self.owner.module_scope.kinds(node.value)
            return kinds == {"tensor"} or kinds == {"tensor", "tensors"}
        if isinstance(node, cst.Call):
            name = dotted(node.func) or ""
            if isinstance(node.func, cst.Name) and node.func.value in self.modes:
                return True
            if isinstance(node.func, cst.Name) and node.func.value in self.losses:
                return True
            if name.startswith("tf.") and not name.startswith(_NOT_TENSOR_TF):
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
            return any(self._is_tensor(o) for o in _operands(node))
        return False

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        func = updated.func
        key = _nth_key(self.translated, original)
        if key in self.len_dataset:
            return cst.parse_expression(self.len_dataset[key])
        if key in self.lr_calls:
            return cst.parse_expression(self.lr_calls[key])
        if isinstance(func, cst.Name) and func.value in self.modes:
            mode = self.modes[func.value]
            if not any(a.keyword and a.keyword.value == "training" for a in updated.args):
                return _with_keyword(updated, "training", "True" if mode == "train" else "False")
        if isinstance(func, cst.Name) and func.value in self.losses:
            return _swap(updated)
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in _EAGER_METHODS or method in rules.METHODS:
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
        if method in _EAGER_METHODS:
            if updated.args:
                self._error(original, method, f"Tensor.{method}(...) with arguments")
                return updated
            return cst.parse_expression(_EAGER_METHODS[method](tensor))
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
        same = [c for c in self.translated if _attr(c) == method]
        index = next((i for i, c in enumerate(same) if c is call), 0)
        originals = [c for c in self.originals if _attr(c) == method]
        node = originals[index] if index < len(originals) else self.original
        self.owner.error(node, message, hint)


def _attr(call: cst.Call) -> str | None:
    return call.func.attr.value if isinstance(call.func, cst.Attribute) else None


def _nth_key(calls: list[cst.Call], call: cst.Call) -> tuple[str, int] | None:
    """(func source head, rank among calls with the same func) of ``call``."""
    func = code_of(call.func).split("(")[0]
    same = [c for c in calls if code_of(c.func).split("(")[0] == func]
    for index, candidate in enumerate(same):
        if candidate is call:
            return func, index
    return None


def _contains(root: cst.CSTNode, node: cst.CSTNode) -> bool:
    found = []

    class Finder(cst.CSTVisitor):
        def on_visit(self, child: cst.CSTNode) -> bool:
            if child is node:
                found.append(child)
            return not found

    root.visit(Finder())
    return bool(found)


def _with_keyword(call: cst.Call, keyword: str, value: str) -> cst.Call:
    args = list(call.args)
    if args:
        args[-1] = args[-1].with_changes(
            comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        )
    new = cst.Arg(
        cst.parse_expression(value),
        keyword=cst.Name(keyword),
        equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
    )
    return call.with_changes(args=[*args, new])


def _swap(call: cst.Call) -> cst.Call:
    """``criterion(output, target)`` -> ``criterion(target, output)``."""
    positional = [a.value for a in call.args if a.keyword is None]
    keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
    values = positional + [keywords[k] for k in ("input", "target") if k in keywords]
    output, target = values[0], values[1]
    return call.with_changes(
        args=[
            cst.Arg(target, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
            cst.Arg(output),
        ]
    )


class _Rewriter(cst.CSTTransformer):
    """Applies the pass's decisions to the translated module."""

    def __init__(self, owner: _Pass, mapping: dict[cst.CSTNode, cst.CSTNode]) -> None:
        super().__init__()
        self.owner = owner
        self.mapping = mapping
        self.plan_of: dict[cst.CSTNode, tuple[_Plan, str]] = {}
        for plan in owner.plans.values():
            if plan.step in owner._failed_plans:
                continue
            self.plan_of[plan.zero_grad] = (plan, "zero_grad")
            self.plan_of[plan.backward] = (plan, "backward")
            self.plan_of[plan.step] = (plan, "step")
            for clip in plan.clips:
                self.plan_of[clip] = (plan, "clip")
        self.region_start: dict[cst.CSTNode, _Plan] = {
            p.region[0]: p for p in owner.plans.values() if p.region
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
        editor = _ExpressionEditor(self.owner, updated, source)
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
            if key in self.owner.no_grad_actions:
                tape = self.owner.no_grad_actions[key]
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
            if o not in self.owner.no_grad_decorators
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
                out.append(_lead(stmt, carried))
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
                    replaced[0] = _lead(replaced[0], carried)
                    carried = []
                out.extend(replaced)
            index += 1
        return out  # comments above removed trailing statements are dropped with them

    def _replace(self, source: cst.CSTNode, stmt: cst.CSTNode) -> list[cst.CSTNode] | None:
        """The statements that replace ``stmt``: None to remove it."""
        owner = self.owner
        if source in owner.removed:
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
            return [_statement(text).with_changes(leading_lines=stmt.leading_lines)]
        if source in owner.sched_steps:
            return None
        if source in owner.schedule_specs:
            return self._schedule(source, stmt)
        if source in owner.clip_specs:
            keyword, value = owner.clip_specs[source]
            small = stmt.body[0]
            call = _with_keyword(small.value, keyword, value)
            notes = _comment_lines(
                f"{keyword}: torch.nn.utils.{_clip_name(keyword)} before each step "
                "(torch's formula)."
            )
            return [
                stmt.with_changes(
                    body=[small.with_changes(value=call)],
                    leading_lines=[*stmt.leading_lines, *notes],
                )
            ]
        if source in owner.loaders and ".shuffle(" in code_of(stmt):
            notes = _comment_lines(
                "Reshuffled each epoch like torch's DataLoader, but not in torch's order."
            )
            return [stmt.with_changes(leading_lines=[*stmt.leading_lines, *notes])]
        if stmt in self.unwrap:
            body = list(stmt.body.body)
            if body:
                body[0] = _lead(body[0], list(stmt.leading_lines))
            return body
        return [stmt]

    def _schedule(self, source: cst.CSTNode, stmt: cst.SimpleStatementLine) -> list[cst.CSTNode]:
        owner = self.owner
        scheduler = owner.schedulers[source]
        how, steps = owner.schedule_specs[source]
        assign = stmt.body[0]
        value = assign.value
        kind = _SCHEDULE_NAMES.get(scheduler.qualified, "the scheduler")
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
                leading_lines=[*stmt.leading_lines, *_comment_lines(note)],
            ),
            _statement(f"{optimizer}.learning_rate = {name}\n"),
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
        curve = _with_keyword(value, "base_momentum", base)
        curve = _with_keyword(curve, "max_momentum", top)
        curve = _with_keyword(curve, "curve", '"momentum"')
        text = code_of(curve)
        if how == "epoch":
            text = f"PerEpochSchedule({text}, {steps})"
        return _statement(f"{optimizer}.{attribute} = {text}\n")


def _clip_name(keyword: str) -> str:
    return "clip_grad_norm_" if keyword == "global_clipnorm" else "clip_grad_value_"


def _lead(stmt: cst.CSTNode, lines: list[cst.EmptyLine]) -> cst.CSTNode:
    if not lines or not hasattr(stmt, "leading_lines"):
        return stmt
    return stmt.with_changes(leading_lines=[*lines, *stmt.leading_lines])
