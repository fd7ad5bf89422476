"""Tensor facts, first version: which tensors of ``forward()`` are channels-last feature maps.

The generated Keras model is channels-last: where torch holds (N, C, *spatial), Keras holds
(N, *spatial, C). This pass walks ``forward()`` of each ``nn.Module`` class on Python's ``ast``
(statements in order, plain assignments, calls of ``self.<layer>``, ``F.*``, ``torch.*`` and tensor
methods) and gives each local name a :class:`Fact`. From the facts it derives what the rewrite
needs: dims to move to their channels-last axis, layers to build channels-last (BatchNorm1d),
and the ``Linear`` layers fed a flattened map, whose kernel rows conversion permutes from torch's
(C, *spatial) order to Keras's (*spatial, C). A map reaching anything the pass does not model is
reported at its position: it never guesses.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

Key = tuple[int, int, int, int]
"""A node's source range: line, column, end line, end column (1-based lines, character
columns), as both Python's ``ast`` and LibCST can tell it."""

PLAIN, SCALAR, UNKNOWN = "plain", "scalar", "unknown"
MAP, FLAT = "channels_last", "flattened_map"
MAPS = "channels_last_maps"
"""The pieces of a map that ``chunk``/``split`` cut (bound by unpacking or indexing)."""
_TRACKED = (MAP, FLAT, MAPS)


@dataclass(frozen=True)
class Fact:
    """What is known of one value of ``forward()``.

    ``kind``: ``plain`` (the same in both frameworks: features, anything without a channel
    axis), ``scalar`` (a number: a literal, a size), ``channels_last`` (torch (N, C, *S) is
    Keras (N, *S, C)), ``flattened_map`` (torch's flatten of a map, (C, *S) order, is
    Keras's (*S, C) order) or ``unknown`` (a map went where the pass cannot follow; already
    reported).
    """

    kind: str = PLAIN
    rank: int | None = None
    channels: int | None = None
    channels_from: str | None = None
    """Module path (relative to the class) of the layer that fixed the channel count."""
    spatial: tuple[int, ...] | None = None
    """A map's static spatial sizes, where known (adaptive pooling fixes them)."""
    origin: Key | None = None
    """Of a plain tensor: the ``permute``/``transpose``/``view`` call that made it, when that
    call could instead give torch's channels-first map (``emb.permute(0, 2, 1)`` feeding a
    Conv1d; ConvNeXt's ``x.permute(0, 3, 1, 2)``). Where a map is needed, the pass is rerun
    with that call giving the map (its dims rewritten so that Keras keeps the tensor as is)."""

    @property
    def is_map(self) -> bool:
        return self.kind in (MAP, FLAT, MAPS, UNKNOWN)

    def layout(self) -> str:
        """Readable layout for reports: ``NCHW -> NHWC``, ``features``."""
        if self.kind == MAP and self.rank in (3, 4, 5):
            torch_dims = {3: "NCL", 4: "NCHW", 5: "NCDHW"}[self.rank]
            return f"{torch_dims} -> {torch_dims[0]}{torch_dims[2:]}{torch_dims[1]}"
        if self.kind == FLAT:
            return "flattened (C, *spatial) -> (*spatial, C)"
        return "as torch"


PLAIN_FACT = Fact()
SCALAR_FACT = Fact(SCALAR)
UNKNOWN_FACT = Fact(UNKNOWN)


@dataclass(frozen=True)
class FlattenedRows:
    """A Linear fed torch's flatten of a feature map: its kernel rows go from (C, *spatial)
    to (*spatial, C) order at weight transfer. ``channels`` is the static channel count, else
    conversion reads it from the live layer at ``channels_from``."""

    channels: int | None
    channels_from: str | None


@dataclass(frozen=True)
class ArgRewrite:
    """Replace one written argument of a call (positional index or keyword) with ``source``."""

    index: int | None
    keyword: str | None
    source: str


@dataclass
class ClassFacts:
    """The facts of one class, as the rewrite and conversion consume them."""

    inputs: dict[str, Fact] = field(default_factory=dict)
    output: Fact = PLAIN_FACT
    layers: dict[str, tuple[Fact, Fact]] = field(default_factory=dict)
    """Module path -> (input, output) facts, for layers on maps (verification permutes)."""
    flattened_rows: dict[str, FlattenedRows] = field(default_factory=dict)
    channels_last_layers: set[Key] = field(default_factory=set)
    """Constructor calls of layers that must be built channels-last (BatchNorm1d on (N, L, C))."""
    rewrites: dict[Key, list[ArgRewrite]] = field(default_factory=dict)
    followed: set[Key] = field(default_factory=set)
    """Constructor calls of layers the pass followed onto feature maps."""
    diagnostics: list[tuple[int, int, str, str]] = field(default_factory=list)


# Layers whose input must be a channels-last map of this rank; they keep it one.
_MAP_LAYERS = {
    **{f"torch.nn.{n}1d": 3 for n in ("MaxPool", "AvgPool", "AdaptiveAvgPool", "Dropout")},
    **{f"torch.nn.{n}1d": 3 for n in ("AdaptiveMaxPool",)},
    **{f"torch.nn.{n}2d": 4 for n in ("MaxPool", "AvgPool", "AdaptiveAvgPool", "Dropout")},
    **{f"torch.nn.{n}2d": 4 for n in ("AdaptiveMaxPool", "BatchNorm", "InstanceNorm")},
    "torch.nn.InstanceNorm1d": 3,
    **{f"torch.nn.{n}2d": 4 for n in ("UpsamplingNearest", "UpsamplingBilinear")},
    **{f"torch.nn.Pixel{n}": 4 for n in ("Shuffle", "Unshuffle")},
    **{f"torch.nn.{n}Pad1d": 3 for n in ("Zero", "Constant", "Reflection", "Replication")},
    **{f"torch.nn.{n}Pad2d": 4 for n in ("Zero", "Constant", "Reflection", "Replication")},
    "torch.nn.CircularPad1d": 3,
    "torch.nn.CircularPad2d": 4,
    "torch.nn.Upsample": None,  # a map of rank 3 or 4
}
_CONVS = {"torch.nn.Conv1d": 3, "torch.nn.Conv2d": 4}
_CONVS.update({"torch.nn.ConvTranspose1d": 3, "torch.nn.ConvTranspose2d": 4})
CHANNELS_LAST_LAYERS = frozenset(_MAP_LAYERS) | frozenset(_CONVS)
"""Layers that exist only on channels-last maps: the pass must have followed each one."""
_ELEMENTWISE_LAYERS = {
    f"torch.nn.{n}"
    for n in (
        "ReLU ReLU6 LeakyReLU ELU CELU SELU GELU SiLU Mish Sigmoid Tanh Hardtanh Hardswish "
        "Hardsigmoid Softplus Softsign Tanhshrink Softshrink Hardshrink Threshold LogSigmoid "
        "Dropout AlphaDropout Identity"
    ).split()
}
_F = "torch.nn.functional."
_ELEMENTWISE_FUNCTIONS = {
    *(
        _F + n
        for n in (
            "relu relu6 leaky_relu elu celu selu gelu silu mish sigmoid tanh softplus softsign "
            "hardtanh hardswish hardsigmoid logsigmoid tanhshrink softshrink hardshrink "
            "threshold dropout"
        ).split()
    ),
    *(
        f"torch.{n}"
        for n in (
            "relu sigmoid tanh exp log log1p sqrt rsqrt abs neg negative sign square clamp clip pow"
        ).split()
    ),
}
_ELEMENTWISE_METHODS = set(
    (
        "relu sigmoid tanh exp log log1p sqrt rsqrt abs neg negative sign square clamp clip pow "
        "contiguous clone detach float double half to type_as"
    ).split()
)
# torch.nn.functional forms that need a map of this rank (None: 3, 4 or 5); their rules
# translate only calls the pass marks ``_channels_last=True``.
MAP_FUNCTIONS = {
    **{f"{_F}{n}1d": 3 for n in ("max_pool", "avg_pool", "adaptive_avg_pool", "dropout")},
    **{f"{_F}{n}2d": 4 for n in ("max_pool", "avg_pool", "adaptive_avg_pool", "dropout")},
    f"{_F}adaptive_max_pool1d": 3,
    f"{_F}adaptive_max_pool2d": 4,
    f"{_F}interpolate": None,
    f"{_F}pad": None,
}
# (qualified function or Tensor.method) -> (dim parameter, its positional index as written)
_SOFTMAX = {
    _F + "softmax": ("dim", 1),
    _F + "log_softmax": ("dim", 1),
    "torch.softmax": ("dim", 1),
    "torch.log_softmax": ("dim", 1),
    "Tensor.softmax": ("dim", 0),
    "Tensor.log_softmax": ("dim", 0),
}
_REDUCTIONS = {
    **{f"torch.{n}": ("dim", 1) for n in ("sum", "mean", "amax", "amin")},
    **{f"Tensor.{n}": ("dim", 0) for n in ("sum", "mean", "amax", "amin")},
}


def key_of(node: ast.AST, lines: list[str]) -> Key:
    def column(line: int, offset: int) -> int:  # ast counts UTF-8 bytes, LibCST characters
        text = lines[line - 1] if line - 1 < len(lines) else ""
        return len(text.encode("utf-8")[:offset].decode("utf-8", "replace"))

    return (
        node.lineno,
        column(node.lineno, node.col_offset),
        node.end_lineno,
        column(node.end_lineno, node.end_col_offset),
    )


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _self_attr(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.attr if node.value.id == "self" else None
    return None


def _literal(node: ast.AST | None, default=None):
    if node is None:
        return default
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return default


def _argument(call: ast.Call, name: str, index: int) -> tuple[ast.AST | None, ArgRewrite]:
    """The written argument for parameter ``name`` (positional ``index``), and where it is."""
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value, ArgRewrite(None, name, "")
    if index < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args):
        return call.args[index], ArgRewrite(index, None, "")
    return None, ArgRewrite(None, name, "")


@dataclass
class _Layer:
    qualified: str
    call: ast.Call
    elements: list[_Layer | None] = field(default_factory=list)  # a Sequential's, in order


class _Analysis:
    """Facts of every ``nn.Module`` class of one file (analysed once each, on demand)."""

    def __init__(
        self,
        classes: dict[str, ast.ClassDef],
        qualify: Callable[[str], str | None],
        layer_names: set[str],
        lines: list[str],
    ) -> None:
        self.classes = classes
        self.qualify = qualify
        self.layer_names = layer_names
        self.lines = lines
        self.done: dict[str, ClassFacts] = {}

    # -- class facts

    def _layer(self, node: ast.AST) -> _Layer | None:
        if not isinstance(node, ast.Call):
            return None
        qualified = self.qualify(_dotted(node.func) or "")
        if qualified not in self.layer_names:
            return None
        found = _Layer(qualified, node)
        if qualified == "torch.nn.Sequential":
            found.elements = [self._layer(a) for a in node.args]
        return found

    def facts(self, name: str) -> ClassFacts:
        if name not in self.done:
            self.done[name] = ClassFacts()  # a class reaching itself stops here
            self.done[name] = _ClassPass(self, self.classes[name]).run()
        return self.done[name]


class _ClassPass:
    def __init__(self, analysis: _Analysis, cls: ast.ClassDef) -> None:
        self.analysis = analysis
        self.cls = cls
        self.out = ClassFacts()
        self.layers: dict[str, _Layer] = {}
        self.modules: dict[str, str] = {}  # attribute -> class of this file
        methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
        self.methods = methods
        init = methods.get("__init__")
        for node in ast.walk(init) if init else ():
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
                continue
            attr = _self_attr(node.targets[0])
            if attr is None:
                continue
            found = analysis._layer(node.value)
            if found is not None:
                self.layers[attr] = found
            elif isinstance(node.value, ast.Call) and _dotted(node.value.func) in analysis.classes:
                self.modules[attr] = _dotted(node.value.func)

    def error(self, node: ast.AST, message: str, hint: str = "") -> Fact:
        line, column = key_of(node, self.analysis.lines)[:2]
        self.out.diagnostics.append((line, column + 1, message, hint))
        return UNKNOWN_FACT

    def run(self) -> ClassFacts:
        forward = self.methods.get("forward")
        if forward is None:
            return self.out
        params = [a.arg for a in forward.args.posonlyargs + forward.args.args][1:]
        self.as_maps: set[Key] = set()
        while True:  # again while a permute/view turns out to feed a map (a few passes)
            self.out = ClassFacts()
            self.wanted: set[Key] = set()
            self.origins: dict[Key, Fact] = {}  # origin -> the map it can be
            env = {p: self._input_fact(forward, p) for p in params}
            self.out.inputs = dict(env)
            self.out.output = self._block(forward.body, env) or PLAIN_FACT
            if self.wanted <= self.as_maps:
                return self.out
            self.as_maps |= self.wanted

    def _origin(self, node: ast.Call, plain: Fact, as_map: Fact, rewrites: list) -> Fact:
        """``plain``, or ``as_map`` where this call is known to feed a map; then ``rewrites``
        (ArgRewrites with their source) make Keras keep its tensor as it is."""
        key = key_of(node, self.analysis.lines)
        if key in self.as_maps:
            for where in rewrites:
                self._rewrite(node, where, where.source)
            return as_map
        self.origins[key] = as_map
        return replace(plain, origin=key)

    def _as_map(self, fact: Fact, rank: int | None = None) -> Fact:
        """A plain tensor with an origin as the map (of ``rank``) it can be, else itself."""
        if fact.kind != PLAIN or fact.origin is None:
            return fact
        as_map = self.origins[fact.origin]
        if rank is not None and as_map.rank != rank:
            return fact
        self.wanted.add(fact.origin)
        return as_map

    def _input_fact(self, forward: ast.FunctionDef, param: str) -> Fact:
        """The layout of an input: that of the first layer applied to it."""
        calls = sorted(
            (n for n in ast.walk(forward) if isinstance(n, ast.Call)),
            key=lambda n: (n.lineno, n.col_offset),
        )
        for call in calls:
            if not (call.args and isinstance(call.args[0], ast.Name)):
                continue
            if call.args[0].id != param:
                continue
            attr = _self_attr(call.func)
            rank = MAP_FUNCTIONS.get(self.analysis.qualify(_dotted(call.func) or "") or "")
            if rank is not None:
                return Fact(MAP, rank)
            layer = self.layers.get(attr or "")
            while layer is not None and layer.qualified == "torch.nn.Sequential":
                layer = layer.elements[0] if layer.elements else None
            if layer is not None and layer.qualified in _CONVS:
                channels = _literal(layer.call.args[0] if layer.call.args else None)
                channels = channels if isinstance(channels, int) else None
                return Fact(MAP, _CONVS[layer.qualified], channels)
            if layer is not None and _MAP_LAYERS.get(layer.qualified):
                return Fact(MAP, _MAP_LAYERS[layer.qualified])
            if attr in self.modules:
                inner = self.analysis.facts(self.modules[attr]).inputs
                return next(iter(inner.values()), PLAIN_FACT)
            return PLAIN_FACT
        return PLAIN_FACT

    # -- statements

    def _block(self, body: list[ast.stmt], env: dict[str, Fact]) -> Fact | None:
        returned = None
        for stmt in body:
            if isinstance(stmt, ast.Assign):
                fact = self.expr(stmt.value, env)
                for target in stmt.targets:
                    self._bind(target, fact, env)
            elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) and stmt.value is not None:
                value = stmt.value
                if isinstance(stmt, ast.AugAssign):
                    value = ast.BinOp(stmt.target, stmt.op, stmt.value)
                    ast.copy_location(value, stmt)
                self._bind(stmt.target, self.expr(value, env), env)
            elif isinstance(stmt, ast.Return) and stmt.value is not None:
                returned = self.expr(stmt.value, env)
            elif isinstance(stmt, ast.Expr):
                self.expr(stmt.value, env)
            elif isinstance(stmt, ast.If):
                self.expr(stmt.test, env)
                branches = [dict(env), dict(env)]
                results = [
                    self._block(stmt.body, branches[0]),
                    self._block(stmt.orelse, branches[1]),
                ]
                for name in set(branches[0]) | set(branches[1]):
                    a, b = branches[0].get(name, PLAIN_FACT), branches[1].get(name, PLAIN_FACT)
                    env[name] = self._merged(stmt, name, a, b)
                returned = next((r for r in results if r is not None), returned)
            elif isinstance(stmt, (ast.For, ast.While, ast.With)):
                body = list(stmt.body) + list(getattr(stmt, "orelse", []))
                result = self._block(body, env)
                returned = result if result is not None else returned
        return returned

    def _merged(self, node: ast.If, name: str, a: Fact, b: Fact) -> Fact:
        """The fact of ``name`` after both branches of an ``if``."""
        if a == b or not (a.is_map or b.is_map):
            return a if a == b else replace(a, origin=None)
        if UNKNOWN in (a.kind, b.kind):
            return UNKNOWN_FACT
        if a.kind == b.kind and a.rank == b.rank:
            channels = a.channels if a.channels == b.channels else None
            source = a.channels_from if a.channels_from == b.channels_from else None
            spatial = a.spatial if a.spatial == b.spatial else None
            return Fact(a.kind, a.rank, channels, source, spatial)
        return self.error(node, f"{name} has another layout after each branch of this if")

    def _bind(self, target: ast.AST, fact: Fact, env: dict[str, Fact]) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = fact
        elif isinstance(target, (ast.Tuple, ast.List)):
            if fact.kind == MAPS:
                for element in target.elts:
                    self._bind(element, replace(fact, kind=MAP), env)
                return
            if fact.is_map and fact.kind != UNKNOWN:
                self.error(target, "unpacking a feature map is not translated yet")
            for element in target.elts:
                self._bind(element, UNKNOWN_FACT if fact.is_map else PLAIN_FACT, env)

    # -- expressions

    def expr(self, node: ast.AST, env: dict[str, Fact]) -> Fact:
        if isinstance(node, ast.Name):
            return env.get(node.id, PLAIN_FACT)
        if isinstance(node, ast.Constant):
            return SCALAR_FACT
        if isinstance(node, ast.Call):
            return self._call(node, env)
        if isinstance(node, ast.BinOp):
            return self._binary(node, self.expr(node.left, env), self.expr(node.right, env))
        if isinstance(node, ast.UnaryOp):
            return self.expr(node.operand, env)
        if isinstance(node, ast.Attribute):
            fact = self.expr(node.value, env)
            if fact.kind in _TRACKED and node.attr not in ("shape", "dtype", "device"):
                return self.error(
                    node, f"{node.attr} of a channels-last feature map is not tracked"
                )
            if fact.kind == MAP and node.attr == "shape":
                return self.error(
                    node,
                    "the shape of a channels-last feature map is in Keras's order",
                    "use x.size() or x.size(dim), which are translated to torch's order",
                )
            return PLAIN_FACT
        if isinstance(node, ast.Subscript):
            return self._subscript(node, env)
        facts = [self.expr(child, env) for child in ast.iter_child_nodes(node)]
        if any(f.kind in _TRACKED for f in facts if isinstance(node, ast.expr)):
            return self.error(node, "this use of a channels-last feature map is not tracked yet")
        return UNKNOWN_FACT if any(f.is_map for f in facts) else PLAIN_FACT

    def _subscript(self, node: ast.Subscript, env: dict[str, Fact]) -> Fact:
        self.expr(node.slice, env)
        value = node.value
        if isinstance(value, ast.Attribute) and value.attr == "shape":
            fact = self.expr(value.value, env)
            if fact.kind in _TRACKED and _literal(node.slice) != 0:
                return self.error(
                    node,
                    "a channels-last feature map's shape is indexed by a dim other than 0",
                    "use x.size(dim), whose dim is moved to the channels-last axis",
                )
            return SCALAR_FACT
        fact = self.expr(value, env)
        if fact.kind == MAPS and isinstance(_literal(node.slice), int):
            return replace(fact, kind=MAP)
        if fact.kind in _TRACKED:
            return self.error(node, "indexing a channels-last feature map is not translated yet")
        return UNKNOWN_FACT if fact.is_map else PLAIN_FACT

    def _binary(self, node: ast.BinOp, left: Fact, right: Fact) -> Fact:
        if not (left.is_map or right.is_map):
            return SCALAR_FACT if left == right == SCALAR_FACT else PLAIN_FACT
        if UNKNOWN in (left.kind, right.kind):
            return UNKNOWN_FACT
        if left.kind == MAP:
            right = self._as_map(right, left.rank)
        if right.kind == MAP:
            left = self._as_map(left, right.rank)
        if left.kind == right.kind == MAP and left.rank == right.rank:
            spatial = None  # broadcast: sizes of 1 take the other's
            if left.spatial is not None and right.spatial is not None:
                spatial = tuple(max(a, b) for a, b in zip(left.spatial, right.spatial, strict=True))
            channels = left if left.channels is not None else right
            return replace(channels, spatial=spatial)
        if left.is_map and right.is_map:
            if (left.kind, left.rank) == (right.kind, right.rank):
                return left if left.channels is not None else right
        if (right if left.is_map else left) == SCALAR_FACT:
            return left if left.is_map else right
        return self.error(
            node,
            "an operation between a channels-last feature map and a tensor of unknown layout "
            "is not translated yet (broadcasting would pair other axes)",
        )

    def _call(self, node: ast.Call, env: dict[str, Fact]) -> Fact:
        func = node.func
        attr = _self_attr(func)
        qualified = self.analysis.qualify(_dotted(func) or "")
        if qualified in ("torch.cat", "torch.concat"):
            return self._cat(node, env)
        args = [self.expr(a, env) for a in node.args]
        keywords = {k.arg: self.expr(k.value, env) for k in node.keywords}
        first = args[0] if args else PLAIN_FACT
        if attr is not None and attr in self.layers:
            return self._apply(node, attr, self.layers[attr], first)
        if attr is not None and attr in self.modules:
            return self._module(node, attr, first)
        if qualified is not None:
            return self._function(node, qualified, args, keywords)
        if isinstance(func, ast.Attribute) and attr is None:
            receiver = self.expr(func.value, env)
            return self._method(node, func.attr, receiver, [*args, *keywords.values()])
        inputs = [*args, *keywords.values()]
        if any(f.kind in _TRACKED for f in inputs):
            return self.error(
                node,
                "a channels-last feature map passed to a function or method the tensor facts "
                "do not follow yet",
                "apply torch layers or torch functions to feature maps directly in forward()",
            )
        return UNKNOWN_FACT if any(f.is_map for f in inputs) else PLAIN_FACT

    # -- layers

    def _apply(self, node: ast.Call, path: str, layer: _Layer, fact: Fact) -> Fact:
        if layer.qualified in CHANNELS_LAST_LAYERS:
            fact = self._as_map(fact, _CONVS.get(layer.qualified) or _MAP_LAYERS[layer.qualified])
        result = self._layer_fact(node, path, layer, fact)
        if fact.kind == MAP or result.kind == MAP:
            self.out.followed.add(key_of(layer.call, self.analysis.lines))
        if fact.is_map or result.is_map:
            previous = self.out.layers.get(path)
            if previous is not None and previous != (fact, result):
                return self.error(node, f"self.{path} is applied to tensors of different layouts")
            self.out.layers[path] = (fact, result)
        return result

    def _layer_fact(self, node: ast.Call, path: str, layer: _Layer, fact: Fact) -> Fact:
        qualified = layer.qualified
        name = qualified.rpartition(".")[2]
        if fact.kind == UNKNOWN:
            return UNKNOWN_FACT
        if qualified in _CONVS or qualified in _MAP_LAYERS:
            rank = _CONVS.get(qualified) or _MAP_LAYERS[qualified] or fact.rank
            if fact.kind != MAP or fact.rank != rank or rank not in (3, 4):
                received = (
                    f"a map of rank {fact.rank}"
                    if fact.kind == MAP
                    else "not one the tensor facts know"
                )
                return self.error(
                    node,
                    f"{name} expects a channels-last feature map of rank {rank}; its input here "
                    f"is {received}",
                    "feed it the model's input or another layer's feature map",
                )
            if qualified in _CONVS:
                channels = _literal(layer.call.args[1] if len(layer.call.args) > 1 else None)
                return Fact(MAP, rank, channels if isinstance(channels, int) else None, path)
            if "Adaptive" in qualified:
                size = _literal(_argument(layer.call, "output_size", 0)[0])
                sizes = (size,) * (rank - 2) if isinstance(size, int) else size
                if isinstance(sizes, (tuple, list)) and all(isinstance(n, int) for n in sizes):
                    return replace(fact, spatial=tuple(sizes))
            if "Pixel" in qualified:  # channels / r**2 or * r**2
                return Fact(MAP, rank)
            if any(k in qualified for k in ("Pool", "Pad", "Upsampl")):
                return replace(fact, spatial=None)
            return fact
        if qualified == "torch.nn.GroupNorm":  # on any map; on a plain tensor, its axis 1
            if fact.kind == MAP:
                self.out.channels_last_layers.add(key_of(layer.call, self.analysis.lines))
            elif fact.is_map:
                return self.error(node, "GroupNorm on this feature map is not translated")
            return fact
        if qualified == "torch.nn.BatchNorm1d":
            if fact.kind == MAP and fact.rank == 3:
                self.out.channels_last_layers.add(key_of(layer.call, self.analysis.lines))
            elif fact.is_map:
                return self.error(node, "BatchNorm1d on this feature map is not translated")
            return fact
        if qualified in _ELEMENTWISE_LAYERS:
            return fact
        if qualified == "torch.nn.PReLU" and fact.is_map:
            count = _literal(layer.call.args[0] if layer.call.args else None, 1)
            if count == 1 and not layer.call.keywords:
                return fact
        if qualified == "torch.nn.Flatten" and fact.kind == MAP:
            call = layer.call
            start = _literal(_argument(call, "start_dim", 0)[0], 1)
            end = _literal(_argument(call, "end_dim", 1)[0], -1)
            if (start, end) == (1, -1):
                return self._flattened(fact)
        if qualified == "torch.nn.Linear":
            if fact.kind == FLAT:
                self.out.flattened_rows[path] = FlattenedRows(fact.channels, fact.channels_from)
                return PLAIN_FACT
            if fact.kind == PLAIN:
                return PLAIN_FACT
        if qualified == "torch.nn.Sequential":
            for index, element in enumerate(layer.elements):
                if element is None:
                    if fact.is_map:
                        return self.error(
                            node, f"element {index} of self.{path} is not followed on a feature map"
                        )
                    continue
                fact = self._apply(node, f"{path}.{index}", element, fact)
            return fact
        if not fact.is_map:
            return PLAIN_FACT
        return self.error(
            node,
            f"{name} on a channels-last feature map is not translated yet",
            "its axes would differ from torch's",
        )

    def _module(self, node: ast.Call, path: str, fact: Fact) -> Fact:
        """A submodule of a class of this file: its own facts, under its path."""
        inner = self.analysis.facts(self.modules[path])
        expected = next(iter(inner.inputs.values()), PLAIN_FACT)
        if expected.kind == MAP:
            fact = self._as_map(fact, expected.rank)
        if fact.kind == UNKNOWN:
            return UNKNOWN_FACT
        if (fact.kind, fact.rank) != (expected.kind, expected.rank) and (
            fact.is_map or expected.is_map
        ):
            return self.error(
                node,
                f"self.{path} expects {expected.layout()} input, receives {fact.layout()}",
            )
        for inner_path, facts in inner.layers.items():
            self.out.layers[f"{path}.{inner_path}"] = facts
        for inner_path, rows in inner.flattened_rows.items():
            source = rows.channels_from
            self.out.flattened_rows[f"{path}.{inner_path}"] = FlattenedRows(
                rows.channels, f"{path}.{source}" if source else None
            )
        output = inner.output
        if output.channels_from:
            output = replace(output, channels_from=f"{path}.{output.channels_from}")
        return output

    # -- functions and methods

    def _function(self, node, qualified: str, args: list[Fact], keywords: dict) -> Fact:
        inputs = [*args, *keywords.values()]
        first = args[0] if args else keywords.get("input", PLAIN_FACT)
        if qualified in MAP_FUNCTIONS:
            return self._map_function(node, qualified, first)
        if not any(f.is_map for f in inputs):
            if qualified in ("torch.permute", "torch.transpose", "torch.swapaxes"):
                return self._permute(node, qualified.rpartition(".")[2], first, 1)
            if qualified in _ELEMENTWISE_FUNCTIONS and first.origin is not None:
                return first if all(f.kind == SCALAR for f in inputs[1:]) else PLAIN_FACT
            if qualified in _REDUCTIONS and len(node.args) == 1 and not node.keywords:
                return SCALAR_FACT
            return PLAIN_FACT
        if any(f.kind == UNKNOWN for f in inputs):
            return UNKNOWN_FACT
        if qualified in _ELEMENTWISE_FUNCTIONS:
            if all(f == SCALAR_FACT or f == first for f in inputs[1:]):
                return first
        if qualified in _SOFTMAX and first.kind == MAP:
            return self._softmax(node, _SOFTMAX[qualified], first)
        if qualified in _REDUCTIONS and first.kind == MAP:
            return self._reduce(node, _REDUCTIONS[qualified], first)
        if qualified == "torch.flatten" and first.kind == MAP:
            return self._flatten(node, first, 1)
        if qualified in ("torch.permute", "torch.transpose", "torch.swapaxes") and first.is_map:
            return self._permute(node, qualified.rpartition(".")[2], first, 1)
        if qualified in ("torch.chunk", "torch.split") and first.kind == MAP:
            return self._pieces(node, first, 2)
        return self.error(
            node,
            f"{qualified} on a channels-last feature map is not translated yet",
            "its axes would differ from torch's",
        )

    def _map_function(self, node: ast.Call, qualified: str, fact: Fact) -> Fact:
        """An F.* form of a map layer: marked for its rule, which refuses unmarked calls."""
        rank = MAP_FUNCTIONS[qualified]
        name = qualified.rpartition(".")[2]
        if name != "pad":  # F.pad pads a plain tensor as written
            fact = self._as_map(fact, rank)
        if fact.kind == UNKNOWN:
            return UNKNOWN_FACT
        if name == "pad" and not fact.is_map:
            return PLAIN_FACT  # torch's own axes: the rule pads as written
        if fact.kind != MAP or (rank is not None and fact.rank != rank):
            return self.error(
                node,
                f"F.{name} expects a channels-last feature map"
                + (f" of rank {rank}" if rank else "")
                + "; its input here is "
                + (f"a map of rank {fact.rank}" if fact.kind == MAP else "not one"),
                "feed it a conv's or pooling layer's output",
            )
        self._rewrite(node, ArgRewrite(None, "_channels_last", ""), "True")
        if name.startswith("adaptive"):
            size = _literal(_argument(node, "output_size", 1)[0])
            sizes = (size,) * (fact.rank - 2) if isinstance(size, int) else size
            if isinstance(sizes, (tuple, list)) and all(isinstance(n, int) for n in sizes):
                return replace(fact, spatial=tuple(sizes))
        if name.startswith("dropout"):
            return fact
        return replace(fact, spatial=None)

    def _method(self, node: ast.Call, name: str, receiver: Fact, args: list[Fact]) -> Fact:
        ranks = {a.rank for a in args if a.kind == MAP}
        if len(ranks) == 1:  # s.view(b, c, 1, 1).expand_as(x)
            receiver = self._as_map(receiver, *ranks)
        if not (receiver.is_map or any(a.is_map for a in args)):
            if receiver.kind != PLAIN:
                return PLAIN_FACT
            if name in ("permute", "transpose", "swapaxes"):
                return self._permute(node, name, receiver, 0)
            if name in ("view", "reshape"):
                return self._view_as_map(node)
            if name in _ELEMENTWISE_METHODS and receiver.origin is not None:
                return receiver
            if f"Tensor.{name}" in _REDUCTIONS and not (node.args or node.keywords):
                return SCALAR_FACT  # a 0-d tensor broadcasts in any layout
            return PLAIN_FACT
        if receiver.kind == UNKNOWN or any(a.kind == UNKNOWN for a in args):
            return UNKNOWN_FACT
        if name in _ELEMENTWISE_METHODS and all(not a.is_map for a in args):
            return receiver
        key = f"Tensor.{name}"
        if receiver.kind == MAP:
            if key in _SOFTMAX:
                return self._softmax(node, _SOFTMAX[key], receiver)
            if key in _REDUCTIONS:
                return self._reduce(node, _REDUCTIONS[key], receiver)
            if name == "flatten":
                return self._flatten(node, receiver, 0)
            if name == "size":
                return self._size(node, receiver)
            if name in ("view", "reshape") and self._is_batch_flatten(node):
                return self._flattened(receiver)
            if name in ("view", "reshape") and receiver.spatial and set(receiver.spatial) == {1}:
                return PLAIN_FACT  # (N, C, 1, 1): the same order in both layouts
            if name in ("permute", "transpose", "swapaxes"):
                return self._permute(node, name, receiver, 0)
            if name in ("chunk", "split"):
                return self._pieces(node, receiver, 1)
            if name in ("expand_as", "type_as") and args and args[0].kind == MAP:
                if args[0].rank == receiver.rank:
                    return args[0] if name == "expand_as" else receiver
        if receiver.kind == FLAT and name == "size":
            dim, _ = _argument(node, "dim", 0)
            if _literal(dim) in (0, 1, -1):
                return SCALAR_FACT
        hint = "its axes would differ from torch's"
        if name in ("view", "reshape"):
            hint = "flatten a feature map with torch.flatten(x, 1) or x.view(x.size(0), -1)"
        return self.error(
            node, f"Tensor.{name}() on a channels-last feature map is not translated yet", hint
        )

    def _rewrite(self, node: ast.Call, where: ArgRewrite, source: str) -> None:
        key = key_of(node, self.analysis.lines)
        self.out.rewrites.setdefault(key, []).append(replace(where, source=source))

    def _moved(self, dim: object, rank: int) -> int | None:
        """torch's dim on (N, C, *S) -> the Keras axis on (N, *S, C)."""
        if not isinstance(dim, int) or isinstance(dim, bool) or not -rank <= dim < rank:
            return None
        dim %= rank
        return 0 if dim == 0 else rank - 1 if dim == 1 else dim - 1

    def _softmax(self, node: ast.Call, param: tuple[str, int], fact: Fact) -> Fact:
        value, where = _argument(node, *param)
        axis = self._moved(_literal(value), fact.rank)
        if axis is None:
            return self.error(node, "softmax over a feature map needs a literal dim")
        self._rewrite(node, where, repr(axis))
        return fact

    def _reduce(self, node: ast.Call, param: tuple[str, int], fact: Fact) -> Fact:
        value, where = _argument(node, *param)
        dims = _literal(value, "unknown")
        keepdim = _literal(_argument(node, "keepdim", param[1] + 1)[0], False)
        if value is None:
            return SCALAR_FACT  # a reduction to a 0-d tensor: it broadcasts in any layout
        many = isinstance(dims, (tuple, list))
        axes = [self._moved(d, fact.rank) for d in (dims if many else [dims])]
        if None in axes or not isinstance(keepdim, bool):
            return self.error(node, "a reduction over a feature map needs literal dims and keepdim")
        self._rewrite(node, where, repr(type(dims)(axes) if many else axes[0]))
        torch_dims = {d % fact.rank for d in (dims if many else [dims])}
        if keepdim:
            spatial = set(range(2, fact.rank))
            return replace(fact, spatial=(1,) * len(spatial)) if torch_dims == spatial else fact
        rank = fact.rank - len(torch_dims)
        if 1 in torch_dims or rank <= 2:
            return PLAIN_FACT  # no channel axis left, or (N, C): the same in both
        return Fact(MAP, rank, fact.channels, fact.channels_from)

    def _flatten(self, node: ast.Call, fact: Fact, index: int) -> Fact:
        start = _literal(_argument(node, "start_dim", index)[0], 0)
        end = _literal(_argument(node, "end_dim", index + 1)[0], -1)
        if start == 1 and end in (-1, fact.rank - 1):
            return self._flattened(fact)
        if start == 2 and end in (-1, fact.rank - 1) and fact.rank >= 4:
            # (N, C, H*W...): Keras merges its spatial axes 1.. -2 and keeps C last
            self._rewrite(node, _argument(node, "start_dim", index)[1], "1")
            self._rewrite(node, _argument(node, "end_dim", index + 1)[1], "-2")
            spatial = fact.spatial
            merged = None if spatial is None else (math.prod(spatial),)
            return replace(fact, rank=3, spatial=merged)
        return self.error(
            node,
            "only flatten(x, 1) and flatten(x, 2) of a feature map are translated yet",
            "flatten from dim 1 or 2 to the end",
        )

    def _size(self, node: ast.Call, fact: Fact) -> Fact:
        value, where = _argument(node, "dim", 0)
        if value is None:  # all sizes, in torch's order (N, C, *spatial)
            self._rewrite(node, ArgRewrite(None, "_channels_last", ""), "True")
            return PLAIN_FACT
        axis = self._moved(_literal(value), fact.rank)
        if axis is None:
            return self.error(
                node, "x.size() of a feature map needs a literal dim (its axes are reordered)"
            )
        if axis != _literal(value):
            self._rewrite(node, where, repr(axis))
        return SCALAR_FACT

    @staticmethod
    def _flattened(fact: Fact) -> Fact:
        """torch's flatten from dim 1 of a map: (C, *S) order, unless every size in S is 1."""
        if fact.spatial is not None and set(fact.spatial) == {1}:
            return PLAIN_FACT
        return Fact(FLAT, 2, fact.channels, fact.channels_from)

    def _is_batch_flatten(self, node: ast.Call) -> bool:
        """``x.view(x.size(0), -1)`` / ``x.reshape(x.shape[0], -1)``."""
        receiver = ast.dump(node.func.value)
        if len(node.args) != 2 or node.keywords or _literal(node.args[1]) != -1:
            return False
        batch = node.args[0]
        if isinstance(batch, ast.Call) and isinstance(batch.func, ast.Attribute):
            return (
                batch.func.attr == "size"
                and ast.dump(batch.func.value) == receiver
                and [_literal(a) for a in batch.args] == [0]
            )
        if isinstance(batch, ast.Subscript) and isinstance(batch.value, ast.Attribute):
            return (
                batch.value.attr == "shape"
                and ast.dump(batch.value.value) == receiver
                and _literal(batch.slice) == 0
            )
        return False

    def _dims(self, node: ast.Call, name: str, offset: int, rank: int | None):
        """(torch's full permutation, where the dims are written) of a permute/transpose call;
        None when not literal."""
        args = node.args[offset:]
        if name == "permute":
            if node.keywords or not args:
                return None
            many = len(args) == 1 and isinstance(args[0], (ast.Tuple, ast.List))
            dims = _literal(args[0]) if many else [_literal(a) for a in args]
            if not isinstance(dims, (tuple, list)) or not all(isinstance(d, int) for d in dims):
                return None
            rank = len(dims)
            if not all(-rank <= d < rank for d in dims):
                return None
            return [d % rank for d in dims], ("one", type(dims)) if many else ("each", None)
        if node.keywords or len(args) != 2:
            return None
        pair = [_literal(a) for a in args]
        rank = rank or 3  # an unknown plain rank: what a Conv1d needs, which checks it
        if not all(isinstance(d, int) and -rank <= d < rank for d in pair):
            return None
        perm = list(range(rank))
        a, b = (d % rank for d in pair)
        perm[a], perm[b] = perm[b], perm[a]
        return perm, ("pair", None)

    def _written(self, node: ast.Call, offset: int, form, keras: list[int]) -> list[ArgRewrite]:
        """ArgRewrites writing the Keras permutation ``keras`` in the call's own form."""
        how, kind = form
        if how == "one":
            return [ArgRewrite(offset, None, repr(kind(keras)))]
        if how == "each":
            return [ArgRewrite(offset + i, None, repr(d)) for i, d in enumerate(keras)]
        moved = [i for i, d in enumerate(keras) if d != i]
        if not moved:
            pair = [1, 1]  # transpose(d, d) is the identity in torch too
        elif len(moved) == 2 and keras[moved[0]] == moved[1]:
            pair = moved
        else:
            return []
        return [ArgRewrite(offset + i, None, repr(d)) for i, d in enumerate(pair)]

    def _permute(self, node: ast.Call, name: str, fact: Fact, offset: int) -> Fact:
        """permute/transpose: of a map into torch's channels-last (N, *S, C) it is Keras's
        tensor as is (a plain tensor); back, a plain tensor can be the map again."""
        name = "transpose" if name == "swapaxes" else name
        found = self._dims(node, name, offset, fact.rank)
        if fact.kind == UNKNOWN:
            return UNKNOWN_FACT
        if found is None:
            if fact.kind == PLAIN:
                return PLAIN_FACT
            return self.error(node, f"{name} of a feature map needs literal dims")
        perm, form = found
        rank = len(perm)
        if fact.kind == PLAIN:
            if fact.rank not in (None, rank) or rank < 3:
                return PLAIN_FACT
            # as a map, Keras axis j holds torch's output dim order[j]
            order = [0, *range(2, rank), 1]
            rewrites = self._written(node, offset, form, [perm[t] for t in order])
            if not rewrites:
                return PLAIN_FACT
            as_map = Fact(MAP, rank, fact.channels, fact.channels_from)
            return self._origin(node, PLAIN_FACT, as_map, rewrites)
        if fact.kind != MAP or fact.rank != rank:
            return self.error(node, f"{name} of a feature map of another rank than its dims")
        if perm[1] == 1:  # channels stay: a map with its spatial axes reordered
            keras = [0, *(self._moved(perm[t], rank) for t in range(2, rank)), rank - 1]
            spatial = fact.spatial
            if spatial is not None:
                spatial = tuple(spatial[perm[t] - 2] for t in range(2, rank))
            result = replace(fact, spatial=spatial)
        else:  # a plain tensor in torch's order
            keras = [self._moved(p, rank) for p in perm]
            result = Fact(PLAIN, rank, fact.channels, fact.channels_from)
        rewrites = self._written(node, offset, form, keras)
        if not rewrites:
            return self.error(
                node,
                f"this {name} of a feature map is not one swap in Keras's layout",
                "write it as x.permute(...)",
            )
        for where in rewrites:
            self._rewrite(node, where, where.source)
        return result

    def _view_as_map(self, node: ast.Call) -> Fact:
        """``s.view(b, c, 1, 1)`` of a plain tensor: the map (b, 1, 1, c) in Keras."""
        args = node.args
        if node.keywords or len(args) < 3 or any(isinstance(a, ast.Starred) for a in args):
            return PLAIN_FACT
        if any(_literal(a) != 1 for a in args[2:]):
            return PLAIN_FACT
        channels = args[1]
        if isinstance(channels, ast.Name):
            text = channels.id
        elif isinstance(_literal(channels), int):
            text = repr(_literal(channels))
        else:
            return PLAIN_FACT  # its source as written may not be TensorFlow's
        count = _literal(channels)
        rank = len(args)
        as_map = Fact(MAP, rank, count if isinstance(count, int) else None, None, (1,) * (rank - 2))
        rewrites = [ArgRewrite(1, None, "1"), ArgRewrite(rank - 1, None, text)]
        return self._origin(node, PLAIN_FACT, as_map, rewrites)

    def _pieces(self, node: ast.Call, fact: Fact, index: int) -> Fact:
        """chunk/split of a map along a literal dim: its pieces, maps of the same rank."""
        value, where = _argument(node, "dim", index)
        dim = 0 if value is None else _literal(value)
        axis = self._moved(dim, fact.rank)
        if axis is None:
            return self.error(node, "chunk/split of a feature map needs a literal dim")
        if axis != dim:
            self._rewrite(node, where, repr(axis))
        if axis == fact.rank - 1:
            return replace(fact, kind=MAPS, channels=None, channels_from=None)
        return replace(fact, kind=MAPS, spatial=None)

    def _cat(self, node: ast.Call, env: dict[str, Fact]) -> Fact:
        tensors = node.args[0] if node.args else None
        if not isinstance(tensors, (ast.List, ast.Tuple)):
            return self._function(node, "torch.cat", [self.expr(a, env) for a in node.args], {})
        facts = [self.expr(t, env) for t in tensors.elts]
        ranks = {f.rank for f in facts if f.kind == MAP}
        if len(ranks) == 1:
            facts = [self._as_map(f, *ranks) for f in facts]
        if not any(f.is_map for f in facts):
            return PLAIN_FACT
        if any(f.kind == UNKNOWN for f in facts):
            return UNKNOWN_FACT
        first = facts[0]
        value, where = _argument(node, "dim", 1)
        axis = self._moved(0 if value is None else _literal(value), first.rank or 0)
        if first.kind != MAP or any((f.kind, f.rank) != (MAP, first.rank) for f in facts):
            return self.error(node, "torch.cat of a feature map with other tensors")
        if axis is None:
            return self.error(node, "torch.cat of feature maps needs a literal dim")
        self._rewrite(node, where, repr(axis))
        channels = [f.channels for f in facts]
        if axis == first.rank - 1:  # along channels: their sum
            total = sum(channels) if None not in channels else None
            return Fact(MAP, first.rank, total, None)
        return first


def analyse(
    tree: ast.Module,
    source: str,
    qualify: Callable[[str], str | None],
    layer_names: set[str],
    class_names: set[str],
) -> dict[str, ClassFacts]:
    """The facts of every ``nn.Module`` class of a file, by class name."""
    classes = {
        n.name: n for n in tree.body if isinstance(n, ast.ClassDef) and n.name in class_names
    }
    analysis = _Analysis(classes, qualify, layer_names, source.splitlines())
    return {name: analysis.facts(name) for name in classes}
