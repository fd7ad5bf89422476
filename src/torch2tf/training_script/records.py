"""Typed records of the training-script pass: its input from the engine, the values the
interpreter follows, its frames and plans, and the findings the rewrite applies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from torch2tf.errors import Diagnostic
from torch2tf.names import ImportTable
from torch2tf.parsed import ParsedSource


@dataclass(frozen=True)
class FileFacts:
    """What the pass needs from the engine: the file as parsed, and the engine's facts on it."""

    path: str
    source: str
    parsed: ParsedSource  # the original file, with positions and parents
    imports: ImportTable
    model_classes: frozenset[str]  # nn.Module classes defined in the file
    project_classes: frozenset[str]  # qualified nn.Module classes of other project files
    dropped_functions: frozenset[str]  # init functions the engine removed (used by apply only)
    diagnostics: list[Diagnostic]  # the engine's problems; the pass appends its own
    init_code: frozenset[cst.CSTNode] = frozenset()  # became initializers: no training code


BUDGET = 200_000  # statements interpreted before giving up


class BudgetExceeded(Exception):
    pass


@dataclass(eq=False)
class Obj:
    """A value the pass follows: a model, an optimizer, a scheduler, a loss, a loader..."""

    kind: str
    name: str = ""
    scope: Scope | None = None
    stmt: cst.CSTNode | None = None
    call: cst.Call | None = None
    qualified: str = ""
    model: Obj | None = None  # optimizer: the model whose parameters it updates
    optimizer: Obj | None = None  # scheduler: its optimizer
    dataset: Obj | None = None  # loader: its TensorDataset, when held in a variable
    first_tensor: str | None = None  # loader/dataset: the source of its first tensor
    visible: dict[str, Any] = field(default_factory=dict)  # names visible where it was built
    sequence: Obj | None = None  # scheduler: the SequentialLR that steps it


TENSOR = Obj("tensor")


def is_tensor(value: Any) -> bool:
    return isinstance(value, Obj) and value.kind == "tensor"


def models_of(value: Any) -> frozenset:
    return value.visible.get("models", frozenset()) if is_tensor(value) else frozenset()


TUPLE_OF_TENSORS = Obj("tensors")


@dataclass(eq=False)
class Scope:
    name: str
    node: cst.CSTNode
    params: list[str] = field(default_factory=list)
    bindings: dict[str, set[str]] = field(default_factory=dict)  # name -> kinds bound
    assigned: dict[str, int] = field(default_factory=dict)  # name -> assignment count

    def bind(self, name: str, value: Any) -> None:
        kind = value.kind if isinstance(value, Obj) else "other"
        self.bindings.setdefault(name, set()).add(kind)

    def kinds(self, name: str) -> set[str]:
        return self.bindings.get(name, set())


@dataclass
class State:
    env: dict[str, Any]
    modes: dict[Obj, str]

    def copy(self) -> State:
        return State(dict(self.env), dict(self.modes))


@dataclass(eq=False)
class Frame:
    loop: cst.CSTNode
    iterable: Any  # the loader obj, ("range", source) or None
    cond: int
    has_jump: bool
    steps: list[tuple[Obj, int, Frame, int]] = field(default_factory=list)


@dataclass(eq=False)
class Plan:
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
    scope: Scope
    tape: str = "tape"
    grads: str = "grads"
    clip: tuple[str, str] | None = None  # ("global_clipnorm" | "clipvalue", source)


@dataclass
class Ctx:
    scope: Scope
    globals: dict[str, Any]
    frames: list[Frame]
    tape: Plan | None
    chain: tuple[cst.CSTNode, ...]
    returns: list[Any]
    cond: int = 0
    no_grad: int = 0
    standalone: bool = False  # a function the script never calls: its arguments are unknown


@dataclass
class Findings:
    """The analysis's decisions, keyed by nodes of the original file, for the rewrite."""

    report: Callable[..., None]  # report(node, message, hint="") for problems met rewriting
    module_scope: Scope
    stmt_scope: dict[cst.CSTNode, Scope]
    model_calls: dict[cst.Call, set[str]]
    loss_calls: set[cst.Call]
    len_dataset: dict[cst.Call, str]
    lr_reads: dict[cst.CSTNode, str]
    plans: dict[cst.CSTNode, Plan]
    failed_plans: set[cst.CSTNode]
    removed: set[cst.CSTNode]
    sched_steps: dict[cst.CSTNode, list[Any]]
    schedulers: dict[cst.CSTNode, Obj]
    schedule_specs: dict[cst.CSTNode, tuple]
    clip_specs: dict[cst.CSTNode, tuple[str, str]]
    loaders: dict[cst.CSTNode, Obj]
    no_grad_actions: dict[tuple[cst.With, int], str | None]
    no_grad_decorators: set[cst.Decorator]
