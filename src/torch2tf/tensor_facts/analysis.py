"""The pass over ``forward()`` of each ``nn.Module`` class of a file, on demand."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import replace

from torch2tf.tensor_facts.axes import Axes
from torch2tf.tensor_facts.builders import MODULE, Builders, _Layer
from torch2tf.tensor_facts.calls import Calls
from torch2tf.tensor_facts.einops_calls import EinopsCalls
from torch2tf.tensor_facts.layers import Layers
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
from torch2tf.tensor_facts.syntax import _dotted, _literal, _self_attr, key_of
from torch2tf.tensor_facts.tables import (
    _CONVS,
    _MAP_LAYERS,
    MAP_FUNCTIONS,
)
from torch2tf.tensor_facts.walk import Walk


class _Analysis(Builders):
    """Facts of every ``nn.Module`` class of one file (analysed once each, on demand)."""

    def __init__(
        self,
        classes: dict[str, ast.ClassDef],
        qualify: Callable[[str], str | None],
        layer_names: set[str],
        lines: list[str],
        functions: dict[str, ast.FunctionDef] | None = None,
    ) -> None:
        self.classes = classes
        self.qualify = qualify  # type: ignore[method-assign]
        self.layer_names = layer_names
        self.lines = lines
        self.functions = functions or {}
        self.given = {}
        self.done: dict[str, ClassFacts] = {}
        self.variants: dict[tuple[str, Fact], ClassFacts] = {}

    # -- class facts

    def facts(self, name: str) -> ClassFacts:
        if name not in self.classes:  # a class of another file of the project (qualified)
            found = project_class(name)
            return found[0].facts(found[1]) if found is not None else ClassFacts()
        if name not in self.done:
            self.done[name] = ClassFacts()  # a class reaching itself stops here
            self.done[name] = _ClassPass(self, self.classes[name]).run()
        return self.done[name]

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
            (f.rewrites, f.slices, f.channels_last_layers, f.flattened_rows) for f in (plain, given)
        ]
        if given.diagnostics or plain.diagnostics or any(any(c) for c in changed):
            return None
        return given if given.followed <= plain.followed and given.inputs else None


class _ClassPass(Walk, Layers, Calls, Axes, EinopsCalls, PerSample):
    def __init__(self, analysis: _Analysis, cls: ast.ClassDef, given: Fact | None = None) -> None:
        self.analysis = analysis
        self.cls = cls
        self.given = given  # the fact of forward's first input, where the caller knows it
        self.out = ClassFacts()
        self.layers: dict[str, _Layer] = {}
        self.modules: dict[str, str] = {}  # attribute -> class of this file
        methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
        self.methods = methods
        self.inlined: set[int] = set()  # methods being walked (called from forward)
        init = methods.get("__init__")
        passed = _module_parameters(init) if init else set()
        for node in ast.walk(init) if init else ():
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
                continue
            attr = _self_attr(node.targets[0])
            if attr is None:
                continue
            found = analysis.built(node.value, init, cls)
            if found is not None and found.qualified == MODULE and len(found.classes) == 1:
                self.modules[attr] = found.classes[0]
            elif found is not None:
                self.layers[attr] = found
            elif isinstance(node.value, ast.Name) and node.value.id in passed:
                given = list(analysis.given.get((cls.name, node.value.id), {}).values())
                # a module passed in: the one layer its callers build, if that is known
                self.layers[attr] = given[0] if len(given) == 1 else _Layer(MODULE, node.value)
            elif _called_parameter(node.value, init):
                # ``activation()`` of a layer class passed in: taken like a module passed in
                self.layers[attr] = _Layer(MODULE, node.value)

    def error(self, node: ast.AST, message: str, hint: str = "") -> Fact:
        line, column = key_of(node, self.analysis.lines)[:2]
        self.out.diagnostics.append((line, column + 1, message, hint))
        return UNKNOWN_FACT

    def run(self) -> ClassFacts:
        forward = self.methods.get("forward")
        attributes = {a: layer.qualified for a, layer in self.layers.items()}
        if forward is None:
            self.out.attribute_layers = attributes
            layers = self.analysis.sequential_layers(self.cls)
            if layers is not None:  # a Sequential subclass: its layers in order
                self.out.inputs = {"input": self._layer_input(layers)}
                self.out.output = self._elements(layers, self.out.inputs["input"])
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
            if self.given is not None and params:
                env[params[0]] = self.given
            self.out.inputs = dict(env)
            self.out.output = self._block(forward.body, env) or PLAIN_FACT
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
            if attr in self.methods and attr not in self.layers and attr not in self.modules:
                params = [a.arg for a in self.methods[attr].args.args][1:]
                if params and id(self.methods[attr]) not in self.inlined:
                    self.inlined.add(id(self.methods[attr]))
                    try:
                        return self._input_fact(self.methods[attr], params[0])
                    finally:
                        self.inlined.discard(id(self.methods[attr]))
            rank = MAP_FUNCTIONS.get(self.analysis.qualify(_dotted(call.func) or "") or "")
            if rank is not None:
                return Fact(MAP, rank)
            layer = self.layers.get(attr or "")
            key = key_of(call, self.analysis.lines)
            if layer is not None and layer.qualified == MODULE and key in self.map_ranks:
                if key in self.as_maps:  # a module passed in, found to take a map
                    return Fact(MAP, self.map_ranks[key])
            if layer is not None:
                return self._layer_input(layer)
            if attr in self.modules:
                inner = self.analysis.facts(self.modules[attr]).inputs
                return next(iter(inner.values()), PLAIN_FACT)
            return PLAIN_FACT
        return PLAIN_FACT

    def _layer_input(self, layer: _Layer | None) -> Fact:
        """The layout ``layer`` takes: that of its first layer, for a Sequential."""
        while layer is not None and layer.qualified == "torch.nn.Sequential":
            layer = layer.elements[0] if layer.elements else None
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
            path = "*" if layers.repeated else str(index)
            assert element is not None
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
    qualify: Callable[[str], str | None],
    layer_names: set[str],
    class_names: set[str],
) -> dict[str, ClassFacts]:
    """The facts of every ``nn.Module`` class of a file, by class name."""
    analysis = file_analysis(tree, source, qualify, layer_names, class_names)
    return {name: analysis.facts(name) for name in analysis.classes}


def file_analysis(
    tree: ast.Module,
    source: str,
    qualify: Callable[[str], str | None],
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


def _module_parameters(init: ast.FunctionDef) -> set[str]:
    """Parameters of __init__ annotated as a module (``Optional[nn.Module]``): modules passed in."""
    args = init.args
    return {
        a.arg
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]
        if a.annotation is not None
        and "Module" in ast.unparse(a.annotation)
        and not any(k in ast.unparse(a.annotation) for k in ("Callable", "type[", "Type["))
    }


def _called_parameter(value: ast.expr, init: ast.FunctionDef) -> bool:
    """Whether ``value`` calls a parameter of ``init`` (a layer class passed in)."""
    args = init.args
    params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in params
        and _assigned_in(init, value.func.id) == 0
    )


def _assigned_in(func: ast.FunctionDef, name: str) -> int:
    return sum(
        isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store)
        for n in ast.walk(func)
    )


def _held_classes(tree: ast.Module, classes: set[str]) -> dict[str, set[str]]:
    """Name or attribute -> the module classes of the file assigned to it anywhere
    (``block = MBConv`` in a config class): what ``cnf.block(...)`` may construct."""
    held: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
            if node.value.id not in classes:
                continue
            for target in node.targets:
                name = getattr(target, "id", None) or getattr(target, "attr", None)
                if name is not None:
                    held.setdefault(name, set()).add(node.value.id)
    return held
