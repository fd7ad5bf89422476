"""The pass over ``forward()`` of each ``nn.Module`` class of a file, on demand."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import replace

from torch2tf.tensor_facts.added_modules import added_modules
from torch2tf.tensor_facts.attributes import setattr_calls
from torch2tf.tensor_facts.axes import Axes
from torch2tf.tensor_facts.builders import ALTERNATIVES, MODULE, Builders, _Layer
from torch2tf.tensor_facts.calls import Calls
from torch2tf.tensor_facts.channel_parameters import channel_parameters
from torch2tf.tensor_facts.einops_calls import EinopsCalls
from torch2tf.tensor_facts.layers import Layers
from torch2tf.tensor_facts.live import never_holds
from torch2tf.tensor_facts.live_built import live_element
from torch2tf.tensor_facts.per_sample import PerSample
from torch2tf.tensor_facts.project import project_class
from torch2tf.tensor_facts.records import (
    MAP,
    PLAIN,
    PLAIN_FACT,
    UNKNOWN_FACT,
    ArgRewrite,
    ClassFacts,
    Fact,
    Key,
)
from torch2tf.tensor_facts.source_reads import (
    _NOT_DECIDING,
    _calls_parameter,
    _held,
    _held_classes,
    _holding,
    _module_parameters,
    _other_file_base,
    _unpacked,
)
from torch2tf.tensor_facts.syntax import _dotted, _literal, _self_attr, joined, key_of
from torch2tf.tensor_facts.tables import (
    _CONVS,
    _MAP_LAYERS,
    BATCH_NORM_RANKS,
    MAP_FUNCTIONS,
)
from torch2tf.tensor_facts.walk import Walk

_RUNNING: set[tuple[str, int, int]] = set()  # the classes whose facts are being read


class _Analysis(Builders):
    """Facts of every ``nn.Module`` class of one file (analysed once each, on demand)."""

    def __init__(
        self,
        classes: dict[str, ast.ClassDef],
        qualify: Callable[..., str | None],
        layer_names: set[str],
        lines: list[str],
        functions: dict[str, ast.FunctionDef] | None = None,
    ) -> None:
        self.classes = classes
        self.qualify = qualify  # type: ignore[method-assign]
        self.layer_names = layer_names
        self.lines = lines
        self.functions = functions or {}
        # function -> call -> (kind, rank) of each argument, as each call passes them
        self.function_layouts: dict[str, dict[Key, tuple]] = {}
        self.given = {}
        self.given_held = {}
        self.done: dict[str, ClassFacts] = {}
        self.done_given: dict[tuple, ClassFacts] = {}
        self.variants: dict[tuple[str, Fact], ClassFacts] = {}

    # -- class facts

    def facts(self, name: str) -> ClassFacts:
        if name not in self.classes:  # a class of another file of the project (qualified)
            found = project_class(name)
            return found[0].facts(found[1]) if found is not None else ClassFacts()
        if name not in self.done:
            self.done[name] = ClassFacts()  # a class reaching itself stops here
            key = self._running_key(name)
            _RUNNING.add(key)
            try:
                self.done[name] = _ClassPass(self, self.classes[name]).run()
            finally:
                _RUNNING.discard(key)
        return self.done[name]

    def is_running(self, name: str) -> bool:
        """Whether the facts of ``name`` are being read: a module of its class inside itself
        (a U-Net's skip block holding the next one), taken like a module passed in."""
        if name not in self.classes:
            found = project_class(name)
            return found is not None and found[0].is_running(found[1])
        return self._running_key(name) in _RUNNING

    def _running_key(self, name: str) -> tuple[str, int, int]:
        # one class read by each file's analysis (its own, another file's): by where it is
        return (name, self.classes[name].lineno, len(self.lines))

    def facts_given(self, name: str, given: Fact) -> ClassFacts:
        """The facts of ``name`` with its first input ``given`` (a list of maps where its
        own use takes a map); what they rewrite is added to the class's own facts."""
        own = self.facts(name)
        if name not in self.classes:
            return own
        key = (name, given.kind, given.rank)
        if key not in self.done_given:
            self.done_given[key] = ClassFacts()  # a class reaching itself stops here
            found = _ClassPass(self, self.classes[name], given).run()
            self.done_given[key] = found
            for source, target in ((found, own),):
                for where, rewrites in source.rewrites.items():
                    target.rewrites.setdefault(where, rewrites)
                target.slices.update({k: v for k, v in source.slices.items()})
                target.replaced.update(source.replaced)
                target.followed |= source.followed
                target.channels_last_layers |= source.channels_last_layers
                target.diagnostics.extend(
                    d for d in source.diagnostics if d not in target.diagnostics
                )
        return self.done_given[key]

    def layout_free(self, name: str, fact: Fact) -> ClassFacts | None:
        """The facts of the class ``name`` given ``fact`` (a map) where its own input is as
        torch's: when nothing in it depends on the layout (stochastic depth, an elementwise
        activation), so that one translation serves both; None otherwise."""
        if name not in self.classes:
            found = project_class(name)
            return found[0].layout_free(found[1], fact) if found is not None else None
        plain = self.facts(name)
        if (name, fact) not in self.variants:
            self.variants[(name, fact)] = ClassFacts()  # a class reaching itself stops here
            self.variants[(name, fact)] = _ClassPass(self, self.classes[name], fact).run()
        given = self.variants[(name, fact)]
        changed = [
            (f.rewrites, f.slices, f.replaced, f.channels_last_layers, f.flattened_rows)
            for f in (plain, given)
        ]
        if given.diagnostics or plain.diagnostics or any(any(c) for c in changed):
            return None
        return given if given.followed <= plain.followed and given.inputs else None


class _ClassPass(Walk, Layers, Calls, Axes, EinopsCalls, PerSample):
    def __init__(self, analysis: _Analysis, cls: ast.ClassDef, given: Fact | None = None) -> None:
        self.analysis = analysis
        self.given_input = given  # the first input's fact, where a caller's decides it
        self.cls = cls
        self.out = ClassFacts()
        self.layers: dict[str, _Layer] = {}
        self.modules: dict[str, str] = {}  # attribute -> class of this file
        methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
        self.methods = methods
        self.inlined: set[int] = set()  # methods being walked (called from forward)
        init = methods.get("__init__")
        self.channel_parameters = channel_parameters(init, analysis.qualify)
        self.channel_keys: set[Key] = set()  # their uses in forward (origins of maps)
        self.picked: dict[Key, int] = {}  # x[:, k] of a map -> the map's rank
        passed = _module_parameters(init) if init else set()
        built: dict[str, list[_Layer]] = {}
        for node in ast.walk(init) if init else ():
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
                continue
            for attr in _unpacked(node.targets[0], cls.name):  # self.a, self.b = f(...)
                built.setdefault(attr[0], []).append(_Layer(MODULE, node.value, classes=attr[1:]))
            attr = _self_attr(node.targets[0])
            if attr is None:
                continue
            found = analysis.built(node.value, init, cls)
            if found is None and _calls_parameter(node.value, init):
                # a layer class passed in (activation()): taken, like a module passed in,
                # to keep a map's layout, which verification checks per layer
                found = _Layer(MODULE, node.value)
            if found is None and isinstance(node.value, ast.Name) and node.value.id in passed:
                given = list(analysis.given.get((cls.name, node.value.id), {}).values())
                # a module passed in: the one layer its callers build, if that is known
                found = given[0] if len(given) == 1 else _Layer(MODULE, node.value)
            if found is None and isinstance(node.value, (ast.Call, ast.Name)):  # Conv[..](..)
                found = live_element(cls.name, attr, [], node.value, frozenset(analysis.classes))
            if found is not None:
                built.setdefault(attr, []).append(found)
        for call, names in setattr_calls(init) if init else ():
            found = analysis.built(call.args[2], init, cls)
            for attr in names or () if found is not None else ():
                built.setdefault(attr, []).append(found)
        for attr, found_all in built.items():
            if len(found_all) > 1:  # assigned in each branch of an if: each one's facts
                self.layers[attr] = _Layer(ALTERNATIVES, found_all[0].call, list(found_all))
                continue
            found = found_all[0]
            if found.qualified == MODULE and len(found.classes) == 1:
                self.modules[attr] = found.classes[0]
            else:
                self.layers[attr] = found
        self.entries: list[tuple[str, _Layer | None]] = []  # modules added to self, by key
        for owner, key, value in added_modules(init) if init else ():
            added = analysis.added(value, init, cls)
            if owner is None:
                self.entries.append((key, added))
            elif owner in self.layers and self.layers[owner].qualified == "torch.nn.Sequential":
                self.layers[owner].add(key, added)
        self.loop_layers: dict[str, tuple[str, _Layer | None]] = {}
        self.local_functions: dict[str, ast.FunctionDef] = {}

    def error(self, node: ast.AST, message: str, hint: str = "") -> Fact:
        line, column = key_of(node, self.analysis.lines)[:2]
        self.out.diagnostics.append((line, column + 1, message, hint))
        return UNKNOWN_FACT

    def run(self) -> ClassFacts:
        forward = self.methods.get("forward")
        attributes = {a: _held(layer) for a, layer in self.layers.items()}
        if forward is None:
            self.out.attribute_layers = attributes
            layers = self.analysis.sequential_layers(self.cls)
            if layers is not None:  # a Sequential subclass: its layers in order
                self.out.inputs = {"input": self._layer_input(layers)}
                self.out.output = self._elements(layers, self.out.inputs["input"])
            base = _other_file_base(self.cls, self.analysis.qualify)
            if layers is None and base is not None:  # SimpleStemIN(Conv2dNormActivation)
                inner = self.analysis.facts(base)
                self.out.inputs, self.out.output = dict(inner.inputs), inner.output
                self.out.layers = dict(inner.layers)
            return self.out
        params = [a.arg for a in forward.args.posonlyargs + forward.args.args][1:]
        self.as_maps: set[Key] = set()
        self.map_ranks: dict[Key, int] = {}  # of origins that can be a map of any rank
        while True:  # again while a permute/view turns out to feed a map (a few passes)
            self.out = ClassFacts()
            self.sizes: dict[str, tuple[str, int]] = {}  # name -> (map, dim) of x.size()
            self.wanted: set[Key] = set()
            self.origins: dict[Key, Fact] = {}  # origin -> the map it can be
            env = {p: self._input_fact(forward, p) for p in params}
            if self.given_input is not None and params:
                env[params[0]] = self.given_input
            self.out.inputs = dict(env)
            self.out.output = self._block(forward.body, env) or PLAIN_FACT
            if any(f.kind == MAP for f in self.out.inputs.values()):
                # a map in, a permute back out (ConvNeXt's LayerNorm2d): the map, as it came
                self.out.output = self._as_map(self.out.output)
            if self.wanted <= self.as_maps:
                self.out.attribute_layers = attributes
                return self.out
            self.as_maps |= self.wanted

    def _origin(self, node: ast.Call, plain: Fact, as_map: Fact, rewrites: list) -> Fact:
        """``plain``, or ``as_map`` where this call is known to feed a map; then ``rewrites``
        (ArgRewrites with their source) make Keras keep its tensor as it is."""
        key = key_of(node, self.analysis.lines)
        if key in self.as_maps:
            for where in rewrites:
                self._rewrite(node, where, where.source)
            return replace(as_map, rank=self.map_ranks.get(key, as_map.rank))
        self.origins[key] = as_map
        return replace(plain, origin=key)

    def _as_map(self, fact: Fact, rank: int | None = None) -> Fact:
        """A plain tensor with an origin as the map (of ``rank``) it can be, else itself."""
        if fact.kind != PLAIN or fact.origin is None:
            return fact
        as_map = self.origins[fact.origin]
        if as_map.rank is None and rank is not None:  # a map of any rank: of this one
            self.map_ranks[fact.origin] = rank
            as_map = replace(as_map, rank=rank)
        if rank is not None and as_map.rank != rank:
            return fact
        self.wanted.add(fact.origin)
        return as_map

    def _is_input(self, node: ast.Call) -> bool:
        """Whether ``node`` applies a module to an input of ``forward`` as it came in."""
        arg = node.args[0] if len(node.args) == 1 and not node.keywords else None
        return isinstance(arg, ast.Name) and arg.id in self.out.inputs

    def _input_fact(self, forward: ast.FunctionDef, param: str) -> Fact:
        """The layout of an input: that of the first layer applied to it."""
        for base in self.cls.bases:  # a BatchNorm2d subclass (timm's BatchNormAct2d): a map
            rank = BATCH_NORM_RANKS.get(self.analysis.qualify(_dotted(base) or "", base) or "")
            if rank is not None and param == forward.args.args[1].arg:
                return Fact(MAP, rank)
        found = self._input_use(forward, param)
        return PLAIN_FACT if found is None else found

    def _input_use(self, func: ast.FunctionDef, param: str) -> Fact | None:
        """The layout the first call deciding one takes ``param`` (or a name holding it, a
        list of it, a ``torch.cat`` of those) in; None when no call decides."""
        names = {param, *_holding(func, param, self.analysis.qualify)}
        calls = sorted(
            (n for n in ast.walk(func) if isinstance(n, ast.Call)),
            key=lambda n: (n.lineno, n.col_offset),
        )
        uses = [
            (n.lineno, n.col_offset)
            for n in ast.walk(func)
            if isinstance(n, ast.Name) and n.id == param and isinstance(n.ctx, ast.Load)
        ]
        first_use = min(uses, default=None)
        for call in calls:
            rank = self._channels_last_permute(call, param, first_use)
            if rank is not None:  # ConvNeXt's x.permute(0, 2, 3, 1): a map's channels last
                return Fact(MAP, rank)
            first = joined(call.args[0], names, self.analysis.qualify) if call.args else None
            if not (isinstance(first, ast.Name) and first.id in names):
                continue
            qualified = self.analysis.qualify(_dotted(call.func) or "", call.func) or ""
            if _dotted(call.func) in ("isinstance", "len") or qualified in _NOT_DECIDING:
                continue  # decides nothing, or followed through the name it is assigned
            attr = _self_attr(call.func)
            if attr in self.methods and attr not in self.layers and attr not in self.modules:
                params = [a.arg for a in self.methods[attr].args.args][1:]
                if params and id(self.methods[attr]) not in self.inlined:
                    self.inlined.add(id(self.methods[attr]))
                    try:
                        found = self._input_use(self.methods[attr], params[0])
                    finally:
                        self.inlined.discard(id(self.methods[attr]))
                    if found is not None:
                        return found
                continue
            rank = MAP_FUNCTIONS.get(qualified)
            if rank is not None:
                return Fact(MAP, rank)
            layer = self.layers.get(attr or "")
            loops = [f for f in ast.walk(func) if isinstance(f, ast.For)]
            bound = {found[0] for f in loops if (found := self._loop_layer(f)) is not None}
            if isinstance(call.func, ast.Name) and call.func.id in bound:  # self.items()
                layers = {id(entry) for _, entry in self.entries}
                layer = self.entries[0][1] if len(layers) == 1 else None
                if layer is not None:
                    return self._layer_input(layer)
            key = key_of(call, self.analysis.lines)
            if layer is not None and layer.qualified == MODULE and key in self.map_ranks:
                if key in self.as_maps:  # a module passed in, found to take a map
                    return Fact(MAP, self.map_ranks[key])
            if layer is not None:
                return self._layer_input(layer)
            if attr and attr not in self.modules and never_holds(self.cls.name, attr):
                continue  # a layer the live model never built (timm's ``self.conv_s2d = None``)
            if attr in self.modules:
                inner = self.analysis.facts(self.modules[attr]).inputs
                return next(iter(inner.values()), PLAIN_FACT)
            return PLAIN_FACT
        return None

    def _channels_last_permute(self, call: ast.Call, param: str, first_use) -> int | None:
        """The rank of a map that ``param.permute(0, 2, ..., 1)``, the input's first use,
        moves into torch's channels-last order (Keras's own: the permute is then the
        identity). A permute after other uses (Autoformer's padding along time, then
        ``x.permute(0, 2, 1)`` for a pool) is not this idiom."""
        func = call.func
        if not (
            isinstance(func, ast.Attribute)
            and func.attr == "permute"
            and isinstance(func.value, ast.Name)
            and func.value.id == param
            and (func.value.lineno, func.value.col_offset) == first_use
        ):
            return None
        found = self._dims(call, "permute", 0, None)
        if found is None:
            return None
        perm = found[0]
        rank = len(perm)
        return rank if rank >= 3 and perm == [0, *range(2, rank), 1] else None

    def _layer_input(self, layer: _Layer | None) -> Fact:
        """The layout ``layer`` takes: that of its first layer, for a Sequential (of the
        first branch's layer that takes a map, for one assigned in each branch of an if)."""
        if layer is not None and layer.qualified == ALTERNATIVES:
            taken = [self._layer_input(e) for e in layer.elements]
            return next((f for f in taken if f.kind == MAP), taken[0])
        if layer is not None and layer.qualified == "torch.nn.Sequential":
            return self._layer_input(layer.elements[0] if layer.elements else None)
        if layer is not None and layer.qualified == MODULE and layer.classes:
            inner = self.analysis.facts(layer.classes[0]).inputs
            return next(iter(inner.values()), PLAIN_FACT)
        if layer is not None and layer.qualified in _CONVS:
            channels = _literal(layer.call.args[0] if layer.call.args else None)
            channels = channels if isinstance(channels, int) else None
            return Fact(MAP, _CONVS[layer.qualified], channels)
        if layer is not None and _MAP_LAYERS.get(layer.qualified):
            return Fact(MAP, _MAP_LAYERS[layer.qualified])
        return PLAIN_FACT

    def _elements(self, layers: _Layer, fact: Fact) -> Fact:
        """A Sequential subclass applied to ``fact``: its layers under their indices (``*``
        for those of a list built in steps)."""
        for index, element in enumerate(layers.elements):
            path = "*" if layers.repeated else layers.path_of(index)
            if element is None:
                return self.error(layers.call, f"layer {path} is not followed on a feature map")
            fact = self._apply(layers.call, path, element, fact)
        return fact

    def _rewrite(self, node: ast.Call, where: ArgRewrite, source: str) -> None:
        key = key_of(node, self.analysis.lines)
        self.out.rewrites.setdefault(key, []).append(replace(where, source=source))

    def _moved(self, dim: object, rank: int) -> int | None:
        """torch's dim on (N, C, *S) -> the Keras axis on (N, *S, C)."""
        if not isinstance(dim, int) or isinstance(dim, bool) or not -rank <= dim < rank:
            return None
        dim %= rank
        return 0 if dim == 0 else rank - 1 if dim == 1 else dim - 1


def analyse(
    tree: ast.Module,
    source: str,
    qualify: Callable[..., str | None],
    layer_names: set[str],
    class_names: set[str],
) -> dict[str, ClassFacts]:
    """The facts of every ``nn.Module`` class of a file, by class name."""
    analysis = file_analysis(tree, source, qualify, layer_names, class_names)
    return {name: analysis.facts(name) for name in analysis.classes}


def file_analysis(
    tree: ast.Module,
    source: str,
    qualify: Callable[..., str | None],
    layer_names: set[str],
    class_names: set[str],
) -> _Analysis:
    """The analysis of one file, each class's facts read on demand."""
    classes = {
        n.name: n for n in tree.body if isinstance(n, ast.ClassDef) and n.name in class_names
    }
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    analysis = _Analysis(classes, qualify, layer_names, source.splitlines(), functions)
    analysis.held_classes = _held_classes(tree, set(classes))
    for cls in classes.values():  # first what each class passes to others (analysis.given)
        for init in (f for f in cls.body if getattr(f, "name", "") == "__init__"):
            for node in ast.walk(init):
                if isinstance(node, ast.Assign) and _self_attr(node.targets[0]) is not None:
                    analysis.built(node.value, init, cls)
    return analysis
