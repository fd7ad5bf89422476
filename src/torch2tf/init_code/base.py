"""What every part of init-code reading shares: the torch names it knows, the scope of the
code being read, and the reader's state."""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Protocol

import libcst as cst

from torch2tf.class_facts import ClassInfo
from torch2tf.names import ImportTable, dotted
from torch2tf.parameters import UNINITIALISED, is_starred, tensor_shape
from torch2tf.parsed import descendants
from torch2tf.rules import Unsupported
from torch2tf.torch_api import MODULE_ITERATORS
from torch2tf.translation.patterns import self_attr  # re-exported to the readers


class Engine(Protocol):
    """What init analysis needs of the engine: names resolved, problems reported."""

    imports: ImportTable

    def error(self, node: cst.CSTNode, message: str, hint: str = "") -> None: ...


TENSOR_INIT_METHODS = {  # in-place tensor methods: ``m.weight.data.normal_(0, 0.01)``
    "normal_": "torch.nn.init.normal_",
    "uniform_": "torch.nn.init.uniform_",
    "zero_": "torch.nn.init.zeros_",
    "fill_": "torch.nn.init.constant_",
}


FANS = "torch.nn.init._calculate_fan_in_and_fan_out"


# numpy on Python numbers in init arguments, as the identical ``math`` (both round sqrt exactly).
NUMPY_AS_MATH = {"numpy.sqrt": "math.sqrt", "numpy.pi": "math.pi"}


# The parameters of each layer with tensors, and their ranks (None: set by an argument).
PARAMETER_RANKS = {
    "torch.nn.Linear": {"weight": 2, "bias": 1},
    "torch.nn.BatchNorm1d": {"weight": 1, "bias": 1},
    "torch.nn.Embedding": {"weight": 2},
    "torch.nn.PReLU": {"weight": 1},
    "torch.nn.LayerNorm": {"weight": None, "bias": None},
    "torch.nn.RMSNorm": {"weight": None},
}


# Recurrent layers whose named_parameters() a loop may run over -> gate blocks per weight.
RECURRENT_GATES = {"torch.nn.LSTM": 4, "torch.nn.GRU": 3, "torch.nn.RNN": 1}


RANK_OPERATORS = {
    cst.GreaterThan: operator.gt,
    cst.GreaterThanEqual: operator.ge,
    cst.LessThan: operator.lt,
    cst.LessThanEqual: operator.le,
    cst.Equal: operator.eq,
    cst.NotEqual: operator.ne,
}


CONTAINERS = {"torch.nn.Sequential", "torch.nn.ModuleList"}


LOOP_ITERATORS = MODULE_ITERATORS | {"parameters", "named_parameters"}


# ``bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0``: torch's own Linear bias bound.
DEFAULT_BOUND = re.compile(r"\(?1 / math\.sqrt\((?P<fan>[^()]+)\) if (?P=fan) > 0 else 0\)?")


class Refused(Exception):
    """Init code that cannot be read exactly; already reported."""


@dataclass(frozen=True)
class LoopTensor:
    """One parameter a ``self.parameters()`` loop reaches: the class's own (``own``) or one of
    the layer that ``call`` makes."""

    name: str  # its own name: ``weight``
    rank: int | None  # None when the source does not fix it
    own: bool
    call: cst.Call | None = None
    qualified: str | None = None
    # an RNN's parameter kind (weight_ih), named weight_ih_l{k}[_reverse] for each layer and
    # direction: a condition on the name must decide alike for all of them
    suffixed: bool = False
    rows: str | None = None  # its size(0) as source, where known


@dataclass
class Scope:
    """Local names of the init code being read -> their value as source for __init__."""

    values: dict[str, str] = field(default_factory=dict)
    guard: str | None = None  # inside ``if <guard> is not None:``
    var: str | None = None  # the loop variable over modules
    types: frozenset[str] | None = None  # the types ``var`` was checked against (isinstance)
    members: frozenset[cst.Call] | None = None  # the layers ``var`` runs over (containers)
    over: str = "all"  # what a loop over modules reaches: "all" (modules()) or "children"
    tensors: tuple[LoopTensor, ...] | None = None  # the parameters a parameters() loop reaches
    name_var: str | None = None  # the name variable of a named_parameters() loop
    slice_var: str | None = None  # ``i`` of ``for i in range(len(self.w)): init(self.w[i])``
    slice_count: str = ""  # ``len(self.w)`` there
    in_init: bool = False  # __init__'s own code (else a method's, with names of its own)
    # init of a layer made before an ``if`` (or reached by index): run where it stands, on the
    # Keras layer (torch_init), instead of as an initializer argument of its construction
    late: bool = False
    # an init function's parameters bound to a layer or tensor of __init__: ``module`` -> self.fc
    aliases: dict[str, str] = field(default_factory=dict)
    # inside an init function of the project read in place (init_code/inline.py): its nested
    # one-expression functions, and whether its values must fold to numbers (another file's)
    functions: dict[str, cst.FunctionDef] = field(default_factory=dict)
    inlined: int = 0  # how deep in such functions
    numbers_only: bool = False

    def child(self, **changes) -> Scope:
        fields = {**self.__dict__, "values": dict(self.values), **changes}
        return Scope(**fields)


def bound_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


class ReaderBase:
    """The state of reading one class's init code for the engine (``t``)."""

    def __init__(self, t: Engine, info: ClassInfo) -> None:
        self.t = t
        self.info = info
        init = info.method("__init__")
        tree = next(
            f for f in info.tree.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"
        )
        self.init_tree = tree
        args = tree.args
        self.init_names = {
            a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]
        } | bound_names(tree)
        self.init = init
        self.late: dict[cst.Call, str] = {}  # init calls run where they stand (Scope.late)
        self.asserts: list[str] = []  # asserts of init functions, run where they are called
        self.late_lines: list[str] = []  # their torch_init lines, in reading order
        self.function_late: list[str] = []  # those of the init function read last
        self.runtime_methods: set[str] = set()  # methods kept, their loops run on Keras layers

    def _layered_base(self, info) -> str | None:
        """A base class of the project (this file's or another's) that builds layers or
        parameters, or may (another file's, not read here); None when there is none."""
        is_module = getattr(self.t, "is_module_class", None)
        classes = getattr(self.t, "classes", {})
        for base in info.node.bases:
            name = dotted(base.value)
            if is_module is None or name is None or not is_module(base.value):
                continue
            known = classes.get(name)
            if known is None or known is info:
                return name  # another file's: what it builds is not known here
            if known.layers or known.modules or known.params or known.opaque_builders:
                return name
            deeper = self._layered_base(known)
            if deeper is not None:
                return deeper
        return None

    def _param_of(self, tensor: cst.BaseExpression) -> str | None:
        """``w`` for ``self.w`` (or ``self.w.data``) when it is an nn.Parameter of the class."""
        if isinstance(tensor, cst.Attribute) and tensor.attr.value == "data":
            tensor = tensor.value
        attr = self_attr(tensor)
        return attr if attr in self.info.params else None

    def _uninitialised(self, param: str) -> bool:
        """Whether torch created ``param`` without values (``torch.empty``, ``torch.Tensor``)."""
        _, call = self.info.params[param]
        args = [a for a in call.args if a.keyword is None]
        made = args[0].value if args else None
        return isinstance(made, cst.Call) and self.t.imports.qualify(made.func) in UNINITIALISED

    def _shape_of(self, param: str) -> list[str] | None:
        """The sizes ``param`` was created with; None where its rank is not known (a starred
        size such as ``torch.empty(*shape, d)``)."""
        sizes = self._sizes_of(param)
        return None if sizes is None or any(is_starred(s) for s in sizes) else sizes

    def _sizes_of(self, param: str) -> list[str] | None:
        """The sizes as written, starred ones (``*shape``) included."""
        _, call = self.info.params[param]
        args = [a.value for a in call.args if a.keyword is None]
        if call in self.info.param_sources:  # made from a local tensor: its maker
            args = [self.info.param_sources[call]]
        try:
            return tensor_shape(args[0], self.t.imports) if args else None
        except Unsupported:
            return None

    def _refuse_subclassed(self, node: cst.CSTNode, types: set[str]) -> None:
        """``isinstance(m, nn.Linear)`` in torch also holds for a class of the file deriving
        from nn.Linear, whose Keras twin derives from a helper (TorchLinearBase) holding
        torch's weight, not from the Keras layer: refused, never silently skipped."""
        for name, info in self.t.classes.items():
            for base in info.node.bases:
                qualified = self.t.imports.qualify(base.value)
                if qualified in types:
                    self._refuse(
                        node,
                        f"this init also reaches {name}, a subclass of {qualified}, whose Keras "
                        "twin holds torch's weights under torch's names: not translated yet",
                    )

    def _refuse(self, node: cst.CSTNode, message: str, hint: str = ""):
        self.t.error(node, message, hint)
        raise Refused


def inits_a_name(
    body: cst.CSTNode, names: set[str], methods: Collection[str] = TENSOR_INIT_METHODS
) -> bool:
    """Whether ``body`` calls one of ``methods`` in place on one of ``names``
    (``w.uniform_()``, ``w.data.normal_()``)."""
    return any(
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value in methods
        and (dotted(node.func.value) or "").removesuffix(".data") in names
        for node in descendants(body)
    )
